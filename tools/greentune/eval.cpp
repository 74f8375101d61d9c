// `greentune eval`: accuracy, macro-F1 and mean cross-entropy of a model on a dataset split.
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>

#include "commands.hpp"
#include "data_flags.hpp"
#include "greentune/core/error.hpp"
#include "greentune/core/files.hpp"
#include "greentune/core/log.hpp"
#include "greentune/data/tokenized_cache.hpp"
#include "greentune/model/evaluate.hpp"
#include "model_flags.hpp"

namespace greentune::cli {

namespace {

struct EvalFlags {
  ModelFlags model;
  DataFlags data;
  std::string split;  // empty: test when the dataset has one, else all of the file
  std::string output;
};

// The examples of the requested split: "validation" and "train" are the held-out split of train and the
// rest; "test" is the test split; "all" every example of the train split as read.
std::vector<size_t> split_indices(const data::TokenizedDataset& dataset, const std::string& split,
                                  const DataFlags& flags, const data::TokenizedSplit** source) {
  const bool has_test = dataset.find_split("test") != nullptr;
  const std::string name = split.empty() ? (has_test ? "test" : "all") : split;
  if (name == "test") {
    *source = &dataset.split("test");
    std::vector<size_t> all((*source)->size());
    std::iota(all.begin(), all.end(), size_t{0});
    return all;
  }
  *source = &dataset.split("train");
  if (name == "all") {
    std::vector<size_t> all((*source)->size());
    std::iota(all.begin(), all.end(), size_t{0});
    return all;
  }
  const data::TrainValidationSplit held_out = data::split_train_validation((*source)->size(), flags.split);
  if (name == "validation")
    return held_out.validation;
  if (name == "train")
    return held_out.train;
  throw Error(ErrorCode::usage, "--split", fmt::format("unknown split \"{}\"", name),
              "use test, validation, train or all");
}

void run_eval(EvalFlags& flags) {
  if (!flags.output.empty()) {  // checked before the evaluation, which may take long
    std::error_code ec;
    if (std::filesystem::exists(flags.output, ec) && !std::filesystem::is_directory(flags.output, ec)) {
      throw Error(ErrorCode::usage, "--output " + flags.output,
                  "is a file; eval writes result.json into a directory",
                  "pass a directory (it is created when missing)");
    }
    greentune::create_directories(flags.output, "pass --output with a directory that can be written");
  }
  const auto started = std::chrono::steady_clock::now();
  model::PretrainedModel loaded = flags.model.load();
  const model::ModelConfig& config = loaded.model->config();
  const data::DataSpec spec = flags.data.spec();
  const data::TokenizedDataset dataset = data::TokenizedDataset::open_or_build(
      spec, loaded.tokenizer,
      {flags.data.cache_dir, static_cast<unsigned>(std::max(0, flags.model.threads))});
  if (dataset.label_names().size() > config.num_labels()) {
    throw Error(ErrorCode::invalid_data, spec.path.string(),
                fmt::format("the dataset has {} labels but the model predicts {}",
                            dataset.label_names().size(), config.num_labels()),
                "evaluate a model fine-tuned on this label set");
  }
  const data::TokenizedSplit* source = nullptr;
  const std::vector<size_t> indices = split_indices(dataset, flags.split, flags.data, &source);
  model::EvaluateOptions options;
  options.max_length = flags.model.effective_max_length(config);
  options.batch_size = flags.model.batch_size;
  const model::EvalMetrics metrics =
      model::evaluate(*loaded.model, *source, indices, loaded.tokenizer.pad_id(), options);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  fmt::print("accuracy   {:.4f}\nf1         {:.4f}\neval_loss  {:.4f}\nn          {}\n", metrics.accuracy,
             metrics.macro_f1, metrics.eval_loss, metrics.n);
  if (!flags.output.empty()) {
    nlohmann::json result = metrics;
    result["model"] = loaded.dir.string();
    result["data"] = spec.path.string();
    result["split"] = flags.split.empty() ? (dataset.find_split("test") ? "test" : "all") : flags.split;
    result["max_length"] = options.max_length;
    result["seconds"] = seconds;
    const auto path = std::filesystem::path(flags.output) / "result.json";
    write_file_atomically(path, result.dump(2) + "\n");
    log::info(fmt::format("wrote {}", path.string()));
  }
}

}  // namespace

void add_eval_command(CLI::App& app) {
  auto flags = std::make_shared<EvalFlags>();
  CLI::App* command = app.add_subcommand(
      "eval", "Evaluate a model on a dataset: accuracy, macro-F1, eval_loss (mean cross-entropy)");
  add_model_flags(*command, flags->model);
  add_data_flags(*command, flags->data);
  command->add_option("--split", flags->split,
                      "test, validation (held out of train), train (the rest) or all (default: test when the "
                      "dataset has one, else all)");
  command->add_option("--output", flags->output, "Directory for result.json");
  command->callback([flags] { run_eval(*flags); });
}

}  // namespace greentune::cli
