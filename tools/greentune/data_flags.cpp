#include "data_flags.hpp"

#include "greentune/core/error.hpp"
#include "greentune/data/fetch.hpp"
#include "numeric_flags.hpp"

namespace greentune::cli {

data::DataSpec DataFlags::spec() const {
  if (data.empty()) {
    throw Error(ErrorCode::usage, "--data", "no dataset given",
                "pass --data with an aclImdb folder or .tar.gz, a .jsonl/.csv/.tsv file, or imdb");
  }
  data::check_split_options(split());
  data::DataSpec spec;
  spec.format = data::parse_format(format);
  spec.text_column = text_column;
  spec.label_column = label_column;
  spec.label_names = labels;
  spec.path = data::resolve_data_path(data);
  return spec;
}

void add_data_flags(CLI::App& command, DataFlags& flags) {
  command.add_option(
      "--data", flags.data,
      "Dataset: an aclImdb folder or .tar.gz, a .jsonl/.json, .csv or .tsv file, or \"imdb\" for "
      "the downloaded IMDB archive (fetched when missing); required");
  command.add_option("--format", flags.format, "auto, imdb, jsonl, csv or tsv")->capture_default_str();
  command.add_option("--text-column", flags.text_column, "JSONL field or CSV/TSV column of the text")
      ->capture_default_str();
  command.add_option("--label-column", flags.label_column, "JSONL field or CSV/TSV column of the label")
      ->capture_default_str();
  command
      .add_option(
          "--labels", flags.labels,
          "Label names in id order, comma-separated (e.g. neg,pos); default: ints as they are, strings "
          "sorted")
      ->delimiter(',');
  command.add_option("--validation-fraction", flags.validation_fraction, "Share of train held out")
      ->check(at_least_below(0, 1))
      ->capture_default_str();
  command.add_option("--seed", flags.seed, "Seed of the validation split")
      ->check(whole_at_least(0))
      ->capture_default_str();
  command.add_option("--cache-dir", flags.cache_dir,
                     "Directory of tokenized caches (default $GREENTUNE_DATA_DIR/cache)");
}

}  // namespace greentune::cli
