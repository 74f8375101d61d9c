"""The JSON side of bench/gpu/check.sh (Python standard library only): reads what each step left in the work
folder (logs, exit codes, greentune's metrics.jsonl / result.json, the Python benchmarks' JSON) and writes one
JSON per step and summary.json under the output folder. Every step file has "status" (pass, fail or skipped),
"reason" (why, when not pass) and the numbers measured.

    python3 bench/gpu/check_steps.py SUBCOMMAND ...   (see the functions below; check.sh is the caller)
"""
import glob
import io
import json
import math
import os
import re
import sys
import tarfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from gpu_meter import peak_flops  # noqa: E402

STEP_FILES = ["deps", "build", "step1_reference", "step2_checkpointing", "step3_precision", "step4_epoch",
              "step5_transformers", "step6_tensorboard"]
# What `check.sh --cpu` must pass on a machine without a GPU or PyTorch (the ctest asserts it).
CPU_MUST_PASS = ["build", "step1_reference", "step2_checkpointing", "step3_precision", "step4_epoch"]
TARGETS = {"seconds_vs_hf": 0.4, "gpu_energy_vs_hf": 0.6, "gpu_power_w": 500.0}


def load(path, default=None):
    try:
        with open(path) as file:
            return json.load(file)
    except (OSError, ValueError):
        return default


def write(out, name, payload):
    payload = {"step": name, **payload}
    with open(os.path.join(out, name + ".json"), "w") as file:
        json.dump(payload, file, indent=2, default=str)
        file.write("\n")
    status = payload.get("status")
    print(f"check: {name}: {status}" + (f" ({payload['reason']})" if payload.get("reason") else ""))
    return payload


def tail(path, lines=25):
    try:
        with open(path, errors="replace") as file:
            return "".join(file.readlines()[-lines:])
    except OSError:
        return ""


def read_rc(path):
    try:
        with open(path) as file:
            return int(file.read().strip())
    except (OSError, ValueError):
        return None


def rc_reason(rc, log):
    if rc is None:
        return "did not run"
    if rc == 124 or rc == 137:
        return "timed out"
    if rc == 125:
        return "not started: the time budget was spent"
    lines = [line for line in tail(log, 40).splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower() or "Error" in line]
    return f"exit {rc}: " + (errors[-1] if errors else (lines[-1] if lines else "no output"))[:400]


def parse_value(text):
    try:
        return json.loads(text)
    except ValueError:
        return text


# record OUT NAME STATUS REASON [key=value ...]: a step file from the shell.
def cmd_record(out, name, status, reason, *pairs):
    payload = {"status": status, "reason": reason}
    for pair in pairs:
        key, _, value = pair.partition("=")
        payload[key] = parse_value(value)
    write(out, name, payload)


# unpack-deb DEB PREFIX: dpkg -x for machines without dpkg (a .deb is an ar archive holding data.tar.*).
def cmd_unpack_deb(deb, prefix):
    with open(deb, "rb") as file:
        data = file.read()
    if not data.startswith(b"!<arch>\n"):
        raise SystemExit(f"{deb}: not a .deb")
    position = 8
    while position < len(data):
        header = data[position:position + 60]
        name = header[:16].decode().strip().rstrip("/")
        size = int(header[48:58].decode().strip())
        body = data[position + 60:position + 60 + size]
        if name.startswith("data.tar"):
            if name.endswith(".zst"):
                raise SystemExit(f"{deb}: {name} needs zstd; unpack it with dpkg -x")
            with tarfile.open(fileobj=io.BytesIO(body), mode="r:*") as archive:
                archive.extractall(prefix)
            return
        position += 60 + size + (size % 2)
    raise SystemExit(f"{deb}: no data.tar member")


