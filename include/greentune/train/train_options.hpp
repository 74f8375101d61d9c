#pragma once
// The options of a training run (`greentune train`, a study's variants), declared once: TrainOptions holds
// them, train_options() lists each with its name, help, range and how it reads and writes itself. The CLI
// flags, --config files, study files, config.json and validate() all come from that table.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "greentune/core/option_table.hpp"
#include "greentune/data/dataset.hpp"
#include "greentune/energy/machine.hpp"
#include "greentune/train/launch.hpp"
#include "greentune/train/optimizer.hpp"
#include "greentune/train/schedule.hpp"

namespace greentune::train {

// automatic: whatever computes fastest on the device without losing accuracy (resolve_precision).
enum class Precision { fp32, bf16, fp16, automatic };
Precision parse_precision(std::string_view name);  // "fp32", "bf16", "fp16", "auto"; Error(usage) otherwise
std::string_view to_string(Precision precision);
// What a run on device computes in: precision itself, except automatic, which is bf16 on a GPU that
// computes it natively (compute capability 8.0 and later), fp16 with loss scaling on older GPUs (the T4),
// and fp32 on CPUs (whose bf16 is often emulated, several times slower than fp32).
Precision resolve_precision(Precision precision, torch::Device device);
// Why bf16 on device is emulated: "this CPU (AMD EPYC 7B12) has no native bf16 (cpuinfo lists none of
// amx_bf16, avx512_bf16, bf16)"; nullopt on a CPU with native bf16, on a GPU (see resolve_precision) and
// where /proc/cpuinfo cannot be read.
std::optional<std::string> emulated_bf16_reason(torch::Device device);

// What a run keeps of its checkpoints (weights, optimizer state, generator states: what --resume needs):
// the newest one (older ones are superseded), none once the run has finished (its model/ and results
// stay), or every one.
enum class KeepCheckpoints { last, none, all };
KeepCheckpoints parse_keep_checkpoints(std::string_view name);  // Error(usage) for another name
std::string_view to_string(KeepCheckpoints keep);

struct TrainOptions {
  std::string model = "distilbert-base-uncased";  // directory or hub id
  std::string device = "auto";                    // cpu, cuda, cuda:N or auto (model::resolve_device)
  data::DataSpec data;
  // Evaluation and test data, read like data (its format, columns and label names), each from its
  // "test" split when it has one, else all of its examples. Empty eval_data: a validation share of data's
  // train split is held out. Empty test_data: data's own test split, when it has one.
  std::filesystem::path eval_data;
  std::filesystem::path test_data;
  std::filesystem::path vocab;      // empty: the model's vocab.txt
  std::filesystem::path cache_dir;  // tokenized caches; empty: the default
  std::filesystem::path output = "runs/latest";
  size_t max_length = 512;  // tokens, [CLS] and [SEP] included
  size_t batch_size = 16;   // examples per forward pass
  int64_t epochs = 3;
  int64_t max_steps = 0;  // optimizer updates; > 0 overrides epochs
  OptimizerOptions optimizer;
  Schedule schedule = Schedule::linear;
  int64_t warmup_steps = 0;
  double warmup_ratio = 0.0;     // used when warmup_steps is 0
  double label_smoothing = 0.0;  // training loss only; eval_loss is never smoothed
  std::optional<double> dropout, attention_dropout, classifier_dropout;  // unset: the model config's
  Precision precision = Precision::fp32;
  bool grad_checkpointing = false;  // recompute encoder layers in backward: less memory, same gradients
  int64_t grad_accum = 1;           // micro-batches per optimizer update
  double max_grad_norm = 1.0;       // 0 disables clipping
  uint64_t seed = 42;
  bool shuffle = true;
  bool length_bucketing = true;  // with shuffle: batches of similar length; without shuffle: file order
  size_t pad_to_multiple = 64;
  double validation_fraction = 0.1;  // held out of train for evaluation
  // Quick studies: this many training examples (validation share included) and test examples, drawn with
  // the seed; 0: all of them.
  size_t max_train_examples = 0;
  size_t max_test_examples = 0;
  int64_t log_every = 50;               // updates between training rows in metrics.jsonl
  bool report_to_tensorboard = false;   // the rows also as TensorBoard scalars, in RUN/tensorboard/
  int64_t eval_every = 0;               // updates between evaluations; 0: at the end of each epoch
  int64_t early_stopping_patience = 0;  // stop after this many evaluations without a better accuracy; 0: off
  double energy_budget_kwh = 0.0;       // stop once the run has used this much energy; 0: no budget
  double target_accuracy = 0.0;         // stop once an evaluation reaches this accuracy; 0: no target
  int64_t save_every = 0;  // updates between checkpoints (also written at each epoch end); 0: epochs only
  bool resume = false;     // continue from output's last checkpoint (start fresh when there is none)
  bool overwrite = false;  // start again in an output that holds a run, deleting what it wrote
  KeepCheckpoints keep_checkpoints = KeepCheckpoints::last;
  int threads = 0;                   // CPU threads; 0: all cores
  energy::MeteringOptions metering;  // where the electricity comes from, PUE, sampling interval
  // This process's place in a data-parallel run (read_launch_environment()); one process by default.
  // batch_size and grad_accum are per rank: an update covers batch_size x grad_accum x world_size examples.
  LaunchEnvironment launch;
  std::chrono::seconds group_timeout{1800};  // how long a rank waits for the others (start-up, collectives)
};

// Every option a user can set, in --help order; the resolved options' JSON (config.json) has one key per
// entry. launch and group_timeout are not options of a run's file: the launcher and the CLI set them.
const OptionTable<TrainOptions>& train_options();

// Sets the option named key ("lr", or a negation such as "no-shuffle") from its arguments as a command
// line or a TOML file gives them; Error(usage) for an unknown key or a value outside its range.
void set_train_option(TrainOptions& options, std::string_view key, std::span<const std::string> arguments);

// options as config.json holds them: every table entry by name.
void to_json(nlohmann::json& json, const TrainOptions& options);

// Error(usage) naming the option for any value outside its range (the table's), for options that
// contradict each other, and Error(not_found) for a named file that does not exist: what a run checks
// before any slow work, and a study before its first run.
void validate(const TrainOptions& options);

}  // namespace greentune::train
