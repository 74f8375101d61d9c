#pragma once
// Fine-tuning a sequence classifier: one readable training loop that does what a Hugging Face Trainer run
// does (same batches, schedules, optimizers, clipping, losses), with the strategies the study compares.

#include "greentune/train/run_result.hpp"
#include "greentune/train/train_options.hpp"

namespace greentune::train {

// Runs the whole fine-tuning and writes into options.output: metrics.jsonl, result.json, config.json (the
// resolved options), checkpoints (checkpoint.json naming checkpoint-<step>/) and the final model in Hugging
// Face layout under model/. With the same options, threads and data, a run resumed from a checkpoint (after
// a crash, SIGKILL or Ctrl-C) ends with the same metrics as an uninterrupted one on CPU in fp32. Files appear
// whole (temp file + rename). Throws greentune::Error for bad options, data or models, and when the loss
// becomes NaN or infinite.
// When options.launch describes a data-parallel run, every rank calls train(): each runs its share of
// every update's batches and rank 0 alone evaluates and writes; the result of the other ranks holds only
// what they measured themselves. Error(distributed) when another rank fails or cannot be reached.
RunResult train(const TrainOptions& options);

}  // namespace greentune::train
