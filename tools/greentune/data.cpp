// `greentune data ...`: dataset commands.
#include "commands.hpp"

namespace greentune::cli {

void add_data_command(CLI::App& app) {
  CLI::App* data = app.add_subcommand("data", "Dataset commands: statistics and downloads");
  data->require_subcommand(1);
  add_data_stats_command(*data);
  add_data_fetch_command(*data);
}

}  // namespace greentune::cli
