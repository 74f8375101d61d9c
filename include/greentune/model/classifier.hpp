#pragma once
// Sequence classifiers over a BERT-family encoder, with submodules registered under Hugging Face's
// parameter names ("distilbert.transformer.layer.0.attention.q_lin.weight", ...), so a Hugging Face state
// dict maps one-to-one onto named_parameters().

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "greentune/model/model_config.hpp"

namespace greentune::model {

struct ClassifierOutput {
  torch::Tensor logits;                      // (B, num_labels)
  std::vector<torch::Tensor> hidden_states;  // when asked: embeddings output, then each layer's, (B, T, C)
};

class SequenceClassifierImpl : public torch::nn::Module {
 public:
  explicit SequenceClassifierImpl(ModelConfig config) : config_(std::move(config)) {}

  // input_ids (B, T) int64; attention_mask (B, T), 1 for real tokens and 0 for padding.
  virtual ClassifierOutput forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                                   bool keep_hidden_states = false) = 0;

  const ModelConfig& config() const { return config_; }
  // Dropout probabilities are read at each forward, so a trainer may override the config's values.
  void set_dropout(double hidden, double attention, double classifier);
  // On: each encoder layer's activations are recomputed in backward instead of kept (less memory, about a
  // third more compute); gradients are unchanged.
  void set_gradient_checkpointing(bool on) { gradient_checkpointing_ = on; }

 protected:
  ModelConfig config_;
  bool gradient_checkpointing_ = false;
};

using SequenceClassifier = std::shared_ptr<SequenceClassifierImpl>;

// The classifier for config.model_type. draw_initial_weights: every weight drawn with
// draw_all_weights_like_hugging_face(); false: parameters allocated but undefined, for a checkpoint to fill
// (then draw_missing_weights_like_hugging_face() for whatever it lacked).
SequenceClassifier make_classifier(const ModelConfig& config, bool draw_initial_weights = true);

// Hugging Face's _init_weights, from torch's generator: linear and embedding weights
// normal(0, initializer_range), biases zero, LayerNorm weight 1 and bias 0, the padding embedding row zero.
void draw_all_weights_like_hugging_face(SequenceClassifierImpl& model);

// The same initialization for the named parameters alone (a checkpoint's missing_keys); every other
// parameter is left as it is, and an empty list draws nothing.
void draw_missing_weights_like_hugging_face(SequenceClassifierImpl& model,
                                            const std::vector<std::string>& missing);

// Multi-head self-attention over projected q, k, v (B, T, C) with padded keys masked; returns (B, T, C).
// use_library_kernel: LibTorch's fused kernel where it has one (2.x); false: the explicit softmax path.
torch::Tensor self_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                             const torch::Tensor& key_mask, int64_t heads, double dropout_p, bool training,
                             bool use_library_kernel);

// (B, T) 0/1 attention mask -> (B, 1, 1, T) bool, true where a key may be attended to.
torch::Tensor key_mask_from(const torch::Tensor& attention_mask);

}  // namespace greentune::model
