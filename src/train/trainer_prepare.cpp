#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <exception>

#include "collectives.hpp"
#include "greentune/core/error.hpp"
#include "greentune/core/files.hpp"
#include "greentune/core/log.hpp"
#include "greentune/core/process_memory.hpp"
#include "greentune/model/device.hpp"
#include "greentune/model/hub.hpp"
#include "greentune/model/runtime.hpp"
#include "greentune/train/fingerprint.hpp"
#include "trainer_phases.hpp"

namespace greentune::train {

namespace fs = std::filesystem;

UpdatePlan plan_updates(const TrainOptions& options, int64_t batches_per_epoch, int world) {
  UpdatePlan plan;
  plan.batches_per_update = options.grad_accum * world;
  plan.updates_per_epoch = (batches_per_epoch + plan.batches_per_update - 1) / plan.batches_per_update;
  plan.total_steps = options.max_steps > 0 ? options.max_steps : options.epochs * plan.updates_per_epoch;
  plan.epochs = (plan.total_steps + plan.updates_per_epoch - 1) / plan.updates_per_epoch;
  plan.warmup_steps = options.warmup_steps > 0
                          ? options.warmup_steps
                          : warmup_steps_from_ratio(options.warmup_ratio, plan.total_steps);
  return plan;
}

namespace {

// What an interrupted write left in output: files of a process that is gone, and a checkpoint never
// completed. Nothing of a run: removed before the directory is looked at.
void remove_leftovers(const fs::path& output) {
  uint64_t freed = remove_stale_temporaries(output);
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(output, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("checkpoint-") && name.ends_with(".tmp") && entry.is_directory(ec)) {
      for (const auto& file : fs::recursive_directory_iterator(entry.path(), ec))
        freed += file.is_regular_file(ec) ? file.file_size(ec) : 0;
      fs::remove_all(entry.path(), ec);
    }
  }
  if (freed > 0) {
    log::info(
        fmt::format("removed {:.1f} MB that an interrupted write left in {}", freed / 1e6, output.string()));
  }
}

// The run directory before anything is written in it: a run there is continued only with --resume and
// the options it was made with, started again only with --overwrite (what it wrote deleted first), and
// never mixed with a new one. Then the new run's fingerprint is recorded.
void prepare_run_directory(const TrainOptions& options) {
  const fs::path& output = options.output;
  const nlohmann::json fingerprint = run_fingerprint(options);
  remove_leftovers(output);
  const std::vector<fs::path> existing = run_files_in(output);
  if (!existing.empty() && options.overwrite) {
    for (const fs::path& file : existing) {
      std::error_code ec;
      fs::remove_all(file, ec);
      if (ec) {
        throw Error(ErrorCode::io, file.string(), "cannot delete it for --overwrite: " + ec.message(),
                    "check the directory's permissions, or pass another --output");
      }
    }
    log::info(fmt::format("--overwrite: deleted what the earlier run in {} wrote", output.string()));
  } else if (!existing.empty() && !options.resume) {
    std::error_code ec;
    throw Error(ErrorCode::usage, "--output " + output.string(),
                fs::exists(output / kRunResultFile, ec) ? "holds a finished run already"
                                                        : "holds an unfinished run already",
                "pass --resume to continue it, --overwrite to start it again (deleting what it wrote), or "
                "another --output");
  } else if (!existing.empty()) {
    if (const std::optional<nlohmann::json> recorded = recorded_fingerprint(output)) {
      const std::vector<std::string> changes = fingerprint_changes(*recorded, fingerprint);
      if (!changes.empty()) {
        throw Error(ErrorCode::usage, "--resume",
                    fmt::format("the run in {} was made with other options: {}", output.string(),
                                fmt::join(changes, "; ")),
                    "resume with the run's own options (its config.json), or pass --overwrite to start it "
                    "again with these");
      }
    }
  }
  greentune::create_directories(output, "pass --output with a writable directory");
  write_file_atomically(output / kFingerprintFile, fingerprint.dump(2) + "\n");
}

}  // namespace

