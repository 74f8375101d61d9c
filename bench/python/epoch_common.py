"""What eager_epoch.py and hf_trainer_epoch.py share: their command line, the data (imdb_data), the device,
the parameter count and the JSON they write (seconds, samples/s, real tokens/s, MFU, GPU kJ and W)."""
import argparse
import json
import os
import platform
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpu_meter import EnergyMeter, mfu  # noqa: E402
from imdb_data import read_imdb, tokenize  # noqa: E402


def parse_args(description):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", required=True, help="aclImdb tarball (train/pos, train/neg)")
    parser.add_argument("--vocab", required=True, help="BERT uncased vocab.txt")
    parser.add_argument("--config", required=True, help="DistilBERT config.json (random init)")
    parser.add_argument("--out", required=True, help="JSON results")
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--limit", type=int, default=0, help="train reviews to use, drawn with --seed (0: all)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--device", default="auto", help="auto (cuda when available), cuda or cpu")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    return parser.parse_args()


def start(torch, description):
    """The parsed arguments and the device, with torch's thread count set as --threads asks."""
    args = parse_args(description)
    if args.threads:
        torch.set_num_threads(args.threads)
    return args, pick_device(torch, args.device)


def pick_device(torch, requested):
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(requested)


def load_examples(args):
    started = time.perf_counter()
    reviews = read_imdb(args.data, "train", args.limit, args.seed)
    ids = tokenize([text for text, _ in reviews], args.vocab, args.max_length)
    labels = [label for _, label in reviews]
    return ids, labels, time.perf_counter() - started


def count_parameters(model):
    return sum(parameter.numel() for parameter in model.parameters())


def synchronize(torch, device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def write_result(args, torch, device, tool, parameters, ids, seconds, meter_numbers, extra):
    real_tokens = sum(len(row) for row in ids) * args.epochs
    samples = len(ids) * args.epochs
    gpu_name = meter_numbers.get("gpu_name")
    if gpu_name is None and device.type == "cuda":
        gpu_name = torch.cuda.get_device_name(device)
    result = {
        "tool": tool,
        "device": str(device),
        "gpu_name": gpu_name if device.type == "cuda" else None,
        "torch_version": torch.__version__,
        "python": platform.python_version(),
        "parameters": parameters,
        "examples": len(ids),
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "max_length": args.max_length,
        "seconds": seconds,
        "samples_per_s": samples / seconds,
        "tokens_per_s": real_tokens / seconds,
        "real_tokens": real_tokens,
        "mfu": mfu(parameters, real_tokens, seconds, gpu_name) if device.type == "cuda" else None,
        "gpu_kj": meter_numbers.get("gpu_kj") if device.type == "cuda" else None,
        "average_w": meter_numbers.get("average_w") if device.type == "cuda" else None,
        "energy_method": meter_numbers.get("energy_method") if device.type == "cuda" else None,
        "energy_note": meter_numbers.get("energy_note") if device.type == "cuda" else "CPU run: no GPU energy",
    }
    result.update(extra)
    with open(args.out, "w") as out:
        json.dump(result, out, indent=2)
        out.write("\n")
    print(json.dumps(result))
    return result


def start_meter(device):
    meter = EnergyMeter(device.index or 0 if device.type == "cuda" else 0)
    return meter
