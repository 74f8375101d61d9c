// `greentune measure -- CMD [ARGS...]`: runs CMD, measures the machine's energy while it runs, appends
// a CodeCarbon-compatible row to OUTPUT_DIR/emissions.csv, writes OUTPUT_DIR/energy.json and exits with
// CMD's exit status. stdout stays CMD's; the summary goes to stderr.
#include <fmt/core.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "energy_flags.hpp"
#include "greentune/core/error.hpp"
#include "greentune/core/files.hpp"
#include "greentune/core/log.hpp"

extern char** environ;

namespace greentune::cli {

namespace {

struct MeasureFlags {
  energy::MeteringOptions energy;
  std::string output_dir = ".";
  std::string project_name = "greentune";
  std::string experiment_id;
  std::vector<std::string> command;
};

// While CMD runs, Ctrl-C and SIGTERM must reach CMD (the terminal sends Ctrl-C to both; SIGTERM is
// forwarded) but not end the measurement before its results are written.
volatile sig_atomic_t forwarded_to = 0;

class ChildSignalForwarding {
 public:
  explicit ChildSignalForwarding(pid_t child) {
    forwarded_to = child;
    struct sigaction forward {};
    forward.sa_handler = [](int signal_number) {
      if (forwarded_to > 0 && signal_number != SIGINT)  // Ctrl-C already reached CMD's process group
        kill(forwarded_to, signal_number);
    };
    sigemptyset(&forward.sa_mask);
    for (const int signal_number : {SIGINT, SIGTERM, SIGHUP})
      sigaction(signal_number, &forward, &previous_[index(signal_number)]);
  }
  ~ChildSignalForwarding() {
    for (const int signal_number : {SIGINT, SIGTERM, SIGHUP})
      sigaction(signal_number, &previous_[index(signal_number)], nullptr);
    forwarded_to = 0;
  }
  ChildSignalForwarding(const ChildSignalForwarding&) = delete;
  ChildSignalForwarding& operator=(const ChildSignalForwarding&) = delete;

 private:
  static int index(int signal_number) {
    return signal_number == SIGINT ? 0 : signal_number == SIGTERM ? 1 : 2;
  }
  struct sigaction previous_[3]{};
};

// Runs command to its end; returns its exit status, 128 + N when signal N ended it (the shell's
// convention), 127 when it cannot be started.
int run_to_end(const std::vector<std::string>& command) {
  std::vector<char*> argv;
  for (const std::string& argument : command)
    argv.push_back(const_cast<char*>(argument.c_str()));
  argv.push_back(nullptr);
  pid_t child = 0;
  const int spawn_error = posix_spawnp(&child, argv[0], nullptr, nullptr, argv.data(), environ);
  if (spawn_error != 0) {
    log::warn(fmt::format("cannot run \"{}\": {}", command.front(), std::strerror(spawn_error)));
    return 127;
  }
  const ChildSignalForwarding forwarding(child);
  int status = 0;
  while (waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) {
      throw Error(ErrorCode::internal, "waitpid", std::strerror(errno), "please report this");
    }
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void run_measure(const MeasureFlags& flags) {
  if (flags.command.empty()) {
    throw Error(ErrorCode::usage, "greentune measure", "no command to measure",
                "put it after --, e.g. greentune measure -- python train.py");
  }
  const std::filesystem::path output_dir = flags.output_dir;
  greentune::create_directories(output_dir, "pass --output-dir with a writable directory");
  energy::Metering metering = energy::start_metering(flags.energy);
  for (const std::string& note : metering.notes)
    log::info(note);
  metering.meter->begin("run");
  const int exit_status = run_to_end(flags.command);
  const energy::Measurement run = metering.meter->end("run");

  energy::RunIdentity identity;
  identity.project_name = flags.project_name;
  identity.experiment_id = flags.experiment_id;
  const energy::EmissionsRow row =
      energy::make_emissions_row(run, metering.machine, metering.carbon, identity);
  energy::append_emissions_row(output_dir / "emissions.csv", row);
  nlohmann::json report = {{"command", flags.command},
                           {"exit_status", exit_status},
                           {"run_id", row.run_id},
                           {"windows", {run}},
                           {"carbon",
                            {{"gco2_per_kwh", metering.carbon.gco2_per_kwh},
                             {"zone", metering.carbon.zone},
                             {"source", metering.carbon.source},
                             {"year", metering.carbon.year},
                             {"reason", metering.carbon.reason}}},
                           {"notes", metering.notes},
                           {"counter_failures", metering.meter->failures()}};
  write_file_atomically(output_dir / "energy.json", report.dump(2) + "\n");
  fmt::print(stderr, "{}\n", energy::describe(run, metering.carbon));
  fmt::print(stderr, "wrote {} and {}\n", (output_dir / "emissions.csv").string(),
             (output_dir / "energy.json").string());
  command_exit_status() = exit_status;
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
