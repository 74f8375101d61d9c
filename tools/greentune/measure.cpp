// `greentune measure -- CMD [ARGS...]`: runs CMD, measures the machine's energy while it runs, appends
// a CodeCarbon-compatible row to OUTPUT_DIR/emissions.csv, writes OUTPUT_DIR/energy.json and exits with
// CMD's exit status. stdout stays CMD's; the summary goes to stderr.
#include <fmt/core.h>

#include <memory>

#include "commands.hpp"
#include "energy_flags.hpp"
#include "greentune/core/error.hpp"
#include "greentune/core/log.hpp"
#include "greentune/energy/measured_command.hpp"

namespace greentune::cli {

namespace {

struct MeasureFlags {
  energy::MeteringOptions energy;
  std::string output_dir = ".";
  std::string project_name = "greentune";
  std::string experiment_id;
  std::vector<std::string> command;
};

void run_measure(const MeasureFlags& flags) {
  if (flags.command.empty()) {
    throw Error(ErrorCode::usage, "greentune measure", "no command to measure",
                "put it after --, e.g. greentune measure -- python train.py");
  }
  const std::filesystem::path output_dir = flags.output_dir;
  energy::RunIdentity identity;
  identity.project_name = flags.project_name;
  identity.experiment_id = flags.experiment_id;
  const energy::MeasuredCommand measured =
      energy::measure_command(flags.command, flags.energy, output_dir, identity);
  command_exit_status() = measured.exit.exit_status;
  if (!measured.exit.started) {
    log::warn(fmt::format("cannot run \"{}\": {}; nothing was measured, and {} is unchanged",
                          flags.command.front(), measured.exit.start_error,
                          (output_dir / "emissions.csv").string()));
    return;
  }
  fmt::print(stderr, "{}\n", energy::describe(measured.run, measured.carbon));
  fmt::print(stderr, "wrote {} and {}\n", (output_dir / "emissions.csv").string(),
             (output_dir / "energy.json").string());
}

}  // namespace

void add_measure_command(CLI::App& app) {
  auto flags = std::make_shared<MeasureFlags>();
  CLI::App* command = app.add_subcommand(
      "measure", "Run a command and measure the energy and CO2 of the machine while it runs");
  command->add_option("--output-dir", flags->output_dir, "Where emissions.csv and energy.json go")
      ->capture_default_str();
  command->add_option("--project-name", flags->project_name, "emissions.csv's project_name")
      ->capture_default_str();
  command->add_option("--experiment-id", flags->experiment_id, "emissions.csv's experiment_id");
  add_energy_flags(*command, flags->energy);
  command->add_option("command", flags->command, "The command to run, after --")->expected(-1);
  command->callback([flags] { run_measure(*flags); });
}

}  // namespace greentune::cli
