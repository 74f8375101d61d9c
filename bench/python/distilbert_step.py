"""The greentune training-step benchmark in PyTorch-Python: the same DistilBERT-base classifier (random
init), batch 8 x 128 tokens, 2 threads, fp32 and bf16 autocast, forward + backward. Writes its timings as
JSON and, given greentune's bench_model JSON, prints the ratio of the two.

    python3 bench/python/distilbert_step.py OUT.json [build/bench-results/bench_model.json]
"""
import json
import math
import sys
import time

import torch
from torch import nn

BATCH, LENGTH, THREADS = 8, 128, 2
VOCAB, WIDTH, LAYERS, HEADS, FFN, POSITIONS = 30522, 768, 6, 12, 3072, 512


class Layer(nn.Module):
    def __init__(self):
        super().__init__()
        self.q_lin, self.k_lin = nn.Linear(WIDTH, WIDTH), nn.Linear(WIDTH, WIDTH)
        self.v_lin, self.out_lin = nn.Linear(WIDTH, WIDTH), nn.Linear(WIDTH, WIDTH)
        self.sa_layer_norm = nn.LayerNorm(WIDTH, eps=1e-12)
        self.lin1, self.lin2 = nn.Linear(WIDTH, FFN), nn.Linear(FFN, WIDTH)
        self.output_layer_norm = nn.LayerNorm(WIDTH, eps=1e-12)

    def forward(self, x, key_mask):
        b, t, c = x.shape
        split = lambda y: y.view(b, t, HEADS, c // HEADS).transpose(1, 2)  # (B, H, T, D)
        q, k, v = split(self.q_lin(x)), split(self.k_lin(x)), split(self.v_lin(x))
        scores = (q / math.sqrt(c // HEADS)) @ k.transpose(-2, -1)
        scores = scores.masked_fill(~key_mask, torch.finfo(scores.dtype).min)
        probabilities = nn.functional.dropout(scores.softmax(-1), 0.1, self.training)
        context = (probabilities @ v).transpose(1, 2).reshape(b, t, c)
        attended = self.sa_layer_norm(self.out_lin(context) + x)
        ffn = nn.functional.dropout(self.lin2(nn.functional.gelu(self.lin1(attended))), 0.1, self.training)
        return self.output_layer_norm(ffn + attended)


class DistilBertClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.word_embeddings = nn.Embedding(VOCAB, WIDTH, padding_idx=0)
        self.position_embeddings = nn.Embedding(POSITIONS, WIDTH)
        self.layer_norm = nn.LayerNorm(WIDTH, eps=1e-12)
        self.layers = nn.ModuleList(Layer() for _ in range(LAYERS))
        self.pre_classifier, self.classifier = nn.Linear(WIDTH, WIDTH), nn.Linear(WIDTH, 2)

    def forward(self, input_ids, attention_mask):
        positions = torch.arange(input_ids.shape[1])
        x = self.layer_norm(self.word_embeddings(input_ids) + self.position_embeddings(positions))
        x = nn.functional.dropout(x, 0.1, self.training)
        key_mask = attention_mask.bool()[:, None, None, :]
        for layer in self.layers:
            x = layer(x, key_mask)
        pooled = nn.functional.dropout(torch.relu(self.pre_classifier(x[:, 0])), 0.2, self.training)
        return self.classifier(pooled)


def time_step(model, bf16, seconds=5.0):
    input_ids = torch.randint(1000, VOCAB, (BATCH, LENGTH))
    attention_mask = torch.ones(BATCH, LENGTH, dtype=torch.long)
    labels = torch.randint(0, 2, (BATCH,))

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model(input_ids, attention_mask)
        loss = nn.functional.cross_entropy(logits.float(), labels)
        loss.backward()
        for parameter in model.parameters():
            parameter.grad = None

    step()  # warm-up
    steps, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        step()
        steps += 1
    return (time.perf_counter() - started) / steps


def main():
    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    model = DistilBertClassifier().train()
    results = {
        "torch_version": torch.__version__,
        "threads": THREADS,
        "fp32_step_ms": 1e3 * time_step(model, bf16=False),
        "bf16_step_ms": 1e3 * time_step(model, bf16=True),
    }
    if len(sys.argv) > 2:
        with open(sys.argv[2]) as greentune_file:
            benchmarks = {b["name"]: b for b in json.load(greentune_file)["benchmarks"]}
        for precision, name in (("fp32", "BM_DistilBertBaseTrainStepFp32"), ("bf16", "BM_DistilBertBaseTrainStepBf16")):
            matches = [b for key, b in benchmarks.items() if key.startswith(name)]
            if matches:
                greentune_ms = matches[0]["real_time"]  # the C++ benchmarks report milliseconds
                results[f"greentune_{precision}_step_ms"] = greentune_ms
                results[f"python_over_greentune_{precision}"] = results[f"{precision}_step_ms"] / greentune_ms
    with open(sys.argv[1], "w") as out:
        json.dump(results, out, indent=2)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
