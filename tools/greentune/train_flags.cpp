#include "train_flags.hpp"

#include <fmt/core.h>

#include "greentune/core/error.hpp"
#include "numeric_flags.hpp"

namespace greentune::cli {

void add_train_options(CLI::App& command, TrainFlags& flags) {
  train::TrainOptions& options = flags.options;
  command
      .add_option("--config", flags.config,
                  "TOML file whose keys are these options' names (flags win over it)")
      ->check(CLI::ExistingFile);
  command.add_option("--model", options.model, "Model directory or Hugging Face hub id")
      ->capture_default_str();
  add_data_flags(command, flags.data);
  command
      .add_option("--eval-data", options.eval_data,
                  "Evaluation data, read like --data (its test split, else all of it); default: a "
                  "--validation-fraction share held out of --data")
      ->check(CLI::ExistingPath);
  command
      .add_option("--test-data", options.test_data,
                  "Test data evaluated once at the end, read like --data; default: --data's test split")
      ->check(CLI::ExistingPath);
  command.add_option("--vocab", flags.vocab, "vocab.txt to use instead of the model's")
      ->check(CLI::ExistingFile);
  command.add_option("--output", flags.output, "Run directory for metrics, results and the model")
      ->capture_default_str();
  command.add_option("--max-length", options.max_length, "Tokens per example, [CLS] and [SEP] included")
      ->check(whole_from_to(2, 65536))
      ->capture_default_str();
  command.add_option("--batch-size", options.batch_size, "Examples per forward pass")
      ->check(whole_from_to(1, 65536))
      ->capture_default_str();
  command.add_option("--epochs", options.epochs, "Passes over the training data")
      ->check(whole_from_to(0, 1 << 20))
      ->capture_default_str();
  command.add_option("--max-steps", options.max_steps, "Optimizer updates (overrides --epochs when > 0)")
      ->check(whole_at_least(0))
      ->capture_default_str();
  command.add_option("--optimizer", flags.optimizer, "adamw, adam or sgd")->capture_default_str();
  command.add_option("--lr", options.optimizer.lr, "Peak learning rate")
      ->check(greater_than(0))
      ->capture_default_str();
  command.add_option("--betas", flags.betas, "Adam(W) betas")
      ->check(at_least_below(0, 1))
      ->delimiter(',')
      ->expected(2)
      ->capture_default_str();
  command.add_option("--eps", options.optimizer.eps, "Adam(W) epsilon")
      ->check(greater_than(0))
      ->capture_default_str();
  command.add_option("--momentum", options.optimizer.momentum, "SGD momentum")
      ->check(from_to(0, 1))
      ->capture_default_str();
  command.add_flag("--nesterov", options.optimizer.nesterov, "SGD with Nesterov momentum");
  command.add_option("--weight-decay", options.optimizer.weight_decay, "On weights of 2+ dimensions only")
      ->check(at_least(0))
      ->capture_default_str();
  command.add_option("--schedule", flags.schedule, "constant, linear or cosine")->capture_default_str();
  command.add_option("--warmup-steps", options.warmup_steps, "Updates of linear warmup from 0")
      ->check(whole_at_least(0))
      ->capture_default_str();
  command.add_option("--warmup-ratio", options.warmup_ratio, "Warmup as a share of all updates")
      ->check(from_to(0, 1))
      ->capture_default_str();
  command.add_option("--label-smoothing", options.label_smoothing, "Label smoothing of the training loss")
      ->check(at_least_below(0, 1))
      ->capture_default_str();
  command.add_option("--dropout", options.dropout, "Hidden dropout (default: the model's)")
      ->check(at_least_below(0, 1));
  command
      .add_option("--attention-dropout", options.attention_dropout,
                  "Attention dropout (default: the model's)")
      ->check(at_least_below(0, 1));
  command
      .add_option("--classifier-dropout", options.classifier_dropout,
                  "Classifier dropout (default: the model's)")
      ->check(at_least_below(0, 1));
  command.add_option("--precision", flags.precision, "fp32 or bf16 (fp16 needs a CUDA GPU)")
      ->capture_default_str();
  command.add_flag("--grad-checkpointing", options.grad_checkpointing,
                   "Recompute each encoder layer in backward instead of keeping its activations");
  command.add_option("--grad-accum", options.grad_accum, "Micro-batches per optimizer update")
      ->check(whole_from_to(1, 65536))
      ->capture_default_str();
  command.add_option("--max-grad-norm", options.max_grad_norm, "Clip the global gradient norm (0: off)")
      ->check(at_least(0))
      ->capture_default_str();
  command.add_flag(
      "--no-shuffle{true},--shuffle{false}", flags.no_shuffle,
      "--no-shuffle: batches in file order (with --bucketing none, batch i is examples iB..iB+B-1)");
  command.add_option("--bucketing", flags.bucketing, "length (batches of similar length) or none")
      ->capture_default_str();
  command.add_option("--pad-to-multiple", options.pad_to_multiple, "Pad each batch to a multiple of this")
      ->check(whole_from_to(1, 4096))
      ->capture_default_str();
  command.add_option("--log-every", options.log_every, "Updates between training rows in metrics.jsonl")
      ->check(whole_from_to(1, 1 << 30))
      ->capture_default_str();
  command.add_option("--eval-every", options.eval_every, "Updates between evaluations (0: each epoch)")
      ->check(whole_at_least(0))
      ->capture_default_str();
  command
      .add_option("--save-every", options.save_every,
                  "Updates between checkpoints (0: at each epoch end only)")
      ->check(whole_at_least(0))
      ->capture_default_str();
  command.add_flag("--resume", options.resume, "Continue from the last checkpoint in --output");
  command
      .add_option("--max-train-examples", options.max_train_examples,
                  "Use this many training examples, drawn with --seed (0: all)")
      ->check(whole_at_least(0))
      ->capture_default_str();
  command
      .add_option("--max-test-examples", options.max_test_examples,
                  "Evaluate the test split on this many examples, drawn with --seed (0: all)")
      ->check(whole_at_least(0))
      ->capture_default_str();
  command
      .add_option("--energy-budget-kwh", options.energy_budget_kwh,
                  "Stop once the run has used this much energy, kWh (0: no budget)")
      ->check(at_least(0))
      ->capture_default_str();
  command
      .add_option("--target-accuracy", options.target_accuracy,
                  "Stop once an evaluation reaches this accuracy (0: no target)")
      ->check(from_to(0, 1))
      ->capture_default_str();
  command
      .add_option("--threads", options.threads,
                  "CPU threads (0: every CPU this process may use, shared out among the ranks that may use "
                  "the same ones)")
      ->check(whole_from_to(0, 4096))
      ->capture_default_str();
  add_energy_flags(command, flags.energy);
}

train::TrainOptions resolve_train_options(TrainFlags& flags) {
  train::TrainOptions& options = flags.options;
  options.data = flags.data.spec();
  options.validation_fraction = flags.data.validation_fraction;
  options.seed = flags.data.seed;
  options.cache_dir = flags.data.cache_dir;
  options.vocab = flags.vocab;
  options.output = flags.output;
  options.optimizer.kind = train::parse_optimizer(flags.optimizer);
  if (flags.betas.size() != 2) {
    throw Error(ErrorCode::usage, "--betas", "needs two values", "pass --betas 0.9,0.999");
  }
  options.optimizer.beta1 = flags.betas[0];
  options.optimizer.beta2 = flags.betas[1];
  options.schedule = train::parse_schedule(flags.schedule);
  options.precision = train::parse_precision(flags.precision);
  if (flags.bucketing != "length" && flags.bucketing != "none") {
    throw Error(ErrorCode::usage, "--bucketing", fmt::format("unknown bucketing \"{}\"", flags.bucketing),
                "use length or none");
  }
  options.length_bucketing = flags.bucketing == "length";
  options.shuffle = !flags.no_shuffle;
  options.metering = flags.energy.options();
  return options;
}

}  // namespace greentune::cli
