#pragma once
// A study's results: one record per variant x seed, as DIR/results.json and DIR/results.csv hold them.
// The report module reads these and nothing else of the study (plus each run's metrics.jsonl).

#include <cstdint>
#include <filesystem>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "greentune/train/run_result.hpp"

namespace greentune::study {

// How a run ended. Finished runs (every status but failed, pending and skipped) carry their result.
inline constexpr const char* kStatusDone = "done";
inline constexpr const char* kStatusEarlyStopping = "stopped-early-stopping";
inline constexpr const char* kStatusEnergyBudget = "stopped-energy-budget";
inline constexpr const char* kStatusTargetAccuracy = "stopped-target-accuracy";
inline constexpr const char* kStatusFailed = "failed";
inline constexpr const char* kStatusPending = "pending";
inline constexpr const char* kStatusSkipped = "skipped";  // not run on this machine; error says why
bool is_finished(const std::string& status);

struct RunRecord {
  std::string variant;
  uint64_t seed = 0;
  std::string status = kStatusPending;
  std::string error;    // why a failed run failed
  std::string run_dir;  // relative to the study directory: "runs/<variant>-seed<k>"
  // The options this variant sets differently from [base], as text ("precision" -> "bf16").
  std::map<std::string, std::string> overrides;
  std::optional<train::RunResult> result;  // a finished run's result.json; empty for the others
};
// A results.json row: these keys, the run's whole result.json under "result" (null when unfinished).
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(RunRecord, variant, seed, status, error, run_dir, overrides, result)

// The numbers of a finished run that a study compares, each declared once here: results.csv has a column
// per metric, in this order, and the report summarizes each over a variant's runs, a table row per
// labelled one.
enum class Metric {
  accuracy,
  f1,
  eval_loss,
  test_accuracy,
  train_seconds,
  gpu_kwh,
  cpu_kwh,
  dram_kwh,
  ram_kwh,
  energy_kwh,
  co2_kg,
  joules_per_sample,
  peak_memory_mb,
  skipped_steps,
};
struct MetricDefinition {
  Metric metric;
  std::string_view key;    // results.csv's column: the result.json key it is read from
  std::string_view label;  // the report's row, with the unit it shows; empty: results.csv only
  double display_scale;    // the report shows the value times this (100 for fractions shown as %)
  std::optional<double> (*of)(const train::RunResult& result);  // nullopt when the run lacks it
};
// A RunResult field as a metric's value.
template <auto field>
std::optional<double> value_of(const train::RunResult& result) {
  return static_cast<double>(result.*field);
}

inline constexpr MetricDefinition kMetrics[] = {
    {Metric::accuracy, "accuracy", "Validation accuracy (%)", 100.0, value_of<&train::RunResult::accuracy>},
    {Metric::f1, "f1", "F1 (%)", 100.0, [](const train::RunResult& result) { return result.f1; }},
    {Metric::eval_loss, "eval_loss", "", 1.0, value_of<&train::RunResult::eval_loss>},
    {Metric::test_accuracy, "test_accuracy", "Test accuracy (%)", 100.0,
     [](const train::RunResult& result) { return result.test_accuracy; }},
    {Metric::train_seconds, "train_seconds", "Train time (s)", 1.0,
     value_of<&train::RunResult::train_seconds>},
    {Metric::gpu_kwh, "gpu_kwh", "GPU (kWh)", 1.0, value_of<&train::RunResult::gpu_kwh>},
    {Metric::cpu_kwh, "cpu_kwh", "CPU (kWh)", 1.0, value_of<&train::RunResult::cpu_kwh>},
    {Metric::dram_kwh, "dram_kwh", "DRAM (kWh)", 1.0, value_of<&train::RunResult::dram_kwh>},
    {Metric::ram_kwh, "ram_kwh", "RAM (kWh)", 1.0, value_of<&train::RunResult::ram_kwh>},
    {Metric::energy_kwh, "energy_kwh", "Energy (kWh)", 1.0, value_of<&train::RunResult::energy_kwh>},
    {Metric::co2_kg, "co2_kg", "CO2 (g)", 1000.0, value_of<&train::RunResult::co2_kg>},
    {Metric::joules_per_sample, "joules_per_sample", "Energy per sample (J)", 1.0,
     [](const train::RunResult& result) { return result.joules_per_sample; }},
    {Metric::peak_memory_mb, "peak_memory_mb", "Peak memory (MiB)", 1.0,
     value_of<&train::RunResult::peak_memory_mb>},
    {Metric::skipped_steps, "skipped_steps", "", 1.0, value_of<&train::RunResult::skipped_steps>},
};
inline constexpr size_t kMetricCount = std::size(kMetrics);
static_assert(
    [] {
      for (size_t index = 0; index < kMetricCount; ++index) {
        if (static_cast<size_t>(kMetrics[index].metric) != index)
          return false;
      }
      return true;
    }(),
    "kMetrics[m] describes Metric m: every Metric once, in the enum's order");

struct VariantSummary {
  std::string name;
  std::map<std::string, std::string> overrides;
};
void to_json(nlohmann::json& json, const VariantSummary& variant);
void from_json(const nlohmann::json& json, VariantSummary& variant);

struct StudyResults {
  std::string study;        // the study's name
  std::string description;  // the study file's description; empty without one
  std::string baseline;     // a variant name
  std::vector<uint64_t> seeds;
  std::vector<VariantSummary> variants;  // in the study file's order
  std::vector<RunRecord> runs;           // variant-major, then seed order
};
void to_json(nlohmann::json& json, const StudyResults& results);
void from_json(const nlohmann::json& json, StudyResults& results);
// results.json with a seed, a variant and a finished run: the shape a read results.json is checked against.
nlohmann::json json_shape(std::type_identity<StudyResults>);

// DIR/results.json. Throws Error(not_found) without one, Error(parse) for a damaged one.
StudyResults read_results(const std::filesystem::path& study_dir);

}  // namespace greentune::study
