#include "greentune/data/stats.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <numeric>
#include <span>

namespace greentune::data {

namespace {

// numpy.percentile's default ("linear"): position q * (n - 1) in the sorted values, interpolated.
double percentile(const std::vector<size_t>& sorted, double q) {
  const double position = q * static_cast<double>(sorted.size() - 1);
  const auto below = static_cast<size_t>(std::floor(position));
  const size_t above = std::min(below + 1, sorted.size() - 1);
  const double weight = position - static_cast<double>(below);
  return static_cast<double>(sorted[below]) +
         weight * (static_cast<double>(sorted[above]) - static_cast<double>(sorted[below]));
}

// One split's labels and lengths, before train is cut into train and validation.
struct SplitColumns {
  std::string name;
  std::span<const int32_t> labels;
  std::vector<size_t> lengths;
};

SplitStats summarize_rows(std::string name, const SplitColumns& columns, std::span<const size_t> rows,
                          size_t label_count, size_t limit) {
  SplitStats stats;
  stats.name = std::move(name);
  stats.examples = rows.size();
  stats.label_counts.assign(label_count, 0);
  std::vector<size_t> lengths;
  lengths.reserve(rows.size());
  for (size_t row : rows) {
    ++stats.label_counts[static_cast<size_t>(columns.labels[row])];
    lengths.push_back(columns.lengths[row]);
  }
  stats.lengths = summarize_lengths(std::move(lengths), limit);
  return stats;
}

DatasetStats summarize(std::vector<SplitColumns> splits, DatasetStats stats) {
  const size_t label_count = stats.label_names.size();
  const size_t limit = stats.options.max_length;
  for (const SplitColumns& columns : splits) {
    if (columns.name == "train") {
      const TrainValidationSplit held_out =
          split_train_validation(columns.labels.size(), stats.options.split);
      stats.splits.push_back(summarize_rows("train", columns, held_out.train, label_count, limit));
      if (!held_out.validation.empty()) {
        stats.splits.push_back(
            summarize_rows("validation", columns, held_out.validation, label_count, limit));
      }
    } else {
      std::vector<size_t> every_row(columns.labels.size());
      std::iota(every_row.begin(), every_row.end(), size_t{0});
      stats.splits.push_back(summarize_rows(columns.name, columns, every_row, label_count, limit));
    }
  }
  return stats;
}

std::string unit_title(const DatasetStats& stats) {
  return stats.unit == LengthUnit::tokens ? "token lengths (WordPiece, [CLS] and [SEP] included)"
                                          : "word counts (whitespace-separated)";
}

}  // namespace

LengthSummary summarize_lengths(std::vector<size_t> lengths, size_t limit) {
  LengthSummary summary;
  summary.count = lengths.size();
  if (lengths.empty()) {
    return summary;
  }
  std::sort(lengths.begin(), lengths.end());
  const double total = std::accumulate(lengths.begin(), lengths.end(), 0.0);
  summary.mean = total / static_cast<double>(lengths.size());
  summary.median = percentile(lengths, 0.5);
  summary.p90 = percentile(lengths, 0.9);
  summary.max = lengths.back();
  summary.over_limit =
      static_cast<size_t>(lengths.end() - std::upper_bound(lengths.begin(), lengths.end(), limit));
  summary.percent_over_limit =
      100.0 * static_cast<double>(summary.over_limit) / static_cast<double>(summary.count);
  return summary;
}

size_t count_words(std::string_view text) {
  size_t words = 0;
  bool in_word = false;
  for (char c : text) {
    const bool space = c == ' ' || (c >= '\t' && c <= '\r');
    words += (!space && !in_word) ? 1 : 0;
    in_word = !space;
  }
  return words;
}

DatasetStats word_stats(const RawDataset& dataset, const StatsOptions& options) {
  std::vector<SplitColumns> splits;
  for (const TextSplit& split : dataset.splits) {
    SplitColumns columns{split.name, split.labels, {}};
    columns.lengths.reserve(split.size());
    for (const std::string& text : split.texts) {
      columns.lengths.push_back(count_words(text));
    }
    splits.push_back(std::move(columns));
  }
  DatasetStats stats;
  stats.origin = dataset.origin;
  stats.format = dataset.format;
  stats.label_names = dataset.label_names;
  stats.unit = LengthUnit::words;
  stats.options = options;
  return summarize(std::move(splits), std::move(stats));
}

DatasetStats token_stats(const TokenizedDataset& dataset, const DataSpec& spec, const StatsOptions& options) {
  std::vector<SplitColumns> splits;
  for (const TokenizedSplit& split : dataset.splits()) {
    splits.push_back({split.name(), split.labels(), split.lengths()});
  }
  DatasetStats stats;
  stats.origin = spec.path.string();
  stats.format = resolve_format(spec);
  stats.label_names = dataset.label_names();
  stats.unit = LengthUnit::tokens;
  stats.options = options;
  return summarize(std::move(splits), std::move(stats));
}

std::string format_stats_table(const DatasetStats& stats) {
  std::string out = fmt::format("dataset     {} ({})\n", stats.origin, to_string(stats.format));
  out += fmt::format("labels      {}\n", fmt::join(stats.label_names, ", "));
  out += stats.options.split.validation_fraction > 0
             ? fmt::format("validation  {:g}% of train held out, seed {}\n",
                           100 * stats.options.split.validation_fraction, stats.options.split.seed)
             : std::string("validation  none (--validation-fraction 0)\n");

  // Each label column is as wide as its name, at least 9 characters.
  std::vector<size_t> widths;
  for (const std::string& name : stats.label_names) {
    widths.push_back(std::max<size_t>(name.size(), 9));
  }
  out += fmt::format("\n{:<12}{:>9}", "split", "examples");
  for (size_t label = 0; label < widths.size(); ++label) {
    out += fmt::format("  {:>{}}", stats.label_names[label], widths[label]);
  }
  out += '\n';
  for (const SplitStats& split : stats.splits) {
    out += fmt::format("{:<12}{:>9}", split.name, split.examples);
    for (size_t label = 0; label < widths.size(); ++label) {
      out += fmt::format("  {:>{}}", split.label_counts[label], widths[label]);
    }
    out += '\n';
  }

  const bool tokens = stats.unit == LengthUnit::tokens;
  out += fmt::format("\n{}\n{:<12}{:>9}{:>9}{:>9}{:>9}", unit_title(stats), "split", "mean", "median", "p90",
                     "max");
  out += tokens ? fmt::format("  {:>18}\n", fmt::format("over {}", stats.options.max_length)) : "\n";
  for (const SplitStats& split : stats.splits) {
    const LengthSummary& lengths = split.lengths;
    out += fmt::format("{:<12}{:>9.1f}{:>9.1f}{:>9.1f}{:>9}", split.name, lengths.mean, lengths.median,
                       lengths.p90, lengths.max);
    out += tokens ? fmt::format("  {:>18}\n",
                                fmt::format("{} ({:.1f}%)", lengths.over_limit, lengths.percent_over_limit))
                  : "\n";
  }
  if (!tokens) {
    out += "\npass --vocab FILE (a WordPiece vocab.txt) for token lengths\n";
  }
  return out;
}

std::string format_stats_json(const DatasetStats& stats) {
  const bool tokens = stats.unit == LengthUnit::tokens;
  nlohmann::json splits = nlohmann::json::array();
  for (const SplitStats& split : stats.splits) {
    nlohmann::json label_counts = nlohmann::json::object();
    for (size_t label = 0; label < stats.label_names.size(); ++label) {
      label_counts[stats.label_names[label]] = split.label_counts[label];
    }
    nlohmann::json lengths = {{"mean", split.lengths.mean},
                              {"median", split.lengths.median},
                              {"p90", split.lengths.p90},
                              {"max", split.lengths.max}};
    if (tokens) {
      lengths["over_max_length"] = split.lengths.over_limit;
      lengths["percent_over_max_length"] = split.lengths.percent_over_limit;
    }
    splits.push_back(
        {{"name", split.name}, {"examples", split.examples}, {"labels", label_counts}, {"lengths", lengths}});
  }
  nlohmann::json result = {{"dataset", stats.origin},
                           {"format", to_string(stats.format)},
                           {"labels", stats.label_names},
                           {"validation_fraction", stats.options.split.validation_fraction},
                           {"seed", stats.options.split.seed},
                           {"length_unit", tokens ? "tokens" : "words"},
                           {"splits", splits}};
  if (tokens) {
    result["max_length"] = stats.options.max_length;
  }
  // Paths need not be UTF-8; replace what is not instead of failing on it.
  return result.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace greentune::data
