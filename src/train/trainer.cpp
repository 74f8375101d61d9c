#include "greentune/train/trainer.hpp"

#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstring>
#include <limits>
#include <optional>
#include <sstream>

#include "greentune/core/error.hpp"
#include "greentune/core/files.hpp"
#include "greentune/core/log.hpp"
#include "greentune/core/progress.hpp"
#include "greentune/core/random.hpp"
#include "greentune/data/split.hpp"
#include "greentune/data/tokenized_cache.hpp"
#include "greentune/model/hub.hpp"
#include "greentune/model/pretrained.hpp"
#include "greentune/model/runtime.hpp"
#include "greentune/model/tensor_memory.hpp"
#include "greentune/model/torch_compat.hpp"
#include "greentune/model/weights.hpp"
#include "greentune/train/data_parallel.hpp"
#include "greentune/train/process_group.hpp"
#include "greentune/train/run_energy.hpp"

namespace greentune::train {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

Precision parse_precision(std::string_view name) {
  if (name == "fp32")
    return Precision::fp32;
  if (name == "bf16")
    return Precision::bf16;
  if (name == "fp16")
    return Precision::fp16;
  throw Error(ErrorCode::usage, "--precision", fmt::format("unknown precision \"{}\"", name),
              "use fp32, bf16 or fp16");
}

std::string_view to_string(Precision precision) {
  switch (precision) {
    case Precision::fp32:
      return "fp32";
    case Precision::bf16:
      return "bf16";
    case Precision::fp16:
      return "fp16";
  }
  return "unknown";
}

void to_json(nlohmann::json& json, const TrainOptions& options) {
  const auto optional = [](const std::optional<double>& value) {
    return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
  };
  json = {{"model", options.model},
          {"data", options.data.path.string()},
          {"eval-data", options.eval_data.string()},
          {"test-data", options.test_data.string()},
          {"format", std::string(data::to_string(options.data.format))},
          {"text-column", options.data.text_column},
          {"label-column", options.data.label_column},
          {"labels", options.data.label_names},
          {"vocab", options.vocab.string()},
          {"output", options.output.string()},
          {"max-length", options.max_length},
          {"batch-size", options.batch_size},
          {"epochs", options.epochs},
          {"max-steps", options.max_steps},
          {"optimizer", std::string(to_string(options.optimizer.kind))},
          {"lr", options.optimizer.lr},
          {"betas", {options.optimizer.beta1, options.optimizer.beta2}},
          {"eps", options.optimizer.eps},
          {"momentum", options.optimizer.momentum},
          {"nesterov", options.optimizer.nesterov},
          {"weight-decay", options.optimizer.weight_decay},
          {"schedule", std::string(to_string(options.schedule))},
          {"warmup-steps", options.warmup_steps},
          {"warmup-ratio", options.warmup_ratio},
          {"label-smoothing", options.label_smoothing},
          {"dropout", optional(options.dropout)},
          {"attention-dropout", optional(options.attention_dropout)},
          {"classifier-dropout", optional(options.classifier_dropout)},
          {"precision", std::string(to_string(options.precision))},
          {"grad-checkpointing", options.grad_checkpointing},
          {"grad-accum", options.grad_accum},
          {"max-grad-norm", options.max_grad_norm},
          {"seed", options.seed},
          {"shuffle", options.shuffle},
          {"bucketing", options.length_bucketing ? "length" : "none"},
          {"pad-to-multiple", options.pad_to_multiple},
          {"validation-fraction", options.validation_fraction},
          {"max-train-examples", options.max_train_examples},
          {"max-test-examples", options.max_test_examples},
          {"log-every", options.log_every},
          {"eval-every", options.eval_every},
          {"save-every", options.save_every},
          {"early-stopping-patience", options.early_stopping_patience},
          {"energy-budget-kwh", options.energy_budget_kwh},
          {"target-accuracy", options.target_accuracy},
          {"resume", options.resume},
          {"country", options.metering.carbon.country},
          {"region", options.metering.carbon.region},
          {"cloud-provider", options.metering.carbon.cloud_provider},
          {"cloud-region", options.metering.carbon.cloud_region},
          {"carbon-intensity", optional(options.metering.carbon.gco2_per_kwh)},
          {"pue", options.metering.pue},
          {"interval-ms", options.metering.interval.count()},
          {"threads", options.threads}};
}

namespace {

void require(bool condition, const char* flag, const std::string& what, const char* fix) {
  if (!condition)
    throw Error(ErrorCode::usage, flag, what, fix);
}

void validate(const TrainOptions& options) {
  require(options.batch_size > 0, "--batch-size", "must be at least 1", "pass --batch-size 16, say");
  require(options.max_length >= 2, "--max-length", "must be at least 2 ([CLS] and [SEP])", "pass 128 or 512");
  require(options.epochs > 0 || options.max_steps > 0, "--epochs", "no training: 0 epochs and no --max-steps",
          "pass --epochs 1 or more, or --max-steps");
  require(options.max_steps >= 0, "--max-steps", "must not be negative", "pass 0 (no limit) or more");
  require(options.optimizer.lr > 0.0, "--lr", fmt::format("must be positive, got {}", options.optimizer.lr),
          "pass e.g. --lr 5e-5");
  require(options.grad_accum > 0, "--grad-accum", "must be at least 1", "pass 1 for no accumulation");
  require(options.max_grad_norm >= 0.0, "--max-grad-norm", "must not be negative",
          "pass 0 to disable clipping");
  require(options.label_smoothing >= 0.0 && options.label_smoothing < 1.0, "--label-smoothing",
          "must be in [0, 1)", "pass e.g. 0.1");
  require(options.warmup_steps >= 0, "--warmup-steps", "must not be negative", "pass 0 or more");
  require(options.warmup_ratio >= 0.0 && options.warmup_ratio <= 1.0, "--warmup-ratio", "must be in [0, 1]",
          "pass e.g. 0.1");
  require(options.log_every > 0, "--log-every", "must be at least 1", "pass e.g. 50");
  require(options.energy_budget_kwh >= 0.0, "--energy-budget-kwh", "must not be negative",
          "pass 0 for no budget");
  require(options.target_accuracy >= 0.0 && options.target_accuracy <= 1.0, "--target-accuracy",
          "must be an accuracy in [0, 1]", "pass e.g. 0.9, or 0 for no target");
  require(options.eval_every >= 0, "--eval-every", "must not be negative", "pass 0 to evaluate each epoch");
  for (const auto& [value, flag] :
       {std::pair{options.dropout, "--dropout"}, std::pair{options.attention_dropout, "--attention-dropout"},
        std::pair{options.classifier_dropout, "--classifier-dropout"}}) {
    require(!value || (*value >= 0.0 && *value < 1.0), flag, "must be a probability in [0, 1)",
            "pass e.g. 0.1");
  }
  require(options.precision != Precision::fp16, "--precision",
          "fp16 needs a CUDA GPU (CPUs compute in bf16, not fp16)", "use --precision bf16 or fp32 on a CPU");
}

constexpr double kBytesPerMebibyte = 1024.0 * 1024.0;

double peak_memory_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // Linux reports kilobytes
}

// metrics.jsonl, a line appended per row. A checkpoint records how many bytes the file had then; a
// resumed run cuts it back to that (rows written after the checkpoint, a torn last line of a killed run
// included, are computed again, identically), and a new run removes an earlier run's file (the first
// row creates it again). An empty path writes nothing (the ranks other than 0).
class MetricsLog {
 public:
  explicit MetricsLog(fs::path path) : path_(std::move(path)) {}
  void add(const nlohmann::json& row) {
    if (path_.empty())
      return;
    const std::string line = row.dump() + "\n";
    append_to_file(path_, line);
    bytes_ += line.size();
  }
  void continue_at(uint64_t bytes) {
    bytes_ = bytes;
    if (path_.empty())
      return;
    std::error_code ignored;  // a missing file is what a new run wants
    bytes == 0 ? static_cast<void>(fs::remove(path_, ignored)) : truncate_file(path_, bytes);
  }
  uint64_t bytes() const { return bytes_; }

