#pragma once
// The options of `greentune train` as flags: one per entry of train::train_options(), and --config.

#include <CLI/CLI.hpp>
#include <string>

#include "greentune/train/train_options.hpp"

namespace greentune::cli {

struct TrainFlags {
  train::TrainOptions options;
  std::string config;    // --config FILE
  bool dry_run = false;  // --dry-run: check the options and print the configuration, without training
};

// Registers --config and every train option on command.
void add_train_options(CLI::App& command, TrainFlags& flags);

}  // namespace greentune::cli
