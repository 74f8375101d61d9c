#pragma once
// Hugging Face state dicts in and out of a classifier: a checked one-to-one copy by parameter name.

#include <filesystem>
#include <string>
#include <vector>

#include "greentune/model/classifier.hpp"
#include "greentune/model/safetensors.hpp"

namespace greentune::model {

struct LoadReport {
  std::vector<std::string> missing_keys;     // parameters the checkpoint lacks: they keep their fresh init
  std::vector<std::string> unexpected_keys;  // checkpoint tensors the classifier has no use for
  size_t loaded = 0;                         // parameters copied from the checkpoint
};

// A tensor over a safetensors tensor's bytes (no copy when aligned: valid while its SafetensorsFile lives;
// clone() to keep it). Every safetensors dtype maps to its torch dtype.
torch::Tensor tensor_view(const SafetensorsTensor& tensor);

// Copies every checkpoint tensor whose name (after Hugging Face's legacy renames: LayerNorm gamma/beta ->
// weight/bias, a missing base-model prefix such as "distilbert.") matches a parameter. F32, F16 and BF16
// are read and converted to the parameter's dtype. Throws Error(invalid_data) naming the tensor, both
// shapes and the file on a shape mismatch (e.g. a classifier head with another number of labels), and for
// an unsupported dtype.
LoadReport load_weights(SequenceClassifierImpl& model, const SafetensorsFile& checkpoint);

// Writes every parameter as F32 under its Hugging Face name ({"format": "pt"} metadata), atomically.
void save_weights(SequenceClassifierImpl& model, const std::filesystem::path& path);

}  // namespace greentune::model
