// `greentune predict`: label probabilities for texts given on the command line or as JSON lines.
#include <fmt/core.h>

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>

#include "commands.hpp"
#include "greentune/core/error.hpp"
#include "greentune/core/files.hpp"
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
    if (line.find_first_not_of(" \t\r") == std::string_view::npos)
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
  // Batches of similar length pad little; results are written back in input order.
  std::vector<size_t> order(texts.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return encodings[a].size() < encodings[b].size(); });

  torch::NoGradGuard no_grad;
  loaded.model->eval();
  std::vector<std::string> lines(texts.size());
  for (size_t begin = 0; begin < order.size(); begin += flags.model.batch_size) {
    const size_t end = std::min(order.size(), begin + flags.model.batch_size);
    std::vector<data::TruncatedTokens> sequences;
    for (size_t row = begin; row < end; ++row)
      sequences.push_back({encodings[order[row]], {}});
    const model::TensorBatch batch =
        model::pad_sequences(sequences, encodings[order[end - 1]].size(), loaded.tokenizer.pad_id());
    const torch::Tensor probabilities = torch::softmax(
        loaded.model->forward(batch.input_ids, batch.attention_mask).logits.to(torch::kDouble), 1);  // (B, L)
    for (size_t row = 0; row < end - begin; ++row) {
      nlohmann::json by_label = nlohmann::json::object();
      const torch::Tensor row_probabilities = probabilities[static_cast<int64_t>(row)];
      for (size_t label = 0; label < labels.size(); ++label) {
        by_label[labels[label]] = row_probabilities[static_cast<int64_t>(label)].item<double>();
      }
      const auto best = static_cast<size_t>(row_probabilities.argmax().item<int64_t>());
      lines[order[begin + row]] = nlohmann::json{{"label", labels[best]}, {"probabilities", by_label}}.dump();
    }
  }
  for (const auto& line : lines)
    fmt::print("{}\n", line);
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
