// `greentune data stats`: examples per split and label, and text lengths (WordPiece tokens with a
// vocabulary, read from the tokenized cache; whitespace words without one).
#include <fmt/core.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"
#include "greentune/core/error.hpp"
#include "greentune/core/log.hpp"
#include "greentune/data/dataset.hpp"
#include "greentune/data/fetch.hpp"
#include "greentune/data/stats.hpp"
#include "greentune/data/tokenized_cache.hpp"
#include "tokenizer_flags.hpp"

namespace greentune::cli {

namespace {

struct DataStatsFlags {
  std::string data;
  TokenizerFlags tokenizer;
  std::string format = "auto";
  std::string text_column = "text";
  std::string label_column = "label";
  std::vector<std::string> labels;
  double validation_fraction = 0.1;
  uint64_t seed = 42;
  std::string cache_dir;
  size_t max_length = 512;
  unsigned threads = 0;
  bool json = false;
};

void run_data_stats(const DataStatsFlags& flags) {
  data::StatsOptions options;
  options.split = {flags.validation_fraction, flags.seed};
  options.max_length = flags.max_length;
  data::check_split_options(options.split);

  data::DataSpec spec;
  spec.format = data::parse_format(flags.format);
  spec.text_column = flags.text_column;
  spec.label_column = flags.label_column;
  spec.label_names = flags.labels;
  spec.path = data::resolve_data_path(flags.data);

  data::DatasetStats stats;
  if (!flags.tokenizer.given()) {
    stats = data::word_stats(data::load_dataset(spec), options);
  } else {
    const text::WordPieceTokenizer tokenizer = flags.tokenizer.load();
    data::CacheReport report;
    const data::TokenizedDataset tokenized =
        data::TokenizedDataset::open_or_build(spec, tokenizer, {flags.cache_dir, flags.threads}, &report);
    if (!report.built) {
      log::info(fmt::format("read the tokenized cache {} ({:.2f} s)", report.path.string(), report.seconds));
    }
    stats = data::token_stats(tokenized, spec, options);
  }
  if (flags.json) {
    fmt::print("{}\n", data::format_stats_json(stats));
  } else {
    fmt::print("{}", data::format_stats_table(stats));
  }
}

}  // namespace

void add_data_stats_command(CLI::App& data) {
  auto flags = std::make_shared<DataStatsFlags>();
  CLI::App* command = data.add_subcommand(
      "stats",
      "Count examples per split (train, validation held out of train, test) and per label, and measure text "
      "lengths: WordPiece tokens with --vocab or --model (cached tokenization), whitespace words without");
  command
      ->add_option(
          "--data", flags->data,
          "Dataset: an aclImdb folder or .tar.gz, a .jsonl/.json, .csv or .tsv file, or \"imdb\" for "
          "the downloaded IMDB archive (fetched when missing)")
      ->required();
  add_tokenizer_flags(*command, flags->tokenizer, "WordPiece vocab.txt: report token lengths");
  command->add_option("--format", flags->format, "auto, imdb, jsonl, csv or tsv")->capture_default_str();
  command->add_option("--text-column", flags->text_column, "JSONL field or CSV/TSV column of the text")
      ->capture_default_str();
  command->add_option("--label-column", flags->label_column, "JSONL field or CSV/TSV column of the label")
      ->capture_default_str();
  command
      ->add_option("--labels", flags->labels,
                   "Label names in id order, comma-separated (e.g. neg,pos); default: ints as they are, "
                   "strings sorted")
      ->delimiter(',');
  command
      ->add_option("--validation-fraction", flags->validation_fraction, "Share of train held out, in [0, 1)")
      ->capture_default_str();
  command->add_option("--seed", flags->seed, "Seed of the validation split")->capture_default_str();
  command->add_option("--cache-dir", flags->cache_dir,
                      "Directory of tokenized caches (default $GREENTUNE_DATA_DIR/cache)");
  command->add_option("--max-length", flags->max_length, "Token limit whose overflow is reported")
      ->check(CLI::Range(size_t{2}, size_t{1} << 20))
      ->capture_default_str();
  command->add_option("--threads", flags->threads, "Tokenizer threads when building the cache (0: all cores)")
      ->check(CLI::Range(0u, 1024u))
      ->capture_default_str();
  command->add_flag("--json", flags->json, "Print one JSON object instead of tables");
  command->callback([flags] { run_data_stats(*flags); });
}

}  // namespace greentune::cli
