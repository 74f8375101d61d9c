#pragma once
// The options of `greentune train`, shared with `greentune study`, which validates and runs each of its
// variants through exactly these flags (a study file's keys are their names).

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "data_flags.hpp"
#include "energy_flags.hpp"
#include "greentune/train/trainer.hpp"

namespace greentune::cli {

struct TrainFlags {
  train::TrainOptions options;
  DataFlags data;
  EnergyFlags energy;
  std::string vocab;
  std::string optimizer = "adamw";
  std::vector<double> betas = {0.9, 0.999};
  std::string schedule = "linear";
  std::string precision = "fp32";
  std::string bucketing = "length";
  bool no_shuffle = false;
  std::string output = "runs/latest";
  std::string config;
};

// Registers every train option on command (a `train` subcommand, or a scratch app for a study variant).
void add_train_options(CLI::App& command, TrainFlags& flags);

// The trainer's options from parsed flags; Error(usage) for values the flags could not check themselves.
train::TrainOptions resolve_train_options(TrainFlags& flags);

}  // namespace greentune::cli
