#pragma once
// Batches of token ids as tensors, and evaluation: accuracy, macro-F1 and mean cross-entropy.

#include <nlohmann/json.hpp>
#include <span>
#include <vector>

#include "greentune/data/tokenized_cache.hpp"
#include "greentune/model/classifier.hpp"
#include "greentune/model/eval_metrics.hpp"

namespace greentune::model {

struct TensorBatch {
  torch::Tensor input_ids;       // (B, T) int64, padded with pad_id
  torch::Tensor attention_mask;  // (B, T) int64, 1 for real tokens
  torch::Tensor labels;          // (B) int64
};

// Sequences padded with pad_id to padded_length (≥ every sequence's length); labels left undefined.
TensorBatch pad_sequences(std::span<const data::TruncatedTokens> sequences, size_t padded_length,
                          int32_t pad_id);

// Examples `indices` of split, each truncated to max_length ([CLS] first max_length-2 pieces [SEP]) and
// padded to padded_length (≥ every truncated length).
TensorBatch collate(const data::TokenizedSplit& split, std::span<const size_t> indices, size_t max_length,
                    size_t padded_length, int32_t pad_id);

// Accumulates predictions batch by batch; torch-free arithmetic once the logits are reduced.
class MetricsAccumulator {
 public:
  explicit MetricsAccumulator(size_t num_labels);
  void add(const torch::Tensor& logits, const torch::Tensor& labels);  // (B, L) and (B)
  // From plain predictions (tests, other frameworks' outputs): summed cross-entropy of the batch in nats.
  void add(std::span<const int64_t> predicted, std::span<const int64_t> gold, double cross_entropy_sum);
  EvalMetrics result() const;

 private:
  size_t num_labels_;
  std::vector<size_t> true_positive_, false_positive_, false_negative_;
  size_t n_ = 0, correct_ = 0;
  double cross_entropy_sum_ = 0.0;
};

struct EvaluateOptions {
  size_t max_length = 512;
  size_t batch_size = 64;
};

// Evaluates model (switched to eval mode, no gradients) on examples `indices` of split, in batches of
// similar length to spend little on padding.
EvalMetrics evaluate(SequenceClassifierImpl& model, const data::TokenizedSplit& split,
                     std::span<const size_t> indices, int32_t pad_id, const EvaluateOptions& options = {});

}  // namespace greentune::model
