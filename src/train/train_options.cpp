#include "greentune/train/train_options.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "greentune/core/error.hpp"
#include "greentune/data/data_options.hpp"
#include "greentune/data/split.hpp"
#include "greentune/energy/cpu_model.hpp"
#include "greentune/energy/metering_options.hpp"
#include "greentune/model/device.hpp"

namespace greentune::train {

Precision parse_precision(std::string_view name) {
  if (name == "fp32")
    return Precision::fp32;
  if (name == "bf16")
    return Precision::bf16;
  if (name == "fp16")
    return Precision::fp16;
  if (name == "auto")
    return Precision::automatic;
  throw Error(ErrorCode::usage, "--precision", fmt::format("unknown precision \"{}\"", name),
              "use fp32, bf16, fp16 or auto");
}

std::string_view to_string(Precision precision) {
  switch (precision) {
    case Precision::fp32:
      return "fp32";
    case Precision::bf16:
      return "bf16";
    case Precision::fp16:
      return "fp16";
    case Precision::automatic:
      return "auto";
  }
  return "unknown";
}

Precision resolve_precision(Precision precision, torch::Device device) {
  if (precision != Precision::automatic)
    return precision;
  if (device.is_cpu())
    return Precision::fp32;
  return model::computes_bf16_natively(device) ? Precision::bf16 : Precision::fp16;
}

std::optional<std::string> emulated_bf16_reason(torch::Device device) {
  if (!device.is_cpu())
    return std::nullopt;
  energy::CpuInfo cpu;
  try {
    cpu = energy::read_cpu_info();
  } catch (const Error&) {
    return std::nullopt;  // nothing known either way
  }
  if (!cpu.native_bf16_flag.empty())
    return std::nullopt;
  return fmt::format("this CPU ({}) has no native bf16 (cpuinfo lists none of {})",
                     cpu.model_name.empty() ? "model unknown" : cpu.model_name,
                     fmt::join(energy::kNativeBf16Flags, ", "));
}

KeepCheckpoints parse_keep_checkpoints(std::string_view name) {
  for (const KeepCheckpoints keep : {KeepCheckpoints::last, KeepCheckpoints::none, KeepCheckpoints::all}) {
    if (name == to_string(keep))
      return keep;
  }
  throw Error(ErrorCode::usage, "--keep-checkpoints", fmt::format("unknown choice \"{}\"", name),
              "use last, none or all");
}

std::string_view to_string(KeepCheckpoints keep) {
  switch (keep) {
    case KeepCheckpoints::last:
      return "last";
    case KeepCheckpoints::none:
      return "none";
    case KeepCheckpoints::all:
      return "all";
  }
  return "unknown";
}

namespace {

using T = TrainOptions;

// --betas B1,B2: two values, each in [0, 1).
Option<T> betas_option() {
  Option<T> option{.name = "betas", .help = "Adam(W) betas", .arity = OptionArity::list, .count = 2};
  option.type_name = "FLOAT,FLOAT";
  const Range range = at_least_below(0, 1);
  option.set = [range](T& options, std::span<const std::string> arguments) {
    if (arguments.size() != 2)
      throw Error(ErrorCode::usage, "--betas", "needs two values", "pass --betas 0.9,0.999");
    options.optimizer.beta1 = range.parse("--betas", arguments[0]);
    options.optimizer.beta2 = range.parse("--betas", arguments[1]);
  };
  option.get = [](const T& options) {
    return nlohmann::json::array({options.optimizer.beta1, options.optimizer.beta2});
  };
  option.check = [range](const T& options) {
    range.check("--betas", options.optimizer.beta1);
    range.check("--betas", options.optimizer.beta2);
  };
  return option;
}

bool parse_bucketing(std::string_view name) {
  if (name != "length" && name != "none") {
    throw Error(ErrorCode::usage, "--bucketing", fmt::format("unknown bucketing \"{}\"", name),
                "use length or none");
  }
  return name == "length";
}

bool parse_report_to(std::string_view name) {
  if (name != "tensorboard" && name != "none") {
    throw Error(ErrorCode::usage, "--report-to", fmt::format("unknown report target \"{}\"", name),
                "use tensorboard or none");
  }
  return name == "tensorboard";
}

// What to train and evaluate on, and where the run writes.
void add_data_options(OptionTable<T>& table) {
  const auto add = [&table](Option<T> option) { table.push_back(std::move(option)); };
  add(naming_file(
      text_option<T>(
          "model", [](auto& o) -> auto& { return o.model; }, "Model directory or Hugging Face hub id"),
      PathKind::path_or_name));
  add(text_option<T>(
      "device", [](auto& o) -> auto& { return o.device; }, model::kDeviceHelp));
  append_nested(
      table, data::data_spec_options(), [](auto& o) -> auto& { return o.data; });
  add(text_option<T>(
      "eval-data", [](auto& o) -> auto& { return o.eval_data; },
      "Evaluation data, read like --data (its test split, else all of it); default: a --validation-fraction "
      "share held out of --data",
      true));
  add(text_option<T>(
      "test-data", [](auto& o) -> auto& { return o.test_data; },
      "Test data evaluated once at the end, read like --data; default: --data's test split", true));
  add(number_option<T>(
      "validation-fraction", [](auto& o) -> auto& { return o.validation_fraction; },
      data::validation_fraction_range(), "Share of train held out"));
  add(number_option<T>(
      "seed", [](auto& o) -> auto& { return o.seed; }, whole_at_least(0),
      "Seed of the validation split, the weights drawn, the batch order and dropout"));
  add(not_changing_result(text_option<T>(
      "cache-dir", [](auto& o) -> auto& { return o.cache_dir; },
      "Directory of tokenized caches (default $GREENTUNE_DATA_DIR/cache)")));
  add(text_option<T>(
      "vocab", [](auto& o) -> auto& { return o.vocab; }, "vocab.txt to use instead of the model's", true));
  add(not_changing_result(text_option<T>(
      "output", [](auto& o) -> auto& { return o.output; },
      "Run directory for metrics, results and the model")));
}

// Batches and how long the run trains.
void add_batch_options(OptionTable<T>& table) {
  const auto add = [&table](Option<T> option) { table.push_back(std::move(option)); };
  add(number_option<T>(
      "max-length", [](auto& o) -> auto& { return o.max_length; }, whole_from_to(2, 65536),
      "Tokens per example, [CLS] and [SEP] included"));
  add(number_option<T>(
      "batch-size", [](auto& o) -> auto& { return o.batch_size; }, whole_from_to(1, 65536),
      "Examples per forward pass"));
  add(number_option<T>(
      "epochs", [](auto& o) -> auto& { return o.epochs; }, whole_from_to(0, 1 << 20),
      "Passes over the training data"));
  add(number_option<T>(
      "max-steps", [](auto& o) -> auto& { return o.max_steps; }, whole_at_least(0),
      "Optimizer updates (overrides --epochs when > 0)"));
}

// The optimizer and its learning-rate schedule.
void add_optimizer_options(OptionTable<T>& table) {
  const auto add = [&table](Option<T> option) { table.push_back(std::move(option)); };
  add(choice_option<T>(
      "optimizer", [](auto& o) -> auto& { return o.optimizer.kind; }, parse_optimizer,
      [](OptimizerKind kind) { return to_string(kind); }, "{adamw,adam,sgd}", "adamw, adam or sgd"));
  add(number_option<T>(
      "lr", [](auto& o) -> auto& { return o.optimizer.lr; }, greater_than(0), "Peak learning rate"));
  add(betas_option());
  add(number_option<T>(
      "eps", [](auto& o) -> auto& { return o.optimizer.eps; }, greater_than(0), "Adam(W) epsilon"));
  add(number_option<T>(
      "momentum", [](auto& o) -> auto& { return o.optimizer.momentum; }, from_to(0, 1), "SGD momentum"));
  add(flag_option<T>(
      "nesterov", [](auto& o) -> auto& { return o.optimizer.nesterov; }, "SGD with Nesterov momentum"));
  add(number_option<T>(
      "weight-decay", [](auto& o) -> auto& { return o.optimizer.weight_decay; }, at_least(0),
      "On weights of 2+ dimensions only"));
  add(choice_option<T>(
      "schedule", [](auto& o) -> auto& { return o.schedule; }, parse_schedule,
      [](Schedule schedule) { return to_string(schedule); }, "{constant,linear,cosine}",
      "constant, linear or cosine"));
  add(number_option<T>(
      "warmup-steps", [](auto& o) -> auto& { return o.warmup_steps; }, whole_at_least(0),
      "Updates of linear warmup from 0"));
  add(number_option<T>(
      "warmup-ratio", [](auto& o) -> auto& { return o.warmup_ratio; }, from_to(0, 1),
      "Warmup as a share of all updates (used when --warmup-steps is 0)"));
}

// The strategies a study compares: regularization, precision, memory, batch order.
void add_strategy_options(OptionTable<T>& table) {
  const auto add = [&table](Option<T> option) { table.push_back(std::move(option)); };
  add(number_option<T>(
      "label-smoothing", [](auto& o) -> auto& { return o.label_smoothing; }, at_least_below(0, 1),
      "Label smoothing of the training loss"));
  add(number_option<T>(
      "dropout", [](auto& o) -> auto& { return o.dropout; }, at_least_below(0, 1),
      "Hidden dropout (default: the model's)"));
  add(number_option<T>(
      "attention-dropout", [](auto& o) -> auto& { return o.attention_dropout; }, at_least_below(0, 1),
      "Attention dropout (default: the model's)"));
  add(number_option<T>(
      "classifier-dropout", [](auto& o) -> auto& { return o.classifier_dropout; }, at_least_below(0, 1),
      "Classifier dropout (default: the model's)"));
  add(choice_option<T>(
      "precision", [](auto& o) -> auto& { return o.precision; }, parse_precision,
      [](Precision precision) { return to_string(precision); }, "{fp32,bf16,fp16,auto}",
      "fp32, bf16, fp16 (CUDA GPUs only, with dynamic loss scaling) or auto (GPUs: bf16 where they compute "
      "it natively, else fp16; CPUs: fp32)"));
  add(flag_option<T>(
      "grad-checkpointing", [](auto& o) -> auto& { return o.grad_checkpointing; },
      "Recompute each encoder layer in backward instead of keeping its activations"));
  add(number_option<T>(
      "grad-accum", [](auto& o) -> auto& { return o.grad_accum; }, whole_from_to(1, 65536),
      "Micro-batches per optimizer update"));
  add(number_option<T>(
      "max-grad-norm", [](auto& o) -> auto& { return o.max_grad_norm; }, at_least(0),
      "Clip the global gradient norm (0: off)"));
  add(flag_option<T>(
      "shuffle", [](auto& o) -> auto& { return o.shuffle; },
      "Batches in a seeded random order; --no-shuffle: in file order (with --bucketing none, batch i is "
      "examples iB..iB+B-1)",
      "no-shuffle"));
  add(choice_option<T>(
      "bucketing", [](auto& o) -> auto& { return o.length_bucketing; }, parse_bucketing,
      [](bool length) { return length ? "length" : "none"; }, "{length,none}",
      "length (batches of similar length) or none"));
  add(number_option<T>(
      "pad-to-multiple", [](auto& o) -> auto& { return o.pad_to_multiple; }, whole_from_to(1, 4096),
      "Pad each batch to a multiple of this"));
}

// Quick runs, logging, evaluation, checkpoints, stopping rules and threads.
void add_run_options(OptionTable<T>& table) {
  const auto add = [&table](Option<T> option) { table.push_back(std::move(option)); };
  add(number_option<T>(
      "max-train-examples", [](auto& o) -> auto& { return o.max_train_examples; }, whole_at_least(0),
      "Use this many training examples, drawn with --seed (0: all)"));
  add(number_option<T>(
      "max-test-examples", [](auto& o) -> auto& { return o.max_test_examples; }, whole_at_least(0),
      "Evaluate the test split on this many examples, drawn with --seed (0: all)"));
  add(not_changing_result(number_option<T>(
      "log-every", [](auto& o) -> auto& { return o.log_every; }, whole_from_to(1, 1 << 30),
      "Updates between training rows in metrics.jsonl")));
  add(not_changing_result(choice_option<T>(
      "report-to", [](auto& o) -> auto& { return o.report_to_tensorboard; }, parse_report_to,
      [](bool tensorboard) { return tensorboard ? "tensorboard" : "none"; }, "{none,tensorboard}",
      "tensorboard: metrics.jsonl's rows also as TensorBoard scalars in RUN/tensorboard/ (loss, lr, "
      "grad_norm, eval metrics, power W, energy kWh, CO2 g, samples/s); none")));
  add(number_option<T>(
      "eval-every", [](auto& o) -> auto& { return o.eval_every; }, whole_at_least(0),
      "Updates between evaluations (0: each epoch)"));
  add(not_changing_result(number_option<T>(
      "save-every", [](auto& o) -> auto& { return o.save_every; }, whole_at_least(0),
      "Updates between checkpoints (0: at each epoch end only)")));
  add(number_option<T>(
      "early-stopping-patience", [](auto& o) -> auto& { return o.early_stopping_patience; },
      whole_at_least(0), "Stop after this many evaluations without a better accuracy (0: off)"));
  add(number_option<T>(
      "energy-budget-kwh", [](auto& o) -> auto& { return o.energy_budget_kwh; }, at_least(0),
      "Stop once the run has used this much energy, kWh (0: no budget)"));
  add(number_option<T>(
      "target-accuracy", [](auto& o) -> auto& { return o.target_accuracy; }, from_to(0, 1),
      "Stop once an evaluation reaches this accuracy (0: no target)"));
  add(not_changing_result(flag_option<T>(
      "resume", [](auto& o) -> auto& { return o.resume; }, "Continue from the last checkpoint in --output")));
  add(not_changing_result(choice_option<T>(
      "keep-checkpoints", [](auto& o) -> auto& { return o.keep_checkpoints; }, parse_keep_checkpoints,
      [](KeepCheckpoints keep) { return to_string(keep); }, "{last,none,all}",
      "Checkpoints kept: last (the newest), none once the run has finished (its model and results stay; "
      "a study's default), or all")));
  add(not_changing_result(flag_option<T>(
      "overwrite", [](auto& o) -> auto& { return o.overwrite; },
      "Start again in an --output that holds a run, deleting its checkpoints, metrics, results and model")));
  add(not_changing_result(number_option<T>(
      "threads", [](auto& o) -> auto& { return o.threads; }, whole_from_to(0, 4096),
      "CPU threads (0: every CPU this process may use, shared out among the ranks that may use the same "
      "ones)")));
}

OptionTable<T> make_train_options() {
  OptionTable<T> table;
  add_data_options(table);
  add_batch_options(table);
  add_optimizer_options(table);
  add_strategy_options(table);
  add_run_options(table);
  append_nested(
      table, energy::metering_options(), [](auto& o) -> auto& { return o.metering; });
  // --resume's help names the options a resumed run may change: those that do not change its result.
  std::vector<std::string> changeable;
  for (const Option<T>& option : table) {
    if (!option.changes_result && option.name != "resume" && option.name != "overwrite")
      changeable.push_back(option.flag());
  }
  Option<T>& resume =
      *std::find_if(table.begin(), table.end(), [](const auto& o) { return o.name == "resume"; });
  resume.help += fmt::format(
      ". Every option that changes the result must be the run's own (its config.json); only {} may differ",
      fmt::join(changeable, ", "));
  return table;
}

}  // namespace

const OptionTable<TrainOptions>& train_options() {
  static const OptionTable<TrainOptions> table = make_train_options();
  return table;
}

void set_train_option(TrainOptions& options, std::string_view key, std::span<const std::string> arguments) {
  set_option(train_options(), options, key, arguments);
}

void to_json(nlohmann::json& json, const TrainOptions& options) {
  json = options_json(train_options(), options);
}

void validate(const TrainOptions& options) {
  check_options(train_options(), options);
  if (options.data.path.empty()) {
    throw Error(ErrorCode::usage, "--data", "no dataset given",
                "pass --data with an aclImdb folder or .tar.gz, a .jsonl/.csv/.tsv file, or imdb");
  }
  if (options.epochs == 0 && options.max_steps == 0) {
    throw Error(ErrorCode::usage, "--epochs", "no training: 0 epochs and no --max-steps",
                "pass --epochs 1 or more, or --max-steps");
  }
  const torch::Device device = model::resolve_device(options.device);
  if (options.precision == Precision::fp16 && device.is_cpu()) {
    throw Error(ErrorCode::usage, "--precision", "fp16 needs a CUDA GPU (CPUs compute in bf16, not fp16)",
                "use --precision bf16, fp32 or auto on a CPU");
  }
}

}  // namespace greentune::train
