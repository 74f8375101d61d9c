#!/usr/bin/env bash
# Runs every benchmark and writes one JSON file per program under <build>/bench-results/.
# Inputs (IMDB, the BERT vocab) come from $GREENTUNE_SHARED_DIR (default ../shared). The PyTorch-Python
# comparison runs when Debian's python3-torch is installed (scripts/setup.sh installs it).
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
if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  echo "== PyTorch-Python DistilBERT step (same model, same threads)"
  /usr/bin/python3 "$(dirname "$0")/python/distilbert_step.py" "$results/python_distilbert_step.json" \
    "$results/bench_model.json"
  echo "== greentune's CPU training step against a plain PyTorch loop (same batches, same threads)"
  /usr/bin/python3 "$(dirname "$0")/python/step_vs_python.py" --greentune "$build_dir/greentune" \
    --out "$results/step_vs_python.json"
else
  echo "(skipped the PyTorch-Python comparison: run scripts/setup.sh to install python3-torch)"
fi
echo "results: $results/"
