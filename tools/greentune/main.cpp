// greentune: fine-tune BERT-family classifiers while measuring energy and CO2.
// The CLI only parses flags and calls the libraries; each subcommand is in its own file.

#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <string>

#include "commands.hpp"
#include "greentune/core/error.hpp"
#include "greentune/core/log.hpp"
#include "greentune/core/version.hpp"
#include "numeric_flags.hpp"
#include "suggestions.hpp"

int main(int argc, char** argv) {
  CLI::App app{"greentune: fine-tune BERT-family text classifiers and measure their energy and CO2"};
  app.set_version_flag("--version", "greentune " + std::string(greentune::kVersion));
  app.require_subcommand(1);
  bool quiet = false;
  app.add_flag("-q,--quiet", quiet, "Print only results and warnings");
  app.parse_complete_callback([&quiet] { greentune::log::set_quiet(quiet); });

  greentune::cli::add_tokenize_command(app);
  greentune::cli::add_data_command(app);
  greentune::cli::add_predict_command(app);
  greentune::cli::add_eval_command(app);
  greentune::cli::add_train_command(app);
  greentune::cli::add_measure_command(app);
  greentune::cli::add_study_command(app);
  greentune::cli::add_report_command(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& parse_error) {
    // --help and --version exit 0; every wrong flag is a usage error, whatever CLI11 numbers it, told in
    // greentune's one-line form.
    if (parse_error.get_exit_code() == 0)
      return app.exit(parse_error);
    if (const auto suggestion = greentune::cli::did_you_mean(app, argc, argv)) {
      fmt::print(stderr, "greentune: error [usage]: {} {}{})\n", suggestion->problem,
                 greentune::cli::kFixOpening, suggestion->fix);
      return static_cast<int>(greentune::ErrorCode::usage);
    }
    std::string command_line = "greentune";  // the (sub)command that was being parsed
    for (const CLI::App* command = &app; !command->get_subcommands().empty();) {
      command = command->get_subcommands().front();
      command_line += " " + command->get_name();
    }
    fmt::print(stderr, "greentune: error [usage]: {}{}\n", parse_error.what(),
               greentune::cli::states_its_fix(parse_error.what())
                   ? ""
                   : fmt::format(" {}see `{} --help`)", greentune::cli::kFixOpening, command_line));
    return static_cast<int>(greentune::ErrorCode::usage);
  } catch (const greentune::Error& error) {
    fmt::print(stderr, "greentune: error [{}]: {}\n", greentune::to_string(error.code()), error.what());
    return static_cast<int>(error.code());
  } catch (const std::exception& unexpected) {
    fmt::print(stderr, "greentune: internal error: {} (please report it with the command you ran)\n",
               unexpected.what());
    return static_cast<int>(greentune::ErrorCode::internal);
  }
  return greentune::cli::command_exit_status();
}

int& greentune::cli::command_exit_status() {
  static int status = 0;
  return status;
}
