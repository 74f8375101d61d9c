#!/usr/bin/env bash
# The GPU proof of the CUDA path in one command, for a machine with PyTorch (and its LibTorch), CUDA, CMake and
# ninja but no package registry and no network: what else it needs travels in .gpu-deps/ (made here by
# bench/gpu/fetch_deps.sh; device runs carry [".gpu-deps"]). It builds greentune with CUDA against PyTorch's
# LibTorch and the unpacked Debian packages, then runs, each under a timeout and all within --budget seconds:
#   deps   each dependency found, linked and loaded on this machine (bench/gpu/deps_probe);
#   build  greentune and its model tests;
#   1      the model tests against Hugging Face's fixtures on the device (logits, loss, gradients within 1e-5);
#   2      gradient checkpointing bit-identical to plain in fp32, dropout on, on the device;
#   3      fp32, bf16 and fp16 training losses of a small model over 200 steps: bf16, fp16 within 2% of fp32;
#   4      one IMDB epoch (DistilBERT-base shape, random init, 25,000 reviews at 512 tokens, batch 32):
#          greentune (bf16, length buckets), HF Trainer bf16 and a PyTorch eager loop (bench/python/);
#   5      greentune's saved model loaded by transformers' AutoModelForSequenceClassification, same outputs;
#   6      step 4's --report-to tensorboard files read by tensorboard's EventAccumulator, equal to metrics.jsonl.
# It writes deps.json, build.json, step1_reference.json ... step6_tensorboard.json and summary.json (every
# step's status and reason, the GPU's name, wall seconds, the targets) under --out, and exits 1 when a
# step failed. A step that cannot run here (no GPU, no torch) is "skipped" with the reason.
#
#   bash bench/gpu/check.sh [--out DIR] [--budget SECONDS]            # on the GPU machine (default 540 s)
#   bash bench/gpu/check.sh --cpu [--build DIR] [--no-build] [--out DIR]
#        the dry run: the same steps on the CPU with tiny sizes, greentune from the Debian build in DIR
#        (default build/); --no-build uses DIR's binaries as they are. fp16 and NVML are skipped, and the
#        Python runs too where torch / transformers are missing (their scripts are byte-compiled instead).
# Other options: --device DEV (default cuda, --cpu: cpu), --libarchive static|shared|auto (auto: static where
# glibc < 2.36), --work DIR, --deps DIR (default .gpu-deps), --budget SECONDS (--cpu: 900), --build-timeout
# SECONDS (420).
# Output: --out, else $OUT, else ./gpu-check-out. Work files (prefix, builds, runs): --work, default
# build-gpu-check/ (ignored by git). --cpu also exits 1 unless every step it can run passed (the gpu-check ctest).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
mode=gpu
out="${OUT:-$root/gpu-check-out}"
build=""
do_build=1
budget=""
deps="$root/.gpu-deps"
work="$root/build-gpu-check"
device=""
archive_choice=auto
build_timeout=420
while [ $# -gt 0 ]; do
  case "$1" in
    --cpu) mode=cpu; shift ;;
    --out) out="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    --no-build) do_build=0; shift ;;
    --budget) budget="$2"; shift 2 ;;
    --deps) deps="$2"; shift 2 ;;
    --work) work="$2"; shift 2 ;;
    --device) device="$2"; shift 2 ;;
    --libarchive) archive_choice="$2"; shift 2 ;;
    --build-timeout) build_timeout="$2"; shift 2 ;;
    -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
    *) echo "check: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -n "$budget" ] || { [ "$mode" = gpu ] && budget=540 || budget=900; }
mkdir -p "$out"
out="$(cd "$out" && pwd)"
mkdir -p "$work" "$out/logs"
work="$(cd "$work" && pwd)"
started=$(date +%s)
deadline=$((started + budget))
steps_py="$root/bench/gpu/check_steps.py"
multiarch=x86_64-linux-gnu
[ -n "$device" ] || { [ "$mode" = gpu ] && device=cuda || device=cpu; }
cores=$(nproc)

