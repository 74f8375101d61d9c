"""greentune's CPU training step against the plain PyTorch loop, on the same batches and threads, in one
process tree. From IMDB's test reviews (drawn with --seed) it writes a JSON-lines dataset, has `greentune
tokenize` turn it into token ids, and then, for each thread count, one after another:
  python      same_batches_loop.py: batch i = examples iB..iB+B-1, padded to its longest member
  same        `greentune train --no-shuffle --bucketing none --pad-to-multiple 1`: the same batches (checked:
              the same padded and real token counts)
  buckets     `greentune train` with its default length buckets (padded to a multiple of 64)
one epoch each, fp32, AdamW, clipping at 1.0, the demo model (configs/demo-model, random init). It prints
and writes JSON: each run's step seconds (batches, forward, backward, clipping, optimizer; greentune's from
its result.json), the user and system CPU seconds of its process (system time is where page faults show),
and the ratios greentune / python.

    /usr/bin/python3 bench/python/step_vs_python.py --greentune build/greentune --out step_vs_python.json
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from imdb_data import read_imdb  # noqa: E402

EVAL_REVIEWS = 8  # greentune evaluates once per epoch: a handful, so that the run is its steps
TARGETS = {"same_padding": 0.9, "length_buckets": 0.45}  # greentune's step time / the Python loop's


def parse_args():
    shared = os.environ.get("GREENTUNE_SHARED_DIR", os.path.join(ROOT, "..", "shared"))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--greentune", default=os.path.join(ROOT, "build", "greentune"), help="the CLI")
    parser.add_argument("--imdb", default=os.path.join(shared, "data/imdb/aclImdb_v1_labeled.tar.gz"))
    parser.add_argument("--vocab", default=os.path.join(shared, "data/vocab/bert-base-uncased-vocab.txt"))
    parser.add_argument("--model", default=os.path.join(ROOT, "configs", "demo-model"))
    parser.add_argument("--reviews", type=int, default=256, help="training reviews")
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    parser.add_argument("--seed", type=int, default=7, help="which reviews, in which order")
    parser.add_argument("--out", required=True, help="JSON results")
    return parser.parse_args()


def timed(command, log):
    """Runs command (stdout and stderr into log); its wall seconds and its CPU user and system seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with open(log, "w") as out:
        status = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT).returncode
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if status != 0:
        with open(log) as failed:
            sys.exit(f"step_vs_python: {command[0]} failed ({status}); its log {log} ends:\n{failed.read()[-2000:]}")
    return {"wall_s": wall, "user_s": after.ru_utime - before.ru_utime, "system_s": after.ru_stime - before.ru_stime}


def write_reviews(args, scratch):
    reviews = read_imdb(args.imdb, "test", args.reviews + EVAL_REVIEWS, args.seed)
    paths = {"train": os.path.join(scratch, "reviews.jsonl"), "eval": os.path.join(scratch, "eval.jsonl")}
    for name, part in (("train", reviews[:args.reviews]), ("eval", reviews[args.reviews:])):
        with open(paths[name], "w") as out:
            for text, label in part:
                out.write(json.dumps({"text": text, "label": label}) + "\n")
    ids = os.path.join(scratch, "ids.jsonl")
    tokenized = os.path.join(scratch, "tokenized.jsonl")
    timed([args.greentune, "tokenize", "--vocab", args.vocab, "--max-length", str(args.max_length),
           "--input", paths["train"], "--output", tokenized], os.path.join(scratch, "tokenize.log"))
    with open(paths["train"]) as texts, open(tokenized) as encodings, open(ids, "w") as out:
        for text_line, encoding_line in zip(texts, encodings):
            out.write(json.dumps({"ids": json.loads(encoding_line)["ids"],
                                  "label": json.loads(text_line)["label"]}) + "\n")
    return paths, ids


def greentune_run(args, paths, scratch, name, threads, extra):
    output = os.path.join(scratch, name)
    times = timed([args.greentune, "train", "--model", args.model, "--vocab", args.vocab,
                   "--data", paths["train"], "--eval-data", paths["eval"], "--labels", "0,1",
                   "--max-length", str(args.max_length), "--batch-size", str(args.batch_size), "--epochs", "1",
                   "--precision", "fp32", "--optimizer", "adamw", "--lr", "5e-5", "--schedule", "linear",
                   "--max-grad-norm", "1.0", "--threads", str(threads), "--seed", "42",
                   "--log-every", "1000", "--output", output] + extra, output + ".log")
    with open(os.path.join(output, "result.json")) as file:
        result = json.load(file)
    padded = result["padding_fraction"]
    # samples/s is over the steps' own time (train_step: batch, forward, backward, clip, optimizer).
    step_seconds = result["train_samples"] / result["train_samples_per_s"]
    return dict(times, step_seconds=step_seconds, padding_fraction=padded, peak_memory_mb=result["peak_memory_mb"])


def python_run(args, ids, scratch, threads):
    out = os.path.join(scratch, f"python-{threads}.json")
    times = timed([sys.executable, os.path.join(HERE, "same_batches_loop.py"), "--ids", ids,
                   "--config", os.path.join(args.model, "config.json"), "--batch-size", str(args.batch_size),
                   "--max-length", str(args.max_length), "--threads", str(threads), "--out", out],
                  os.path.join(scratch, f"python-{threads}.log"))
    with open(out) as file:
        result = json.load(file)
    return dict(times, step_seconds=result["step_seconds"], padding_fraction=result["padding_fraction"],
                torch_version=result["torch_version"])


def main():
    args = parse_args()
    for path in (args.imdb, args.vocab):
        if not os.path.exists(path):
            sys.exit(f"step_vs_python: {path} is missing: set GREENTUNE_SHARED_DIR or pass --imdb/--vocab")
    with tempfile.TemporaryDirectory(prefix="greentune-step-vs-python-") as scratch:
        paths, ids = write_reviews(args, scratch)
        report = {"reviews": args.reviews, "max_length": args.max_length, "batch_size": args.batch_size,
                  "model": args.model, "targets": TARGETS, "by_threads": {}}
        for threads in (int(value) for value in args.threads.split(",")):
            python = python_run(args, ids, scratch, threads)
            same = greentune_run(args, paths, scratch, f"same-{threads}", threads,
                                 ["--no-shuffle", "--bucketing", "none", "--pad-to-multiple", "1"])
            if abs(same["padding_fraction"] - python["padding_fraction"]) > 1e-9:
                sys.exit(f"step_vs_python: the batches differ: padding {same['padding_fraction']} in greentune, "
                         f"{python['padding_fraction']} in the Python loop")
            buckets = greentune_run(args, paths, scratch, f"buckets-{threads}", threads, ["--bucketing", "length"])
            ratios = {"same_padding": same["step_seconds"] / python["step_seconds"],
                      "length_buckets": buckets["step_seconds"] / python["step_seconds"]}
            report["by_threads"][str(threads)] = {
                "python": python, "greentune_same_padding": same, "greentune_length_buckets": buckets,
                "ratios": ratios, "targets_met": {key: ratios[key] <= TARGETS[key] for key in TARGETS}}
            print(f"{threads} thread(s): python {python['step_seconds']:.2f} s, greentune same padding "
                  f"{same['step_seconds']:.2f} s ({ratios['same_padding']:.3f}x), length buckets "
                  f"{buckets['step_seconds']:.2f} s ({ratios['length_buckets']:.3f}x)", file=sys.stderr)
    with open(args.out, "w") as out:
        json.dump(report, out, indent=2)
        out.write("\n")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
