// BertForSequenceClassification, computed as Hugging Face transformers computes it.
#include "encoders.hpp"

namespace greentune::model::detail {

namespace {

LayerNorm layer_norm(const ModelConfig& config) {
  return LayerNorm(config.hidden_size, config.layer_norm_eps);
}

class BertLayerImpl : public torch::nn::Module {
 public:
  explicit BertLayerImpl(const ModelConfig& config) {
    const int64_t width = config.hidden_size;
    auto attention = add_group(*this, "attention");
    auto self = add_group(*attention, "self");
    query_ = self->register_module("query", Linear(width, width));
    key_ = self->register_module("key", Linear(width, width));
    value_ = self->register_module("value", Linear(width, width));
    auto attention_output = add_group(*attention, "output");
    attention_dense_ = attention_output->register_module("dense", Linear(width, width));
    attention_layer_norm_ = attention_output->register_module("LayerNorm", layer_norm(config));
    intermediate_dense_ =
        add_group(*this, "intermediate")->register_module("dense", Linear(width, config.intermediate_size));
    auto output = add_group(*this, "output");
    output_dense_ = output->register_module("dense", Linear(config.intermediate_size, width));
    output_layer_norm_ = output->register_module("LayerNorm", layer_norm(config));
  }

  // x (B, T, C) -> (B, T, C)
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& key_mask, const ModelConfig& config) {
    const bool training = is_training();
    const torch::Tensor context = self_attention(query_(x), key_(x), value_(x), key_mask, config.num_heads,
                                                 config.attention_dropout, training, true);
    const torch::Tensor attended =
        attention_layer_norm_(torch::dropout(attention_dense_(context), config.hidden_dropout, training) + x);
    const torch::Tensor intermediate =
        activate(intermediate_dense_(attended), config.activation);  // (B, T, I)
    return output_layer_norm_(torch::dropout(output_dense_(intermediate), config.hidden_dropout, training) +
                              attended);
  }

 private:
  Linear query_{nullptr}, key_{nullptr}, value_{nullptr}, attention_dense_{nullptr};
  LayerNorm attention_layer_norm_{nullptr};
  Linear intermediate_dense_{nullptr}, output_dense_{nullptr};
  LayerNorm output_layer_norm_{nullptr};
};

class BertClassifierImpl : public SequenceClassifierImpl {
 public:
  explicit BertClassifierImpl(const ModelConfig& config) : SequenceClassifierImpl(config) {
    const int64_t width = config.hidden_size;
    auto bert = add_group(*this, "bert");
    auto embeddings = add_group(*bert, "embeddings");
    token_embeddings_ = add_token_embeddings(*embeddings, config);
    token_type_embeddings_ =
        embeddings->register_module("token_type_embeddings", Embedding(config.type_vocab_size, width));
    embeddings_layer_norm_ = embeddings->register_module("LayerNorm", layer_norm(config));
    layers_ = add_layers<BertLayerImpl>(*bert, "encoder", config);
    pooler_dense_ = add_group(*bert, "pooler")->register_module("dense", Linear(width, width));
    classifier_ = register_module("classifier", Linear(width, static_cast<int64_t>(config.num_labels())));
  }

  ClassifierOutput forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                           bool keep_hidden_states) override {
    ClassifierOutput output;
    // Single-segment inputs: every token has token type 0.
    torch::Tensor x = token_embeddings_.forward(input_ids) + token_type_embeddings_->weight[0];  // (B, T, C)
    x = torch::dropout(embeddings_layer_norm_(x), config_.hidden_dropout, is_training());
    x = run_layers(x, attention_mask, layers_, config_, keep_hidden_states, gradient_checkpointing_, output);
    // Pooler: dense + tanh over [CLS]; then dropout -> classifier.
    torch::Tensor pooled = torch::tanh(pooler_dense_(x.select(1, 0)));  // (B, C)
    pooled = torch::dropout(pooled, config_.classifier_dropout, is_training());
    output.logits = classifier_(pooled);  // (B, num_labels)
    return output;
  }

 private:
  TokenEmbeddings token_embeddings_;
  Embedding token_type_embeddings_{nullptr};
  LayerNorm embeddings_layer_norm_{nullptr};
  std::vector<std::shared_ptr<BertLayerImpl>> layers_;
  Linear pooler_dense_{nullptr}, classifier_{nullptr};
};

}  // namespace

SequenceClassifier make_bert(const ModelConfig& config) {
  return std::make_shared<BertClassifierImpl>(config);
}

}  // namespace greentune::model::detail