say() { echo "check: $*"; }
left() { echo $((deadline - $(date +%s))); }
record() { python3 "$steps_py" record "$out" "$@"; }

# limited SECONDS LOG CMD...: CMD under timeout, at most SECONDS and never past the budget's end (then 125).
limited() {
  local limit="$1" log="$2"
  shift 2
  local remaining=$(($(left) - 10))
  [ "$remaining" -ge "$limit" ] || limit="$remaining"
  if [ "$limit" -le 0 ]; then
    echo "not started: the ${budget} s budget is spent" >"$log"
    return 125
  fi
  timeout --kill-after=10 "$limit" "$@" >"$log" 2>&1
}

# On the GPU machine the build gets every core but two; the timed runs (greentune's and the Python ones) get
# those two, alike, so that the Python runs may go on while greentune compiles.
pin_run=()
pin_build=()
if [ "$mode" = gpu ] && command -v taskset >/dev/null && [ "$cores" -ge 6 ]; then
  pin_run=(taskset -c "0,1")
  pin_build=(taskset -c "2-$((cores - 1))")
fi

say "mode $mode, device $device, budget ${budget} s, output $out"
gpu_name=""
if [ "$mode" = gpu ]; then
  gpu_name="$(python3 -c "import sys; sys.path.insert(0, '$root/bench/python'); import gpu_meter; print(gpu_meter.EnergyMeter().gpu_name or '')" 2>/dev/null || true)"
  [ -n "$gpu_name" ] || gpu_name="$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n1 || true)"
  say "GPU: ${gpu_name:-unknown}"
fi

# ---- data: the IMDB tarball and the vocab, from .gpu-deps/data or the shared dir ----
shared="${GREENTUNE_SHARED_DIR:-$root/../shared}"
imdb="$deps/data/aclImdb_v1_labeled.tar.gz"
[ -f "$imdb" ] || imdb="$shared/data/imdb/aclImdb_v1_labeled.tar.gz"
vocab="$deps/data/bert-base-uncased-vocab.txt"
[ -f "$vocab" ] || vocab="$shared/data/vocab/bert-base-uncased-vocab.txt"
have_data=1
[ -f "$imdb" ] && [ -f "$vocab" ] || have_data=0