 private:
  fs::path path_;
  uint64_t bytes_ = 0;  // of the file, as this run has written it
};

nlohmann::json eval_row(int64_t step, double epoch, const model::EvalMetrics& metrics) {
  return {{"step", step},
          {"epoch", epoch},
          {"eval_loss", metrics.eval_loss},
          {"accuracy", metrics.accuracy},
          {"f1", metrics.macro_f1}};
}

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
};

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(LoopState, step, epoch, next_batch, last_eval_step, real_tokens,
                                   padded_tokens, window_loss, window_batches, window_samples, window_tokens,
                                   best, final_eval, best_step, evaluations_without_improvement, stop_reason,
                                   train_seconds, step_seconds, trained_samples, trained_tokens,
                                   peak_step_tensor_bytes, energy, forecast, metrics_bytes)

// A checkpoint is a directory OUT/checkpoint-<step>/ (model weights, optimizer state, the CPU generator's
// state of every rank, the loop state) made complete under a temporary name, then named by
// OUT/checkpoint.json, written atomically: a process killed at any moment leaves the previous checkpoint or
// the new one, never half. Rank 0 writes it.
void save_checkpoint(const fs::path& output, const LoopState& state, model::SequenceClassifierImpl& model,
                     torch::optim::Optimizer& optimizer, const torch::Tensor& rng_states) {
  const std::string name = fmt::format("checkpoint-{}", state.step);
  const fs::path directory = output / name;
  const fs::path temporary = output / (name + ".tmp");
  std::error_code ec;
  fs::remove_all(temporary, ec);
  greentune::create_directories(temporary, "pass --output with a writable directory");
  model::save_weights(model, temporary / "model.safetensors");
  torch::save(optimizer, (temporary / "optimizer.pt").string());
  torch::save(rng_states, (temporary / "rng.pt").string());
  write_file_atomically(temporary / "state.json", nlohmann::json(state).dump() + "\n");
  fs::remove_all(directory, ec);
  fs::rename(temporary, directory, ec);
  if (ec) {
    throw Error(ErrorCode::io, directory.string(), "cannot write the checkpoint: " + ec.message(),
                "check free disk space and permissions of --output");
  }
  write_file_atomically(output / "checkpoint.json",
                        nlohmann::json{{"dir", name}, {"step", state.step}}.dump() + "\n");
  for (const auto& entry : fs::directory_iterator(output, ec)) {  // older checkpoints are superseded
    const std::string entry_name = entry.path().filename().string();
    if (entry_name.rfind("checkpoint-", 0) == 0 && entry_name != name)
      fs::remove_all(entry.path(), ec);
  }
}

// What every rank restores from a checkpoint besides the weights, as the files hold it.
struct CheckpointFiles {
  std::string state_json, optimizer_pt, rng_pt;
};

// Loads the newest checkpoint's weights of output into model and reads its other files; nullopt when
// there is none.
std::optional<CheckpointFiles> load_checkpoint_weights(const fs::path& output,
                                                       model::SequenceClassifierImpl& model) {
  std::error_code ec;
  if (!fs::exists(output / "checkpoint.json", ec))
    return std::nullopt;
  try {
    const auto pointer = nlohmann::json::parse(read_file(output / "checkpoint.json"));
    const fs::path directory = output / pointer.at("dir").get<std::string>();
    const model::LoadReport report =
        model::load_weights(model, model::SafetensorsFile::open(directory / "model.safetensors"));
    if (!report.missing_keys.empty()) {
      throw Error(ErrorCode::invalid_data, directory.string(),
                  "the checkpoint lacks " + report.missing_keys.front(),
                  "resume with the same model and labels, or start a new --output");
    }
    return CheckpointFiles{read_file(directory / "state.json"), read_file(directory / "optimizer.pt"),
                           read_file(directory / "rng.pt")};
  } catch (const nlohmann::json::exception& error) {
    throw Error(ErrorCode::parse, (output / "checkpoint.json").string(),
                std::string("damaged checkpoint: ") + error.what(),
                "remove the checkpoint files to start over");
  }
}

