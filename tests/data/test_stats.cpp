// Dataset statistics: length summaries, per split and label counts, the table and the JSON.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "data_test_support.hpp"
#include "greentune/data/stats.hpp"
#include "test_support.hpp"

namespace greentune::testing {
namespace {

using data::LengthSummary;
using data::RawDataset;
using data::summarize_lengths;
using ::testing::DoubleEq;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(LengthSummary, MatchesNumpyLinearPercentiles) {
  // numpy: mean 22, median 3, percentile(90) 61.6 for [1, 2, 3, 4, 100].
  const LengthSummary odd = summarize_lengths({100, 3, 1, 4, 2}, 3);
  EXPECT_EQ(odd.count, 5u);
  EXPECT_DOUBLE_EQ(odd.mean, 22.0);
  EXPECT_DOUBLE_EQ(odd.median, 3.0);
  EXPECT_DOUBLE_EQ(odd.p90, 61.6);
  EXPECT_EQ(odd.max, 100u);
  EXPECT_EQ(odd.over_limit, 2u);  // 4 and 100; 3 itself fits
  EXPECT_DOUBLE_EQ(odd.percent_over_limit, 40.0);

  const LengthSummary even = summarize_lengths({4, 1, 3, 2}, 10);
  EXPECT_DOUBLE_EQ(even.median, 2.5);
  EXPECT_DOUBLE_EQ(even.p90, 3.7);
  EXPECT_EQ(even.over_limit, 0u);

  const LengthSummary single = summarize_lengths({7}, 5);
  EXPECT_DOUBLE_EQ(single.median, 7.0);
  EXPECT_DOUBLE_EQ(single.p90, 7.0);
  EXPECT_DOUBLE_EQ(single.percent_over_limit, 100.0);

  const LengthSummary empty = summarize_lengths({}, 5);
  EXPECT_EQ(empty.count, 0u);
  EXPECT_EQ(empty.max, 0u);
}

TEST(CountWords, SplitsOnAnyAsciiWhitespace) {
  EXPECT_EQ(data::count_words(""), 0u);
  EXPECT_EQ(data::count_words("   \n"), 0u);
  EXPECT_EQ(data::count_words("one"), 1u);
  EXPECT_EQ(data::count_words("  a b\tc\r\n\nd  e\vf\fg "), 7u);
  EXPECT_EQ(data::count_words("don't stop-me now!"), 3u);
}

// Ten train examples of 1..10 words, labels 0,1,0,1,...; a test split of 3.
RawDataset ten_and_three() {
  RawDataset dataset;
  data::TextSplit train{"train", {}, {}};
  for (int i = 0; i < 10; ++i) {
    std::string text;
    for (int word = 0; word <= i; ++word) {
      text += "w ";
    }
    train.texts.push_back(text);
    train.labels.push_back(i % 2);
  }
  dataset.splits.push_back(train);
  dataset.splits.push_back({"test", {"a", "b c", "d e f g"}, {1, 1, 0}});
  dataset.label_names = {"neg", "pos"};
  dataset.origin = "memory.jsonl";
  dataset.format = data::Format::jsonl;
  return dataset;
}

TEST(WordStats, CountsFollowTheValidationSplit) {
  data::StatsOptions options;
  options.split = {0.2, 42};
  const data::DatasetStats stats = data::word_stats(ten_and_three(), options);
  ASSERT_EQ(stats.splits.size(), 3u);
  EXPECT_EQ(stats.unit, data::LengthUnit::words);

  const auto held_out = data::split_train_validation(10, options.split);
  ASSERT_EQ(held_out.validation.size(), 2u);
  std::vector<size_t> validation_counts(2, 0);
  double validation_words = 0;
  for (size_t i : held_out.validation) {
    ++validation_counts[i % 2];
    validation_words += static_cast<double>(i + 1);
  }
  const data::SplitStats& train = stats.splits[0];
  const data::SplitStats& validation = stats.splits[1];
  const data::SplitStats& test = stats.splits[2];
  EXPECT_EQ(train.name, "train");
  EXPECT_EQ(train.examples, 8u);
  EXPECT_EQ(train.label_counts[0] + validation.label_counts[0], 5u);
  EXPECT_EQ(train.label_counts[1] + validation.label_counts[1], 5u);
  EXPECT_EQ(validation.name, "validation");
  EXPECT_EQ(validation.examples, 2u);
  EXPECT_EQ(validation.label_counts, validation_counts);
  EXPECT_DOUBLE_EQ(validation.lengths.mean, validation_words / 2);
  EXPECT_DOUBLE_EQ(train.lengths.mean, (55 - validation_words) / 8);
  EXPECT_EQ(test.name, "test");
  EXPECT_EQ(test.examples, 3u);
  EXPECT_THAT(test.label_counts, ElementsAre(1, 2));
  EXPECT_DOUBLE_EQ(test.lengths.mean, 7.0 / 3);
  EXPECT_DOUBLE_EQ(test.lengths.median, 2.0);
  EXPECT_EQ(test.lengths.max, 4u);

  options.split.validation_fraction = 0;
  const data::DatasetStats no_validation = data::word_stats(ten_and_three(), options);
  ASSERT_EQ(no_validation.splits.size(), 2u);
  EXPECT_EQ(no_validation.splits[0].examples, 10u);
  EXPECT_EQ(no_validation.splits[1].name, "test");
}

TEST(StatsOutput, TableShowsEveryCount) {
  const data::DatasetStats stats = data::word_stats(ten_and_three(), {});
  const std::string table = data::format_stats_table(stats);
  EXPECT_THAT(table, HasSubstr("dataset     memory.jsonl (jsonl)"));
  EXPECT_THAT(table, HasSubstr("labels      neg, pos"));
  EXPECT_THAT(table, HasSubstr("validation  10% of train held out, seed 42"));
  EXPECT_THAT(table, HasSubstr("test                3          1          2"));
  EXPECT_THAT(table, HasSubstr("word counts (whitespace-separated)"));
  EXPECT_THAT(table, HasSubstr("test              2.3      2.0      3.6        4"));
  EXPECT_THAT(table, HasSubstr("pass --vocab"));
  EXPECT_THAT(table, ::testing::Not(HasSubstr("over 512")));
}

TEST(StatsOutput, JsonHasTheSameNumbers) {
  const data::DatasetStats stats = data::word_stats(ten_and_three(), {});
  const nlohmann::json json = nlohmann::json::parse(data::format_stats_json(stats));
  EXPECT_EQ(json.at("dataset"), "memory.jsonl");
  EXPECT_EQ(json.at("format"), "jsonl");
  EXPECT_EQ(json.at("labels"), nlohmann::json({"neg", "pos"}));
  EXPECT_EQ(json.at("length_unit"), "words");
  EXPECT_FALSE(json.contains("max_length"));
  EXPECT_EQ(json.at("seed"), 42);
  ASSERT_EQ(json.at("splits").size(), 3u);
  const nlohmann::json& test = json.at("splits")[2];
  EXPECT_EQ(test.at("name"), "test");
  EXPECT_EQ(test.at("examples"), 3);
  EXPECT_EQ(test.at("labels"), nlohmann::json({{"neg", 1}, {"pos", 2}}));
  EXPECT_DOUBLE_EQ(test.at("lengths").at("p90").get<double>(), 3.6);
  EXPECT_EQ(test.at("lengths").at("max"), 4);
}

TEST(TokenStats, LengthsComeFromTheCacheIncludingClsAndSep) {
  TempDir dir;
  write_text(dir / "d.jsonl",
             "{\"text\": \"the movie\", \"label\": 0}\n{\"text\": \"the the the the\", \"label\": 1}\n"
             "{\"text\": \"movie\", \"label\": 1}\n");
  data::DataSpec spec;
  spec.path = dir / "d.jsonl";
  const text::WordPieceTokenizer tokenizer(
      text::Vocab::from_tokens({"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "movie"}));
  const data::TokenizedDataset tokenized =
      data::TokenizedDataset::open_or_build(spec, tokenizer, {dir / "cache", 1});
  data::StatsOptions options;
  options.split.validation_fraction = 0;
  options.max_length = 4;
  const data::DatasetStats stats = data::token_stats(tokenized, spec, options);
  EXPECT_EQ(stats.unit, data::LengthUnit::tokens);
  EXPECT_EQ(stats.format, data::Format::jsonl);
  ASSERT_EQ(stats.splits.size(), 1u);
  const LengthSummary& lengths = stats.splits[0].lengths;  // 4, 6, 3
  EXPECT_DOUBLE_EQ(lengths.mean, 13.0 / 3);
  EXPECT_DOUBLE_EQ(lengths.median, 4.0);
  EXPECT_EQ(lengths.max, 6u);
  EXPECT_EQ(lengths.over_limit, 1u);
  EXPECT_THAT(stats.splits[0].label_counts, ElementsAre(1, 2));

  const std::string table = data::format_stats_table(stats);
  EXPECT_THAT(table, HasSubstr("token lengths (WordPiece, [CLS] and [SEP] included)"));
  EXPECT_THAT(table, HasSubstr("over 4"));
  EXPECT_THAT(table, HasSubstr("1 (33.3%)"));
  EXPECT_THAT(table, HasSubstr("validation  none"));
  const nlohmann::json json = nlohmann::json::parse(data::format_stats_json(stats));
  EXPECT_EQ(json.at("max_length"), 4);
  EXPECT_EQ(json.at("splits")[0].at("lengths").at("over_max_length"), 1);
}

}  // namespace
}  // namespace greentune::testing
