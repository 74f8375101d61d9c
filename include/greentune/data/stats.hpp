#pragma once
// Dataset statistics as `greentune data stats` prints them: examples per split (train, validation held
// out of train, test) and per label, and the length distribution of each split: WordPiece tokens from a
// tokenized cache, or whitespace-separated words from the raw texts when no vocabulary is given.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "greentune/data/dataset.hpp"
#include "greentune/data/split.hpp"
#include "greentune/data/tokenized_cache.hpp"

namespace greentune::data {

// Distribution of per-example lengths. Median and p90 interpolate linearly between the two nearest
// ranks, as numpy.percentile does by default.
struct LengthSummary {
  size_t count = 0;
  double mean = 0;
  double median = 0;
  double p90 = 0;
  size_t max = 0;
  size_t over_limit = 0;          // lengths strictly greater than the limit
  double percent_over_limit = 0;  // 100 * over_limit / count
};

LengthSummary summarize_lengths(std::vector<size_t> lengths, size_t limit);

// Whitespace-separated words (ASCII space, \t, \n, \v, \f, \r).
size_t count_words(std::string_view text);

enum class LengthUnit {
  words,   // whitespace-separated words of the raw text
  tokens,  // full WordPiece encodings, [CLS] and [SEP] included
};

struct SplitStats {
  std::string name;  // "train", "validation" or "test"
  size_t examples = 0;
  std::vector<size_t> label_counts;  // per label id
  LengthSummary lengths;
};

struct StatsOptions {
  SplitOptions split;       // how validation is held out of train
  size_t max_length = 512;  // tokens; the limit of LengthSummary::over_limit in token statistics
};

struct DatasetStats {
  std::string origin;
  Format format = Format::automatic;
  std::vector<std::string> label_names;
  LengthUnit unit = LengthUnit::words;
  StatsOptions options;
  std::vector<SplitStats> splits;  // train, validation (when held out), test
};

// Word lengths from the raw texts.
DatasetStats word_stats(const RawDataset& dataset, const StatsOptions& options);
// Token lengths from a tokenized cache; origin and format describe its source.
DatasetStats token_stats(const TokenizedDataset& dataset, const DataSpec& spec, const StatsOptions& options);

// A human-readable table, ending in a newline.
std::string format_stats_table(const DatasetStats& stats);
// One JSON object, without a trailing newline.
std::string format_stats_json(const DatasetStats& stats);

}  // namespace greentune::data
