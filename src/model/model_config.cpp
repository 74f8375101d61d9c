#include "greentune/model/model_config.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cstdint>
#include <optional>

#include "greentune/core/error.hpp"
#include "greentune/core/files.hpp"
#include "greentune/core/json.hpp"

namespace greentune::model {

namespace {

// Hugging Face key names of each setting, per model type.
struct KeyNames {
  const char* hidden_size;
  const char* num_layers;
  const char* num_heads;
  const char* intermediate_size;
  const char* hidden_dropout;
  const char* attention_dropout;
  const char* classifier_dropout;
  const char* activation;
  const char* architecture;
};

constexpr KeyNames distilbert_keys{"dim",
                                   "n_layers",
                                   "n_heads",
                                   "hidden_dim",
                                   "dropout",
                                   "attention_dropout",
                                   "seq_classif_dropout",
                                   "activation",
                                   "DistilBertForSequenceClassification"};
constexpr KeyNames bert_keys{"hidden_size",        "num_hidden_layers",   "num_attention_heads",
                             "intermediate_size",  "hidden_dropout_prob", "attention_probs_dropout_prob",
                             "classifier_dropout", "hidden_act",          "BertForSequenceClassification"};

const KeyNames& keys_of(ModelType type) {
  return type == ModelType::distilbert ? distilbert_keys : bert_keys;
}

class ConfigReader {
 public:
  ConfigReader(const nlohmann::json& json, std::string_view origin) : json_(json), origin_(origin) {}

  [[noreturn]] void fail(std::string_view key, std::string_view what, std::string_view fix) const {
    throw Error(ErrorCode::parse, fmt::format("{}: key \"{}\"", origin_, key), what, fix);
  }

  const nlohmann::json* find(const char* key) const {
    const auto found = json_.find(key);
    return found == json_.end() || found->is_null() ? nullptr : &*found;
  }

  // An integer above 2^63 - 1 is read by nlohmann::json as unsigned and would wrap to a negative int64_t,
  // so "must be a positive integer, got 9223372036854775808" would contradict itself.
  void reject_beyond_int64(const char* key, const nlohmann::json& value) const {
    if (value.is_number_unsigned() && value.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
      fail(key, fmt::format("{} is larger than the largest integer greentune reads, 2^63 - 1", value.dump()),
           "write the model's real value");
    }
  }

  int64_t positive_int(const char* key, std::optional<int64_t> fallback = std::nullopt) const {
    const nlohmann::json* value = find(key);
    if (value == nullptr) {
      if (fallback)
        return *fallback;
      fail(key, "is missing", "add it: it is part of every Hugging Face config of this model type");
    }
    if (!value->is_number_integer() || value->get<int64_t>() <= 0) {
      reject_beyond_int64(key, *value);
      fail(key, fmt::format("must be a positive integer, got {}", value->dump()), "write a whole number > 0");
    }
    return value->get<int64_t>();
  }

  int64_t nonnegative_int(const char* key, int64_t fallback) const {
    const nlohmann::json* value = find(key);
    if (value == nullptr)
      return fallback;
    if (!value->is_number_integer() || value->get<int64_t>() < 0) {
      reject_beyond_int64(key, *value);
      fail(key, fmt::format("must be an integer ≥ 0, got {}", value->dump()), "write a whole number ≥ 0");
    }
    return value->get<int64_t>();
  }

  double probability(const char* key, double fallback) const {
    const nlohmann::json* value = find(key);
    if (value == nullptr)
      return fallback;
    if (!value->is_number() || value->get<double>() < 0.0 || value->get<double>() >= 1.0) {
      fail(key, fmt::format("must be a probability in [0, 1), got {}", value->dump()), "write e.g. 0.1");
    }
    return value->get<double>();
  }

