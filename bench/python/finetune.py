"""A small PyTorch fine-tuning script of the kind researchers bring to a study (configs/demo-external.toml runs
it as an external variant beside greentune's own runs): a DistilBERT classifier (random init, the shape of
--model's config.json) fine-tuned on IMDB as the Hugging Face Trainer does it by default: a seeded shuffle
each epoch, batches padded to their longest member, AdamW (no decay on biases and LayerNorm), linear warmup
then linear decay, clipping the global gradient norm at 1.0; evaluated on the held-out validation reviews and on IMDB test.
It writes the Trainer's all_results.json keys (eval_accuracy, eval_loss, eval_f1, eval_samples,
test_accuracy, train_samples: one epoch's examples, as the Trainer counts them, ...) into --output-dir,
where the study reads them.

    python3 bench/python/finetune.py --data aclImdb_v1_labeled.tar.gz --vocab vocab.txt \
        --model configs/demo-model --max-train-examples 4000 --max-test-examples 2000 --output-dir run/
"""
import argparse
import json
import math
import os
import random
import shutil
import sys
import time

import torch
from torch.nn import functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from eager_epoch import DistilBertClassifier, padded_batch  # noqa: E402
from imdb_data import read_reviews, tokenize  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="aclImdb tarball, or JSON lines {text, label} to train on")
    parser.add_argument("--test-data", help="JSON lines to test on (default: --data's test split, a tarball)")
    parser.add_argument("--vocab", required=True, help="BERT uncased vocab.txt")
    parser.add_argument("--model", required=True, help="directory of a DistilBERT config.json (random init)")
    parser.add_argument("--output-dir", required=True, help="where all_results.json goes")
    parser.add_argument("--max-length", type=int, default=512, help="tokens kept of each review")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--warmup-ratio", type=float, default=0.0, help="share of the steps warming up")
    parser.add_argument("--max-train-examples", type=int, default=0, help="drawn with --seed (0: all)")
    parser.add_argument("--validation-fraction", type=float, default=0.0,
                        help="share of the drawn train reviews held out, as greentune holds them out")
    parser.add_argument("--max-test-examples", type=int, default=0, help="drawn with --seed (0: all)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: torch's default)")
    default_cli = os.path.join(ROOT, "build", "greentune")
    parser.add_argument("--greentune", default=default_cli if os.path.exists(default_cli) else "greentune",
                        help="the CLI that tokenizes where Python has no tokenizers package")
    return parser.parse_args()


def encode(args, path, split, limit):
    reviews = read_reviews(path, split, limit, args.seed)
    ids = tokenize([text for text, _ in reviews], args.vocab, args.max_length, args.greentune)
    return ids, [label for _, label in reviews]


def evaluate(model, ids, labels, batch_size):
    """accuracy, mean cross-entropy, F1 of the positive class (label 1) over every example."""
    model.eval()
    loss_sum, correct, true_positive, predicted_positive = 0.0, 0, 0, 0
    with torch.no_grad():
        for first in range(0, len(ids), batch_size):
            input_ids, mask, label = padded_batch(ids, labels, range(first, min(first + batch_size, len(ids))))
            logits = model(input_ids, mask)  # (B, 2)
            loss_sum += F.cross_entropy(logits, label, reduction="sum").item()
            predicted = logits.argmax(-1)
            correct += (predicted == label).sum().item()
            true_positive += ((predicted == 1) & (label == 1)).sum().item()
            predicted_positive += (predicted == 1).sum().item()
    positives = sum(labels)
    f1 = 2 * true_positive / (predicted_positive + positives) if predicted_positive + positives else 0.0
    return correct / len(ids), loss_sum / len(ids), f1


def main():
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.greentune == "greentune" and shutil.which("greentune") is None:
        args.greentune = os.path.join(ROOT, "build", "greentune")
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    train_ids, train_labels = encode(args, args.data, "train", args.max_train_examples)
    held_out = round(len(train_ids) * args.validation_fraction)
    validation_ids, validation_labels = train_ids[:held_out], train_labels[:held_out]
    train_ids, train_labels = train_ids[held_out:], train_labels[held_out:]
    test_path = args.test_data or args.data
    test_ids, test_labels = encode(args, test_path, "test", args.max_test_examples)

    with open(os.path.join(args.model, "config.json")) as file:
        model = DistilBertClassifier(json.load(file))
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=args.lr)
    steps_per_epoch = math.ceil(len(train_ids) / args.batch_size)
    total = steps_per_epoch * args.epochs
    warmup = math.ceil(total * args.warmup_ratio)

    def linear_with_warmup(step):  # transformers' get_linear_schedule_with_warmup
        if step < warmup:
            return step / max(1, warmup)
        return max(0.0, (total - step) / max(1, total - warmup))

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, linear_with_warmup)

    started, loss_sum = time.perf_counter(), 0.0
    order = list(range(len(train_ids)))
    for epoch in range(args.epochs):
        model.train()
        random.Random(args.seed + epoch).shuffle(order)
        for first in range(0, len(order), args.batch_size):
            input_ids, mask, label = padded_batch(train_ids, train_labels, order[first:first + args.batch_size])
            loss = F.cross_entropy(model(input_ids, mask), label)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            loss_sum += loss.item()
        print(f"epoch {epoch + 1}/{args.epochs}: mean train loss {loss_sum / ((epoch + 1) * steps_per_epoch):.4f}",
              flush=True)
    train_runtime = time.perf_counter() - started

    results = {"epoch": float(args.epochs), "train_loss": loss_sum / total, "train_runtime": train_runtime,
               "train_samples": len(train_ids),
               "train_samples_per_second": len(train_ids) * args.epochs / train_runtime}
    # The Trainer's evaluate() on the validation data ("eval_"), then on the test data ("test_"); without
    # validation data the test data is what "eval_" holds, as in a script that evaluates on IMDB test.
    parts = [("eval", test_ids, test_labels)]
    if validation_ids:
        parts = [("eval", validation_ids, validation_labels), ("test", test_ids, test_labels)]
    for prefix, ids, labels in parts:
        started = time.perf_counter()
        accuracy, loss, f1 = evaluate(model, ids, labels, args.batch_size)
        seconds = time.perf_counter() - started
        results.update({f"{prefix}_accuracy": accuracy, f"{prefix}_f1": f1, f"{prefix}_loss": loss,
                        f"{prefix}_runtime": seconds, f"{prefix}_samples": len(ids),
                        f"{prefix}_samples_per_second": len(ids) / seconds})
    print(json.dumps(results, indent=2), flush=True)
    os.makedirs(args.output_dir, exist_ok=True)
    with open(os.path.join(args.output_dir, "all_results.json"), "w") as out:
        json.dump(results, out, indent=2)
        out.write("\n")


if __name__ == "__main__":
    main()
