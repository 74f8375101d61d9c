#!/usr/bin/env bash
# Fuzzes every target of a GREENTUNE_FUZZ build (make fuzz) for a bounded time each, starting from its seeds
# (fuzz/corpus/<target>/) and regressions (fuzz/regressions/<target>/), with its dictionary. The inputs it
# finds go to a working corpus under --work, never into the source tree. At the end it prints, per target,
# the executions, the coverage (libFuzzer's cov: edges, ft: features) and the corpus size, and writes them
# to WORK/summary.json. Exits 1 when any target crashed, leaked, timed out or ran out of memory: the input is
# WORK/findings/<target>-crash-..., to be fixed and kept as a regression input.
#
#   fuzz/run.sh --build build-fuzz [--seconds 600] [--jobs N] [--work DIR] [TARGET ...]
set -euo pipefail

source_dir="$(cd "$(dirname "$0")" && pwd)"
build=""
seconds=600
jobs="$(nproc)"
work=""
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --work) work="$2"; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    -*) echo "fuzz/run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ -n "$build" ] || { echo "fuzz/run.sh: give --build DIR, a build configured with -DGREENTUNE_FUZZ=ON (make fuzz)" >&2; exit 2; }
[ -d "$build/fuzz" ] || { echo "fuzz/run.sh: $build/fuzz does not exist: build with -DGREENTUNE_FUZZ=ON first (make fuzz)" >&2; exit 2; }
work="${work:-$build/fuzz-work}"
if [ ${#targets[@]} -eq 0 ]; then
  for corpus in "$source_dir"/corpus/*/; do
    targets+=("$(basename "$corpus")")
  done
fi
mkdir -p "$work/logs" "$work/findings" "$work/corpus"

fuzz_one() {
  local target="$1" binary="$build/fuzz/fuzz_$1" corpus="$work/corpus/$1" dict=()
  [ -x "$binary" ] || { echo "fuzz/run.sh: no $binary: build the fuzz targets first" >&2; return 2; }
  mkdir -p "$corpus"
  [ -f "$source_dir/dict/$target.dict" ] && dict=(-dict="$source_dir/dict/$target.dict")
  local seeds=("$source_dir/corpus/$target")
  [ -d "$source_dir/regressions/$target" ] && seeds+=("$source_dir/regressions/$target")
  # -timeout: seconds one input may take; -rss_limit_mb / -malloc_limit_mb: memory one process may use.
  "$binary" "$corpus" "${seeds[@]}" "${dict[@]}" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -malloc_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/findings/$target-" >"$work/logs/$target.log" 2>&1
}

# Up to $jobs targets at a time.
declare -A status_of
running=0
for target in "${targets[@]}"; do
  if [ "$running" -ge "$jobs" ]; then
    wait -n || true
    running=$((running - 1))
  fi
  ( fuzz_one "$target"; echo $? >"$work/logs/$target.status" ) &
  running=$((running + 1))
done
wait

failed=0
summary="["
printf '%-22s %12s %8s %8s %8s  %s\n' target executions cov ft corpus result
for target in "${targets[@]}"; do
  log="$work/logs/$target.log"
  status="$(cat "$work/logs/$target.status" 2>/dev/null || echo 2)"
  executions="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
  last="$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)"
  cov="$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")"
  ft="$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")"
  files="$(find "$work/corpus/$target" -type f | wc -l)"
  if [ "$status" = 0 ]; then result=ok; else result="FAILED (exit $status): see $log"; failed=1; fi
  printf '%-22s %12s %8s %8s %8s  %s\n' "$target" "${executions:-?}" "${cov:-?}" "${ft:-?}" "$files" "$result"
  summary+="$( [ "$summary" = "[" ] || echo ,){\"target\":\"$target\",\"seconds\":$seconds,\"executions\":${executions:-null},\"cov\":${cov:-null},\"ft\":${ft:-null},\"corpus_files\":$files,\"exit_status\":$status}"
done
echo "$summary]" >"$work/summary.json"
echo "fuzz/run.sh: summary in $work/summary.json"
if [ "$failed" -ne 0 ]; then
  echo "fuzz/run.sh: a target failed; its input is under $work/findings/: fix the reader, then add the input to fuzz/regressions/<target>/" >&2
  ls -l "$work/findings" >&2
  exit 1
fi
