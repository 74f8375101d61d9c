// `greentune train`: fine-tune a classifier. Every flag can also be a key of the TOML file given with
// --config (same name, without the dashes before it); flags on the command line win over the file.
#include <fmt/core.h>

#include <chrono>
#include <memory>

#include "commands.hpp"
#include "config_file.hpp"
#include "greentune/core/error.hpp"
#include "greentune/core/log.hpp"
#include "greentune/train/trainer.hpp"
#include "numeric_flags.hpp"
#include "train_flags.hpp"

namespace greentune::cli {

namespace {

void print_table(const nlohmann::json& resolved) {
  std::string table = "configuration:\n";
  for (const auto& [key, value] : resolved.items())
    table += fmt::format("  {:<25}{}\n", key, value.dump());
  log::info(table);
}

void run_train(const TrainFlags& flags, int group_timeout_s) {
  train::TrainOptions options = flags.options;
  // Started by torchrun, mpirun or srun: one rank of a data-parallel run. Rank 0 speaks for the run;
  // the others print only warnings and errors.
  options.launch = train::read_launch_environment();
  options.group_timeout = std::chrono::seconds(group_timeout_s);
  if (!options.launch.note.empty())
    log::warn(options.launch.note);
  if (options.launch.rank > 0)
    log::set_quiet(true);
  train::validate(options);  // a wrong option is one line, before the configuration table
  if (flags.dry_run) {
    fmt::print("{}\n", nlohmann::json(options).dump(2));
    return;
  }
  print_table(nlohmann::json(options));
  const train::RunResult result = train::train(options);
  if (options.launch.rank > 0)
    return;
  fmt::print(
      "steps          {}\ntrain_seconds  {:.1f}\naccuracy       {:.4f}\nf1             {:.4f}\neval_loss     "
      " {:.4f}\n",
      result.steps, result.train_seconds, result.accuracy, result.f1.value_or(0.0), result.eval_loss);
  if (result.test_accuracy)
    fmt::print("test_accuracy  {:.4f}\n", *result.test_accuracy);
  fmt::print("energy_kwh     {:.6f}\nco2_kg         {:.6f}\n", result.energy_kwh, result.co2_kg);
  fmt::print("output         {}\n", options.output.string());
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto flags = std::make_shared<TrainFlags>();
  auto group_timeout_s = std::make_shared<int>(1800);
  CLI::App* command = app.add_subcommand("train", "Fine-tune a BERT-family classifier on a labelled dataset");
  add_train_options(*command, *flags);
  command
      ->add_option("--group-timeout", *group_timeout_s,
                   "Data-parallel runs: seconds a rank waits for the others to start and in each exchange "
                   "(rank 0's evaluations included)")
      ->check(in_range(whole_from_to(1, 1 << 30)))
      ->capture_default_str();
  command->callback([flags, group_timeout_s, command] {
    if (!flags->config.empty())
      apply_config_file(*command, flags->options, flags->config);
    run_train(*flags, *group_timeout_s);
  });
}

}  // namespace greentune::cli
