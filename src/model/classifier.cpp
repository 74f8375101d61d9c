#include "greentune/model/classifier.hpp"

#include <cmath>
#include <limits>
#include <set>

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

}  // namespace

void SequenceClassifierImpl::set_dropout(double hidden, double attention, double classifier) {
  config_.hidden_dropout = hidden;
  config_.attention_dropout = attention;
  config_.classifier_dropout = classifier;
}

SequenceClassifier make_classifier(const ModelConfig& config, bool draw_initial_weights) {
  SequenceClassifier model = config.model_type == ModelType::distilbert ? detail::make_distilbert(config)
                                                                        : detail::make_bert(config);
  if (draw_initial_weights)
    draw_all_weights_like_hugging_face(*model);
  return model;
}

namespace {

// Hugging Face's _init_weights for each parameter that wanted(full parameter name) accepts.
template <typename Wanted>
void draw_weights_like_hugging_face(SequenceClassifierImpl& model, const Wanted& wanted) {
  torch::NoGradGuard no_grad;
  const double range = model.config().initializer_range;
  for (const auto& item : model.named_modules()) {
    const std::string& module = item.key();
    const auto parameter_wanted = [&](const char* parameter) {
      return wanted(module.empty() ? std::string(parameter) : module + "." + parameter);
    };
    if (auto* linear = item.value()->as<detail::LinearImpl>()) {
      if (parameter_wanted("weight"))
        linear->weight.normal_(0.0, range);
      if (parameter_wanted("bias"))
        linear->bias.zero_();
    } else if (auto* embedding = item.value()->as<detail::EmbeddingImpl>()) {
      if (parameter_wanted("weight")) {
        embedding->weight.normal_(0.0, range);
        if (embedding->padding_idx)
          embedding->weight[*embedding->padding_idx].zero_();
      }
    } else if (auto* layer_norm = item.value()->as<detail::LayerNormImpl>()) {
      if (parameter_wanted("weight"))
        layer_norm->weight.fill_(1.0);
      if (parameter_wanted("bias"))
        layer_norm->bias.zero_();
    }
  }
}

}  // namespace

void draw_all_weights_like_hugging_face(SequenceClassifierImpl& model) {
  draw_weights_like_hugging_face(model, [](const std::string&) { return true; });
}

void draw_missing_weights_like_hugging_face(SequenceClassifierImpl& model,
                                            const std::vector<std::string>& missing) {
  const std::set<std::string> names(missing.begin(), missing.end());
  draw_weights_like_hugging_face(model, [&](const std::string& name) { return names.count(name) != 0; });
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
    // The queries scaled rather than the scores, as DistilBERT does: T/D times fewer multiplications
    // forward and backward (and the same numbers where the scale is a power of two: D = 16, 64, 256).
    const double scale = 1.0 / std::sqrt(static_cast<double>(head_size));
    torch::Tensor scores = torch::matmul(queries * scale, keys.transpose(-2, -1));  // (B, H, T, T)
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

TokenEmbeddings add_token_embeddings(torch::nn::Module& embeddings, const ModelConfig& config) {
  TokenEmbeddings token;
  token.word = embeddings.register_module(
      "word_embeddings", Embedding(config.vocab_size, config.hidden_size, config.pad_token_id));
  token.position = embeddings.register_module("position_embeddings",
                                              Embedding(config.max_position_embeddings, config.hidden_size));
  return token;
}

LinearImpl::LinearImpl(int64_t in_features, int64_t out_features)
    : weight(register_parameter("weight", torch::empty({out_features, in_features}))),
      bias(register_parameter("bias", torch::empty({out_features}))) {}

EmbeddingImpl::EmbeddingImpl(int64_t count, int64_t width, std::optional<int64_t> padding_idx)
    : weight(register_parameter("weight", torch::empty({count, width}))), padding_idx(padding_idx) {}

LayerNormImpl::LayerNormImpl(int64_t width, double eps)
    : weight(register_parameter("weight", torch::empty({width}))),
      bias(register_parameter("bias", torch::empty({width}))),
      eps(eps) {}

}  // namespace detail

}  // namespace greentune::model