# deps OUT PROBE_DIR RESULTS_TSV MODE GLIBC_MACHINE GLIBC_NEEDED ARCHIVE_MODE CONFIGURE_RC CONFIGURE_LOG
def cmd_deps(out, probe_dir, results_tsv, mode, glibc_machine, glibc_needed, archive_mode, configure_rc,
             configure_log):
    def words(name):
        try:
            with open(os.path.join(probe_dir, name)) as file:
                return file.read().split()
        except OSError:
            return []

    found, missing = words("found.txt"), words("missing.txt")
    runs = {}
    if os.path.exists(results_tsv):
        with open(results_tsv) as file:
            for line in file:
                name, rc, message = (line.rstrip("\n").split("\t") + ["", ""])[:3]
                runs[name] = {"exit": int(rc) if rc.lstrip("-").isdigit() else rc, "output": message}
    dependencies = {}
    for name in found + missing:
        dependency = {"found": name in found}
        if name in found:
            run = runs.get(name)
            dependency["built"] = run is not None and run["exit"] != "not-built"
            dependency["ran"] = run is not None and run["exit"] == 0
            dependency["output"] = run["output"] if run else ""
        dependencies[name] = dependency
    if "LibArchive_static" in runs:
        run = runs["LibArchive_static"]
        dependencies["LibArchive_static"] = {"found": True, "built": run["exit"] != "not-built",
                                             "ran": run["exit"] == 0, "output": run["output"]}
    broken = [name for name, d in dependencies.items()
              if not (d["found"] and d.get("ran")) and not (name == "LibArchive" and archive_mode == "static")]
    if int(configure_rc) != 0:
        status, reason = "fail", "the probe project did not configure: " + rc_reason(int(configure_rc), configure_log)
    elif broken:
        status, reason = "fail", "not usable here (not found, built or loaded): " + ", ".join(broken)
    else:
        status, reason = "pass", ""
    write(out, "deps", {"status": status, "reason": reason, "mode": mode, "glibc_machine": glibc_machine,
                        "glibc_needed_by_debian_libs": glibc_needed, "libarchive": archive_mode,
                        "dependencies": dependencies, "configure_log_tail": tail(configure_log) if status == "fail" else ""})


# gtest OUT NAME GTEST_JSON RC LOG DEVICE WHAT: a step made of gtest cases.
def cmd_gtest(out, name, gtest_json, rc, log, device, what):
    rc = int(rc)
    report = load(gtest_json, {})
    cases = []
    for suite in report.get("testsuites", []):
        for case in suite.get("testsuite", []):
            failures = [f.get("failure", "")[:600] for f in case.get("failures", [])]
            skipped = case.get("result") == "SKIPPED" or case.get("status") == "NOTRUN"
            cases.append({"name": f"{suite.get('name')}.{case.get('name')}",
                          "status": "fail" if failures else ("skipped" if skipped else "pass"),
                          "seconds": case.get("time"), "failures": failures})
    if not cases:
        status, reason = "fail", rc_reason(rc, log) if rc else "no test ran"
    elif any(c["status"] == "fail" for c in cases) or rc != 0:
        status = "fail"
        failing = [c["name"] for c in cases if c["status"] == "fail"]
        reason = ("failed: " + ", ".join(failing)) if failing else rc_reason(rc, log)
    else:
        status, reason = "pass", ""
    write(out, name, {"status": status, "reason": reason, "device": device, "checks": what, "tests": cases,
                      "log_tail": tail(log) if status == "fail" else ""})


def training_losses(run_dir):
    rows = []
    try:
        with open(os.path.join(run_dir, "metrics.jsonl")) as file:
            for line in file:
                if line.strip():
                    row = json.loads(line)
                    if "loss" in row and "eval_loss" not in row:
                        rows.append(row)
    except OSError:
        pass
    return rows