  double positive_number(const char* key, double fallback) const {
    const nlohmann::json* value = find(key);
    if (value == nullptr)
      return fallback;
    if (!value->is_number() || value->get<double>() <= 0.0) {
      fail(key, fmt::format("must be a number > 0, got {}", value->dump()), "write e.g. 1e-12");
    }
    return value->get<double>();
  }

  std::string string(const char* key, std::string_view fallback) const {
    const nlohmann::json* value = find(key);
    if (value == nullptr)
      return std::string(fallback);
    if (!value->is_string())
      fail(key, "must be a string", "write it in double quotes");
    return value->get<std::string>();
  }

  const nlohmann::json& json() const { return json_; }

 private:
  const nlohmann::json& json_;
  std::string origin_;
};

Activation parse_activation(const ConfigReader& reader, const char* key) {
  const std::string name = reader.string(key, "gelu");
  if (name == "gelu")
    return Activation::gelu;
  if (name == "relu")
    return Activation::relu;
  reader.fail(key, fmt::format("activation \"{}\" is not supported", name), "use \"gelu\" or \"relu\"");
}

std::vector<std::string> parse_labels(const ConfigReader& reader) {
  const nlohmann::json* id2label = reader.find("id2label");
  if (id2label == nullptr) {
    const int64_t count = reader.positive_int("num_labels", 2);
    if (count > kMaxLabels) {
      reader.fail("num_labels",
                  fmt::format("{} labels are more than the {} greentune accepts", count, kMaxLabels),
                  "give the model's real label count, or list its labels in id2label");
    }
    std::vector<std::string> names;
    for (int64_t id = 0; id < count; ++id)
      names.push_back(fmt::format("LABEL_{}", id));
    return names;
  }
  if (!id2label->is_object() || id2label->empty()) {
    reader.fail("id2label", "must be a non-empty object such as {\"0\": \"neg\", \"1\": \"pos\"}",
                "list every label id as a string key");
  }
  if (id2label->size() > static_cast<size_t>(kMaxLabels)) {
    reader.fail("id2label",
                fmt::format("{} labels are more than the {} greentune accepts", id2label->size(), kMaxLabels),
                "give the model's real labels");
  }
  std::vector<std::string> names(id2label->size());
  std::vector<bool> seen(names.size(), false);
  for (const auto& [id_text, name] : id2label->items()) {
    size_t id = 0;
    const auto [end, ec] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), id);
    if (ec != std::errc() || end != id_text.data() + id_text.size() || id >= names.size() || seen[id] ||
        !name.is_string()) {
      reader.fail("id2label",
                  fmt::format("entry \"{}\": {} is not a label id 0..{} with a string name", id_text,
                              name.dump(), names.size() - 1),
                  "number the labels 0, 1, ... without gaps");
    }
    names[id] = name.get<std::string>();
    seen[id] = true;
  }
  return names;
}

}  // namespace

std::string_view to_string(ModelType type) {
  return type == ModelType::distilbert ? "distilbert" : "bert";
}

