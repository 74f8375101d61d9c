#include "greentune/model/weights.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstring>
#include <map>

#include "greentune/core/error.hpp"

namespace greentune::model {

namespace {

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

// Hugging Face's legacy names: TensorFlow-converted checkpoints call LayerNorm parameters gamma/beta.
std::string modern_name(std::string name) {
  if (ends_with(name, ".gamma"))
    return name.substr(0, name.size() - 6) + ".weight";
  if (ends_with(name, ".beta"))
    return name.substr(0, name.size() - 5) + ".bias";
  return name;
}

}  // namespace

torch::Tensor tensor_view(const SafetensorsTensor& tensor) {
  static const std::map<SafetensorsDtype, torch::ScalarType> torch_dtypes = {
      {SafetensorsDtype::BOOL, torch::kBool}, {SafetensorsDtype::U8, torch::kUInt8},
      {SafetensorsDtype::I8, torch::kInt8},   {SafetensorsDtype::I16, torch::kInt16},
      {SafetensorsDtype::I32, torch::kInt32}, {SafetensorsDtype::I64, torch::kInt64},
      {SafetensorsDtype::F16, torch::kHalf},  {SafetensorsDtype::BF16, torch::kBFloat16},
      {SafetensorsDtype::F32, torch::kFloat}, {SafetensorsDtype::F64, torch::kDouble}};
  const auto dtype = torch_dtypes.at(tensor.dtype);
  if (reinterpret_cast<uintptr_t>(tensor.bytes.data()) % dtype_size(tensor.dtype) == 0) {
    return torch::from_blob(const_cast<std::byte*>(tensor.bytes.data()), tensor.shape,
                            torch::TensorOptions().dtype(dtype));
  }
  // Files laid out by other writers may leave a tensor misaligned for its element type: copy it.
  torch::Tensor aligned = torch::empty(tensor.shape, torch::TensorOptions().dtype(dtype));
  std::memcpy(aligned.data_ptr(), tensor.bytes.data(), tensor.bytes.size());
  return aligned;
}

LoadReport load_weights(SequenceClassifierImpl& model, const SafetensorsFile& checkpoint) {
  const std::string origin = checkpoint.path().string();
  std::map<std::string, torch::Tensor> parameters;
  for (const auto& item : model.named_parameters())
    parameters.emplace(item.key(), item.value());

  // A checkpoint of the bare encoder (BertModel, DistilBertModel) lacks the base-model prefix.
  const std::string prefix = std::string(to_string(model.config().model_type)) + ".";
  bool has_prefix = false;
  for (const auto& tensor : checkpoint.tensors())
    has_prefix |= tensor.name.rfind(prefix, 0) == 0;

  LoadReport report;
  std::map<std::string, bool> copied;
  torch::NoGradGuard no_grad;
  for (const auto& tensor : checkpoint.tensors()) {
    std::string name = modern_name(tensor.name);
    if (!has_prefix && parameters.count(name) == 0 && parameters.count(prefix + name) != 0)
      name = prefix + name;
    const auto parameter = parameters.find(name);
    if (parameter == parameters.end()) {
      // Position ids are a buffer older checkpoints saved; transformers ignores them too.
      if (!ends_with(tensor.name, "position_ids"))
        report.unexpected_keys.push_back(tensor.name);
      continue;
    }
    const std::vector<int64_t> expected = parameter->second.sizes().vec();
    if (tensor.shape != expected) {
      throw Error(ErrorCode::invalid_data, fmt::format("{}: tensor \"{}\"", origin, tensor.name),
                  fmt::format("has shape [{}] but the model's parameter {} has shape [{}]",
                              fmt::join(tensor.shape, ", "), name, fmt::join(expected, ", ")),
                  "use a checkpoint of the same architecture (config.json sizes, number of labels)");
    }
    if (tensor.dtype != SafetensorsDtype::F32 && tensor.dtype != SafetensorsDtype::F16 &&
        tensor.dtype != SafetensorsDtype::BF16) {
      throw Error(ErrorCode::invalid_data, fmt::format("{}: tensor \"{}\"", origin, tensor.name),
                  fmt::format("dtype {} is not a weight dtype", to_string(tensor.dtype)),
                  "model weights must be F32, F16 or BF16");
    }
    parameter->second.copy_(tensor_view(tensor));
    copied[name] = true;
    ++report.loaded;
  }
  for (const auto& [name, parameter] : parameters) {
    if (!copied.count(name))
      report.missing_keys.push_back(name);
  }
  return report;
}

void save_weights(SequenceClassifierImpl& model, const std::filesystem::path& path) {
  std::vector<torch::Tensor> keep_alive;
  std::vector<SafetensorsTensor> tensors;
  for (const auto& item : model.named_parameters()) {
    torch::Tensor values = item.value().detach().to(torch::kCPU, torch::kFloat).contiguous();
    SafetensorsTensor tensor;
    tensor.name = item.key();
    tensor.dtype = SafetensorsDtype::F32;
    tensor.shape = values.sizes().vec();
    tensor.bytes = std::span<const std::byte>(static_cast<const std::byte*>(values.data_ptr()),
                                              static_cast<size_t>(values.numel()) * sizeof(float));
    keep_alive.push_back(std::move(values));
    tensors.push_back(std::move(tensor));
  }
  write_safetensors(path, tensors);
}

}  // namespace greentune::model