// Restores the loop state, the optimizer state and this rank's generator state. rng.pt holds one state,
// or one row per rank of the run that wrote it.
void restore_checkpoint(const CheckpointFiles& files, int rank, int world, LoopState& state,
                        torch::optim::Optimizer& optimizer, const fs::path& output) {
  try {
    std::istringstream optimizer_stream(files.optimizer_pt);
    torch::load(optimizer, optimizer_stream);
    std::istringstream rng_stream(files.rng_pt);
    torch::Tensor rng;
    torch::load(rng, rng_stream);
    if (rng.dim() == 2) {
      if (rng.size(0) != world && rank == 0) {
        log::warn(
            fmt::format("the checkpoint was written by {} processes and is resumed by {}: dropout masks "
                        "will differ from an uninterrupted run",
                        rng.size(0), world));
      }
      rng = rng[rank % rng.size(0)].contiguous();
    }
    model::set_cpu_rng_state(rng);
    state = nlohmann::json::parse(files.state_json).get<LoopState>();
  } catch (const nlohmann::json::exception& error) {
    throw Error(ErrorCode::parse, output.string(), std::string("damaged checkpoint: ") + error.what(),
                "remove the checkpoint files to start over");
  } catch (const c10::Error& error) {
    throw Error(ErrorCode::parse, output.string(),
                std::string("damaged checkpoint: ") + error.what_without_backtrace(),
                "remove the checkpoint files to start over");
  }
}

// Resumes every rank from rank 0's newest checkpoint in output: rank 0 loads it and sends the loop,
// optimizer and generator states to the others, so that they need not see rank 0's disk. (The weights
// follow with the broadcast every run starts with.) False when there is no checkpoint.
bool resume_from_checkpoint(ProcessGroup& group, const fs::path& output, LoopState& state,
                            model::SequenceClassifierImpl& model, torch::optim::Optimizer& optimizer) {
  std::optional<CheckpointFiles> files;
  if (group.is_root())
    files = load_checkpoint_weights(output, model);
  std::string found = files ? "1" : "0";
  group.broadcast(found, 0);
  if (found != "1")
    return false;
  if (!files)
    files.emplace();
  group.broadcast(files->state_json, 0);
  group.broadcast(files->optimizer_pt, 0);
  group.broadcast(files->rng_pt, 0);
  restore_checkpoint(*files, group.rank(), group.size(), state, optimizer, output);
  return true;
}

// Every rank's CPU generator state: one state for a single process, (ranks, state) for several.
torch::Tensor gather_rng_states(ProcessGroup& group) {
  const torch::Tensor mine = model::cpu_rng_state().contiguous();
  if (group.size() == 1)
    return mine;
  std::vector<torch::Tensor> states;
  for (const std::string& bytes : group.all_gather(
           std::string(static_cast<const char*>(mine.data_ptr()), static_cast<size_t>(mine.nbytes())))) {
    torch::Tensor state = torch::empty_like(mine);
    std::memcpy(state.data_ptr(), bytes.data(), std::min(bytes.size(), static_cast<size_t>(state.nbytes())));
    states.push_back(state);
  }
  return torch::stack(states);
}

// The sum over the ranks of values (each rank's own), on every rank.
std::vector<double> sum_over_ranks(ProcessGroup& group, std::vector<double> values) {
  if (group.size() == 1)
    return values;
  torch::Tensor tensor = torch::tensor(values, torch::kDouble);
  group.all_reduce_sum(tensor);
  return std::vector<double>(tensor.data_ptr<double>(), tensor.data_ptr<double>() + tensor.numel());
}

// The run's energy so far over every rank, and the sums of extra values (each rank's own) that travel in
// the same all-reduce. The duration is this rank's: the ranks run side by side.
struct GroupSums {
  EnergyTotals energy;
  std::vector<double> extra;
};
GroupSums sum_with_energy(ProcessGroup& group, const EnergyTotals& mine, std::vector<double> extra = {}) {
  const size_t extras = extra.size();
  extra.insert(extra.end(),
               {mine.gpu_j, mine.cpu_j, mine.dram_j, mine.ram_j, mine.total_j, mine.eval_j, mine.co2_kg});
  std::vector<double> sums = sum_over_ranks(group, std::move(extra));
  GroupSums result{mine,
                   std::vector<double>(sums.begin(), sums.begin() + static_cast<std::ptrdiff_t>(extras))};
  const double* energy = sums.data() + extras;
  result.energy.gpu_j = energy[0];
  result.energy.cpu_j = energy[1];
  result.energy.dram_j = energy[2];
  result.energy.ram_j = energy[3];
  result.energy.total_j = energy[4];
  result.energy.eval_j = energy[5];
  result.energy.co2_kg = energy[6];
  return result;
}

// Why a run stopped, as a number every rank can sum (only rank 0 decides after evaluations).
constexpr std::array<const char*, 4> kStopReasons = {"", kStopEarlyStopping, kStopEnergyBudget,
                                                     kStopTargetAccuracy};
double stop_code(const std::string& reason) {
  for (size_t i = 0; i < kStopReasons.size(); ++i) {
    if (reason == kStopReasons[i])
      return static_cast<double>(i);
  }
  return 0.0;
}

// Runs work on rank 0 first and on the other ranks once it is done: rank 0 downloads the model and
// tokenizes the data, and the others find them in the caches (or, without shared storage, make their
// own) instead of doing the same work on the same cores at the same time.
template <typename Work>
auto root_first(ProcessGroup& group, Work work) {
  if (group.is_root()) {
    auto result = work();
    group.barrier();
    return result;
  }
  group.barrier();
  return work();
}

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

bool interrupted() {
  return interrupt_requested != 0;
}

