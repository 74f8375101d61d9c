// The training loop: epochs of optimizer updates, each one train_step, with evaluations, training rows
// in metrics.jsonl and checkpoints between them. Preparing a run is in trainer_prepare.cpp, its end in
// trainer_finish.cpp.
#include "greentune/train/trainer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <csignal>

#include "collectives.hpp"
#include "greentune/core/error.hpp"
#include "greentune/model/evaluate.hpp"
#include "greentune/model/torch_compat.hpp"
#include "trainer_phases.hpp"

namespace greentune::train {

namespace {

// Ctrl-C (SIGINT) asks the loop to write a checkpoint and stop; the handler only sets a flag.
volatile std::sig_atomic_t interrupt_requested = 0;

class InterruptGuard {
 public:
  InterruptGuard() {
    interrupt_requested = 0;
    previous_ = std::signal(SIGINT, [](int) { interrupt_requested = 1; });
  }
  ~InterruptGuard() { std::signal(SIGINT, previous_); }
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

 private:
  void (*previous_)(int);
};

}  // namespace

RunResult train(const TrainOptions& options) {
  Trainer trainer(options);
  return trainer.run();
}

RunResult Trainer::run() {
  const InterruptGuard interrupt;  // Ctrl-C: checkpoint and stop cleanly
  first_step_ = state_.step;
  classifier_->train();
  started_ = window_started_ = Clock::now();
  window_started_j_ = energy_so_far_.total_j;
  for (int64_t epoch = state_.epoch;
       epoch < plan_.epochs && state_.step < plan_.total_steps && state_.stop_reason.empty(); ++epoch) {
    train_epoch(epoch);
  }
  if (state_.last_eval_step != state_.step)
    evaluate(static_cast<double>(state_.step) / static_cast<double>(plan_.updates_per_epoch));
  return finish();
}

// The epoch's updates from where the run stands, then (unless it stopped) the epoch's evaluation, the
// energy forecast after the first epoch and a checkpoint.
void Trainer::train_epoch(int64_t epoch) {
  const data::EpochPlan plan = data_->sampler().epoch(static_cast<uint64_t>(epoch));
  const size_t batch_count = plan.batches.size();
  run_energy_->begin_epoch(epoch);
  const size_t first_batch = epoch == state_.epoch ? state_.next_batch : 0;
  if (first_batch == 0) {
    state_.real_tokens += plan.real_tokens;
    state_.padded_tokens += plan.padded_tokens;
  }
  const auto per_update = static_cast<size_t>(plan_.batches_per_update);
  std::vector<size_t> my_batches;  // the rest of the epoch's batches this rank runs, in their order
  for (size_t first = first_batch; first < batch_count; first += per_update) {
    for (const size_t batch : rank_batches(first, std::min(first + per_update, batch_count), rank_, world_))
      my_batches.push_back(batch);
  }
  BatchPrefetcher batches(*data_, plan, std::move(my_batches));
  for (size_t first = first_batch;
       first < batch_count && state_.step < plan_.total_steps && state_.stop_reason.empty();
       first += per_update) {
    const size_t end = std::min(first + per_update, batch_count);
    const StepOutcome step = train_step(plan, first, end, batches);
    if (progress_.terminal())
      progress_.update([this] { return describe_progress(); });
    if (options_.energy_budget_kwh > 0.0 && energy_so_far_.kwh() >= options_.energy_budget_kwh) {
      state_.stop_reason = kStopEnergyBudget;
      say(fmt::format("stopping: the run has used {:.4g} kWh, its budget is {:.4g} kWh", energy_so_far_.kwh(),
                      options_.energy_budget_kwh));
    }
    const double epoch_progress =
        static_cast<double>(epoch) + static_cast<double>(end) / static_cast<double>(batch_count);
    if (state_.step % options_.log_every == 0 || state_.step == plan_.total_steps)
      log_training_row(epoch_progress, step.lr, step.grad_norm);
    if (options_.eval_every > 0 && state_.step % options_.eval_every == 0)
      evaluate(epoch_progress);
    if (end < batch_count &&
        ((options_.save_every > 0 && state_.step % options_.save_every == 0) || interrupt_agreed_)) {
      save(epoch, end);
      stop_if_interrupted();
    }
  }
  if (!state_.stop_reason.empty())
    return;
  if (options_.eval_every == 0)
    evaluate(static_cast<double>(epoch + 1));
  run_energy_->end_epoch(epoch);
  forecast_energy();
  save(epoch + 1, 0);
  stop_if_interrupted();
}

// Mean cross-entropy over the batch, label smoothing included, in fp32 whatever the precision.
torch::Tensor Trainer::training_loss(const model::TensorBatch& tensors) {
  torch::Tensor logits;  // (B, num_labels)
  if (precision_ == Precision::bf16 || precision_ == Precision::fp16) {
    model::compat::AutocastGuard autocast(device_.type(),
                                          precision_ == Precision::bf16 ? torch::kBFloat16 : torch::kHalf);
    logits = classifier_->forward(tensors.input_ids, tensors.attention_mask).logits;
  } else {
    logits = classifier_->forward(tensors.input_ids, tensors.attention_mask).logits;
  }
  return torch::nn::functional::cross_entropy(
      logits.to(torch::kFloat), tensors.labels,  // (B, num_labels), (B) -> ()
      torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(options_.label_smoothing));
}

Trainer::StepOutcome Trainer::train_step(const data::EpochPlan& plan, size_t first, size_t end,
                                         BatchPrefetcher& batches) {
  const auto step_started = Clock::now();
  reset_tensor_peak();
  // Forward and backward over this rank's micro-batches; the gradients add up, the losses add up on the
  // device (no wait for it here).
  const std::vector<size_t> my_batches = rank_batches(first, end, rank_, world_);
  for (size_t k = 0; k < my_batches.size(); ++k) {
    const model::TensorBatch tensors = batches.next(my_batches[k]);  // (B, T) ids and mask, (B) labels
    const torch::Tensor loss = training_loss(tensors);               // ()
    window_loss_on_device_ += loss.detach().to(torch::kDouble);
    if (reducer_ && k + 1 == my_batches.size())
      reducer_->expect_last_backward();
    // Each micro-batch's share of the update's mean gradient, as one process with grad_accum x world
    // micro-batches would compute it; fp16 scales it up so that small gradients do not underflow.
    const torch::Tensor share = loss / static_cast<double>(plan_.batches_per_update);
    (loss_scaler_ ? loss_scaler_->scale(share) : share).backward();
    state_.peak_step_tensor_bytes = std::max(state_.peak_step_tensor_bytes, tensor_bytes().peak);
  }
  if (reducer_)
    reducer_->finish();  // every rank now holds the sum of all ranks' gradients
  // What every rank learns after each update: whether some rank got Ctrl-C, and the run's energy so far.
  const GroupSums agreed =
      sum_with_energy(*group_, run_energy_->totals(), {interrupt_requested != 0 ? 1.0 : 0.0});
  energy_so_far_ = agreed.energy;
  interrupt_agreed_ = agreed.extra[0] > 0.0;
  // Examples and tokens of the whole update, every rank's: each rank knows the plan.
  for (size_t batch = first; batch < end; ++batch) {
    state_.window_samples += plan.batches[batch].indices.size();
    state_.window_tokens += plan.batches[batch].real_tokens;
    state_.trained_samples += plan.batches[batch].indices.size();
    state_.trained_tokens += plan.batches[batch].real_tokens;
  }
  state_.window_batches += static_cast<int64_t>(end - first);

  // Unscale (fp16), clip, step with the scheduled learning rate, clear the gradients. Every rank holds the
  // same summed gradients, so all make the same decision.
  StepOutcome outcome;
  outcome.lr = options_.optimizer.lr *
               lr_factor(options_.schedule, state_.step, plan_.warmup_steps, plan_.total_steps);
  const UpdateOutcome update = apply_update(*optimizer_, parameters_, outcome.lr, options_.max_grad_norm,
                                            loss_scaler_ ? &*loss_scaler_ : nullptr);
  outcome.grad_norm = update.grad_norm;
  if (!update.applied && !loss_scaler_) {
    throw Error(ErrorCode::invalid_data, fmt::format("step {}", state_.step),
                fmt::format("the training loss diverged: its gradients became {}", update.grad_norm),
                "lower --lr, keep --max-grad-norm on, or train in fp32; the last checkpoint is kept");
  }
  clear_gradients(parameters_);
  ++state_.step;
  state_.peak_step_tensor_bytes = std::max(state_.peak_step_tensor_bytes, tensor_bytes().peak);
  state_.step_seconds += seconds_since(step_started);
  return outcome;
}

// Tensor memory now and at its fullest since the last reset: the CUDA caching allocator's on a GPU
// (torch.cuda.max_memory_allocated), the tracked CPU tensors' on a CPU.
model::AllocatedBytes Trainer::tensor_bytes() const {
  if (const auto on_gpu = model::allocated_bytes(device_))
    return *on_gpu;
  return {tensor_memory_.current_bytes(), tensor_memory_.peak_bytes()};
}

void Trainer::reset_tensor_peak() {
  tensor_memory_.reset_peak();
  model::reset_peak_allocated_bytes(device_);
}

// Adds every rank's micro-batch losses since the last flush to the window's (one wait for the device).
void Trainer::flush_window_loss() {
  const double mine = window_loss_on_device_.item<double>();
  window_loss_on_device_.zero_();
  state_.window_loss += sum_over_ranks(*group_, {mine}).front();
}

// A training row of metrics.jsonl: the window since the previous row.
void Trainer::log_training_row(double epoch_progress, double lr, double grad_norm) {
  flush_window_loss();
  const double seconds = seconds_since(window_started_);
  const double mean_loss = state_.window_loss / static_cast<double>(state_.window_batches);
  last_loss_ = mean_loss;
  metrics_log_->add({{"step", state_.step},
                     {"epoch", epoch_progress},
                     {"loss", mean_loss},
                     {"lr", lr},
                     {"grad_norm", grad_norm},
                     {"loss_scale", loss_scaler_ ? nlohmann::json(loss_scaler_->current_scale()) : nullptr},
                     {"samples_per_s", static_cast<double>(state_.window_samples) / seconds},
                     {"tokens_per_s", static_cast<double>(state_.window_tokens) / seconds},
                     {"energy_kwh", energy_so_far_.kwh()},  // the run's so far
                     {"co2_kg", energy_so_far_.co2_kg},
                     {"power_w", (energy_so_far_.total_j - window_started_j_) / seconds}},
                    RowKind::training);
  if (pushgateway_)
    pushgateway_->push(push_sample(run_energy_->totals()));
  say(fmt::format("step {}/{}: loss {:.4f}, lr {:.3g}, {:.1f} samples/s", state_.step, plan_.total_steps,
                  mean_loss, lr, static_cast<double>(state_.window_samples) / seconds));
  state_.window_loss = 0.0;
  state_.window_batches = 0;
  state_.window_samples = state_.window_tokens = 0;
  window_started_ = Clock::now();
  window_started_j_ = energy_so_far_.total_j;
}

energy::PushSample Trainer::push_sample(const EnergyTotals& mine) const {
  energy::PushSample sample = energy::push_sample_of(mine, mine.gpu_j);
  sample.step = state_.step;
  sample.total_steps = plan_.total_steps;
  sample.samples = state_.trained_samples;
  return sample;
}

model::EvalMetrics Trainer::evaluate_on(const data::TokenizedSplit& split, std::span<const size_t> indices) {
  model::EvaluateOptions evaluate_options;
  evaluate_options.max_length = options_.max_length;
  evaluate_options.batch_size = options_.batch_size * 2;  // no activations kept for backward
  const model::EvalMetrics metrics =
      model::evaluate(*classifier_, split, indices, tokenizer_->pad_id(), evaluate_options);
  classifier_->train();
  return metrics;
}

// Rank 0 evaluates and decides whether to stop; the others wait for its decision, inside an evaluation
// window of their own so that what they use meanwhile counts as the evaluation's energy too.
void Trainer::evaluate(double epoch) {
  run_energy_->begin_eval();
  std::optional<model::EvalMetrics> metrics;
  if (root_) {
    metrics = evaluate_on(data_->eval_split(), data_->eval_indices());
    judge_evaluation(*metrics);
  }
  state_.last_eval_step = state_.step;
  const double decision = sum_over_ranks(*group_, {root_ ? stop_code(state_.stop_reason) : 0.0}).front();
  state_.stop_reason = kStopReasons[static_cast<size_t>(decision)];
  const double eval_kwh = sum_over_ranks(*group_, {run_energy_->end_eval().kwh}).front();
  if (root_) {
    nlohmann::json row = eval_row(state_.step, epoch, *metrics);
    row["energy_kwh"] = eval_kwh;
    metrics_log_->add(row, RowKind::evaluation);
  }
}

// Rank 0 after each evaluation: the best so far, early stopping, the target accuracy.
void Trainer::judge_evaluation(const model::EvalMetrics& metrics) {
  say(fmt::format("step {}: eval_loss {:.4f}, accuracy {:.4f}, f1 {:.4f}", state_.step, metrics.eval_loss,
                  metrics.accuracy, metrics.macro_f1));
  if (state_.last_eval_step < 0 || metrics.accuracy > state_.best.accuracy) {
    state_.best = metrics;
    state_.best_step = state_.step;
    state_.evaluations_without_improvement = 0;
  } else {
    ++state_.evaluations_without_improvement;
  }
  state_.final_eval = metrics;
  if (options_.early_stopping_patience > 0 &&
      state_.evaluations_without_improvement >= options_.early_stopping_patience) {
    state_.stop_reason = kStopEarlyStopping;
    say(fmt::format(
        "stopping early: no better validation accuracy in {} evaluations (best {:.4f} at step {})",
        state_.evaluations_without_improvement, state_.best.accuracy, state_.best_step));
  }
  if (options_.target_accuracy > 0.0 && metrics.accuracy >= options_.target_accuracy &&
      state_.stop_reason.empty()) {
    state_.stop_reason = kStopTargetAccuracy;
    say(fmt::format("stopping: validation accuracy {:.4f} reached the target {:.4f}", metrics.accuracy,
                    options_.target_accuracy));
  }
}

// Carbontracker's idea: after the first epoch, what the whole run will take at this rate.
void Trainer::forecast_energy() {
  if (state_.forecast.from_steps != 0 || state_.step >= plan_.total_steps)
    return;
  const EnergyTotals so_far = sum_with_energy(*group_, run_energy_->totals()).energy;
  const double scale = static_cast<double>(plan_.total_steps) / static_cast<double>(state_.step);
  state_.forecast = {state_.step, plan_.total_steps, so_far.kwh() * scale, so_far.co2_kg * scale};
  say(
      fmt::format("forecast from the first {} updates: the whole run ({} updates) will take about {:.4g} kWh "
                  "and {:.3g} g CO2",
                  state_.step, plan_.total_steps, state_.forecast.kwh, state_.forecast.co2_kg * 1000.0));
}

void Trainer::save(int64_t epoch, size_t next_batch) {
  state_.epoch = epoch;
  state_.next_batch = next_batch;
  state_.metrics_bytes = metrics_log_->bytes();
  flush_window_loss();
  if (loss_scaler_)
    state_.loss_scaler = loss_scaler_->state();
  state_.energy = sum_with_energy(*group_, run_energy_->totals()).energy;
  const torch::Tensor rng_states = gather_rng_states(*group_, device_);
  if (!root_)
    return;
  state_.train_seconds += seconds_since(started_);  // the checkpoint holds the run's time so far
  save_checkpoint(options_.output, state_, *classifier_, *optimizer_, rng_states,
                  options_.keep_checkpoints == KeepCheckpoints::all);
  state_.train_seconds -= seconds_since(started_);
}

void Trainer::stop_if_interrupted() const {
  if (interrupt_agreed_) {
    throw Error(ErrorCode::interrupted, options_.output.string(),
                fmt::format("interrupted at step {}; a checkpoint was written", state_.step),
                "run the same command with --resume to continue");
  }
}

std::string Trainer::describe_progress() const {
  const auto eta = eta_seconds(static_cast<double>(state_.step - first_step_),
                               static_cast<double>(plan_.total_steps - first_step_), seconds_since(started_));
  const double samples_per_s =
      state_.step_seconds > 0.0 ? static_cast<double>(state_.trained_samples) / state_.step_seconds : 0.0;
  return fmt::format(
      "{} {}/{} loss {} {:.1f} samples/s {:.0f} W {:.0f} J {:.2f} gCO2 ETA {}",
      progress_bar(static_cast<double>(state_.step) / static_cast<double>(plan_.total_steps), 24),
      state_.step, plan_.total_steps,
      std::isnan(last_loss_) ? std::string("?") : fmt::format("{:.4f}", last_loss_),  // ? until the first row
      samples_per_s, run_energy_->recent_watts(energy_so_far_.total_j), energy_so_far_.total_j,
      energy_so_far_.co2_kg * 1000.0, eta ? format_duration(*eta) : "?");
}

}  // namespace greentune::train
