// DistilBertForSequenceClassification, computed as Hugging Face transformers computes it.
#include <cmath>

#include "encoders.hpp"

namespace greentune::model::detail {

namespace {

LayerNorm layer_norm(int64_t width) {
  return LayerNorm(width, 1e-12);
}

class DistilBertLayerImpl : public torch::nn::Module {
 public:
  explicit DistilBertLayerImpl(const ModelConfig& config) {
    const int64_t width = config.hidden_size;
    auto attention = add_group(*this, "attention");
    q_lin_ = attention->register_module("q_lin", Linear(width, width));
    k_lin_ = attention->register_module("k_lin", Linear(width, width));
    v_lin_ = attention->register_module("v_lin", Linear(width, width));
    out_lin_ = attention->register_module("out_lin", Linear(width, width));
    sa_layer_norm_ = register_module("sa_layer_norm", layer_norm(width));
    auto ffn = add_group(*this, "ffn");
    lin1_ = ffn->register_module("lin1", Linear(width, config.intermediate_size));
    lin2_ = ffn->register_module("lin2", Linear(config.intermediate_size, width));
    output_layer_norm_ = register_module("output_layer_norm", layer_norm(width));
  }

  // x (B, T, C) -> (B, T, C)
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& key_mask, const ModelConfig& config) {
    const torch::Tensor context = self_attention(q_lin_(x), k_lin_(x), v_lin_(x), key_mask, config.num_heads,
                                                 config.attention_dropout, is_training(), true);
    const torch::Tensor attended = sa_layer_norm_(out_lin_(context) + x);
    torch::Tensor ffn = lin2_(activate(lin1_(attended), config.activation));  // (B, T, C)
    ffn = torch::dropout(ffn, config.hidden_dropout, is_training());
    return output_layer_norm_(ffn + attended);
  }

 private:
  Linear q_lin_{nullptr}, k_lin_{nullptr}, v_lin_{nullptr}, out_lin_{nullptr};
  LayerNorm sa_layer_norm_{nullptr}, output_layer_norm_{nullptr};
  Linear lin1_{nullptr}, lin2_{nullptr};
};

class DistilBertClassifierImpl : public SequenceClassifierImpl {
 public:
  explicit DistilBertClassifierImpl(const ModelConfig& config) : SequenceClassifierImpl(config) {
    const int64_t width = config.hidden_size;
    auto distilbert = add_group(*this, "distilbert");
    auto embeddings = add_group(*distilbert, "embeddings");
    token_embeddings_ = add_token_embeddings(*embeddings, config);
    embeddings_layer_norm_ = embeddings->register_module("LayerNorm", layer_norm(width));
    layers_ = add_layers<DistilBertLayerImpl>(*distilbert, "transformer", config);
    pre_classifier_ = register_module("pre_classifier", Linear(width, width));
    classifier_ = register_module("classifier", Linear(width, static_cast<int64_t>(config.num_labels())));
  }

  ClassifierOutput forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                           bool keep_hidden_states) override {
    ClassifierOutput output;
    torch::Tensor x = token_embeddings_.forward(input_ids);  // (B, T, C)
    x = torch::dropout(embeddings_layer_norm_(x), config_.hidden_dropout, is_training());
    x = run_layers(x, attention_mask, layers_, config_, keep_hidden_states, gradient_checkpointing_, output);
    // The [CLS] position's hidden state -> pre_classifier -> ReLU -> dropout -> classifier.
    torch::Tensor pooled = torch::relu(pre_classifier_(x.select(1, 0)));  // (B, C)
    pooled = torch::dropout(pooled, config_.classifier_dropout, is_training());
    output.logits = classifier_(pooled);  // (B, num_labels)
    return output;
  }

 private:
  TokenEmbeddings token_embeddings_;
  LayerNorm embeddings_layer_norm_{nullptr};
  std::vector<std::shared_ptr<DistilBertLayerImpl>> layers_;
  Linear pre_classifier_{nullptr}, classifier_{nullptr};
};

}  // namespace

SequenceClassifier make_distilbert(const ModelConfig& config) {
  return std::make_shared<DistilBertClassifierImpl>(config);
}

}  // namespace greentune::model::detail