// Indices 0..n-1: every example of a split.
std::vector<size_t> all_indices(size_t n) {
  std::vector<size_t> indices(n);
  for (size_t i = 0; i < n; ++i)
    indices[i] = i;
  return indices;
}

// Random streams of the seed for drawing example subsets (the split, the sampler and dropout use others).
constexpr uint64_t kTrainSampleStream = 0x7452'4149'4e00;  // "tRAIN"
constexpr uint64_t kTestSampleStream = 0x7445'5354'0000;   // "tEST"

// limit of the n examples, drawn with the seed and kept in file order; all of them when limit is 0 or n or
// more.
std::vector<size_t> sample_indices(size_t n, size_t limit, uint64_t seed, uint64_t stream) {
  std::vector<size_t> indices = all_indices(n);
  if (limit == 0 || limit >= n)
    return indices;
  std::mt19937_64 engine = random::seeded_engine(seed, stream);
  random::fisher_yates_shuffle(indices, engine);
  indices.resize(limit);
  std::sort(indices.begin(), indices.end());
  return indices;
}

// --eval-data / --test-data: read like --data (its format when given, columns and the training label
// names, so label ids agree), from their "test" split when there is one, else their only split.
data::TokenizedDataset open_companion_data(const fs::path& path, const data::DataSpec& training,
                                           const std::vector<std::string>& label_names,
                                           const text::WordPieceTokenizer& tokenizer,
                                           const data::CacheOptions& cache) {
  data::DataSpec spec = training;
  spec.path = path;
  spec.label_names = label_names;
  return data::TokenizedDataset::open_or_build(spec, tokenizer, cache);
}

const data::TokenizedSplit& evaluation_split(const data::TokenizedDataset& dataset) {
  const data::TokenizedSplit* test = dataset.find_split("test");
  return test != nullptr ? *test : dataset.splits().front();
}

}  // namespace

