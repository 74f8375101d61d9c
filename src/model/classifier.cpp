#include "greentune/model/classifier.hpp"

#include <cmath>
#include <limits>

#include "encoders.hpp"
#include "greentune/core/error.hpp"
#include "greentune/model/torch_compat.hpp"

namespace greentune::model {

namespace {

// The most negative finite value of dtype: masked scores get it, so softmax gives them exactly 0 while a
// row never becomes all -inf (NaN).
double lowest_finite(torch::ScalarType dtype) {
  switch (dtype) {
    case torch::kHalf:
      return static_cast<double>(std::numeric_limits<c10::Half>::lowest());
    case torch::kBFloat16:
      return static_cast<double>(std::numeric_limits<c10::BFloat16>::lowest());
    case torch::kDouble:
      return std::numeric_limits<double>::lowest();
    default:
      return static_cast<double>(std::numeric_limits<float>::lowest());
  }
}

void init_like_hugging_face(torch::nn::Module& model, const ModelConfig& config) {
  torch::NoGradGuard no_grad;
  for (const auto& module : model.modules(/*include_self=*/false)) {
    if (auto* linear = module->as<torch::nn::Linear>()) {
      linear->weight.normal_(0.0, config.initializer_range);
      if (linear->bias.defined())
        linear->bias.zero_();
    } else if (auto* embedding = module->as<torch::nn::Embedding>()) {
      embedding->weight.normal_(0.0, config.initializer_range);
      if (embedding->options.padding_idx())
        embedding->weight[*embedding->options.padding_idx()].zero_();
    } else if (auto* layer_norm = module->as<torch::nn::LayerNorm>()) {
      layer_norm->weight.fill_(1.0);
      layer_norm->bias.zero_();
    }
  }
}

}  // namespace

void SequenceClassifierImpl::set_dropout(double hidden, double attention, double classifier) {
  config_.hidden_dropout = hidden;
  config_.attention_dropout = attention;
  config_.classifier_dropout = classifier;
}

SequenceClassifier make_classifier(const ModelConfig& config) {
  SequenceClassifier model = config.model_type == ModelType::distilbert ? detail::make_distilbert(config)
                                                                        : detail::make_bert(config);
  init_like_hugging_face(*model, config);
  return model;
}

torch::Tensor key_mask_from(const torch::Tensor& attention_mask) {
  return attention_mask.to(torch::kBool).unsqueeze(1).unsqueeze(2);  // (B, 1, 1, T)
}

torch::Tensor self_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                             const torch::Tensor& key_mask, int64_t heads, double dropout_p, bool training,
                             bool use_library_kernel) {
  const int64_t batch = q.size(0), length = q.size(1), width = q.size(2);
  const int64_t head_size = width / heads;
  const auto split_heads = [&](const torch::Tensor& x) {
    return x.view({batch, length, heads, head_size}).transpose(1, 2);  // (B, H, T, D)
  };
  const torch::Tensor queries = split_heads(q), keys = split_heads(k), values = split_heads(v);
  const double applied_dropout = training ? dropout_p : 0.0;
  torch::Tensor context;  // (B, H, T, D)
  if (use_library_kernel && compat::has_public_sdpa) {
    context = compat::library_attention(queries, keys, values, key_mask, applied_dropout);
  } else {
    const double scale = 1.0 / std::sqrt(static_cast<double>(head_size));
    torch::Tensor scores = torch::matmul(queries, keys.transpose(-2, -1)) * scale;  // (B, H, T, T)
    scores = scores.masked_fill(key_mask.logical_not(), lowest_finite(scores.scalar_type()));
    torch::Tensor probabilities = torch::softmax(scores, -1);
    probabilities = torch::dropout(probabilities, applied_dropout, training);
    context = torch::matmul(probabilities, values);
  }
  return context.transpose(1, 2).reshape({batch, length, width});  // (B, T, C)
}

namespace detail {

std::shared_ptr<torch::nn::Module> add_group(torch::nn::Module& parent, const std::string& name) {
  return parent.register_module(name, std::make_shared<torch::nn::Module>(name));
}

torch::Tensor activate(const torch::Tensor& x, Activation activation) {
  return activation == Activation::gelu ? torch::gelu(x) : torch::relu(x);
}

}  // namespace detail

}  // namespace greentune::model
