#pragma once
// Private to the model module: the concrete classifiers behind make_classifier(), and the layers
// DistilBERT and BERT share.

#include <torch/torch.h>

#include <optional>

#include "greentune/model/classifier.hpp"
#include "greentune/model/device.hpp"
#include "greentune/model/torch_compat.hpp"

namespace greentune::model::detail {

SequenceClassifier make_distilbert(const ModelConfig& config);
SequenceClassifier make_bert(const ModelConfig& config);

// A module that only groups others under a Hugging Face name ("transformer", "encoder", "attention").
std::shared_ptr<torch::nn::Module> add_group(torch::nn::Module& parent, const std::string& name);

torch::Tensor activate(const torch::Tensor& x, Activation activation);

// Layers whose parameters are allocated but not drawn: a checkpoint overwrites them, and
// draw_missing_weights_like_hugging_face() draws only what the checkpoint lacks. (LibTorch's own layers
// draw a random init in their constructors: about half a second of a 66M-parameter model's start-up,
// thrown away.)
class LinearImpl : public torch::nn::Module {
 public:
  LinearImpl(int64_t in_features, int64_t out_features);
  torch::Tensor forward(const torch::Tensor& x) {
    return torch::linear(x, weight, bias);
  }                            // (..., in) -> (..., out)
  torch::Tensor weight, bias;  // (out, in), (out)
};
TORCH_MODULE(Linear);

class EmbeddingImpl : public torch::nn::Module {
 public:
  // padding_idx: that row gets no gradient and is initialized to zero, as in torch.nn.Embedding.
  EmbeddingImpl(int64_t count, int64_t width, std::optional<int64_t> padding_idx = std::nullopt);
  torch::Tensor forward(const torch::Tensor& ids) {
    return torch::embedding(weight, ids, padding_idx.value_or(-1));
  }
  torch::Tensor weight;  // (count, width)
  std::optional<int64_t> padding_idx;
};
TORCH_MODULE(Embedding);

class LayerNormImpl : public torch::nn::Module {
 public:
  LayerNormImpl(int64_t width, double eps);
  torch::Tensor forward(const torch::Tensor& x) {
    return torch::layer_norm(x, {weight.size(0)}, weight, bias, eps);
  }
  torch::Tensor weight, bias;  // (width)
  double eps;
};
TORCH_MODULE(LayerNorm);

// Word embeddings (padding row = pad_token_id) and position embeddings, under Hugging Face's names in
// the `embeddings` group.
struct TokenEmbeddings {
  Embedding word{nullptr}, position{nullptr};
  // ids (B, T) -> word + position embeddings (B, T, C)
  torch::Tensor forward(const torch::Tensor& input_ids) {
    return word->forward(input_ids) +
           position->forward(torch::arange(input_ids.size(1), input_ids.options()));
  }
};
TokenEmbeddings add_token_embeddings(torch::nn::Module& embeddings, const ModelConfig& config);

// config.num_layers layers of type Layer, registered as "<group>.layer.<i>".
template <typename Layer>
std::vector<std::shared_ptr<Layer>> add_layers(torch::nn::Module& parent, const std::string& group,
                                               const ModelConfig& config) {
  auto list = add_group(parent, group)->register_module("layer", torch::nn::ModuleList());
  std::vector<std::shared_ptr<Layer>> layers;
  for (int64_t i = 0; i < config.num_layers; ++i) {
    layers.push_back(std::make_shared<Layer>(config));
    list->push_back(layers.back());
  }
  return layers;
}

// Gradient checkpointing of one encoder layer, as a custom autograd function: the forward pass keeps only
// the layer's input; backward runs the layer again (same dropout masks: the state of the generator of the
// input's device, CPU or GPU, is saved and restored; same autocast dtype on that device) and
// back-propagates through the recomputation. Gradients equal the plain ones bit for bit in fp32.
template <typename Layer>
class CheckpointedLayer : public torch::autograd::Function<CheckpointedLayer<Layer>> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* context, const torch::Tensor& x,
                               const torch::Tensor& key_mask, Layer* layer, const ModelConfig* config) {
    context->saved_data["layer"] = reinterpret_cast<int64_t>(layer);  // the model outlives its backward pass
    context->saved_data["config"] = reinterpret_cast<int64_t>(config);
    context->saved_data["rng"] = rng_state(x.device());
    const auto autocast = compat::active_autocast(x.device().type());
    context->saved_data["autocast"] = autocast ? static_cast<int64_t>(*autocast) : int64_t{-1};
    context->save_for_backward({x, key_mask});
    return layer->forward(x, key_mask, *config);  // autograd is off inside a custom function's forward
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* context,
                                                 torch::autograd::variable_list output_grads) {
    auto* layer = reinterpret_cast<Layer*>(context->saved_data["layer"].toInt());
    const auto* config = reinterpret_cast<const ModelConfig*>(context->saved_data["config"].toInt());
    const auto saved = context->get_saved_variables();
    const torch::Tensor x = saved[0].detach().requires_grad_(true);
    const torch::Device device = x.device();
    const torch::Tensor after_forward_rng = rng_state(device);
    set_rng_state(device, context->saved_data["rng"].toTensor());
    torch::Tensor y;
    {
      torch::AutoGradMode enable_grad(true);
      const int64_t autocast = context->saved_data["autocast"].toInt();
      std::optional<compat::AutocastGuard> guard;
      if (autocast >= 0)
        guard.emplace(device.type(), static_cast<torch::ScalarType>(autocast));
      y = layer->forward(x, saved[1], *config);
    }
    set_rng_state(device, after_forward_rng);
    torch::autograd::backward({y}, {output_grads[0]});
    return {x.grad(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

// x (B, T, C) through every layer with padded keys masked; each layer's output is kept in output when
// keep_hidden_states. checkpoint: recompute each layer in backward instead of keeping its activations.
template <typename Layer>
torch::Tensor run_layers(torch::Tensor x, const torch::Tensor& attention_mask,
                         const std::vector<std::shared_ptr<Layer>>& layers, const ModelConfig& config,
                         bool keep_hidden_states, bool checkpoint, ClassifierOutput& output) {
  if (keep_hidden_states)
    output.hidden_states.push_back(x);
  const torch::Tensor key_mask = key_mask_from(attention_mask);  // (B, 1, 1, T)
  for (const auto& layer : layers) {
    x = checkpoint && torch::GradMode::is_enabled()
            ? CheckpointedLayer<Layer>::apply(x, key_mask, layer.get(), &config)
            : layer->forward(x, key_mask, config);
    if (keep_hidden_states)
      output.hidden_states.push_back(x);
  }
  return x;
}

}  // namespace greentune::model::detail