Trainer::Trainer(const TrainOptions& options) : options_(options) {
  // This run's peak memory starts here, not at the start of the process (a study's earlier runs).
  model::release_free_memory();
  reset_peak_memory();
  validate(options);
  choose_device();
  group_ = connect_process_group(options.launch, options.group_timeout, device_);
  root_ = group_->is_root();
  rank_ = group_->rank();
  world_ = group_->size();
  // Rank 0 prepares the run directory; the other ranks learn whether it could, so that a refusal (a run
  // there already) stops every rank now instead of leaving them waiting for rank 0.
  std::string refusal;
  std::exception_ptr rank0_failure;
  if (root_) {
    try {
      prepare_run_directory(options);
    } catch (const Error& error) {
      refusal = error.what();
      rank0_failure = std::current_exception();
    }
  }
  if (world_ > 1) {
    const std::string rank0_refusal = group_->all_gather(refusal).front();
    if (!root_ && !rank0_refusal.empty())
      throw Error(ErrorCode::usage, "rank 0", rank0_refusal);
  }
  if (rank0_failure)
    std::rethrow_exception(rank0_failure);
  if (precision_ == Precision::bf16 && device_.is_cpu() && root_)
    warn_if_bf16_is_emulated();
  layout_ = lay_out_group(*group_, options.launch.local_rank);
  // Measures from here on: loading and tokenizing are part of what a run costs. Unknown --country and
  // the like fail now, before any slow work.
  energy::MeteringOptions metering = options.metering;
  metering.scope = layout_.scope;
  metering.synchronize = [device = device_] { model::synchronize(device); };  // after the GPU's work
  run_energy_ = std::make_unique<RunEnergy>(metering);
  if (!options.metering.pushgateway_url.empty()) {
    pushgateway_.emplace(
        options.metering.pushgateway_url,
        energy::PushGroup{
            .instance = energy::host_name(), .run = energy::run_label_of(options.output), .rank = rank_});
  }
  // Processes allowed on the same CPUs split them.
  const int threads =
      options.threads > 0 || layout_.ranks_sharing_cpus == 1
          ? options.threads
          : std::max(1, static_cast<int>(model::allowed_cpus().size()) / layout_.ranks_sharing_cpus);
  runtime_ = model::configure_cpu_runtime(threads);
  if (root_)
    greentune::create_directories(options.output, "pass --output with a writable directory");

  // The tokenizer comes with the model; the labels come with the data; the classifier head needs both.
  model_dir_ = root_first(*group_, [&] { return model::resolve_model_dir(options.model); });
  tokenizer_.emplace(options.vocab.empty() ? text::WordPieceTokenizer::from_model_dir(model_dir_)
                                           : text::WordPieceTokenizer::from_vocab_file(options.vocab));
  data_ = std::make_unique<TrainingData>(
      options, *group_, *tokenizer_,
      data::CacheOptions{options.cache_dir, static_cast<unsigned>(runtime_.threads)}, device_);
  prepare_model();
  plan_ = plan_updates(options, static_cast<int64_t>(data_->sampler().batches_per_epoch()), world_);

  optimizer_ = make_optimizer(*classifier_, options.optimizer);
  write_config();
  log::info(fmt::format(
      "training {} ({}) on {} examples, evaluating on {} ({}), {} updates of {} x {} x {} examples, {}",
      model_dir_.string(), model::to_string(classifier_->config().model_type), data_->train_examples(),
      data_->eval_indices().size(),
      data_->evaluates_held_out_data() ? "held out of the training data" : options.eval_data.string(),
      plan_.total_steps, options.batch_size, options.grad_accum,
      world_ == 1 ? "1 process" : fmt::format("{} processes", world_), to_string(precision_)));

  parameters_ = classifier_->parameters();
  metrics_log_.emplace(root_ ? options.output / "metrics.jsonl" : fs::path(), options.report_to_tensorboard);
  torch::manual_seed(options.seed);  // dropout masks
  if (options.grad_checkpointing)
    measure_checkpointing_memory();
  window_loss_on_device_ = torch::zeros({}, torch::TensorOptions().dtype(torch::kDouble).device(device_));
  if (options.resume &&
      resume_from_checkpoint(*group_, options.output, state_, *classifier_, *optimizer_, device_)) {
    if (loss_scaler_)
      loss_scaler_->restore(state_.loss_scaler);
    log::info(fmt::format("resumed from the checkpoint at step {} (epoch {}, batch {})", state_.step,
                          state_.epoch, state_.next_batch));
  } else if (options.resume) {
    log::info(fmt::format("no checkpoint in {}: starting from the beginning", options.output.string()));
  }
  // Every rank starts from rank 0's weights (a resumed run's: its checkpoint's).
  std::vector<torch::Tensor> weights = classifier_->parameters();
  group_->broadcast(weights, 0);
  if (world_ > 1)
    reducer_.emplace(*group_, parameters_);
  metrics_log_->continue_at(state_.metrics_bytes, state_.step);
  if (root_)
    run_energy_->add_earlier(state_.energy);  // state_.energy covers every rank of the earlier processes
  energy_so_far_ = sum_with_energy(*group_, run_energy_->totals()).energy;
}

// The run's device (on GPUs each process of a data-parallel run its own: GPU LOCAL_RANK of those
// visible, the one its energy is metered on), what it computes in there, and fp16's loss scaler.
void Trainer::choose_device() {
  device_ = model::resolve_device(options_.device);
  if (options_.launch.distributed() && device_.is_cuda())
    device_ = model::resolve_device(fmt::format("cuda:{}", options_.launch.local_rank));
  model::prepare_device(device_);
  precision_ = resolve_precision(options_.precision, device_);
  if (precision_ == Precision::fp16)
    loss_scaler_.emplace();
  state_.rng_device = device_.is_cuda() ? "cuda" : "cpu";
}

