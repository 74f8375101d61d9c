"""One epoch of a DistilBERT classifier (random init, the shape of --config) on IMDB train in a plain PyTorch
loop: bf16 autocast, fused AdamW (CUDA), a linear schedule, global-norm clipping at 1.0, length buckets padded
to a multiple of 64, scaled_dot_product_attention with cuDNN's SDPA backend off. Writes seconds, samples/s,
real (non-pad) tokens/s, MFU, GPU kJ and W (NVML) as JSON. Runs on CPU too (--device cpu or no GPU).

    python3 bench/python/eager_epoch.py --data aclImdb_v1_labeled.tar.gz --vocab vocab.txt \
        --config bench/gpu/distilbert-base/config.json --out eager.json
"""
import json
import math
import time

import torch
from torch import nn
from torch.nn import functional as F

import epoch_common
from imdb_data import length_buckets


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        width, ffn = c["dim"], c["hidden_dim"]
        self.heads, self.attention_dropout, self.dropout = c["n_heads"], c["attention_dropout"], c["dropout"]
        self.q_lin, self.k_lin = nn.Linear(width, width), nn.Linear(width, width)
        self.v_lin, self.out_lin = nn.Linear(width, width), nn.Linear(width, width)
        self.sa_layer_norm = nn.LayerNorm(width, eps=1e-12)
        self.lin1, self.lin2 = nn.Linear(width, ffn), nn.Linear(ffn, width)
        self.output_layer_norm = nn.LayerNorm(width, eps=1e-12)

    def forward(self, x, key_mask):
        b, t, c = x.shape
        split = lambda y: y.view(b, t, self.heads, c // self.heads).transpose(1, 2)  # noqa: E731
        dropout = self.attention_dropout if self.training else 0.0
        q, k, v = split(self.q_lin(x)), split(self.k_lin(x)), split(self.v_lin(x))
        if hasattr(F, "scaled_dot_product_attention"):
            context = F.scaled_dot_product_attention(q, k, v, attn_mask=key_mask, dropout_p=dropout)
        else:  # PyTorch 1.x (Debian 12's python3-torch): the same computation written out
            scores = (q / math.sqrt(q.shape[-1])) @ k.transpose(-2, -1)
            scores = scores.masked_fill(~key_mask, torch.finfo(scores.dtype).min)
            context = F.dropout(scores.softmax(-1), dropout, self.training) @ v
        attended = self.sa_layer_norm(self.out_lin(context.transpose(1, 2).reshape(b, t, c)) + x)
        ffn = F.dropout(self.lin2(F.gelu(self.lin1(attended))), self.dropout, self.training)
        return self.output_layer_norm(ffn + attended)


class DistilBertClassifier(nn.Module):
    """The parameters of transformers' DistilBertForSequenceClassification (2 labels), so the counts agree."""

    def __init__(self, c):
        super().__init__()
        width = c["dim"]
        self.dropout, self.classifier_dropout = c["dropout"], c["seq_classif_dropout"]
        self.word_embeddings = nn.Embedding(c["vocab_size"], width, padding_idx=c.get("pad_token_id", 0))
        self.position_embeddings = nn.Embedding(c["max_position_embeddings"], width)
        self.layer_norm = nn.LayerNorm(width, eps=1e-12)
        self.layers = nn.ModuleList(Layer(c) for _ in range(c["n_layers"]))
        self.pre_classifier, self.classifier = nn.Linear(width, width), nn.Linear(width, 2)
        for module in self.modules():  # transformers' _init_weights
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, std=c.get("initializer_range", 0.02))
            if isinstance(module, nn.Linear):
                nn.init.zeros_(module.bias)
        with torch.no_grad():
            self.word_embeddings.weight[c.get("pad_token_id", 0)].zero_()

    def forward(self, input_ids, attention_mask):
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        x = self.layer_norm(self.word_embeddings(input_ids) + self.position_embeddings(positions))
        x = F.dropout(x, self.dropout, self.training)
        key_mask = attention_mask.bool()[:, None, None, :]
        for layer in self.layers:
            x = layer(x, key_mask)
        pooled = F.dropout(torch.relu(self.pre_classifier(x[:, 0])), self.classifier_dropout, self.training)
        return self.classifier(pooled)


