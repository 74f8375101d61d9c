#include "train_flags.hpp"

#include "option_flags.hpp"

namespace greentune::cli {

void add_train_options(CLI::App& command, TrainFlags& flags) {
  command
      .add_option("--config", flags.config,
                  "TOML file whose keys are these options' names (flags win over it)")
      ->check(CLI::ExistingFile);
  command.add_flag("--dry-run", flags.dry_run,
                   "Check the options and print the run's configuration (JSON, as config.json holds it) "
                   "without training");
  add_table_options(command, train::train_options(), flags.options);
}

}  // namespace greentune::cli
