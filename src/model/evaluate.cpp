#include "greentune/model/evaluate.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>

#include "greentune/core/error.hpp"

namespace greentune::model {

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

torch::Tensor classify(SequenceClassifierImpl& model, std::span<const data::TruncatedTokens> sequences,
                       int32_t pad_id, const EvaluateOptions& options) {
  torch::NoGradGuard no_grad;
  model.eval();
  // Sort by length so each batch pads little; rows go back to their input positions.
  std::vector<int64_t> order(sequences.size());
  std::iota(order.begin(), order.end(), int64_t{0});
  std::stable_sort(order.begin(), order.end(), [&](int64_t left, int64_t right) {
    return sequences[static_cast<size_t>(left)].size() < sequences[static_cast<size_t>(right)].size();
  });
  const torch::Device device = model.parameters().front().device();  // batches go where the model is
  const auto count = static_cast<int64_t>(sequences.size());
  const auto num_labels = static_cast<int64_t>(model.config().num_labels());
  torch::Tensor logits = torch::empty({count, num_labels}, torch::kFloat);  // (N, L)
  constexpr size_t pad_to_multiple = 8;  // tokens: keeps the matrix shapes few and aligned
  std::vector<data::TruncatedTokens> members;
  for (size_t begin = 0; begin < order.size(); begin += options.batch_size) {
    const size_t end = std::min(order.size(), begin + options.batch_size);
    members.clear();
    for (size_t position = begin; position < end; ++position)
      members.push_back(sequences[static_cast<size_t>(order[position])]);
    const size_t longest = members.back().size();
    const size_t padded =
        std::min(options.max_length, (longest + pad_to_multiple - 1) / pad_to_multiple * pad_to_multiple);
    const TensorBatch batch = pad_sequences(members, padded, pad_id);
    const torch::Tensor rows =
        torch::from_blob(order.data() + begin, {static_cast<int64_t>(end - begin)}, torch::kLong);
    logits.index_copy_(0, rows,
                       model.forward(batch.input_ids.to(device), batch.attention_mask.to(device))
                           .logits.to(torch::kCPU, torch::kFloat));
  }
  return logits;
}

EvalMetrics evaluate(SequenceClassifierImpl& model, const data::TokenizedSplit& split,
                     std::span<const size_t> indices, int32_t pad_id, const EvaluateOptions& options) {
  if (indices.empty()) {
    throw Error(ErrorCode::invalid_data, split.name(), "no examples to evaluate",
                "evaluate a non-empty split");
  }
  // In the batches classify runs (stable by length, batch_size each), so that every batch's cross-entropy
  // is summed in float32 over the same examples whatever the order of indices.
  std::vector<size_t> order(indices.begin(), indices.end());
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t left, size_t right) { return split.length(left) < split.length(right); });
  std::vector<data::TruncatedTokens> sequences;
  sequences.reserve(order.size());
  torch::Tensor labels = torch::empty({static_cast<int64_t>(order.size())}, torch::kLong);  // (N)
  auto gold = labels.accessor<int64_t, 1>();
  for (size_t row = 0; row < order.size(); ++row) {
    sequences.push_back(split.tokens(order[row], options.max_length));
    gold[static_cast<int64_t>(row)] = split.label(order[row]);
  }
  const torch::Tensor logits = classify(model, sequences, pad_id, options);  // (N, L)
  MetricsAccumulator metrics(model.config().num_labels());
  const auto batch_size = static_cast<int64_t>(options.batch_size);
  for (int64_t begin = 0; begin < logits.size(0); begin += batch_size) {
    const int64_t rows = std::min(batch_size, logits.size(0) - begin);
    metrics.add(logits.narrow(0, begin, rows), labels.narrow(0, begin, rows));
  }
  return metrics.result();
}

}  // namespace greentune::model