# ---- deps: unpack .gpu-deps/debs into a prefix and probe each dependency ----
prefix="$work/prefix"
lib1="$prefix/usr/lib/$multiarch"
lib2="$prefix/lib/$multiarch"
archive_mode=shared
glibc_machine="$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}')"
glibc_needed=""
version_lt() { [ "$1" != "$2" ] && [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n1)" = "$1" ]; }
cmake_dep_args=()
deps_ok=0
if ! ls "$deps"/debs/*.deb >/dev/null 2>&1; then
  record deps skipped "no $deps/debs (bench/gpu/fetch_deps.sh makes it): the build uses this machine's packages (scripts/setup.sh)"
else
  glibc_needed="$(python3 -c "import json; print(json.load(open('$deps/manifest.json'))['glibc_needed'])" 2>/dev/null || echo unknown)"
  if [ ! -f "$prefix/.unpacked" ] || [ "$deps/manifest.json" -nt "$prefix/.unpacked" ]; then
    say "unpacking $(ls "$deps"/debs/*.deb | wc -l) .debs into $prefix"
    rm -rf "$prefix"
    mkdir -p "$prefix"
    for deb in "$deps"/debs/*.deb; do
      if command -v dpkg >/dev/null; then dpkg -x "$deb" "$prefix"; else python3 "$steps_py" unpack-deb "$deb" "$prefix"; fi
    done
    for tarball in "$deps"/debs/*.tar.xz; do
      [ -e "$tarball" ] && tar -xJf "$tarball" -C "$prefix"
    done
    # Absolute symlinks (libz.so -> /lib/...) point into the prefix; .pc files' /usr becomes the prefix's.
    while IFS= read -r link; do
      target="$(readlink "$link")"
      case "$target" in /*) ;; *) continue ;; esac
      for candidate in "$prefix$target" "$prefix/usr$target" "$prefix${target#/usr}"; do
        if [ -e "$candidate" ]; then ln -sfn "$candidate" "$link"; break; fi
      done
    done < <(find "$prefix" -type l)
    find "$prefix" -name '*.pc' -exec sed -i -E "s#^([A-Za-z_]+)=/usr#\1=$prefix/usr#" {} +
    touch "$prefix/.unpacked"
  fi
  # libarchive.so.13 from Debian 12 needs glibc 2.36 (arc4random_buf); on an older glibc greentune links
  # Debian's libarchive.a with bench/gpu/arc4random_shim.c and libarchive's own dependencies instead.
  shim="$work/arc4random_shim.o"
  cc -O2 -fPIC -c "$root/bench/gpu/arc4random_shim.c" -o "$shim" 2>"$out/logs/shim.log" || true
  static_archive=("$lib1/libarchive.a")
  [ -f "$shim" ] && static_archive+=("$shim")
  for needed in $(objdump -p "$lib1/libarchive.so.13" 2>/dev/null | awk '$1 == "NEEDED" && $2 != "libc.so.6" {print $2}'); do
    for dir in "$lib1" "$lib2"; do
      if [ -e "$dir/$needed" ]; then static_archive+=("$dir/$needed"); break; fi
    done
  done
  if [ "$archive_choice" = auto ]; then
    if [ -n "$glibc_machine" ] && version_lt "$glibc_machine" 2.36; then archive_mode=static; fi
  else
    archive_mode="$archive_choice"
  fi
  multiarch_include="$prefix/usr/include/$multiarch"
  link_flags="-Wl,--disable-new-dtags -Wl,-rpath,$lib1:$lib2 -Wl,-rpath-link,$lib1:$lib2"
  export PKG_CONFIG_LIBDIR="$lib1/pkgconfig:$prefix/usr/share/pkgconfig"
  mkdir -p "$work/bin"
  if ! command -v pkg-config >/dev/null && [ -x "$prefix/usr/bin/pkgconf" ]; then
    printf '#!/bin/sh\nLD_LIBRARY_PATH="%s:%s" exec "%s" "$@"\n' "$lib1" "$lib2" "$prefix/usr/bin/pkgconf" >"$work/bin/pkg-config"
    chmod +x "$work/bin/pkg-config"
    if "$work/bin/pkg-config" --version >/dev/null 2>&1; then export PATH="$work/bin:$PATH"; else rm -f "$work/bin/pkg-config"; fi
  fi
  # CURL_NO_CURL_CMAKE: FindCURL finds the prefix's libcurl, not a CURLConfig.cmake the image may have.
  cmake_dep_args=(-DCMAKE_PREFIX_PATH="$prefix/usr" -DCMAKE_LIBRARY_ARCHITECTURE="$multiarch" -DCURL_NO_CURL_CMAKE=ON
                  -DCMAKE_C_FLAGS="-isystem $multiarch_include" -DCMAKE_CXX_FLAGS="-isystem $multiarch_include"
                  -DCMAKE_EXE_LINKER_FLAGS="$link_flags" -DCMAKE_SHARED_LINKER_FLAGS="$link_flags")
  static_list="$(IFS=';'; echo "${static_archive[*]}")"
  probe_args=("${cmake_dep_args[@]}" -DGREENTUNE_STATIC_ARCHIVE_LIBS="$static_list")
  # Here (Debian) every package is also installed in /usr: ignore it, so the probe proves the prefix alone.
  [ "$mode" = cpu ] && probe_args+=(-DCMAKE_IGNORE_PREFIX_PATH="/usr;/")
  probe="$work/probe"
  rm -rf "$probe"
  say "deps: probing the prefix (glibc here ${glibc_machine:-unknown}, the Debian libraries need $glibc_needed; libarchive $archive_mode)"
  configure_rc=0
  limited 120 "$out/logs/deps_configure.log" cmake -S "$root/bench/gpu/deps_probe" -B "$probe" -G Ninja \
    -DCMAKE_BUILD_TYPE=Release "${probe_args[@]}" || configure_rc=$?
  : >"$probe/results.tsv" 2>/dev/null || mkdir -p "$probe"
  : >"$probe/results.tsv"
  if [ "$configure_rc" -eq 0 ]; then
    limited 180 "$out/logs/deps_build.log" "${pin_build[@]}" cmake --build "$probe" -j "$cores" -- -k 0 || true
    for name in $(cat "$probe/found.txt") LibArchive_static; do
      exe="$probe/probe_$name"
      if [ ! -x "$exe" ]; then
        [ "$name" = LibArchive_static ] && [ ! -f "$probe/LibArchive_static.cpp" ] && continue
        printf '%s\tnot-built\t%s\n' "$name" "see logs/deps_build.log" >>"$probe/results.tsv"
        continue
      fi
      rc=0
      "$exe" >"$probe/$name.out" 2>&1 || rc=$?
      message="$(head -n3 "$probe/$name.out" | tr '\t\n' '  ')"
      printf '%s\t%s\t%s\n' "$name" "$rc" "$message" >>"$probe/results.tsv"
    done
  fi
  python3 "$steps_py" deps "$out" "$probe" "$probe/results.tsv" "$mode" "${glibc_machine:-unknown}" \
    "$glibc_needed" "$archive_mode" "$configure_rc" "$out/logs/deps_configure.log" || true
  deps_ok=1
fi

# ---- build: greentune and test_model ----
build_rc_file="$work/build.rc"
rm -f "$build_rc_file"
if [ "$mode" = cpu ]; then
  [ -n "$build" ] || build="$root/build"
  build="$(cd "$build" 2>/dev/null && pwd || echo "$build")"
else
  [ -n "$build" ] || build="$work/build"
fi
build_greentune() {  # in the background on the GPU machine: the Python runs of step 4 go on meanwhile
  local rc=0 began
  began=$(date +%s)
  if [ "$mode" = gpu ]; then
    local torch_prefix cuda_arch
    torch_prefix="$(python3 -c 'import torch.utils; print(torch.utils.cmake_prefix_path)' 2>>"$out/logs/build_configure.log")" || rc=$?
    cuda_arch="$(python3 -c 'import torch; c = torch.cuda.get_device_capability(); print(f"{c[0]}.{c[1]}")' 2>/dev/null || echo 9.0)"
    local configure=(cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTorch_DIR="$torch_prefix/Torch"
                     "${cmake_dep_args[@]}" -DGREENTUNE_BUILD_BENCH=OFF -DGREENTUNE_BUILD_TESTS=ON
                     -DCMAKE_CUDA_ARCHITECTURES="${cuda_arch/./}")
    if command -v ccache >/dev/null; then configure+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
    if [ "$archive_mode" = static ]; then
      configure+=(-DLibArchive_LIBRARY="$lib1/libarchive.a"
                  -DCMAKE_CXX_STANDARD_LIBRARIES="$(printf '%s ' "${static_archive[@]:1}")")
    fi
    [ "$rc" -eq 0 ] && { TORCH_CUDA_ARCH_LIST="$cuda_arch" limited 150 "$out/logs/build_configure.log" "${configure[@]}" || rc=$?; }
  fi
  if [ "$rc" -eq 0 ] && { [ "$mode" = gpu ] || [ "$do_build" = 1 ]; }; then
    local jobs=$cores
    [ "$mode" = gpu ] && [ ${#pin_build[@]} -gt 0 ] && jobs=$((cores - 2))
    [ "$mode" = cpu ] && [ "$jobs" -gt 2 ] && jobs=2
    limited "$build_timeout" "$out/logs/build.log" "${pin_build[@]}" cmake --build "$build" -j "$jobs" --target greentune test_model || rc=$?
  fi
  if [ "$rc" -eq 0 ] && { [ ! -x "$build/greentune" ] || [ ! -x "$build/tests/test_model" ]; }; then
    echo "no $build/greentune or $build/tests/test_model" >>"$out/logs/build.log"
    rc=1
  fi
  echo "$rc $(( $(date +%s) - began ))" >"$build_rc_file"
}
say "build: greentune in $build"
if [ "$mode" = gpu ]; then
  build_greentune &
  build_pid=$!
else
  build_greentune
fi

# ---- step 4's Python runs (HF Trainer, eager): on the GPU machine while greentune compiles ----
epoch_dir="$work/epoch"
rm -rf "$epoch_dir"
mkdir -p "$epoch_dir"
if [ "$mode" = gpu ]; then
  epoch_model="$root/bench/gpu/models/distilbert-base/config.json"
  epoch_args=(--max-length 512 --batch-size 32 --limit 0)
  epoch_timeout=200
else
  epoch_model="$root/bench/gpu/models/tiny/config.json"
  epoch_args=(--max-length 64 --batch-size 8 --limit 320 --threads 2)
  epoch_timeout=120
fi
has() { python3 -c "import $1" >/dev/null 2>&1; }
python_missing=""  # what each Python run lacks; empty: it can run
eager_missing=""
has torch || eager_missing="torch"
has tokenizers || has transformers || eager_missing="${eager_missing:+$eager_missing, }tokenizers or transformers"
hf_missing=""
has torch || hf_missing="torch"
has transformers || hf_missing="${hf_missing:+$hf_missing, }transformers"
compile_rc=0
python3 -m py_compile "$root"/bench/python/{imdb_data,gpu_meter,epoch_common,eager_epoch,hf_trainer_epoch,load_in_transformers,read_tensorboard}.py \
  "$steps_py" >"$out/logs/py_compile.log" 2>&1 || compile_rc=$?
for tool in eager hf_trainer; do
  script="$root/bench/python/${tool}_epoch.py"
  python_missing="$eager_missing"
  [ "$tool" = hf_trainer ] && python_missing="$hf_missing"
  if [ "$compile_rc" -ne 0 ]; then
    echo 1 >"$epoch_dir/$tool.rc"
    cp "$out/logs/py_compile.log" "$epoch_dir/$tool.log"
    continue
  fi
  if [ -n "$python_missing" ]; then
    echo "python3 lacks $python_missing (the script byte-compiles)" >"$epoch_dir/$tool.skip"
    continue
  fi
  if [ "$have_data" = 0 ]; then
    echo "no IMDB tarball or vocab.txt" >"$epoch_dir/$tool.skip"
    continue
  fi
  say "step 4: $tool epoch"
  rc=0
  limited "$epoch_timeout" "$epoch_dir/$tool.log" "${pin_run[@]}" python3 "$script" --data "$imdb" --vocab "$vocab" \
    --config "$epoch_model" --device "$device" --out "$epoch_dir/$tool.json" "${epoch_args[@]}" || rc=$?
  echo "$rc" >"$epoch_dir/$tool.rc"
done

if [ "$mode" = gpu ]; then
  say "waiting for the build"
  wait "$build_pid" || true
fi
read -r build_rc build_seconds <"$build_rc_file" || { build_rc=1; build_seconds=0; }
built=0
if [ "$build_rc" -eq 0 ]; then
  built=1
  record build pass "" seconds="$build_seconds" build_dir="\"$build\"" libarchive="\"$archive_mode\"" \
    reused="$([ "$mode" = cpu ] && [ "$do_build" = 0 ] && echo true || echo false)"
else
  reason="$(python3 -c "import sys; sys.path.insert(0, '$root/bench/gpu'); import check_steps as c; print(c.rc_reason($build_rc, '$out/logs/build.log' if __import__('os').path.exists('$out/logs/build.log') else '$out/logs/build_configure.log'))")"
  record build fail "$reason" seconds="$build_seconds" build_dir="\"$build\"" libarchive="\"$archive_mode\"" \
    deps_probed="$deps_ok"
fi
greentune="$build/greentune"

# ---- steps 1 and 2: the model tests on the device ----
gtest_step() {  # NAME FILTER WHAT
  local name="$1" filter="$2" what="$3" rc=0
  if [ "$built" = 0 ]; then
    record "$name" fail "not built (see build.json)"
    return
  fi
  say "$name: $filter on $device"
  rm -f "$out/logs/$name.gtest.json"
  GREENTUNE_TEST_DEVICE="$device" CUBLAS_WORKSPACE_CONFIG=:4096:8 limited 120 "$out/logs/$name.log" \
    "$build/tests/test_model" --gtest_filter="$filter" --gtest_output="json:$out/logs/$name.gtest.json" || rc=$?
  python3 "$steps_py" gtest "$out" "$name" "$out/logs/$name.gtest.json" "$rc" "$out/logs/$name.log" "$device" "$what"
}
gtest_step step1_reference \
  "Encoders.DistilBertMatchesHuggingFace:Encoders.BertMatchesHuggingFace:Encoders.CheckpointedLayersGiveHuggingFacesGradients" \
  "fp32 logits, hidden states, loss and every gradient of the tiny DistilBERT and BERT fixtures within 1e-5 of transformers"
gtest_step step2_checkpointing "Encoders.CheckpointedGradientsEqualPlainOnesBitForBit" \
  "fp32 gradients of a training step (dropout on) with gradient checkpointing equal to plain ones bit for bit"

# ---- step 3: fp32 vs bf16 vs fp16 losses of a small model ----
runs="$work/precision"
rm -rf "$runs" "$work/cache"
mkdir -p "$runs"
eval_jsonl="$work/eval.jsonl"
[ "$have_data" = 1 ] && python3 "$steps_py" eval-jsonl "$imdb" "$eval_jsonl" 64
threads_args=()
[ "$mode" = cpu ] && threads_args=(--threads 2)
[ ${#pin_run[@]} -gt 0 ] && threads_args=(--threads 2)
if [ "$mode" = gpu ]; then
  precision_model="$root/bench/gpu/models/small"
  precision_steps=200
  precision_args=(--max-length 128 --batch-size 32 --max-train-examples 6400 --log-every 10 --lr 1e-4)
else
  precision_model="$root/bench/gpu/models/tiny"
  precision_steps=40
  precision_args=(--max-length 32 --batch-size 8 --max-train-examples 320 --log-every 5 --lr 1e-4)
fi
common_train=(--vocab "$vocab" --data "$imdb" --eval-data "$eval_jsonl" --max-test-examples 64 --device "$device"
              --cache-dir "$work/cache" --seed 42 "${threads_args[@]}")
if [ "$built" = 0 ] || [ "$have_data" = 0 ]; then
  record step3_precision fail "$([ "$built" = 0 ] && echo "not built (see build.json)" || echo "no IMDB tarball or vocab.txt")"
else
  for precision in fp32 bf16 fp16; do
    if [ "$precision" = fp16 ] && [ "$mode" = cpu ]; then
      echo "fp16 needs CUDA" >"$runs/fp16.skip"
      continue
    fi
    say "step 3: $precision, $precision_steps steps"
    rc=0
    limited 100 "$runs/$precision.log" "${pin_run[@]}" "$greentune" train --model "$precision_model" --precision "$precision" \
      --max-steps "$precision_steps" --output "$runs/$precision" "${common_train[@]}" "${precision_args[@]}" || rc=$?
    echo "$rc" >"$runs/$precision.rc"
  done
  python3 "$steps_py" precision "$out" "$runs" "$device" "$precision_steps"
fi

# ---- step 4: greentune's epoch ----
if [ "$mode" = gpu ]; then
  greentune_epoch_args=(--model "$root/bench/gpu/models/distilbert-base" --max-length 512 --batch-size 32)
else
  greentune_epoch_args=(--model "$root/bench/gpu/models/tiny" --max-length 64 --batch-size 8 --max-train-examples 320)
fi
if [ "$built" = 1 ] && [ "$have_data" = 1 ]; then
  say "step 4: greentune epoch"
  rc=0
  limited "$epoch_timeout" "$epoch_dir/greentune.log" "${pin_run[@]}" "$greentune" train "${greentune_epoch_args[@]}" \
    --epochs 1 --precision bf16 --bucketing length --pad-to-multiple 64 --log-every 50 --report-to tensorboard \
    --output "$epoch_dir/greentune" \
    "${common_train[@]}" || rc=$?
  echo "$rc" >"$epoch_dir/greentune.rc"
else
  echo "not built or no data" >"$epoch_dir/greentune.log"
  echo 1 >"$epoch_dir/greentune.rc"
fi
python3 "$steps_py" epoch "$out" "$work" "$device" "$gpu_name" "$epoch_model"
cp -f "$epoch_dir"/*.json "$out/logs/" 2>/dev/null || true

# ---- step 5: greentune's model in transformers ----
model_dir="$epoch_dir/greentune/model"
[ -f "$model_dir/model.safetensors" ] || model_dir="$runs/fp32/model"
step5_skip="$work/step5.skip"
rm -f "$step5_skip" "$work/step5.json"
step5_rc=0
if [ ! -f "$model_dir/model.safetensors" ]; then
  record step5_transformers fail "no model saved by greentune (steps 3 and 4 did not finish)"
else
  head -n 8 "$eval_jsonl" >"$work/predict_texts.jsonl"
  limited 60 "$out/logs/step5_predict.log" "$greentune" predict --model "$model_dir" --input "$work/predict_texts.jsonl" \
    --device "$device" --max-length 512 "${threads_args[@]}" || step5_rc=$?
  if [ "$step5_rc" -eq 0 ]; then
    grep '^{' "$out/logs/step5_predict.log" >"$work/predictions.jsonl" || true
    python3 "$steps_py" predict-input "$work/predict_texts.jsonl" "$work/predictions.jsonl" "$work/step5_input.json" 512 \
      >>"$out/logs/step5_predict.log" 2>&1 || step5_rc=$?
  fi
  if [ "$step5_rc" -eq 0 ] && [ -n "$hf_missing" ]; then
    echo "python3 lacks $hf_missing (load_in_transformers.py byte-compiles; greentune predict ran)" >"$step5_skip"
  elif [ "$step5_rc" -eq 0 ]; then
    say "step 5: transformers loads $model_dir"
    limited 90 "$out/logs/step5_transformers.log" python3 "$root/bench/python/load_in_transformers.py" "$model_dir" \
      "$work/step5_input.json" --out "$work/step5.json" --device "$device" || step5_rc=$?
  fi
  python3 "$steps_py" transformers "$out" "$work/step5.json" "$step5_rc" \
    "$out/logs/step5_$([ -f "$work/step5.json" ] && echo transformers || echo predict).log" "$step5_skip" "$model_dir"
fi

# ---- step 6: step 4's TensorBoard files, read by tensorboard itself ----
if [ ! -d "$epoch_dir/greentune/tensorboard" ]; then
  record step6_tensorboard fail "greentune's epoch (step 4) wrote no tensorboard/ folder"
elif ! has tensorboard; then
  record step6_tensorboard skipped "python3 lacks tensorboard (read_tensorboard.py byte-compiles)"
else
  say "step 6: tensorboard reads $epoch_dir/greentune/tensorboard"
  step6_rc=0
  limited 60 "$out/logs/step6_tensorboard.log" python3 "$root/bench/python/read_tensorboard.py" "$epoch_dir/greentune" \
    --out "$out/step6_tensorboard.json" || step6_rc=$?
  [ -f "$out/step6_tensorboard.json" ] ||
    record step6_tensorboard fail "read_tensorboard.py exited with $step6_rc (see logs/step6_tensorboard.log)"
fi

wall=$(($(date +%s) - started))
python3 "$steps_py" summary "$out" "$mode" "$wall" "$budget" "$gpu_name"
if [ "$mode" = cpu ]; then
  python3 "$steps_py" verify-cpu "$out"
else
  python3 -c "import json, sys; sys.exit(0 if json.load(open('$out/summary.json'))['ok'] else 1)"
fi
