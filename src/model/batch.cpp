#include "greentune/model/batch.hpp"

#include <fmt/format.h>

#include <vector>

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

TensorBatch to_device(const TensorBatch& batch, torch::Device device) {
  const auto move = [device](const torch::Tensor& tensor) {
    if (!tensor.defined() || tensor.device() == device)
      return tensor;
    if (device.is_cuda() && tensor.is_cpu())
      return tensor.pin_memory().to(device, /*non_blocking=*/true);
    return tensor.to(device);
  };
  return {move(batch.input_ids), move(batch.attention_mask), move(batch.labels)};
}

}  // namespace greentune::model
