"""Reads a greentune run's TensorBoard files (RUN/tensorboard/, from --report-to tensorboard) with
tensorboard's own EventAccumulator and checks every scalar against the run's metrics.jsonl: each row's
metric at its step, under its tag, equal as a float32. Writes {"status": "pass"|"fail", "reason", ...} as
JSON (bench/gpu/check.sh's step 6).

    python3 bench/python/read_tensorboard.py RUN_DIR --out step6_tensorboard.json
"""
import argparse
import json
import math
import os
import struct

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

# metrics.jsonl key -> (tag, factor), as src/train/metrics_log.hpp declares them.
TRAINING = {"loss": ("train/loss", 1.0), "lr": ("train/learning_rate", 1.0), "grad_norm": ("train/grad_norm", 1.0),
            "samples_per_s": ("train/samples_per_second", 1.0), "power_w": ("energy/power_w", 1.0),
            "energy_kwh": ("energy/energy_kwh", 1.0), "co2_kg": ("energy/co2_g", 1000.0)}
EVALUATION = {"eval_loss": ("eval/loss", 1.0), "accuracy": ("eval/accuracy", 1.0), "f1": ("eval/f1", 1.0)}


def as_float32(value):
    return struct.unpack("f", struct.pack("f", value))[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    accumulator = EventAccumulator(os.path.join(args.run_dir, "tensorboard"), size_guidance={"scalars": 0})
    accumulator.Reload()
    tags = accumulator.Tags()["scalars"]
    scalars = {tag: {event.step: event.value for event in accumulator.Scalars(tag)} for tag in tags}
    problems, checked = [], 0
    with open(os.path.join(args.run_dir, "metrics.jsonl")) as file:
        for row in map(json.loads, file):
            for key, (tag, factor) in (TRAINING if "loss" in row else EVALUATION).items():
                if row.get(key) is None:
                    continue
                shown = scalars.get(tag, {}).get(row["step"])
                expected = as_float32(row[key] * factor)
                if shown is None:
                    problems.append(f"{tag} missing at step {row['step']}")
                elif not math.isclose(shown, expected, rel_tol=1e-6, abs_tol=1e-30):
                    problems.append(f"{tag} at step {row['step']}: {shown} where metrics.jsonl has {expected}")
                checked += 1
    result = {"status": "fail" if problems or checked == 0 else "pass",
              "reason": "; ".join(problems[:5]) if problems else ("" if checked else "no rows to check"),
              "tags": sorted(tags), "values_checked": checked}
    with open(args.out, "w") as out:
        json.dump(result, out, indent=2)
        out.write("\n")
    print(f"read_tensorboard: {result['status']}: {checked} values of {len(tags)} tags {result['reason']}")


if __name__ == "__main__":
    main()
