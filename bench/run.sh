#!/usr/bin/env bash
# Runs every benchmark and writes one JSON file per program under <build>/bench-results/.
# Inputs (IMDB, the BERT vocab) come from $GREENTUNE_SHARED_DIR (default ../shared).
set -euo pipefail
build_dir=${1:-build}
results="$build_dir/bench-results"
mkdir -p "$results"
for program in "$build_dir"/bench/bench_*; do
  [ -x "$program" ] || continue
  name=$(basename "$program")
  echo "== $name"
  "$program" --benchmark_format=console --benchmark_out="$results/$name.json" --benchmark_out_format=json
done
echo "results: $results/"
