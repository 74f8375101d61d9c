#include "greentune/model/pretrained.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "greentune/core/error.hpp"
#include "greentune/core/files.hpp"
#include "greentune/core/log.hpp"
#include "greentune/model/hub.hpp"

namespace greentune::model {

namespace fs = std::filesystem;

namespace {

text::WordPieceTokenizer load_tokenizer(const fs::path& dir, const PretrainedOptions& options) {
  if (options.vocab.empty()) {
    return text::WordPieceTokenizer::from_model_dir(dir);
  }
  return text::WordPieceTokenizer::from_vocab_file(options.vocab);
}

// "vocab_transform.weight, vocab_transform.bias, ..." shortened for a log line.
std::string summarize(const std::vector<std::string>& names) {
  constexpr size_t shown = 6;
  std::string text;
  for (size_t i = 0; i < std::min(shown, names.size()); ++i)
    text += (i ? ", " : "") + names[i];
  if (names.size() > shown)
    text += fmt::format(" and {} more", names.size() - shown);
  return text;
}

}  // namespace

PretrainedModel load_pretrained(const std::string& model_name, const PretrainedOptions& options) {
  HubOptions hub;
  hub.revision = options.revision;
  const fs::path dir = resolve_model_dir(model_name, hub);
  ModelConfig config = ModelConfig::load(dir / "config.json");
  if (!options.label_names.empty())
    config.id2label = options.label_names;

  text::WordPieceTokenizer tokenizer = load_tokenizer(dir, options);
  if (static_cast<int64_t>(tokenizer.vocab().size()) > config.vocab_size) {
    throw Error(
        ErrorCode::invalid_data, tokenizer.vocab().origin(),
        fmt::format("the vocabulary has {} tokens but the model embeds only {} (config.json vocab_size)",
                    tokenizer.vocab().size(), config.vocab_size),
        "use the vocab.txt that belongs to this model");
  }

  torch::manual_seed(options.seed);
  const fs::path weights = dir / "model.safetensors";
  std::error_code ec;
  const bool random_weights = !fs::exists(weights, ec);
  SequenceClassifier model = make_classifier(config, /*draw_initial_weights=*/random_weights);
  LoadReport report;
  if (random_weights) {
    log::warn(fmt::format("{} has no model.safetensors: starting from random weights (seed {})", dir.string(),
                          options.seed));
  } else {
    report = load_weights(*model, SafetensorsFile::open(weights));
    draw_missing_weights_like_hugging_face(*model, report.missing_keys);
    if (!report.missing_keys.empty()) {
      log::info(fmt::format("newly initialized (not in the checkpoint): {}", summarize(report.missing_keys)));
    }
    if (!report.unexpected_keys.empty()) {
      log::info(fmt::format("unused checkpoint tensors: {}", summarize(report.unexpected_keys)));
    }
  }
  return PretrainedModel{dir, std::move(model), std::move(tokenizer), std::move(report), random_weights};
}

void save_pretrained(const fs::path& dir, SequenceClassifierImpl& model,
                     const text::WordPieceTokenizer& tokenizer) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    throw Error(ErrorCode::io, dir.string(), "cannot create the model directory: " + ec.message(),
                "choose a writable output directory");
  }
  const ModelConfig& config = model.config();
  config.save(dir / "config.json");
  save_weights(model, dir / "model.safetensors");

  std::string vocab;
  for (size_t id = 0; id < tokenizer.vocab().size(); ++id) {
    vocab += tokenizer.vocab().token(static_cast<int32_t>(id));
    vocab += '\n';
  }
  write_file_atomically(dir / "vocab.txt", vocab);

  const text::TokenizerOptions& options = tokenizer.options();
  nlohmann::json tokenizer_config = {
      {"tokenizer_class",
       config.model_type == ModelType::distilbert ? "DistilBertTokenizer" : "BertTokenizer"},
      {"do_lower_case", options.lowercase},
      // null means "follow do_lower_case", which is what transformers assumes for uncased models.
      {"strip_accents", options.strip_accents == options.lowercase ? nlohmann::json(nullptr)
                                                                   : nlohmann::json(options.strip_accents)},
      {"tokenize_chinese_chars", options.handle_chinese_chars},
      {"model_max_length", config.max_position_embeddings},
      {"cls_token", "[CLS]"},
      {"sep_token", "[SEP]"},
      {"pad_token", "[PAD]"},
      {"unk_token", "[UNK]"},
      {"mask_token", "[MASK]"},
      {"clean_up_tokenization_spaces", true}};
  write_file_atomically(dir / "tokenizer_config.json", tokenizer_config.dump(2) + "\n");
}

}  // namespace greentune::model
