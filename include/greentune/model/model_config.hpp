#pragma once
// A Hugging Face `config.json` for the encoders greentune fine-tunes (model_type "distilbert" and "bert").
// Torch-free. The JSON as read is kept, so a saved config carries every key the user's config had and
// loads in transformers unchanged.

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace greentune::model {

enum class ModelType { distilbert, bert };
std::string_view to_string(ModelType type);

enum class Activation { gelu, relu };  // gelu is the exact (erf) GELU, as Hugging Face's "gelu"

// The most labels a config.json may give (num_labels or id2label): far more than any text classifier has,
// and few enough that a hostile file cannot make greentune build a huge head or label table.
inline constexpr int64_t kMaxLabels = 100000;

struct ModelConfig {
  ModelType model_type = ModelType::distilbert;
  int64_t vocab_size = 30522;
  int64_t hidden_size = 768;         // DistilBERT: dim
  int64_t num_layers = 6;            // DistilBERT: n_layers; BERT: num_hidden_layers
  int64_t num_heads = 12;            // DistilBERT: n_heads; BERT: num_attention_heads
  int64_t intermediate_size = 3072;  // DistilBERT: hidden_dim
  int64_t max_position_embeddings = 512;
  int64_t type_vocab_size = 2;  // BERT only
  int64_t pad_token_id = 0;
  double hidden_dropout = 0.1;      // DistilBERT: dropout; BERT: hidden_dropout_prob
  double attention_dropout = 0.1;   // DistilBERT: attention_dropout; BERT: attention_probs_dropout_prob
  double classifier_dropout = 0.2;  // DistilBERT: seq_classif_dropout; BERT: classifier_dropout or hidden
  double layer_norm_eps = 1e-12;    // DistilBERT's is fixed at 1e-12
  double initializer_range = 0.02;  // std of the normal init of weights the checkpoint lacks
  Activation activation = Activation::gelu;
  std::vector<std::string> id2label = {"LABEL_0", "LABEL_1"};  // num_labels = its size

  nlohmann::json original = nlohmann::json::object();  // every key as read

  size_t num_labels() const { return id2label.size(); }
  int64_t head_size() const { return hidden_size / num_heads; }

  // Throws Error(parse) naming origin and the key for invalid JSON, missing keys, wrong types, an
  // unknown model_type or unsupported settings.
  static ModelConfig from_json(const nlohmann::json& json, std::string_view origin);
  static ModelConfig load(const std::filesystem::path& path);

  // The original JSON with greentune's values written back under the model type's own key names, plus
  // architectures (…ForSequenceClassification), id2label and label2id.
  nlohmann::json to_json() const;
  void save(const std::filesystem::path& path) const;  // atomic
};

}  // namespace greentune::model
