#pragma once
// The JSON files of a run's checkpoints, torch-free (the fuzz targets read them): OUT/checkpoint.json,
// which names the newest checkpoint directory, and its state.json, the loop state.

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "greentune/model/eval_metrics.hpp"
#include "greentune/train/loss_scaler_state.hpp"
#include "greentune/train/run_energy.hpp"

namespace greentune::train {

// Where a run stands between two optimizer updates: everything a checkpoint must hold for a resumed run
// to continue exactly as an uninterrupted one would.
struct LoopState {
  int64_t step = 0;       // optimizer updates done
  int64_t epoch = 0;      // the epoch of the next batch
  size_t next_batch = 0;  // its index in that epoch's plan
  int64_t last_eval_step = -1;
  size_t real_tokens = 0, padded_tokens = 0;  // of the epochs begun
  // Since the last training row: summed micro-batch losses, their count, examples and real tokens.
  double window_loss = 0.0;
  int64_t window_batches = 0;
  size_t window_samples = 0, window_tokens = 0;
  model::EvalMetrics best, final_eval;
  int64_t best_step = 0;
  int64_t evaluations_without_improvement = 0;  // for early stopping
  std::string stop_reason;                      // empty while the run goes on; see RunResult::stop_reason
  double train_seconds = 0.0;                   // spent by earlier processes of this run
  // Training steps only (forward, backward, update), evaluations and checkpoints excluded.
  double step_seconds = 0.0;
  size_t trained_samples = 0, trained_tokens = 0;
  int64_t peak_step_tensor_bytes = 0;  // live tensors at the fullest moment of any training step
  EnergyTotals energy;                 // up to this checkpoint, earlier processes included
  EnergyForecast forecast;             // made after the first epoch; from_steps 0 until then
  uint64_t metrics_bytes = 0;          // length of metrics.jsonl at this point
  LossScalerState loss_scaler;         // fp16's dynamic loss scale (the default state in other runs)
  // The device type whose generator state rng.pt holds ("cpu" or "cuda"): a run resumed on another type
  // keeps its own generator, and says its dropout masks differ.
  std::string rng_device = "cpu";
};

// Missing keys keep their defaults: checkpoints written before a field existed still resume.
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(LoopState, step, epoch, next_batch, last_eval_step,
                                                real_tokens, padded_tokens, window_loss, window_batches,
                                                window_samples, window_tokens, best, final_eval, best_step,
                                                evaluations_without_improvement, stop_reason, train_seconds,
                                                step_seconds, trained_samples, trained_tokens,
                                                peak_step_tensor_bytes, energy, forecast, metrics_bytes,
                                                loss_scaler, rng_device)

// "checkpoint-<step>": the name of a checkpoint's directory inside the run's output.
std::string checkpoint_dir_name(int64_t step);

// The directory checkpoint.json (text, read from pointer_file) names, inside pointer_file's directory.
// Throws Error(parse) naming pointer_file for bad JSON or a "dir" that is not a checkpoint directory's
// name (a path elsewhere, say).
std::filesystem::path checkpoint_dir_of(std::string_view text, const std::filesystem::path& pointer_file);

// The loop state of state.json (text, read from file). Throws Error(parse) naming the file for bad JSON or
// a field of the wrong type.
LoopState parse_loop_state(std::string_view text, const std::filesystem::path& file);

}  // namespace greentune::train