# precision OUT RUNS_DIR DEVICE STEPS: fp32 vs bf16 vs fp16 mean (and final-window) training losses.
def cmd_precision(out, runs_dir, device, steps):
    runs, statuses = {}, {}
    for precision in ["fp32", "bf16", "fp16"]:
        run_dir = os.path.join(runs_dir, precision)
        rc = read_rc(run_dir + ".rc")
        skip_reason = None
        if os.path.exists(run_dir + ".skip"):
            with open(run_dir + ".skip") as file:
                skip_reason = file.read().strip()
        rows = training_losses(run_dir)
        result = load(os.path.join(run_dir, "result.json"), {})
        if skip_reason:
            runs[precision] = {"status": "skipped", "reason": skip_reason}
        elif rc != 0 or not rows:
            runs[precision] = {"status": "fail", "reason": rc_reason(rc, run_dir + ".log") if rc else "no training rows",
                               "log_tail": tail(run_dir + ".log", 12)}
        else:
            losses = [row["loss"] for row in rows]
            runs[precision] = {"status": "ran", "steps": result.get("steps"), "mean_loss": sum(losses) / len(losses),
                               "final_loss": losses[-1], "logged_windows": len(losses),
                               "finite": all(math.isfinite(v) for v in losses),
                               "train_seconds": result.get("train_seconds"),
                               "train_samples_per_s": result.get("train_samples_per_s")}
        statuses[precision] = runs[precision]["status"]
    base = runs["fp32"]
    reasons = []
    if base["status"] != "ran":
        reasons.append("fp32: " + base.get("reason", ""))
    for precision in ["bf16", "fp16"]:
        run = runs[precision]
        if run["status"] != "ran" or base["status"] != "ran":
            if run["status"] == "fail":
                reasons.append(f"{precision}: {run['reason']}")
            continue
        run["mean_loss_relative_difference"] = abs(run["mean_loss"] - base["mean_loss"]) / base["mean_loss"]
        run["final_loss_relative_difference"] = abs(run["final_loss"] - base["final_loss"]) / base["final_loss"]
        run["status"] = "pass" if run["finite"] and run["mean_loss_relative_difference"] <= 0.02 else "fail"
        if run["status"] == "fail":
            reasons.append(f"{precision}: mean loss {run['mean_loss']:.5f} vs fp32 {base['mean_loss']:.5f} "
                           f"({100 * run['mean_loss_relative_difference']:.2f}% > 2%)")
    if base["status"] == "ran":
        base["status"] = "pass"
    compared = [p for p in ["bf16", "fp16"] if runs[p]["status"] in ("pass", "fail")]
    status = "fail" if reasons else ("pass" if compared else "skipped")
    write(out, "step3_precision", {
        "status": status, "reason": "; ".join(reasons) if reasons else ("" if compared else "nothing to compare"),
        "device": device, "steps": int(steps),
        "criterion": "mean training loss over the steps (every logged window) within 2% of fp32's",
        "runs": runs})


def distilbert_parameters(config, labels=2):
    d, f, v, p, n = config["dim"], config["hidden_dim"], config["vocab_size"], config["max_position_embeddings"], \
        config["n_layers"]
    layer = 4 * (d * d + d) + 2 * (2 * d) + (d * f + f) + (f * d + d)
    return v * d + p * d + 2 * d + n * layer + (d * d + d) + (d * labels + labels)


def greentune_epoch(run_dir, config_path, gpu_name, device):
    result = load(os.path.join(run_dir, "result.json"))
    rc = read_rc(run_dir + ".rc")
    if rc != 0 or result is None:
        return {"status": "fail", "reason": rc_reason(rc, run_dir + ".log") if rc else "no result.json",
                "log_tail": tail(run_dir + ".log", 15)}
    config = load(config_path)
    parameters = distilbert_parameters(config)
    samples_per_s = result.get("train_samples_per_s") or 0.0
    tokens_per_s = result.get("train_tokens_per_s") or 0.0
    samples = result.get("train_samples") or 0
    seconds = samples / samples_per_s if samples_per_s else None
    gpu_kj = result.get("gpu_kwh", 0.0) * 3600.0 if device == "cuda" else None
    train_seconds = result.get("train_seconds")
    peak = peak_flops(gpu_name) if device == "cuda" else None
    return {"status": "pass", "tool": "greentune", "device": device, "gpu_name": gpu_name if device == "cuda" else None,
            "parameters": parameters, "examples": result.get("config", {}).get("train-examples"), "steps": result.get("steps"),
            "seconds": seconds, "seconds_note": "the training steps alone (train_samples / train_samples_per_s)",
            "wall_seconds": train_seconds, "samples_per_s": samples_per_s, "tokens_per_s": tokens_per_s,
            "real_tokens": tokens_per_s * seconds if seconds else None,
            "mfu": 6.0 * parameters * tokens_per_s / peak if peak else None,
            "gpu_kj": gpu_kj, "average_w": gpu_kj * 1e3 / train_seconds if gpu_kj and train_seconds else None,
            "average_w_note": "GPU joules of the run (NVML, greentune's meter) over its wall seconds",
            "energy_methods": result.get("energy_methods"), "padding_fraction": result.get("padding_fraction"),
            "precision": result.get("config", {}).get("precision"), "bucketing": result.get("config", {}).get("bucketing"),
            "peak_tensor_memory_mb": result.get("peak_tensor_memory_mb")}


