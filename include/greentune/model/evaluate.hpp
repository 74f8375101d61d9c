#pragma once
// Running a classifier over many sequences, and evaluation: accuracy, macro-F1 and mean cross-entropy.

#include <span>
#include <vector>

#include "greentune/data/tokenized_cache.hpp"
#include "greentune/model/batch.hpp"
#include "greentune/model/classifier.hpp"
#include "greentune/model/eval_metrics.hpp"

namespace greentune::model {

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
  size_t max_length = 512;  // tokens; no sequence may be longer
  size_t batch_size = 64;
};

// The logits of every sequence, (N, num_labels) float32 on the CPU, row i for sequences[i]: model
// (switched to eval mode, no gradients) runs on batches of similar length, to spend little on padding.
torch::Tensor classify(SequenceClassifierImpl& model, std::span<const data::TruncatedTokens> sequences,
                       int32_t pad_id, const EvaluateOptions& options = {});

// Evaluates model on examples `indices` of split, each truncated to options.max_length, with classify.
EvalMetrics evaluate(SequenceClassifierImpl& model, const data::TokenizedSplit& split,
                     std::span<const size_t> indices, int32_t pad_id, const EvaluateOptions& options = {});

}  // namespace greentune::model