// bf16 on a CPU without native bf16 arithmetic runs, but emulated and slowly: said once, at the start,
// with what it costs on this machine.
void Trainer::warn_if_bf16_is_emulated() {
  const std::optional<std::string> reason = emulated_bf16_reason(device_);
  if (!reason)
    return;
  // Emulation is the rule without the flag, but how slow it is depends on LibTorch's kernels: measured.
  static constexpr double kSlowdownWorthAdvice = 1.5;
  const double slowdown = model::measure_cpu_bf16_slowdown();
  log::warn(
      fmt::format("{}: bf16 autocast is emulated, and a matrix product took {:.1f}x as long in bf16 as in "
                  "fp32 here{}",
                  *reason, slowdown,
                  slowdown > kSlowdownWorthAdvice ? "; --precision fp32 will likely train faster here" : ""));
}

// config.json: the options as given, and what the run resolved them to.
void Trainer::write_config() {
  resolved_ = options_;
  resolved_["data"] = data_->spec().path.string();
  resolved_["model-dir"] = model_dir_.string();
  resolved_["total-steps"] = plan_.total_steps;
  resolved_["resolved-warmup-steps"] = plan_.warmup_steps;
  resolved_["train-examples"] = data_->train_examples();
  resolved_["validation-examples"] = data_->eval_indices().size();
  resolved_["world-size"] = world_;
  resolved_["resolved-device"] = device_.str();
  resolved_["device-name"] = model::device_name(device_);
  resolved_["resolved-precision"] = to_string(precision_);
  resolved_["fused-optimizer"] = is_fused(*optimizer_);
  if (root_)
    write_file_atomically(options_.output / "config.json", resolved_.dump(2) + "\n");
}

// The pretrained weights (or a drawn model) with the data's labels, and the run's dropout and
// checkpointing.
void Trainer::prepare_model() {
  model::PretrainedOptions pretrained_options;
  pretrained_options.seed = options_.seed;
  pretrained_options.vocab = options_.vocab;
  pretrained_options.label_names = data_->label_names();
  pretrained_.emplace(model::load_pretrained(model_dir_.string(), pretrained_options));
  classifier_ = pretrained_->model.get();
  const model::ModelConfig& config = classifier_->config();
  if (options_.max_length > static_cast<size_t>(config.max_position_embeddings)) {
    throw Error(ErrorCode::usage, "--max-length",
                fmt::format("{} is more than the model's {} positions", options_.max_length,
                            config.max_position_embeddings),
                "lower --max-length");
  }
  classifier_->set_dropout(options_.dropout.value_or(config.hidden_dropout),
                           options_.attention_dropout.value_or(config.attention_dropout),
                           options_.classifier_dropout.value_or(config.classifier_dropout));
  classifier_->set_gradient_checkpointing(options_.grad_checkpointing);
  classifier_->to(device_);
}

// What checkpointing saves: the tensor memory one forward + backward pass of the first epoch's longest
// batch adds, plain and checkpointed. Dropout masks and gradients are restored afterwards, so training
// continues as if the two passes had not run.
void Trainer::measure_checkpointing_memory() {
  const data::EpochPlan plan = data_->sampler().epoch(0);
  const data::Batch& longest =
      *std::max_element(plan.batches.begin(), plan.batches.end(), [](const auto& a, const auto& b) {
        return a.padded_length * a.indices.size() < b.padded_length * b.indices.size();
      });
  const model::TensorBatch tensors = data_->collate(longest);
  const torch::Tensor rng = model::rng_state(device_);
  const auto pass_peak_mb = [&](bool checkpointed) {
    classifier_->set_gradient_checkpointing(checkpointed);
    const int64_t before = tensor_bytes().current;
    reset_tensor_peak();
    training_loss(tensors).backward();
    const double added_mb = static_cast<double>(tensor_bytes().peak - before) / kBytesPerMebibyte;
    clear_gradients(classifier_->parameters());
    model::set_rng_state(device_, rng);
    return added_mb;
  };
  const double plain_mb = pass_peak_mb(false);
  const double checkpointed_mb = pass_peak_mb(true);
  checkpointing_memory_ = CheckpointingMemory{plain_mb, checkpointed_mb, plain_mb - checkpointed_mb};
  log::info(fmt::format(
      "gradient checkpointing: a pass over the longest batch ({} x {} tokens) needs {:.0f} MiB of tensors "
      "instead of {:.0f} MiB (saves {:.0f} MiB)",
      longest.indices.size(), longest.padded_length, checkpointed_mb, plain_mb, plain_mb - checkpointed_mb));
}

}  // namespace greentune::train
