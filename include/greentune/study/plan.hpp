#pragma once
// A study file (TOML) read into a plan: variants x seeds of `greentune train`, each variant the [base]
// options with its own overrides. The plan knows option names and values only as text and their lines in
// the file: the caller checks them against the train options before any run starts.
//
//   name = "proposal"
//   seeds = [1, 2, 3]                 # default [1, 2, 3]
//   baseline = "fp32"                 # default: the first variant
//   energy-budget-kwh = 0.5           # optional, per run
//   target-accuracy = 0.9             # optional, per run
//   skip-emulated-bf16 = true         # default false: bf16 variants are not run where bf16 is emulated
//   [base]                            # any `greentune train` option, without the dashes
//   model = "distilbert-base-uncased"
//   [[variant]]
//   name = "fp32"
//   [[variant]]
//   name = "bf16"
//   precision = "bf16"
//   [grid]                            # the product of the lists, one variant per combination
//   optimizer = ["adamw", "sgd"]
//   [[variant]]                       # a command of the user's instead of greentune train
//   name = "hf-trainer"
//   command = ["python3", "train.py", "--seed", "{seed}", "--output_dir", "{run_dir}", "--data", "{data}"]
//   results-file = "all_results.json" # see ExternalCommand for its keys

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace greentune::study {

// What a study or --config file may ask for; each limit is named in the error of a file beyond it.
inline constexpr uint64_t kMaxStudyRuns = 10'000;           // variants x seeds: more is a mistake to report
inline constexpr uint64_t kMaxOptionFileBytes = 1'048'576;  // bytes of TOML (1 MiB)

// One option as the file gives it.
struct Setting {
  std::string key;                     // the train option's name without dashes: "batch-size"
  std::vector<std::string> arguments;  // as CLI11 would receive them (a TOML list gives several)
  std::string text;                    // for tables: the arguments joined with ","
  int line = 0;                        // in the study file
};

// A variant that runs a command of the user's instead of `greentune train` (a Hugging Face Trainer script,
// say), measured as `greentune measure` measures a command, with its metrics read from a JSON file the
// command writes. In the command, {seed} is the run's seed, {run_dir} its directory, and {KEY} the value
// [base] or --set gives the train option KEY ({data}, {max-length}); {{ and }} are literal braces.
struct ExternalCommand {
  std::vector<std::string> command;
  // The JSON object the command writes, relative to the run directory, and the keys of the metrics in it:
  // the Hugging Face Trainer's all_results.json by default. Accuracy and eval loss (on validation data)
  // must be there; F1, the test split's accuracy and the counts of examples may be.
  std::string results_file = "all_results.json";
  std::string accuracy_key = "eval_accuracy";  // a fraction in [0, 1]
  std::string eval_loss_key = "eval_loss";
  std::string f1_key = "eval_f1";
  std::string test_accuracy_key = "test_accuracy";  // the Trainer's evaluate(metric_key_prefix="test")
  std::string train_samples_key = "train_samples";
  std::string eval_samples_key = "eval_samples";
};

// The study file's keys of an ExternalCommand's strings, each with its field: the one list of them.
struct ExternalCommandKey {
  std::string_view key;
  std::string ExternalCommand::*field;
};
inline const ExternalCommandKey kExternalCommandKeys[] = {
    {"results-file", &ExternalCommand::results_file},
    {"accuracy-key", &ExternalCommand::accuracy_key},
    {"eval-loss-key", &ExternalCommand::eval_loss_key},
    {"f1-key", &ExternalCommand::f1_key},
    {"test-accuracy-key", &ExternalCommand::test_accuracy_key},
    {"train-samples-key", &ExternalCommand::train_samples_key},
    {"eval-samples-key", &ExternalCommand::eval_samples_key},
};

struct Variant {
  std::string name;
  // [base] with this variant's overrides applied; an external variant's are [base]'s (its energy and
  // carbon options, and the values of its command's {KEY}s).
  std::vector<Setting> settings;
  // key -> text, where it differs from [base]; an external variant's is its command ("command" -> text).
  std::map<std::string, std::string> overrides;
  int line = 0;
  std::optional<ExternalCommand> external;
};

struct StudyPlan {
  std::filesystem::path file;
  std::string name;
  // What the study is, and what its size leaves out: the first paragraph of the report's summary.
  std::string description;
  std::vector<uint64_t> seeds;
  std::string baseline;
  // [[variant]] tables in file order, then the grid's combinations (its keys sorted by name).
  std::vector<Variant> variants;
  // Runs of bf16 variants are skipped on a CPU that emulates bf16 (several times slower than fp32 there),
  // and the report says so; they run where bf16 is native.
  bool skip_emulated_bf16 = false;
};

// Reads and checks the file's structure: TOML syntax, known top-level keys, value types, a name per
// variant, no duplicate variant names, a non-empty grid, a baseline that names a variant, seeds and the
// per-run limits in range, at most kMaxStudyRuns runs (checked before the grid is expanded), and no option
// the study sets itself (output, resume, config, seed). Each problem is Error(usage) or Error(parse) naming
// "file:line" and the key; a file over kMaxOptionFileBytes is Error(invalid_data).
StudyPlan read_study_file(const std::filesystem::path& file);

// A flat TOML file of options (`greentune train --config FILE`): one Setting per key, sorted by key.
// Error(parse) for bad TOML, Error(usage) for a value that is not a string, number, boolean or a list of
// them, naming "file:line".
std::vector<Setting> read_option_file(const std::filesystem::path& file);

// Options the study sets for every run itself (output, resume, overwrite, config, seed), which neither the
// study file nor the command line may set.
bool is_reserved_study_option(std::string_view key);

// "bf16-seed2": the run's directory name under DIR/runs/.
std::string run_name(const std::string& variant, uint64_t seed);

}  // namespace greentune::study
