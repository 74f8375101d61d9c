#include "train_flags.hpp"

#include "option_flags.hpp"

namespace greentune::cli {

void add_train_options(CLI::App& command, TrainFlags& flags) {
  command
      .add_option("--config", flags.config,
                  "TOML file whose keys are these options' names (flags win over it)")
      ->check(CLI::ExistingFile);
  add_table_options(command, train::train_options(), flags.options);
}

}  // namespace greentune::cli
