#include "greentune/model/evaluate.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>

#include "greentune/core/error.hpp"

namespace greentune::model {

TensorBatch pad_sequences(std::span<const data::TruncatedTokens> sequences, size_t padded_length,
                          int32_t pad_id) {
  const auto batch = static_cast<int64_t>(sequences.size());
  const auto length = static_cast<int64_t>(padded_length);
  TensorBatch tensors;
  tensors.input_ids = torch::full({batch, length}, pad_id, torch::kLong);  // (B, T)
  tensors.attention_mask = torch::zeros({batch, length}, torch::kLong);    // (B, T)
  auto ids = tensors.input_ids.accessor<int64_t, 2>();
  auto mask = tensors.attention_mask.accessor<int64_t, 2>();
  for (int64_t row = 0; row < batch; ++row) {
    const data::TruncatedTokens& tokens = sequences[static_cast<size_t>(row)];
    if (tokens.size() > padded_length) {
      throw Error(ErrorCode::internal, "pad_sequences",
                  fmt::format("a sequence of {} tokens does not fit the batch length {}", tokens.size(),
                              padded_length));
    }
    for (size_t position = 0; position < tokens.size(); ++position) {
      ids[row][static_cast<int64_t>(position)] = tokens[position];
      mask[row][static_cast<int64_t>(position)] = 1;
    }
  }
  return tensors;
}

TensorBatch collate(const data::TokenizedSplit& split, std::span<const size_t> indices, size_t max_length,
                    size_t padded_length, int32_t pad_id) {
  std::vector<data::TruncatedTokens> sequences;
  sequences.reserve(indices.size());
  for (const size_t index : indices)
    sequences.push_back(split.tokens(index, max_length));
  TensorBatch tensors = pad_sequences(sequences, padded_length, pad_id);
  tensors.labels = torch::empty({static_cast<int64_t>(indices.size())}, torch::kLong);  // (B)
  auto labels = tensors.labels.accessor<int64_t, 1>();
  for (size_t row = 0; row < indices.size(); ++row)
    labels[static_cast<int64_t>(row)] = split.label(indices[row]);
  return tensors;
}

MetricsAccumulator::MetricsAccumulator(size_t num_labels)
    : num_labels_(num_labels),
      true_positive_(num_labels),
      false_positive_(num_labels),
      false_negative_(num_labels) {}

void MetricsAccumulator::add(const torch::Tensor& logits, const torch::Tensor& labels) {
  const torch::Tensor float_logits = logits.detach().to(torch::kFloat);
  const torch::Tensor gold = labels.to(torch::kLong).contiguous();
  const torch::Tensor predicted = float_logits.argmax(1).contiguous();
  const double cross_entropy_sum =
      torch::cross_entropy_loss(float_logits, gold, {}, at::Reduction::Sum).item<double>();
  add(std::span<const int64_t>(predicted.data_ptr<int64_t>(), static_cast<size_t>(predicted.numel())),
      std::span<const int64_t>(gold.data_ptr<int64_t>(), static_cast<size_t>(gold.numel())),
      cross_entropy_sum);
}

void MetricsAccumulator::add(std::span<const int64_t> predicted, std::span<const int64_t> gold,
                             double cross_entropy_sum) {
  for (size_t i = 0; i < gold.size(); ++i) {
    const auto truth = static_cast<size_t>(gold[i]);
    const auto guess = static_cast<size_t>(predicted[i]);
    if (truth >= num_labels_ || guess >= num_labels_) {
      throw Error(
          ErrorCode::invalid_data, "evaluation",
          fmt::format("label {} is outside the model's {} labels", std::max(truth, guess), num_labels_),
          "evaluate with a model trained on the same label set");
    }
    if (truth == guess) {
      ++correct_;
      ++true_positive_[truth];
    } else {
      ++false_positive_[guess];
      ++false_negative_[truth];
    }
  }
  n_ += gold.size();
  cross_entropy_sum_ += cross_entropy_sum;
}

EvalMetrics MetricsAccumulator::result() const {
  EvalMetrics metrics;
  metrics.n = n_;
  if (n_ == 0)
    return metrics;
  metrics.accuracy = static_cast<double>(correct_) / static_cast<double>(n_);
  metrics.eval_loss = cross_entropy_sum_ / static_cast<double>(n_);
  double f1_sum = 0.0;
  size_t labels_seen = 0;
  for (size_t label = 0; label < num_labels_; ++label) {
    const size_t tp = true_positive_[label], fp = false_positive_[label], fn = false_negative_[label];
    if (tp + fp + fn == 0)
      continue;  // neither gold nor predicted: not part of the macro average
    f1_sum += 2.0 * static_cast<double>(tp) / static_cast<double>(2 * tp + fp + fn);
    ++labels_seen;
  }
  metrics.macro_f1 = f1_sum / static_cast<double>(labels_seen);
  return metrics;
}

EvalMetrics evaluate(SequenceClassifierImpl& model, const data::TokenizedSplit& split,
                     std::span<const size_t> indices, int32_t pad_id, const EvaluateOptions& options) {
  if (indices.empty()) {
    throw Error(ErrorCode::invalid_data, split.name(), "no examples to evaluate",
                "evaluate a non-empty split");
  }
  torch::NoGradGuard no_grad;
  model.eval();
  // Sort by length so each batch pads little; metrics do not depend on the order.
  std::vector<size_t> order(indices.begin(), indices.end());
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t left, size_t right) { return split.length(left) < split.length(right); });
  MetricsAccumulator metrics(model.config().num_labels());
  constexpr size_t pad_to_multiple = 8;  // tokens: keeps the matrix shapes few and aligned
  for (size_t begin = 0; begin < order.size(); begin += options.batch_size) {
    const std::span<const size_t> members(order.data() + begin,
                                          std::min(options.batch_size, order.size() - begin));
    size_t longest = 0;
    for (const size_t index : members)
      longest = std::max(longest, std::min(split.length(index), options.max_length));
    const size_t padded =
        std::min(options.max_length, (longest + pad_to_multiple - 1) / pad_to_multiple * pad_to_multiple);
    const TensorBatch batch = collate(split, members, options.max_length, padded, pad_id);
    metrics.add(model.forward(batch.input_ids, batch.attention_mask).logits, batch.labels);
  }
  return metrics.result();
}

}  // namespace greentune::model
