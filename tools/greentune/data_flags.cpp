#include "data_flags.hpp"

#include "greentune/core/error.hpp"
#include "greentune/data/data_options.hpp"
#include "greentune/data/fetch.hpp"
#include "numeric_flags.hpp"
#include "option_flags.hpp"

namespace greentune::cli {

data::DataSpec DataFlags::spec() const {
  if (given.path.empty()) {
    throw Error(ErrorCode::usage, "--data", "no dataset given",
                "pass --data with an aclImdb folder or .tar.gz, a .jsonl/.csv/.tsv file, or imdb");
  }
  data::DataSpec spec = given;
  spec.path = data::resolve_data_path(given.path.string());
  return spec;
}

void add_data_flags(CLI::App& command, DataFlags& flags) {
  add_table_options(command, data::data_spec_options(), flags.given);
  command.add_option("--validation-fraction", flags.split.validation_fraction, "Share of train held out")
      ->check(in_range(data::validation_fraction_range()))
      ->capture_default_str();
  command.add_option("--seed", flags.split.seed, "Seed of the validation split")
      ->check(in_range(whole_at_least(0)))
      ->capture_default_str();
  command.add_option("--cache-dir", flags.cache_dir,
                     "Directory of tokenized caches (default $GREENTUNE_DATA_DIR/cache)");
}

}  // namespace greentune::cli