RunResult train(const TrainOptions& options) {
  validate(options);
  // A data-parallel run: every rank runs this function on its share of each update's batches; rank 0
  // alone evaluates and writes. One process: a group of one, and every collective is a no-op.
  const std::unique_ptr<ProcessGroup> group = connect_process_group(options.launch, options.group_timeout);
  const bool root = group->is_root();
  const int rank = group->rank(), world = group->size();
  const GroupLayout layout = lay_out_group(*group, options.launch.local_rank);
  // Measures from here on: loading and tokenizing are part of what a run costs. Unknown --country and
  // the like fail now, before any slow work.
  energy::MeteringOptions metering = options.metering;
  metering.scope = layout.scope;
  RunEnergy run_energy(metering);
  // Processes allowed on the same CPUs split them.
  const int threads =
      options.threads > 0 || layout.ranks_sharing_cpus == 1
          ? options.threads
          : std::max(1, static_cast<int>(model::allowed_cpus().size()) / layout.ranks_sharing_cpus);
  const model::CpuRuntime runtime = model::configure_cpu_runtime(threads);
  // Before any tensor exists, so that the peak counts the weights, gradients and optimizer state too.
  model::TensorMemoryTracker tensor_memory;
  if (root)
    greentune::create_directories(options.output, "pass --output with a writable directory");

  // The tokenizer comes with the model; the labels come with the data; the classifier head needs both.
  const fs::path model_dir = root_first(*group, [&] { return model::resolve_model_dir(options.model); });
  const text::WordPieceTokenizer tokenizer = options.vocab.empty()
                                                 ? text::WordPieceTokenizer::from_model_dir(model_dir)
                                                 : text::WordPieceTokenizer::from_vocab_file(options.vocab);
  const data::CacheOptions cache_options{options.cache_dir, static_cast<unsigned>(runtime.threads)};
  const data::TokenizedDataset dataset = root_first(
      *group, [&] { return data::TokenizedDataset::open_or_build(options.data, tokenizer, cache_options); });
  model::PretrainedOptions pretrained_options;
  pretrained_options.seed = options.seed;
  pretrained_options.vocab = options.vocab;
  pretrained_options.label_names = dataset.label_names();
  model::PretrainedModel pretrained = model::load_pretrained(model_dir.string(), pretrained_options);
  model::SequenceClassifierImpl& classifier = *pretrained.model;
  const model::ModelConfig& config = classifier.config();
  require(options.max_length <= static_cast<size_t>(config.max_position_embeddings), "--max-length",
          fmt::format("{} is more than the model's {} positions", options.max_length,
                      config.max_position_embeddings),
          "lower --max-length");
  classifier.set_dropout(options.dropout.value_or(config.hidden_dropout),
                         options.attention_dropout.value_or(config.attention_dropout),
                         options.classifier_dropout.value_or(config.classifier_dropout));
  classifier.set_gradient_checkpointing(options.grad_checkpointing);

  const data::TokenizedSplit& train_split = dataset.split("train");
  const auto open_companion = [&](const fs::path& path) {
    return root_first(*group, [&]() -> std::optional<data::TokenizedDataset> {
      if (path.empty())
        return std::nullopt;
      return open_companion_data(path, options.data, dataset.label_names(), tokenizer, cache_options);
    });
  };
  const std::optional<data::TokenizedDataset> eval_dataset = open_companion(options.eval_data);
  const std::optional<data::TokenizedDataset> test_dataset = open_companion(options.test_data);
  // --max-train-examples draws the examples used at all; without --eval-data a validation share of them
  // is held out, with it they all train.
  const std::vector<size_t> train_pool =
      sample_indices(train_split.size(), options.max_train_examples, options.seed, kTrainSampleStream);
  data::TrainValidationSplit held_out{train_pool, {}};
  if (!eval_dataset) {
    const data::TrainValidationSplit positions =
        data::split_train_validation(train_pool.size(), {options.validation_fraction, options.seed});
    held_out = {{}, {}};
    for (const size_t position : positions.train)
      held_out.train.push_back(train_pool[position]);
    for (const size_t position : positions.validation)
      held_out.validation.push_back(train_pool[position]);
  }
  const data::TokenizedSplit& eval_split = eval_dataset ? evaluation_split(*eval_dataset) : train_split;
  const std::vector<size_t> eval_indices =
      eval_dataset ? all_indices(eval_split.size()) : held_out.validation;
  require(!eval_indices.empty(), "--validation-fraction", "no validation examples to evaluate on",
          "raise --validation-fraction (e.g. 0.1), give more training data, or pass --eval-data");
  const data::TokenizedSplit* test_split =
      test_dataset ? &evaluation_split(*test_dataset) : dataset.find_split("test");
  std::vector<size_t> lengths;
  lengths.reserve(held_out.train.size());
  for (const size_t index : held_out.train)
    lengths.push_back(train_split.length(index));
  data::SamplerOptions sampler_options;
  sampler_options.batch_size = options.batch_size;
  sampler_options.order = !options.shuffle           ? data::BatchOrder::sequential
                          : options.length_bucketing ? data::BatchOrder::length_bucketed
                                                     : data::BatchOrder::shuffled;
  sampler_options.seed = options.seed;
  sampler_options.pad_to_multiple = options.pad_to_multiple;
  sampler_options.max_length = options.max_length;
  const data::BatchSampler sampler(lengths, sampler_options);

  const auto batches_per_epoch = static_cast<int64_t>(sampler.batches_per_epoch());
  // An update runs grad_accum batches on each rank.
  const int64_t batches_per_update = options.grad_accum * world;
  const int64_t updates_per_epoch = (batches_per_epoch + batches_per_update - 1) / batches_per_update;
  const int64_t total_steps = options.max_steps > 0 ? options.max_steps : options.epochs * updates_per_epoch;
  const int64_t epochs = (total_steps + updates_per_epoch - 1) / updates_per_epoch;
  const int64_t warmup_steps = options.warmup_steps > 0
                                   ? options.warmup_steps
                                   : warmup_steps_from_ratio(options.warmup_ratio, total_steps);

  nlohmann::json resolved = options;
  resolved["model-dir"] = model_dir.string();
  resolved["total-steps"] = total_steps;
  resolved["resolved-warmup-steps"] = warmup_steps;
  resolved["train-examples"] = held_out.train.size();
  resolved["validation-examples"] = eval_indices.size();
  resolved["world-size"] = world;
  if (root)
    write_file_atomically(options.output / "config.json", resolved.dump(2) + "\n");
  log::info(fmt::format(
      "training {} ({}) on {} examples, evaluating on {} ({}), {} updates of {} x {} x {} examples, {}",
      model_dir.string(), model::to_string(config.model_type), held_out.train.size(), eval_indices.size(),
      eval_dataset ? options.eval_data.string() : "held out of the training data", total_steps,
      options.batch_size, options.grad_accum, world == 1 ? "1 process" : fmt::format("{} processes", world),
      to_string(options.precision)));

  std::unique_ptr<torch::optim::Optimizer> optimizer = make_optimizer(classifier, options.optimizer);
  const std::vector<torch::Tensor> parameters = classifier.parameters();
  MetricsLog metrics_log(root ? options.output / "metrics.jsonl" : fs::path());
  const auto evaluate = [&](const data::TokenizedSplit& split, std::span<const size_t> indices) {
    model::EvaluateOptions evaluate_options;
    evaluate_options.max_length = options.max_length;
    evaluate_options.batch_size = options.batch_size * 2;  // no activations kept for backward
    const model::EvalMetrics metrics =
        model::evaluate(classifier, split, indices, tokenizer.pad_id(), evaluate_options);
    classifier.train();
    return metrics;
  };

  // Mean cross-entropy over the batch, label smoothing included, in fp32 whatever the precision.
  const auto training_loss = [&](const model::TensorBatch& tensors) {
    torch::Tensor logits;  // (B, num_labels)
    if (options.precision == Precision::bf16) {
      model::compat::AutocastGuard autocast(c10::DeviceType::CPU, torch::kBFloat16);
      logits = classifier.forward(tensors.input_ids, tensors.attention_mask).logits;
    } else {
      logits = classifier.forward(tensors.input_ids, tensors.attention_mask).logits;
    }
    return torch::nn::functional::cross_entropy(
        logits.to(torch::kFloat), tensors.labels,
        torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(options.label_smoothing));
  };
  const auto collate_batch = [&](const data::Batch& batch) {
    std::vector<size_t> members;
    members.reserve(batch.indices.size());
    for (const size_t local : batch.indices)
      members.push_back(held_out.train[local]);
    return model::collate(train_split, members, options.max_length, batch.padded_length, tokenizer.pad_id());
  };

  RunResult result;
  torch::manual_seed(options.seed);  // dropout masks
  if (options.grad_checkpointing) {
    // What checkpointing saves: the tensor memory one forward + backward pass of the first epoch's
    // longest batch adds, plain and checkpointed. Dropout masks and gradients are restored afterwards,
    // so training continues as if the two passes had not run.
    const data::EpochPlan plan = sampler.epoch(0);
    const data::Batch& longest =
        *std::max_element(plan.batches.begin(), plan.batches.end(), [](const auto& a, const auto& b) {
          return a.padded_length * a.indices.size() < b.padded_length * b.indices.size();
        });
    const model::TensorBatch tensors = collate_batch(longest);
    const torch::Tensor rng = model::cpu_rng_state();
    const auto pass_peak_mb = [&](bool checkpointed) {
      classifier.set_gradient_checkpointing(checkpointed);
      const int64_t before = tensor_memory.current_bytes();
      tensor_memory.reset_peak();
      training_loss(tensors).backward();
      const double added_mb = static_cast<double>(tensor_memory.peak_bytes() - before) / kBytesPerMebibyte;
      for (torch::Tensor& parameter : classifier.parameters())
        parameter.mutable_grad() = torch::Tensor();
      model::set_cpu_rng_state(rng);
      return added_mb;
    };
    const double plain_mb = pass_peak_mb(false);
    const double checkpointed_mb = pass_peak_mb(true);
    result.checkpointing_memory = CheckpointingMemory{plain_mb, checkpointed_mb, plain_mb - checkpointed_mb};
    log::info(fmt::format(
        "gradient checkpointing: a pass over the longest batch ({} x {} tokens) needs {:.0f} MiB of tensors "
        "instead of {:.0f} MiB (saves {:.0f} MiB)",
        longest.indices.size(), longest.padded_length, result.checkpointing_memory->checkpointed_mb,
        result.checkpointing_memory->plain_mb, result.checkpointing_memory->saved_mb));
  }
  LoopState state;
  if (options.resume && resume_from_checkpoint(*group, options.output, state, classifier, *optimizer)) {
    log::info(fmt::format("resumed from the checkpoint at step {} (epoch {}, batch {})", state.step,
                          state.epoch, state.next_batch));
  } else if (options.resume) {
    log::info(fmt::format("no checkpoint in {}: starting from the beginning", options.output.string()));
  }
  {
    // Every rank starts from rank 0's weights (a resumed run's: its checkpoint's).
    std::vector<torch::Tensor> weights = classifier.parameters();
    group->broadcast(weights, 0);
  }
  // Gradients summed over the ranks while backward runs; one process needs none.
  std::optional<GradientReducer> reducer;
  if (world > 1)
    reducer.emplace(*group, parameters);
  metrics_log.continue_at(state.metrics_bytes);
  if (root)
    run_energy.add_earlier(state.energy);  // state.energy covers every rank of the earlier processes
  EnergyTotals energy_so_far =
      sum_with_energy(*group, run_energy.totals()).energy;  // every rank's, after each update
  const InterruptGuard interrupt;                           // Ctrl-C: checkpoint and stop cleanly
  // On a terminal a bar redrawn in place with the log lines above it; elsewhere only the log lines.
  ProgressLine progress;
  const auto say = [&](const std::string& line) { progress.print_above(line); };
  const int64_t first_step = state.step;
  double last_loss = std::numeric_limits<double>::quiet_NaN();  // of the newest micro-batch
  classifier.train();
  const auto started = Clock::now();
  const auto describe_progress = [&] {
    const double elapsed = std::chrono::duration<double>(Clock::now() - started).count();
    const auto eta = eta_seconds(static_cast<double>(state.step - first_step),
                                 static_cast<double>(total_steps - first_step), elapsed);
    const double samples_per_s =
        state.step_seconds > 0.0 ? static_cast<double>(state.trained_samples) / state.step_seconds : 0.0;
    return fmt::format("{} {}/{} loss {:.4f} {:.1f} samples/s {:.0f} W {:.0f} J {:.2f} gCO2 ETA {}",
                       progress_bar(static_cast<double>(state.step) / static_cast<double>(total_steps), 24),
                       state.step, total_steps, last_loss, samples_per_s,
                       run_energy.recent_watts(energy_so_far.total_j), energy_so_far.total_j,
                       energy_so_far.co2_kg * 1000.0, eta ? format_duration(*eta) : "?");
  };
  // Rank 0 after each evaluation: the best so far, early stopping, the target accuracy.
  const auto judge_evaluation = [&](const model::EvalMetrics& metrics) {
    say(fmt::format("step {}: eval_loss {:.4f}, accuracy {:.4f}, f1 {:.4f}", state.step, metrics.eval_loss,
                    metrics.accuracy, metrics.macro_f1));
    if (state.last_eval_step < 0 || metrics.accuracy > state.best.accuracy) {
      state.best = metrics;
      state.best_step = state.step;
      state.evaluations_without_improvement = 0;
    } else {
      ++state.evaluations_without_improvement;
    }
    state.final_eval = metrics;
    if (options.early_stopping_patience > 0 &&
        state.evaluations_without_improvement >= options.early_stopping_patience) {
      state.stop_reason = kStopEarlyStopping;
      say(fmt::format(
          "stopping early: no better validation accuracy in {} evaluations (best {:.4f} at step {})",
          state.evaluations_without_improvement, state.best.accuracy, state.best_step));
    }
    if (options.target_accuracy > 0.0 && metrics.accuracy >= options.target_accuracy &&
        state.stop_reason.empty()) {
      state.stop_reason = kStopTargetAccuracy;
      say(fmt::format("stopping: validation accuracy {:.4f} reached the target {:.4f}", metrics.accuracy,
                      options.target_accuracy));
    }
  };
  auto window_started = Clock::now();
  double window_started_j = energy_so_far.total_j;
  // Rank 0 evaluates and decides whether to stop; the others wait for its decision, inside an evaluation
  // window of their own so that what they use meanwhile counts as the evaluation's energy too.
  const auto record_eval = [&](double epoch) {
    run_energy.begin_eval();
    std::optional<model::EvalMetrics> metrics;
    if (root) {
      metrics = evaluate(eval_split, eval_indices);
      judge_evaluation(*metrics);
    }
    state.last_eval_step = state.step;
    const double decision = sum_over_ranks(*group, {root ? stop_code(state.stop_reason) : 0.0}).front();
    state.stop_reason = kStopReasons[static_cast<size_t>(decision)];
    const double eval_kwh = sum_over_ranks(*group, {run_energy.end_eval().kwh}).front();
    if (root) {
      nlohmann::json row = eval_row(state.step, epoch, *metrics);
      row["energy_kwh"] = eval_kwh;
      metrics_log.add(row);
    }
  };
  const auto checkpoint = [&](int64_t epoch, size_t next_batch) {
    state.epoch = epoch;
    state.next_batch = next_batch;
    state.metrics_bytes = metrics_log.bytes();
    state.energy = sum_with_energy(*group, run_energy.totals()).energy;
    const torch::Tensor rng_states = gather_rng_states(*group);
    if (!root)
      return;
    state.train_seconds += std::chrono::duration<double>(Clock::now() - started).count();
    save_checkpoint(options.output, state, classifier, *optimizer, rng_states);
    state.train_seconds -= std::chrono::duration<double>(Clock::now() - started).count();
  };
  bool interrupt_agreed = false;  // some rank got Ctrl-C: all checkpoint and stop together
  const auto stop_if_interrupted = [&] {
    if (interrupt_agreed) {
      throw Error(ErrorCode::interrupted, options.output.string(),
                  fmt::format("interrupted at step {}; a checkpoint was written", state.step),
                  "run the same command with --resume to continue");
    }
  };
  for (int64_t epoch = state.epoch; epoch < epochs && state.step < total_steps && state.stop_reason.empty();
       ++epoch) {
    const data::EpochPlan plan = sampler.epoch(static_cast<uint64_t>(epoch));
    const size_t batch_count = plan.batches.size();
    run_energy.begin_epoch(epoch);
    const size_t first_batch = epoch == state.epoch ? state.next_batch : 0;
    if (first_batch == 0) {
      state.real_tokens += plan.real_tokens;
      state.padded_tokens += plan.padded_tokens;
    }
    // One optimizer update per pass: the plan's batches [first, end), each rank running its share.
    for (size_t first = first_batch;
         first < batch_count && state.step < total_steps && state.stop_reason.empty();
         first += static_cast<size_t>(batches_per_update)) {
      const auto step_started = Clock::now();
      tensor_memory.reset_peak();
      const size_t end = std::min(first + static_cast<size_t>(batches_per_update), batch_count);
      const std::vector<size_t> my_batches = rank_batches(first, end, rank, world);
      double loss_sum = 0.0;  // of this rank's micro-batches
      for (size_t k = 0; k < my_batches.size(); ++k) {
        const model::TensorBatch tensors = collate_batch(plan.batches[my_batches[k]]);
        const torch::Tensor loss = training_loss(tensors);
        loss_sum += loss.item<double>();
        if (reducer && k + 1 == my_batches.size())
          reducer->expect_last_backward();
        // Each micro-batch's share of the update's mean gradient, as one process with grad_accum x world
        // micro-batches would compute it.
        (loss / static_cast<double>(batches_per_update)).backward();
        state.peak_step_tensor_bytes = std::max(state.peak_step_tensor_bytes, tensor_memory.peak_bytes());
      }
      if (reducer)
        reducer->finish();
      // What every rank learns after each update: the summed loss, whether some rank got Ctrl-C, and the
      // run's energy so far.
      const GroupSums agreed =
          sum_with_energy(*group, run_energy.totals(), {loss_sum, interrupted() ? 1.0 : 0.0});
      energy_so_far = agreed.energy;
      interrupt_agreed = agreed.extra[1] > 0.0;
      const double update_loss = agreed.extra[0];
      if (!std::isfinite(update_loss)) {
        throw Error(ErrorCode::invalid_data, fmt::format("step {}", state.step),
                    fmt::format("the training loss became {}", update_loss),
                    "lower --lr, keep --max-grad-norm on, or train in fp32; the last checkpoint is kept");
      }
      // Examples and tokens of the whole update, every rank's: each rank knows the plan.
      for (size_t batch = first; batch < end; ++batch) {
        state.window_samples += plan.batches[batch].indices.size();
        state.window_tokens += plan.batches[batch].real_tokens;
        state.trained_samples += plan.batches[batch].indices.size();
        state.trained_tokens += plan.batches[batch].real_tokens;
      }
      state.window_loss += update_loss;
      state.window_batches += static_cast<int64_t>(end - first);
      last_loss = update_loss / static_cast<double>(end - first);

      const double grad_norm = clip_gradients(parameters, options.max_grad_norm);
      const double lr =
          options.optimizer.lr * lr_factor(options.schedule, state.step, warmup_steps, total_steps);
      set_learning_rate(*optimizer, lr);
      optimizer->step();
      optimizer->zero_grad();
      ++state.step;
      state.peak_step_tensor_bytes = std::max(state.peak_step_tensor_bytes, tensor_memory.peak_bytes());
      state.step_seconds += std::chrono::duration<double>(Clock::now() - step_started).count();
      if (progress.terminal())
        progress.update(describe_progress);
      if (options.energy_budget_kwh > 0.0 && energy_so_far.kwh() >= options.energy_budget_kwh) {
        state.stop_reason = kStopEnergyBudget;
        say(fmt::format("stopping: the run has used {:.4g} kWh, its budget is {:.4g} kWh",
                        energy_so_far.kwh(), options.energy_budget_kwh));
      }
      const double epoch_progress =
          static_cast<double>(epoch) + static_cast<double>(end) / static_cast<double>(batch_count);

      if (state.step % options.log_every == 0 || state.step == total_steps) {
        const double seconds = std::chrono::duration<double>(Clock::now() - window_started).count();
        const double mean_loss = state.window_loss / static_cast<double>(state.window_batches);
        metrics_log.add({{"step", state.step},
                         {"epoch", epoch_progress},
                         {"loss", mean_loss},
                         {"lr", lr},
                         {"grad_norm", grad_norm},
                         {"loss_scale", nullptr},
                         {"samples_per_s", static_cast<double>(state.window_samples) / seconds},
                         {"tokens_per_s", static_cast<double>(state.window_tokens) / seconds},
                         {"energy_kwh", energy_so_far.kwh()},  // the run's so far
                         {"co2_kg", energy_so_far.co2_kg},
                         {"power_w", (energy_so_far.total_j - window_started_j) / seconds}});
        say(fmt::format("step {}/{}: loss {:.4f}, lr {:.3g}, {:.1f} samples/s", state.step, total_steps,
                        mean_loss, lr, static_cast<double>(state.window_samples) / seconds));
        state.window_loss = 0.0;
        state.window_batches = 0;
        state.window_samples = state.window_tokens = 0;
        window_started = Clock::now();
        window_started_j = energy_so_far.total_j;
      }
      if (options.eval_every > 0 && state.step % options.eval_every == 0)
        record_eval(epoch_progress);
      if (end < batch_count &&
          ((options.save_every > 0 && state.step % options.save_every == 0) || interrupt_agreed)) {
        checkpoint(epoch, end);
        stop_if_interrupted();
      }
    }
    if (!state.stop_reason.empty())
      break;
    if (options.eval_every == 0)
      record_eval(static_cast<double>(epoch + 1));
    run_energy.end_epoch(epoch);
    if (state.forecast.from_steps == 0 && state.step < total_steps) {
      // Carbontracker's idea: after the first epoch, what the whole run will take at this rate.
      const EnergyTotals so_far = sum_with_energy(*group, run_energy.totals()).energy;
      const double scale = static_cast<double>(total_steps) / static_cast<double>(state.step);
      state.forecast = {state.step, total_steps, so_far.kwh() * scale, so_far.co2_kg * scale};
      say(
          fmt::format("forecast from the first {} updates: the whole run ({} updates) will take about {:.4g} "
                      "kWh and {:.3g} g CO2",
                      state.step, total_steps, state.forecast.kwh, state.forecast.co2_kg * 1000.0));
    }
    checkpoint(epoch + 1, 0);
    stop_if_interrupted();
  }
  if (state.last_eval_step != state.step) {
    record_eval(static_cast<double>(state.step) / static_cast<double>(updates_per_epoch));
  }
  result.accuracy = state.final_eval.accuracy;
  result.f1 = state.final_eval.macro_f1;
  result.eval_loss = state.final_eval.eval_loss;
  result.n = state.final_eval.n;
  result.best = {state.best_step, state.best};
  result.stop_reason = state.stop_reason;
  result.train_seconds = state.train_seconds + std::chrono::duration<double>(Clock::now() - started).count();
  result.steps = state.step;
  result.train_samples = state.trained_samples;  // every rank's, every epoch's
  result.padding_fraction = state.padded_tokens == 0 ? 0.0
                                                     : 1.0 - static_cast<double>(state.real_tokens) /
                                                                 static_cast<double>(state.padded_tokens);
  if (state.step_seconds > 0.0) {
    result.train_samples_per_s = static_cast<double>(state.trained_samples) / state.step_seconds;
    result.train_tokens_per_s = static_cast<double>(state.trained_tokens) / state.step_seconds;
  }
  result.peak_tensor_memory_mb = static_cast<double>(state.peak_step_tensor_bytes) / kBytesPerMebibyte;

  if (test_split != nullptr) {
    run_energy.begin_eval();  // the other ranks wait meanwhile, inside an evaluation window of their own
    if (root) {
      result.test = evaluate(*test_split, sample_indices(test_split->size(), options.max_test_examples,
                                                         options.seed, kTestSampleStream));
      result.test_accuracy = result.test->accuracy;
      log::info(fmt::format("test accuracy {:.4f} on {} examples", result.test->accuracy, result.test->n));
    }
    group->barrier();
    run_energy.end_eval();
  }
  if (root)
    model::save_pretrained(options.output / "model", classifier, tokenizer);
  if (state.forecast.from_steps > 0)
    result.energy_forecast = state.forecast;
  result.peak_memory_mb = peak_memory_mb();
  result.world_size = world;
  result.threads = runtime.threads;

  // Rank 0 gathers what every rank measured and writes the run's one emissions row and result.
  const nlohmann::json my_report = {{"energy", run_energy.finish(rank)},
                                    {"threads", runtime.threads},
                                    {"peak_memory_mb", result.peak_memory_mb},
                                    {"peak_tensor_memory_mb", result.peak_tensor_memory_mb}};
  const std::vector<std::string> reports = group->all_gather(my_report.dump());
  if (!root)
    return result;
  std::vector<RankEnergy> rank_energies;
  std::vector<RankSummary> ranks;
  for (const std::string& text : reports) {
    const auto report = nlohmann::json::parse(text);
    rank_energies.push_back(report.at("energy").get<RankEnergy>());
    const RankEnergy& energy = rank_energies.back();
    ranks.push_back({energy.rank, energy.host, report.at("threads").get<int>(),
                     report.at("peak_memory_mb").get<double>(),
                     report.at("peak_tensor_memory_mb").get<double>(), energy.totals.kwh(), energy.methods});
    result.peak_memory_mb = std::max(result.peak_memory_mb, ranks.back().peak_memory_mb);
    result.peak_tensor_memory_mb = std::max(result.peak_tensor_memory_mb, ranks.back().peak_tensor_memory_mb);
    for (const auto& [component, method] : energy.methods.items())
      add_method(result.energy_methods, component, method.get<std::string>());
  }
  if (world > 1)
    result.ranks = std::move(ranks);  // each rank's threads, memory and energy
  const EnergyTotals energy =
      write_run_energy(options.output, options.output.filename().string(), run_energy.earlier(),
                       rank_energies, run_energy.carbon(), options.metering.pue);
  result.energy_kwh = energy.kwh();
  result.gpu_kwh = energy.gpu_j / energy::kJoulesPerKwh;
  result.cpu_kwh = energy.cpu_j / energy::kJoulesPerKwh;
  result.dram_kwh = energy.dram_j / energy::kJoulesPerKwh;
  result.ram_kwh = energy.ram_j / energy::kJoulesPerKwh;
  result.eval_kwh = energy.eval_j / energy::kJoulesPerKwh;
  result.co2_kg = energy.co2_kg;
  result.average_w = energy.average_w();
  result.joules_per_sample =
      state.trained_samples == 0 ? 0.0 : energy.total_j / static_cast<double>(state.trained_samples);
  result.carbon = {run_energy.carbon().gco2_per_kwh, run_energy.carbon().zone, run_energy.carbon().reason};
  result.config = resolved;
  write_file_atomically(options.output / kRunResultFile, nlohmann::json(result).dump(2) + "\n");
  return result;
}

}  // namespace greentune::train