def padded_batch(ids, labels, indices):
    """input_ids (B, T) padded with 0 to the batch's longest member, attention_mask (B, T), labels (B)."""
    length = max(len(ids[i]) for i in indices)
    input_ids = torch.zeros((len(indices), length), dtype=torch.long)
    mask = torch.zeros((len(indices), length), dtype=torch.long)
    for row, index in enumerate(indices):
        input_ids[row, :len(ids[index])] = torch.tensor(ids[index])
        mask[row, :len(ids[index])] = 1
    return input_ids, mask, torch.tensor([labels[i] for i in indices])


def main():
    args, device = epoch_common.start(torch, __doc__.split("\n")[0])
    torch.manual_seed(args.seed)
    if device.type == "cuda" and hasattr(torch.backends.cuda, "enable_cudnn_sdp"):
        torch.backends.cuda.enable_cudnn_sdp(False)
    with open(args.config) as file:
        config = json.load(file)
    ids, labels, tokenize_seconds = epoch_common.load_examples(args)
    model = DistilBertClassifier(config).to(device)
    model.train()
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    fused = device.type == "cuda"
    optimizer = torch.optim.AdamW(groups, lr=args.lr, betas=(0.9, 0.999), eps=1e-8, fused=fused) if fused \
        else torch.optim.AdamW(groups, lr=args.lr, betas=(0.9, 0.999), eps=1e-8)
    batches = []
    for epoch in range(args.epochs):
        batches += length_buckets([len(row) for row in ids], args.batch_size, args.seed + epoch,
                                  pad_to_multiple=64, max_length=args.max_length)
    total_steps = len(batches)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: max(0.0, (total_steps - step) / total_steps))
    padded_tokens = sum(len(indices) * length for indices, length in batches)

    # Batches built on the CPU, copied with non_blocking from pinned memory.
    def make_batch(indices, length):
        input_ids = torch.zeros((len(indices), length), dtype=torch.long)
        mask = torch.zeros((len(indices), length), dtype=torch.long)
        for row, index in enumerate(indices):
            tokens = ids[index]
            input_ids[row, :len(tokens)] = torch.tensor(tokens)
            mask[row, :len(tokens)] = 1
        label = torch.tensor([labels[i] for i in indices])
        if device.type == "cuda":
            return [t.pin_memory().to(device, non_blocking=True) for t in (input_ids, mask, label)]
        return input_ids, mask, label

    meter = epoch_common.start_meter(device)
    losses = []
    epoch_common.synchronize(torch, device)
    meter.start()
    started = time.perf_counter()
    for indices, length in batches:
        input_ids, mask, label = make_batch(indices, length)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16):
            logits = model(input_ids, mask)
        loss = F.cross_entropy(logits.float(), label)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.detach())
    epoch_common.synchronize(torch, device)
    seconds = time.perf_counter() - started
    numbers = meter.stop()
    losses = [value.item() for value in losses]
    epoch_common.write_result(args, torch, device, "pytorch-eager", epoch_common.count_parameters(model), ids,
                              seconds, numbers, {
                                  "precision": "bf16-autocast", "optimizer": "AdamW(fused)" if fused else "AdamW",
                                  "bucketing": "length, padded to x64", "steps": total_steps,
                                  "padded_tokens": padded_tokens,
                                  "cudnn_sdp": False if device.type == "cuda" else None,
                                  "tokenize_seconds": tokenize_seconds,
                                  "mean_loss": sum(losses) / len(losses), "final_loss": losses[-1],
                                  "finite": all(math.isfinite(v) for v in losses)})


if __name__ == "__main__":
    main()