def python_epoch(path, rc_path, log, skip_path):
    if os.path.exists(skip_path):
        with open(skip_path) as file:
            return {"status": "skipped", "reason": file.read().strip()}
    rc = read_rc(rc_path)
    result = load(path)
    if rc != 0 or result is None:
        return {"status": "fail", "reason": rc_reason(rc, log) if rc else "no JSON written", "log_tail": tail(log, 15)}
    result["status"] = "pass" if result.get("finite", True) else "fail"
    if result["status"] == "fail":
        result["reason"] = "the loss was not finite"
    return result


# epoch OUT WORK DEVICE GPU_NAME CONFIG: greentune, HF Trainer and the eager loop on one epoch.
def cmd_epoch(out, work, device, gpu_name, config_path):
    gpu_name = gpu_name or None
    runs = {"greentune": greentune_epoch(os.path.join(work, "epoch", "greentune"), config_path, gpu_name, device)}
    for tool in ["hf_trainer", "eager"]:
        base = os.path.join(work, "epoch", tool)
        runs[tool] = python_epoch(base + ".json", base + ".rc", base + ".log", base + ".skip")
    failed = [f"{tool}: {run.get('reason', '')}" for tool, run in runs.items() if run["status"] == "fail"]
    status = "fail" if failed else ("pass" if any(r["status"] == "pass" for r in runs.values()) else "skipped")
    ratios = {}
    hf, gt = runs["hf_trainer"], runs["greentune"]
    if hf["status"] == "pass" and gt["status"] == "pass":
        if hf.get("seconds") and gt.get("seconds"):
            ratios["seconds_vs_hf"] = gt["seconds"] / hf["seconds"]
        if hf.get("gpu_kj") and gt.get("gpu_kj"):
            ratios["gpu_energy_vs_hf"] = gt["gpu_kj"] / hf["gpu_kj"]
    write(out, "step4_epoch", {"status": status, "reason": "; ".join(failed), "device": device,
                               "gpu_name": gpu_name, "runs": runs, "ratios": ratios,
                               "mfu_definition": "6 * parameters * real (non-pad) tokens/s / the GPU's peak dense bf16 FLOP/s (bench/python/gpu_meter.py)"})


# eval-jsonl TARBALL OUT COUNT: IMDB test reviews as JSON lines for greentune's --eval-data and predict.
def cmd_eval_jsonl(tarball, out_path, count):
    from imdb_data import read_imdb

    reviews = read_imdb(tarball, "test", int(count), 7)
    with open(out_path, "w") as file:
        for text, label in reviews:
            file.write(json.dumps({"text": text, "label": ["neg", "pos"][label]}) + "\n")


# predict-input TEXTS_JSONL PREDICTIONS_JSONL OUT MAX_LENGTH: load_in_transformers.py's INPUT.json.
def cmd_predict_input(texts_path, predictions_path, out_path, max_length):
    with open(texts_path) as file:
        texts = [json.loads(line)["text"] for line in file if line.strip()]
    with open(predictions_path) as file:
        predictions = [json.loads(line) for line in file if line.strip().startswith("{")]
    if len(predictions) != len(texts):
        raise SystemExit(f"greentune predict gave {len(predictions)} lines for {len(texts)} texts")
    with open(out_path, "w") as file:
        json.dump({"texts": texts, "greentune": predictions, "max_length": int(max_length), "tolerance": 1e-4}, file)


# transformers OUT RESULT_JSON RC LOG SKIP_FILE MODEL_DIR
def cmd_transformers(out, result_path, rc, log, skip_path, model_dir):
    if os.path.exists(skip_path):
        with open(skip_path) as file:
            write(out, "step5_transformers", {"status": "skipped", "reason": file.read().strip(), "model_dir": model_dir})
        return
    result = load(result_path)
    rc = int(rc)
    if result is None:
        write(out, "step5_transformers", {"status": "fail", "reason": rc_reason(rc, log) if rc else "no JSON written",
                                          "model_dir": model_dir, "log_tail": tail(log)})
        return
    result.pop("step", None)
    result["model_dir"] = model_dir
    write(out, "step5_transformers", result)


