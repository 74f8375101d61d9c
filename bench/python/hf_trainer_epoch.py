"""One epoch of transformers' DistilBertForSequenceClassification (random init, the shape of --config) on IMDB
train with the Hugging Face Trainer in bf16: its defaults (no length grouping, batches padded to their longest
review) but weight decay 0.01 as greentune's. The same reviews and token ids as greentune and eager_epoch.py
(imdb_data). Writes seconds, samples/s, real (non-pad) tokens/s, MFU, GPU kJ and W (NVML) as JSON.

    python3 bench/python/hf_trainer_epoch.py --data aclImdb_v1_labeled.tar.gz --vocab vocab.txt \
        --config bench/gpu/distilbert-base/config.json --out hf.json
"""
import json
import math
import tempfile
import time

import torch
import transformers
from transformers import DistilBertConfig, DistilBertForSequenceClassification, Trainer, TrainingArguments

import epoch_common


def collate(features):
    """transformers' DataCollatorWithPadding without a tokenizer object: pad with 0 to the batch's longest."""
    longest = max(len(f["input_ids"]) for f in features)
    input_ids = torch.zeros((len(features), longest), dtype=torch.long)
    mask = torch.zeros((len(features), longest), dtype=torch.long)
    for row, feature in enumerate(features):
        n = len(feature["input_ids"])
        input_ids[row, :n] = torch.tensor(feature["input_ids"])
        mask[row, :n] = 1
    return {"input_ids": input_ids, "attention_mask": mask,
            "labels": torch.tensor([f["labels"] for f in features])}


def main():
    args, device = epoch_common.start(torch, __doc__.split("\n")[0])
    transformers.set_seed(args.seed)
    with open(args.config) as file:
        config = DistilBertConfig(**{k: v for k, v in json.load(file).items() if k not in ("architectures", "model_type")})
    config.num_labels = 2
    ids, labels, tokenize_seconds = epoch_common.load_examples(args)
    dataset = [{"input_ids": row, "labels": label} for row, label in zip(ids, labels)]
    model = DistilBertForSequenceClassification(config)
    with tempfile.TemporaryDirectory() as output_dir:
        options = dict(output_dir=output_dir, per_device_train_batch_size=args.batch_size,
                       num_train_epochs=args.epochs, learning_rate=args.lr, weight_decay=args.weight_decay,
                       lr_scheduler_type="linear", max_grad_norm=1.0, bf16=True, logging_steps=50,
                       save_strategy="no", report_to="none", seed=args.seed, disable_tqdm=True,
                       remove_unused_columns=False)
        if device.type == "cpu":
            options["use_cpu"] = True
        training_args = TrainingArguments(**options)
        trainer = Trainer(model=model, args=training_args, train_dataset=dataset, data_collator=collate)
        meter = epoch_common.start_meter(device)
        epoch_common.synchronize(torch, device)
        meter.start()
        started = time.perf_counter()
        output = trainer.train()
        epoch_common.synchronize(torch, device)
        seconds = time.perf_counter() - started
        numbers = meter.stop()
        losses = [row["loss"] for row in trainer.state.log_history if "loss" in row]
    epoch_common.write_result(args, torch, device, "hf-trainer", epoch_common.count_parameters(model), ids,
                              seconds, numbers, {
                                  "precision": "bf16", "transformers_version": transformers.__version__,
                                  "optimizer": str(training_args.optim), "bucketing": "none (group_by_length False)",
                                  "steps": trainer.state.global_step, "train_runtime": output.metrics.get("train_runtime"),
                                  "tokenize_seconds": tokenize_seconds, "mean_loss": output.training_loss,
                                  "final_loss": losses[-1] if losses else None,
                                  "finite": math.isfinite(output.training_loss)})


if __name__ == "__main__":
    main()
