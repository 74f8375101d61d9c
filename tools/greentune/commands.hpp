#pragma once
// Each subcommand lives in its own file and registers itself on the root app here.

#include <CLI/CLI.hpp>

namespace greentune::cli {

void add_tokenize_command(CLI::App& app);     // tokenize.cpp
void add_data_command(CLI::App& app);         // data.cpp: `data` and its subcommands below
void add_data_stats_command(CLI::App& data);  // data_stats.cpp
void add_data_fetch_command(CLI::App& data);  // data_fetch.cpp
void add_predict_command(CLI::App& app);      // predict.cpp
void add_eval_command(CLI::App& app);         // eval.cpp
void add_train_command(CLI::App& app);        // train.cpp
void add_measure_command(CLI::App& app);      // measure.cpp
void add_study_command(CLI::App& app);        // study.cpp
void add_report_command(CLI::App& app);       // report.cpp

// The status main returns when the command succeeds: 0, or what a command passes on (measure: its
// child's exit status).
int& command_exit_status();

}  // namespace greentune::cli
