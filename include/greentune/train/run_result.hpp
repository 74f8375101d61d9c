#pragma once
// What a finished training run reports: RUN/result.json, written by the trainer and read by the study and
// the report. This is its one declaration: the JSON keys are the field names (nlohmann's macros below),
// and reading a file with a key missing, renamed or of the wrong type is an Error naming the file and key.
// Torch-free, header-only: the study and the report read it without linking the trainer.

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "greentune/core/json.hpp"
#include "greentune/model/eval_metrics.hpp"
#include "greentune/train/run_energy.hpp"

namespace greentune::train {

// Why a run ended before its last step (RunResult::stop_reason); empty when it ran to the end.
inline constexpr const char* kStopEarlyStopping = "early-stopping";
inline constexpr const char* kStopEnergyBudget = "energy-budget";
inline constexpr const char* kStopTargetAccuracy = "target-accuracy";

struct BestEvaluation {
  int64_t step = 0;  // the update after which it was made
  model::EvalMetrics metrics;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(BestEvaluation, step, metrics)

// The carbon intensity the run's CO2 was computed with, and where it came from.
struct CarbonSource {
  double gco2_per_kwh = 0.0;
  std::string zone;
  std::string reason;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(CarbonSource, gco2_per_kwh, zone, reason)

// With grad_checkpointing: the peak tensor memory one forward + backward pass of the longest training
// batch adds, measured once with and once without checkpointing before training starts.
struct CheckpointingMemory {
  double plain_mb = 0.0;
  double checkpointed_mb = 0.0;
  double saved_mb = 0.0;  // plain_mb - checkpointed_mb
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(CheckpointingMemory, plain_mb, checkpointed_mb, saved_mb)

// One rank of a data-parallel run, as it measured itself.
struct RankSummary {
  int rank = 0;
  std::string host;
  int threads = 0;
  double peak_memory_mb = 0.0;
  double peak_tensor_memory_mb = 0.0;
  double energy_kwh = 0.0;
  nlohmann::json energy_methods = nlohmann::json::object();  // "gpu": "nvml-energy-counter", ...
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(RankSummary, rank, host, threads, peak_memory_mb, peak_tensor_memory_mb,
                                   energy_kwh, energy_methods)

struct RunResult {
  // The last evaluation (on the validation data).
  double accuracy = 0.0;
  std::optional<double> f1;                // macro-F1; an external run's results file may lack it
  double eval_loss = 0.0;                  // mean cross-entropy, nats per example
  size_t n = 0;                            // examples evaluated
  BestEvaluation best;                     // the evaluation with the highest accuracy
  std::optional<double> test_accuracy;     // the test split's, evaluated once at the end
  std::optional<model::EvalMetrics> test;  // its other metrics
  int64_t steps = 0;                       // optimizer updates made
  std::string stop_reason;                 // kStop...; empty when the run made every update
  int64_t skipped_steps = 0;               // updates skipped by fp16 loss scaling (overflow)
  double train_seconds = 0.0;              // wall time of the whole run, every resumed process included
  size_t train_samples = 0;                // examples trained on, every rank's, every epoch's
  double train_samples_per_s = 0.0;        // training steps only: evaluations and checkpoints excluded
  double train_tokens_per_s = 0.0;         // real (unpadded) tokens, training steps only
  double padding_fraction = 0.0;           // of the training batches' tokens
  double peak_memory_mb = 0.0;             // peak resident set size, the largest of the ranks'
  // Live tensors at the fullest moment of a training step: weights, gradients, optimizer state and the
  // activations kept for backward (evaluations excluded); torch.cuda.max_memory_allocated's measure.
  double peak_tensor_memory_mb = 0.0;
  std::optional<CheckpointingMemory> checkpointing_memory;  // with --grad-checkpointing
  // Energy of the whole run, every rank and resumed process included; PUE applied to energy_kwh only.
  double energy_kwh = 0.0;
  double gpu_kwh = 0.0, cpu_kwh = 0.0, dram_kwh = 0.0, ram_kwh = 0.0;
  double eval_kwh = 0.0;  // the part of energy_kwh spent in evaluations
  double co2_kg = 0.0;
  double average_w = 0.0;
  // energy_kwh in joules per train_samples; empty for an external run that does not say how many it trained
  // on
  std::optional<double> joules_per_sample;
  nlohmann::json energy_methods = nlohmann::json::object();  // how each component was measured, every rank's
  std::optional<EnergyForecast> energy_forecast;             // made after the first epoch of a run of several
  CarbonSource carbon;
  int world_size = 1;
  int threads = 0;                                // rank 0's intra-op threads
  std::optional<std::vector<RankSummary>> ranks;  // a data-parallel run's ranks
  nlohmann::json config;                          // the resolved options (the run's config.json)
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(RunResult, accuracy, f1, eval_loss, n, best, test_accuracy, test, steps,
                                   stop_reason, skipped_steps, train_seconds, train_samples,
                                   train_samples_per_s, train_tokens_per_s, padding_fraction, peak_memory_mb,
                                   peak_tensor_memory_mb, checkpointing_memory, energy_kwh, gpu_kwh, cpu_kwh,
                                   dram_kwh, ram_kwh, eval_kwh, co2_kg, average_w, joules_per_sample,
                                   energy_methods, energy_forecast, carbon, world_size, threads, ranks,
                                   config)

// result.json with every optional field filled and one rank: the shape a read result.json is checked against.
inline nlohmann::json json_shape(std::type_identity<RunResult>) {
  RunResult result;
  result.f1 = 0.0;
  result.test_accuracy = 0.0;
  result.joules_per_sample = 0.0;
  result.test.emplace();
  result.checkpointing_memory.emplace();
  result.energy_forecast.emplace();
  result.ranks.emplace(1);
  return result;
}

inline constexpr const char* kRunResultFile = "result.json";  // in the run's output directory

// RUN/result.json. Error(not_found) without one; Error(parse) naming the file and the key for a damaged,
// old or renamed one.
inline RunResult read_run_result(const std::filesystem::path& run_dir) {
  return read_json_file<RunResult>(run_dir / kRunResultFile, "run result",
                                   "delete this result.json to train the run again");
}

}  // namespace greentune::train
