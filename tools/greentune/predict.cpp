// `greentune predict`: label probabilities for texts given on the command line or as JSON lines.
#include <fmt/core.h>

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "greentune/core/error.hpp"
#include "greentune/core/files.hpp"
#include "greentune/core/strings.hpp"
#include "greentune/model/evaluate.hpp"
#include "greentune/text/jsonl_tokenize.hpp"
#include "model_flags.hpp"

namespace greentune::cli {

namespace {

struct PredictFlags {
  ModelFlags model;
  std::vector<std::string> texts;
  std::string input;
};

std::vector<std::string> read_texts(const PredictFlags& flags) {
  if (flags.input.empty())
    return flags.texts;
  const std::string contents = read_file(flags.input);
  std::vector<std::string> texts;
  size_t line_number = 0;
  for (size_t start = 0; start < contents.size();) {
    const size_t newline = std::min(contents.find('\n', start), contents.size());
    const std::string_view line(contents.data() + start, newline - start);
    ++line_number;
    start = newline + 1;
    if (is_blank(line, kJsonWhitespace))
      continue;
    texts.push_back(text::text_of_json_line(line, flags.input, line_number));
  }
  if (texts.empty()) {
    throw Error(ErrorCode::invalid_data, flags.input, "no texts to classify",
                "write one JSON object with a \"text\" field per line");
  }
  return texts;
}

void run_predict(PredictFlags& flags) {
  if (flags.texts.empty() == flags.input.empty()) {
    throw Error(ErrorCode::usage, "predict", "give either --text or --input",
                "pass --text \"...\" (repeatable) or --input texts.jsonl");
  }
  const std::vector<std::string> texts = read_texts(flags);
  model::PretrainedModel loaded = flags.model.load();
  const size_t max_length = flags.model.effective_max_length(loaded.model->config());
  const auto& labels = loaded.model->config().id2label;

  std::vector<std::vector<int32_t>> encodings;
  encodings.reserve(texts.size());
  for (const auto& text : texts)
    encodings.push_back(loaded.tokenizer.encode(text, max_length));
  std::vector<data::TruncatedTokens> sequences;
  sequences.reserve(encodings.size());
  for (const auto& encoding : encodings)
    sequences.push_back({encoding, {}});
  model::EvaluateOptions options;
  options.max_length = max_length;
  options.batch_size = flags.model.batch_size;
  const torch::Tensor probabilities = torch::softmax(
      model::classify(*loaded.model, sequences, loaded.tokenizer.pad_id(), options).to(torch::kDouble),
      1);  // (N, L)
  const auto by_text = probabilities.accessor<double, 2>();
  for (int64_t row = 0; row < by_text.size(0); ++row) {
    nlohmann::json by_label = nlohmann::json::object();
    size_t best = 0;
    for (size_t label = 0; label < labels.size(); ++label) {
      const double probability = by_text[row][static_cast<int64_t>(label)];
      by_label[labels[label]] = probability;
      best = probability > by_text[row][static_cast<int64_t>(best)] ? label : best;
    }
    fmt::print("{}\n", nlohmann::json{{"label", labels[best]}, {"probabilities", by_label}}.dump());
  }
}

}  // namespace

void add_predict_command(CLI::App& app) {
  auto flags = std::make_shared<PredictFlags>();
  CLI::App* command =
      app.add_subcommand("predict", "Print label probabilities for texts, one JSON line each");
  add_model_flags(*command, flags->model);
  command->add_option("--text", flags->texts, "A text to classify (repeatable)");
  command->add_option("--input", flags->input, "JSON lines with a \"text\" field")->check(CLI::ExistingFile);
  command->callback([flags] { run_predict(*flags); });
}

}  // namespace greentune::cli
