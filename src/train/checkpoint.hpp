#pragma once
// A run's checkpoints (private to the trainer): where the loop stands between two updates, saved with the
// weights, optimizer state and every rank's generator state, and restored on every rank.

#include <torch/torch.h>

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "checkpoint_state.hpp"
#include "greentune/model/classifier.hpp"
#include "greentune/train/process_group.hpp"

namespace greentune::train {

// A checkpoint is a directory OUT/checkpoint-<step>/ (model weights, optimizer state, the state of every
// rank's generator of the training device, the loop state) made complete under a temporary name, then named
// by OUT/checkpoint.json, written atomically: a process killed at any moment leaves the previous checkpoint
// or the new one, never half; older checkpoints are deleted unless keep_older. Rank 0 writes it.
void save_checkpoint(const std::filesystem::path& output, const LoopState& state,
                     model::SequenceClassifierImpl& model, torch::optim::Optimizer& optimizer,
                     const torch::Tensor& rng_states, bool keep_older = false);

// Deletes every checkpoint of output and checkpoint.json (a finished run that keeps none); returns the
// bytes freed.
uint64_t remove_checkpoints(const std::filesystem::path& output);

// Resumes every rank from rank 0's newest checkpoint in output: rank 0 loads it and sends the loop,
// optimizer and generator states to the others, so that they need not see rank 0's disk. (The weights
// follow with the broadcast every run starts with.) The optimizer state goes to device, where the model
// is, whatever device wrote it. False when there is no checkpoint.
bool resume_from_checkpoint(ProcessGroup& group, const std::filesystem::path& output, LoopState& state,
                            model::SequenceClassifierImpl& model, torch::optim::Optimizer& optimizer,
                            torch::Device device);

// Every rank's state of its device's generator: one state for a single process, (ranks, state) for several.
torch::Tensor gather_rng_states(ProcessGroup& group, torch::Device device);

}  // namespace greentune::train