# summary OUT MODE WALL_SECONDS BUDGET_SECONDS GPU_NAME
def cmd_summary(out, mode, wall, budget, gpu_name):
    steps = {}
    for name in STEP_FILES:
        step = load(os.path.join(out, name + ".json"))
        steps[name] = {"status": step.get("status"), "reason": step.get("reason", "")} if step else \
            {"status": "fail", "reason": "the step wrote no JSON (check.sh stopped before it?)"}
    epoch = load(os.path.join(out, "step4_epoch.json"), {})
    runs = epoch.get("runs", {})
    greentune, hf = runs.get("greentune", {}), runs.get("hf_trainer", {})
    ratios = epoch.get("ratios", {})
    targets = {}
    for key, target in [("seconds_vs_hf", TARGETS["seconds_vs_hf"]), ("gpu_energy_vs_hf", TARGETS["gpu_energy_vs_hf"])]:
        value = ratios.get(key)
        targets[key] = {"target": f"<= {target}", "value": value,
                        "met": None if value is None else value <= target}
    power = greentune.get("average_w") if greentune.get("status") == "pass" else None
    targets["gpu_power_w"] = {"target": f">= {TARGETS['gpu_power_w']:.0f} W while training (greentune)",
                              "value": power, "met": None if power is None else power >= TARGETS["gpu_power_w"]}
    failed = [name for name, step in steps.items() if step["status"] == "fail"]
    summary = {"mode": mode, "gpu_name": gpu_name or None, "wall_seconds": float(wall), "budget_seconds": float(budget),
               "ok": not failed, "failed": failed,
               "passed": [n for n, s in steps.items() if s["status"] == "pass"],
               "skipped": [n for n, s in steps.items() if s["status"] == "skipped"],
               "steps": steps, "targets": targets,
               "greentune_seconds": greentune.get("seconds"), "hf_trainer_seconds": hf.get("seconds"),
               "note": "targets are evaluated only where both numbers were measured (met: null otherwise)"}
    with open(os.path.join(out, "summary.json"), "w") as file:
        json.dump(summary, file, indent=2)
        file.write("\n")
    print(f"check: summary: {'ok' if not failed else 'FAILED: ' + ', '.join(failed)}; passed {summary['passed']}; "
          f"skipped {summary['skipped']}; {float(wall):.0f} s")
    for key, target in targets.items():
        if target["value"] is not None:
            print(f"check: target {key}: {target['value']:.3f} ({target['target']}): {'met' if target['met'] else 'NOT met'}")


# verify-cpu OUT: the ctest's assertion: every step check.sh --cpu can run passed, and nothing failed.
def cmd_verify_cpu(out):
    summary = load(os.path.join(out, "summary.json"))
    if summary is None:
        raise SystemExit("no summary.json")
    problems = [f"{name}: {summary['steps'][name]['status']} ({summary['steps'][name]['reason']})"
                for name in CPU_MUST_PASS if summary["steps"][name]["status"] != "pass"]
    problems += [f"{name} failed: {summary['steps'][name]['reason']}" for name in summary["failed"]
                 if name not in CPU_MUST_PASS]
    precision = load(os.path.join(out, "step3_precision.json"), {})
    if precision.get("runs", {}).get("bf16", {}).get("status") != "pass":
        problems.append("step3: bf16 was not compared with fp32")
    epoch = load(os.path.join(out, "step4_epoch.json"), {})
    if epoch.get("runs", {}).get("greentune", {}).get("status") != "pass":
        problems.append("step4: greentune's epoch did not pass")
    if problems:
        raise SystemExit("check.sh --cpu: " + "; ".join(problems))
    print("check.sh --cpu: every step it can run here passed")


def main():
    commands = {name[4:].replace("_", "-"): function for name, function in globals().items() if name.startswith("cmd_")}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        raise SystemExit(f"usage: check_steps.py {{{','.join(sorted(commands))}}} ...")
    commands[sys.argv[1]](*sys.argv[2:])


if __name__ == "__main__":
    main()