ModelConfig ModelConfig::from_json(const nlohmann::json& json, std::string_view origin) {
  if (!json.is_object()) {
    throw Error(ErrorCode::parse, origin, "config is not a JSON object", "use the model's config.json");
  }
  const ConfigReader reader(json, origin);
  ModelConfig config;
  config.original = json;
  const std::string model_type = reader.string("model_type", "");
  if (model_type == "distilbert") {
    config.model_type = ModelType::distilbert;
  } else if (model_type == "bert") {
    config.model_type = ModelType::bert;
  } else {
    reader.fail(
        "model_type",
        model_type.empty() ? std::string("is missing") : fmt::format("\"{}\" is not supported", model_type),
        "greentune fine-tunes model_type \"distilbert\" and \"bert\"");
  }
  const KeyNames& keys = keys_of(config.model_type);
  config.vocab_size = reader.positive_int("vocab_size");
  config.hidden_size = reader.positive_int(keys.hidden_size);
  config.num_layers = reader.positive_int(keys.num_layers);
  config.num_heads = reader.positive_int(keys.num_heads);
  config.intermediate_size = reader.positive_int(keys.intermediate_size);
  config.max_position_embeddings = reader.positive_int("max_position_embeddings", 512);
  config.pad_token_id = reader.nonnegative_int("pad_token_id", 0);
  config.initializer_range = reader.positive_number("initializer_range", 0.02);
  config.hidden_dropout = reader.probability(keys.hidden_dropout, 0.1);
  config.attention_dropout = reader.probability(keys.attention_dropout, 0.1);
  config.activation = parse_activation(reader, keys.activation);
  if (config.model_type == ModelType::distilbert) {
    config.classifier_dropout = reader.probability(keys.classifier_dropout, 0.2);
    if (reader.find("sinusoidal_pos_embds") != nullptr && json.at("sinusoidal_pos_embds") == true) {
      reader.fail("sinusoidal_pos_embds", "sinusoidal position embeddings are not supported",
                  "use a checkpoint with learned position embeddings (the default)");
    }
  } else {
    config.type_vocab_size = reader.positive_int("type_vocab_size", 2);
    config.layer_norm_eps = reader.positive_number("layer_norm_eps", 1e-12);
    config.classifier_dropout = reader.probability(keys.classifier_dropout, config.hidden_dropout);
  }
  if (config.hidden_size % config.num_heads != 0) {
    reader.fail(
        keys.num_heads,
        fmt::format("{} heads do not divide the hidden size {}", config.num_heads, config.hidden_size),
        "use a head count that divides the hidden size");
  }
  if (config.pad_token_id >= config.vocab_size) {
    reader.fail("pad_token_id", "is outside the vocabulary", "use the vocabulary's [PAD] id (0 for BERT)");
  }
  config.id2label = parse_labels(reader);
  return config;
}

ModelConfig ModelConfig::load(const std::filesystem::path& path) {
  const UntrustedJson json = parse_untrusted_json(read_file(path));
  if (!json.problem.empty()) {
    throw Error(ErrorCode::parse, path.string(), "config.json " + json.problem,
                "fix the file or download the model again");
  }
  return from_json(json.value, path.string());
}

nlohmann::json ModelConfig::to_json() const {
  const KeyNames& keys = keys_of(model_type);
  nlohmann::json json = original;
  json["model_type"] = std::string(to_string(model_type));
  json["architectures"] = {keys.architecture};
  json["vocab_size"] = vocab_size;
  json[keys.hidden_size] = hidden_size;
  json[keys.num_layers] = num_layers;
  json[keys.num_heads] = num_heads;
  json[keys.intermediate_size] = intermediate_size;
  json["max_position_embeddings"] = max_position_embeddings;
  json["pad_token_id"] = pad_token_id;
  json["initializer_range"] = initializer_range;
  json[keys.hidden_dropout] = hidden_dropout;
  json[keys.attention_dropout] = attention_dropout;
  json[keys.classifier_dropout] = classifier_dropout;
  json[keys.activation] = activation == Activation::gelu ? "gelu" : "relu";
  if (model_type == ModelType::bert) {
    json["type_vocab_size"] = type_vocab_size;
    json["layer_norm_eps"] = layer_norm_eps;
  }
  nlohmann::json id2label_json = nlohmann::json::object();
  nlohmann::json label2id_json = nlohmann::json::object();
  for (size_t id = 0; id < id2label.size(); ++id) {
    id2label_json[std::to_string(id)] = id2label[id];
    label2id_json[id2label[id]] = id;
  }
  json["id2label"] = id2label_json;
  json["label2id"] = label2id_json;
  json.erase("num_labels");  // derived from id2label by transformers
  return json;
}

void ModelConfig::save(const std::filesystem::path& path) const {
  write_file_atomically(path, to_json().dump(2) + "\n");
}

}  // namespace greentune::model
