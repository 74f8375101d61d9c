// `greentune data stats`: examples per split and label, and text lengths (WordPiece tokens with a
// vocabulary, read from the tokenized cache; whitespace words without one).
#include <fmt/core.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"
#include "data_flags.hpp"
#include "greentune/core/error.hpp"
#include "greentune/core/log.hpp"
#include "greentune/data/dataset.hpp"
#include "greentune/data/stats.hpp"
#include "greentune/data/tokenized_cache.hpp"
#include "numeric_flags.hpp"
#include "tokenizer_flags.hpp"

namespace greentune::cli {

namespace {

struct DataStatsFlags {
  DataFlags data;
  TokenizerFlags tokenizer;
  size_t max_length = 512;
  bool json = false;
};

void run_data_stats(const DataStatsFlags& flags) {
  data::StatsOptions options;
  options.split = flags.data.split;
  options.max_length = flags.max_length;
  const data::DataSpec spec = flags.data.spec();

  data::DatasetStats stats;
  if (!flags.tokenizer.given()) {
    stats = data::word_stats(data::load_dataset(spec), options);
  } else {
    const text::WordPieceTokenizer tokenizer = flags.tokenizer.load();
    data::CacheReport report;
    const data::TokenizedDataset tokenized = data::TokenizedDataset::open_or_build(
        spec, tokenizer, {flags.data.cache_dir, flags.data.threads}, &report);
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
  add_data_flags(*command, flags->data);
  add_tokenizer_flags(*command, flags->tokenizer, "WordPiece vocab.txt: report token lengths");
  command->add_option("--max-length", flags->max_length, "Token limit whose overflow is reported")
      ->check(in_range(whole_from_to(2, 1 << 20)))
      ->capture_default_str();
  command
      ->add_option("--threads", flags->data.threads,
                   "Tokenizer threads when building the cache (0: all cores)")
      ->check(in_range(whole_from_to(0, 1024)))
      ->capture_default_str();
  command->add_flag("--json", flags->json, "Print one JSON object instead of tables");
  command->callback([flags] { run_data_stats(*flags); });
}

}  // namespace greentune::cli
