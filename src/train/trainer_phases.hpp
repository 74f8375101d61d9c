#pragma once
// The trainer's phases (private to the trainer): trainer_prepare.cpp prepares a run, trainer.cpp trains
// it, trainer_finish.cpp tests, saves and reports it.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "checkpoint.hpp"
#include "greentune/core/progress.hpp"
#include "greentune/energy/pushgateway.hpp"
#include "greentune/model/device.hpp"
#include "greentune/model/pretrained.hpp"
#include "greentune/model/runtime.hpp"
#include "greentune/model/tensor_memory.hpp"
#include "greentune/train/data_parallel.hpp"
#include "greentune/train/loss_scaler.hpp"
#include "greentune/train/process_group.hpp"
#include "greentune/train/run_energy.hpp"
#include "greentune/train/run_result.hpp"
#include "greentune/train/trainer.hpp"
#include "metrics_log.hpp"
#include "training_data.hpp"

namespace greentune::train {

using Clock = std::chrono::steady_clock;
inline constexpr double kBytesPerMebibyte = 1024.0 * 1024.0;

inline double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// How many updates the run makes: an update runs grad_accum batches on each rank.
struct UpdatePlan {
  int64_t batches_per_update = 1;
  int64_t updates_per_epoch = 1;
  int64_t total_steps = 0;
  int64_t epochs = 0;
  int64_t warmup_steps = 0;
};

UpdatePlan plan_updates(const TrainOptions& options, int64_t batches_per_epoch, int world);

// One training run. The constructor prepares (process group, meter, runtime, data, model, optimizer,
// schedule); run() trains epoch by epoch, one train_step per optimizer update, evaluating, logging and
// checkpointing between updates, and finish() writes the model and the result.
// A data-parallel run: every rank runs a Trainer on its share of each update's batches; rank 0 alone
// evaluates and writes. One process: a group of one, and every collective is a no-op.
class Trainer {
 public:
  explicit Trainer(const TrainOptions& options);
  RunResult run();

 private:
  void choose_device();
  void warn_if_bf16_is_emulated();
  void prepare_model();
  void write_config();
  void measure_checkpointing_memory();
  void train_epoch(int64_t epoch);
  // One optimizer update over the plan's batches [first, end), each rank running its share.
  struct StepOutcome {
    double lr = 0.0;         // the learning rate it used
    double grad_norm = 0.0;  // the global gradient norm before clipping (inf or NaN when fp16 skipped it)
  };
  StepOutcome train_step(const data::EpochPlan& plan, size_t first, size_t end, BatchPrefetcher& batches);
  torch::Tensor training_loss(const model::TensorBatch& tensors);
  void flush_window_loss();
  model::AllocatedBytes tensor_bytes() const;
  void reset_tensor_peak();
  void log_training_row(double epoch_progress, double lr, double grad_norm);
  // This rank's energy so far (rank 0's: with the earlier processes' of a resumed run) and the progress.
  energy::PushSample push_sample(const EnergyTotals& mine) const;
  model::EvalMetrics evaluate_on(const data::TokenizedSplit& split, std::span<const size_t> indices);
  void evaluate(double epoch);
  void judge_evaluation(const model::EvalMetrics& metrics);
  void forecast_energy();
  void save(int64_t epoch, size_t next_batch);
  void stop_if_interrupted() const;
  RunResult finish();
  void add_ranks_energy(RunResult& result, const std::vector<std::string>& reports);
  std::string describe_progress() const;
  void say(const std::string& line) { progress_.print_above(line); }

  const TrainOptions& options_;
  torch::Device device_{torch::kCPU};      // where the model, batches, optimizer state and loss live
  Precision precision_ = Precision::fp32;  // options_.precision resolved for device_
  std::unique_ptr<ProcessGroup> group_;
  bool root_ = true;
  int rank_ = 0, world_ = 1;
  GroupLayout layout_;
  std::unique_ptr<RunEnergy> run_energy_;
  std::optional<energy::Pushgateway> pushgateway_;  // with --prometheus-pushgateway
  model::CpuRuntime runtime_;
  // Before any tensor exists, so that the peak counts the weights, gradients and optimizer state too.
  model::TensorMemoryTracker tensor_memory_;
  std::filesystem::path model_dir_;
  std::optional<text::WordPieceTokenizer> tokenizer_;
  std::unique_ptr<TrainingData> data_;
  std::optional<model::PretrainedModel> pretrained_;
  model::SequenceClassifierImpl* classifier_ = nullptr;
  UpdatePlan plan_;
  nlohmann::json resolved_;  // config.json
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::vector<torch::Tensor> parameters_;
  std::optional<MetricsLog> metrics_log_;
  std::optional<GradientReducer> reducer_;  // gradients summed over the ranks while backward runs
  std::optional<CheckpointingMemory> checkpointing_memory_;
  std::optional<DynamicLossScaler> loss_scaler_;  // fp16 only
  // This rank's summed micro-batch losses since the last flush_window_loss, () double on device_: read
  // only when a training row is logged or a checkpoint written, so that no update waits for it.
  torch::Tensor window_loss_on_device_;

  LoopState state_;
  EnergyTotals energy_so_far_;  // every rank's, after each update
  ProgressLine progress_;       // on a terminal a bar redrawn in place; elsewhere only the log lines
  int64_t first_step_ = 0;      // of this process
  // Of the newest training row, per micro-batch; NaN before the first.
  double last_loss_ = std::numeric_limits<double>::quiet_NaN();
  bool interrupt_agreed_ = false;  // some rank got Ctrl-C: all checkpoint and stop together
  Clock::time_point started_, window_started_;
  double window_started_j_ = 0.0;
};

}  // namespace greentune::train
