"""The plain PyTorch training loop greentune's CPU step is compared with (bench/step_vs_python.py runs both):
one epoch of a DistilBERT classifier (random init, the shape of --config) over token ids that greentune
tokenized, batch i being examples iB..iB+B-1 of the file padded to its longest member (what the Hugging Face
Trainer's DataCollatorWithPadding does; greentune's `--no-shuffle --bucketing none --pad-to-multiple 1`
makes the same batches). fp32, AdamW (weight decay on weights of 2+ dimensions), a linear schedule, clipping
of the global gradient norm, the config's dropout. Writes the seconds of the steps (batch building included)
and the tokens it computed as JSON.

    python3 bench/python/same_batches_loop.py --ids ids.jsonl --config configs/demo-model/config.json \
        --threads 1 --out python.json
"""
import argparse
import json
import time

import torch
from torch.nn import functional as F

from eager_epoch import DistilBertClassifier, padded_batch


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ids", required=True, help='JSON lines {"ids": [...], "label": 0|1} in batch order')
    parser.add_argument("--config", required=True, help="DistilBERT config.json (random init)")
    parser.add_argument("--out", required=True, help="JSON results")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=512, help="tokens kept of each example")
    parser.add_argument("--threads", type=int, required=True, help="torch.set_num_threads")
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--max-grad-norm", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=42)
    return parser.parse_args()


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    with open(args.config) as file:
        config = json.load(file)
    with open(args.ids) as file:
        rows = [json.loads(line) for line in file if line.strip()]
    ids = [row["ids"][:args.max_length] for row in rows]
    labels = [row["label"] for row in rows]
    batches = [list(range(first, min(first + args.batch_size, len(ids))))
               for first in range(0, len(ids), args.batch_size)]

    model = DistilBertClassifier(config)
    model.train()
    groups = [{"params": [p for p in model.parameters() if p.dim() >= 2], "weight_decay": args.weight_decay},
              {"params": [p for p in model.parameters() if p.dim() < 2], "weight_decay": 0.0}]
    optimizer = torch.optim.AdamW(groups, lr=args.lr, betas=(0.9, 0.999), eps=1e-8)
    total = len(batches)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: max(0.0, (total - step) / total))

    losses = []
    started = time.perf_counter()
    for indices in batches:
        input_ids, mask, label = padded_batch(ids, labels, indices)
        loss = F.cross_entropy(model(input_ids, mask), label)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.max_grad_norm)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.detach())
    seconds = time.perf_counter() - started
    real_tokens = sum(len(row) for row in ids)
    padded_tokens = sum(len(indices) * max(len(ids[i]) for i in indices) for indices in batches)
    result = {"tool": "pytorch-python", "torch_version": torch.__version__, "threads": args.threads,
              "examples": len(ids), "steps": total, "step_seconds": seconds, "real_tokens": real_tokens,
              "padded_tokens": padded_tokens, "padding_fraction": 1.0 - real_tokens / padded_tokens,
              "mean_loss": sum(value.item() for value in losses) / len(losses)}
    with open(args.out, "w") as out:
        json.dump(result, out, indent=2)
        out.write("\n")


if __name__ == "__main__":
    main()
