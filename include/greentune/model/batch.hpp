#pragma once
// Batches of token ids as tensors: padding and the attention mask, for training and evaluation alike.

#include <torch/torch.h>

#include <cstddef>
#include <cstdint>
#include <span>

#include "greentune/data/tokenized_cache.hpp"

namespace greentune::model {

struct TensorBatch {
  torch::Tensor input_ids;       // (B, T) int64, padded with pad_id
  torch::Tensor attention_mask;  // (B, T) int64, 1 for real tokens
  torch::Tensor labels;          // (B) int64
};

// Sequences padded with pad_id to padded_length (≥ every sequence's length); labels left undefined.
TensorBatch pad_sequences(std::span<const data::TruncatedTokens> sequences, size_t padded_length,
                          int32_t pad_id);

// batch's tensors on device (the same tensors when they are there already). To a GPU they go through
// pinned (page-locked) host memory and are copied without blocking: the host goes on preparing the step
// while the copy runs, and kernels queued after it on the same stream see the data.
TensorBatch to_device(const TensorBatch& batch, torch::Device device);

// Examples `indices` of split, each truncated to max_length ([CLS] first max_length-2 pieces [SEP]) and
// padded to padded_length (≥ every truncated length).
TensorBatch collate(const data::TokenizedSplit& split, std::span<const size_t> indices, size_t max_length,
                    size_t padded_length, int32_t pad_id);

}  // namespace greentune::model
