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

#include <cstdint>
#include <filesystem>
#include <map>
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

struct Variant {
  std::string name;
  std::vector<Setting> settings;                 // [base] with this variant's overrides applied
  std::map<std::string, std::string> overrides;  // key -> text, where it differs from [base]
  int line = 0;
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

// Options the study sets for every run itself (output, resume, config, seed), which neither the study
// file nor the command line may set.
bool is_reserved_study_option(std::string_view key);

// "bf16-seed2": the run's directory name under DIR/runs/.
std::string run_name(const std::string& variant, uint64_t seed);

}  // namespace greentune::study
