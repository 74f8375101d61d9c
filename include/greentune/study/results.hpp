#pragma once
// A study's results: one record per variant x seed, as DIR/results.json and DIR/results.csv hold them.
// The report module reads these and nothing else of the study (plus each run's metrics.jsonl).

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace greentune::study {

// How a run ended. Finished runs (every status but failed and pending) carry metrics.
inline constexpr const char* kStatusDone = "done";
inline constexpr const char* kStatusEarlyStopping = "stopped-early-stopping";
inline constexpr const char* kStatusEnergyBudget = "stopped-energy-budget";
inline constexpr const char* kStatusTargetAccuracy = "stopped-target-accuracy";
inline constexpr const char* kStatusFailed = "failed";
inline constexpr const char* kStatusPending = "pending";
bool is_finished(const std::string& status);

struct RunRecord {
  std::string variant;
  uint64_t seed = 0;
  std::string status = kStatusPending;
  std::string error;    // why a failed run failed
  std::string run_dir;  // relative to the study directory: "runs/<variant>-seed<k>"
  // The options this variant sets differently from [base], as text ("precision" -> "bf16").
  std::map<std::string, std::string> overrides;
  // Metrics of a finished run (zero otherwise), as the run's result.json has them.
  double accuracy = 0.0, f1 = 0.0, eval_loss = 0.0;
  std::optional<double> test_accuracy;
  double train_seconds = 0.0;
  double gpu_kwh = 0.0, cpu_kwh = 0.0, dram_kwh = 0.0, ram_kwh = 0.0, energy_kwh = 0.0;
  double co2_kg = 0.0, joules_per_sample = 0.0, peak_memory_mb = 0.0;
  int64_t skipped_steps = 0;
};
void to_json(nlohmann::json& json, const RunRecord& record);
void from_json(const nlohmann::json& json, RunRecord& record);
// The metrics of a record from JSON that names them as RunRecord does: a results.json row, or a run's own
// result.json (the trainer writes the same names). Missing ones are 0 (test_accuracy: none).
void read_run_metrics(const nlohmann::json& json, RunRecord& record);

struct VariantSummary {
  std::string name;
  std::map<std::string, std::string> overrides;
};
void to_json(nlohmann::json& json, const VariantSummary& variant);
void from_json(const nlohmann::json& json, VariantSummary& variant);

struct StudyResults {
  std::string study;     // the study's name
  std::string baseline;  // a variant name
  std::vector<uint64_t> seeds;
  std::vector<VariantSummary> variants;  // in the study file's order
  std::vector<RunRecord> runs;           // variant-major, then seed order
};
void to_json(nlohmann::json& json, const StudyResults& results);
void from_json(const nlohmann::json& json, StudyResults& results);

// DIR/results.json. Throws Error(not_found) without one, Error(parse) for a damaged one.
StudyResults read_results(const std::filesystem::path& study_dir);

}  // namespace greentune::study
