// `greentune data stats` end to end: the real program on generated files, its exit codes and messages.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "test_support.hpp"

namespace greentune::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;

std::string quoted(const fs::path& path) {
  std::string shell_word = "'";
  return shell_word.append(path.string()).append("'");
}

// The last line of stderr: where the CLI reports its one error.
std::string last_line(const std::string& text) {
  std::string trimmed = text;
  while (!trimmed.empty() && trimmed.back() == '\n') {
    trimmed.pop_back();
  }
  return trimmed.substr(trimmed.rfind('\n') == std::string::npos ? 0 : trimmed.rfind('\n') + 1);
}

std::string twenty_reviews() {
  std::string jsonl;
  for (int i = 0; i < 20; ++i) {
    jsonl += "{\"text\": \"" + std::string(i % 4 == 0 ? "the movie was great" : "bad") + "\", \"label\": \"" +
             (i % 4 == 0 ? "pos" : "neg") + "\"}\n";
  }
  return jsonl;
}

TEST(DataStatsCli, JsonCountsPerSplitAndLabel) {
  TempDir dir;
  write_text(dir / "reviews.jsonl", twenty_reviews());
  const CommandResult result =
      run_cli("data stats --data " + quoted(dir / "reviews.jsonl") + " --validation-fraction 0.25 --json");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const nlohmann::json stats = nlohmann::json::parse(result.out);
  EXPECT_EQ(stats.at("labels"), nlohmann::json({"neg", "pos"}));
  EXPECT_EQ(stats.at("length_unit"), "words");
  ASSERT_EQ(stats.at("splits").size(), 2u);
  const nlohmann::json& train = stats.at("splits")[0];
  const nlohmann::json& validation = stats.at("splits")[1];
  EXPECT_EQ(train.at("name"), "train");
  EXPECT_EQ(train.at("examples"), 15);
  EXPECT_EQ(validation.at("name"), "validation");
  EXPECT_EQ(validation.at("examples"), 5);
  EXPECT_EQ(train.at("labels").at("pos").get<int>() + validation.at("labels").at("pos").get<int>(), 5);
  EXPECT_EQ(train.at("labels").at("neg").get<int>() + validation.at("labels").at("neg").get<int>(), 15);
  EXPECT_EQ(std::max(train.at("lengths").at("max").get<int>(), validation.at("lengths").at("max").get<int>()),
            4);
  EXPECT_THAT(result.err, HasSubstr("labels inferred from the data (sorted): neg, pos"));
}

TEST(DataStatsCli, CsvTableWithColumnsAndLabelNames) {
  TempDir dir;
  write_text(dir / "d.csv", "review,stars\n\"good, really\",1\nawful,0\n\"multi\nline\",1\n");
  const CommandResult result = run_cli("data stats --data " + quoted(dir / "d.csv") +
                                       " --text-column review --label-column stars --labels neg,pos "
                                       "--validation-fraction 0");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("labels      neg, pos"));
  EXPECT_THAT(result.out, HasSubstr("validation  none"));
  EXPECT_THAT(result.out, MatchesRegex("(.|\n)*\ntrain +3 +1 +2\n(.|\n)*"));
  EXPECT_THAT(result.out, HasSubstr("pass --vocab"));
}

TEST(DataStatsCli, VocabGivesTokenLengthsAndTheSecondRunReadsTheCache) {
  TempDir dir;
  write_text(dir / "reviews.jsonl", twenty_reviews());
  write_text(dir / "vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\nmovie\nwas\ngreat\nbad\n");
  const std::string command = "data stats --data " + quoted(dir / "reviews.jsonl") + " --vocab " +
                              quoted(dir / "vocab.txt") + " --cache-dir " + quoted(dir / "cache") +
                              " --max-length 5 --validation-fraction 0 --json";
  const CommandResult first = run_cli(command);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_THAT(first.err, HasSubstr("tokenizing"));
  const CommandResult second = run_cli(command);
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_THAT(second.err, HasSubstr("read the tokenized cache"));
  EXPECT_EQ(first.out, second.out);

  const nlohmann::json stats = nlohmann::json::parse(second.out);
  EXPECT_EQ(stats.at("length_unit"), "tokens");
  EXPECT_EQ(stats.at("max_length"), 5);
  const nlohmann::json& lengths = stats.at("splits")[0].at("lengths");
  // 5 reviews of [CLS] the movie was great [SEP] (6 tokens), 15 of [CLS] bad [SEP] (3).
  EXPECT_EQ(lengths.at("max"), 6);
  EXPECT_DOUBLE_EQ(lengths.at("mean").get<double>(), (5 * 6 + 15 * 3) / 20.0);
  EXPECT_EQ(lengths.at("over_max_length"), 5);
  EXPECT_DOUBLE_EQ(lengths.at("percent_over_max_length").get<double>(), 25.0);
}

TEST(DataStatsCli, ImdbFolder) {
  TempDir dir;
  for (const std::string path : {"aclImdb/train/neg/0_1.txt", "aclImdb/train/neg/1_2.txt",
                                 "aclImdb/train/pos/0_9.txt", "aclImdb/test/pos/5_8.txt"}) {
    fs::create_directories((dir / path).parent_path());
    write_text(dir / path, "a short review");
  }
  const CommandResult result =
      run_cli("data stats --data " + quoted(dir.path()) + " --validation-fraction 0 --json");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const nlohmann::json stats = nlohmann::json::parse(result.out);
  EXPECT_EQ(stats.at("format"), "imdb");
  EXPECT_EQ(stats.at("splits")[0].at("labels"), nlohmann::json({{"neg", 2}, {"pos", 1}}));
  EXPECT_EQ(stats.at("splits")[1].at("name"), "test");
  EXPECT_EQ(stats.at("splits")[1].at("labels"), nlohmann::json({{"neg", 0}, {"pos", 1}}));
}

TEST(DataStatsCli, ErrorsAreOneLineWithFileLineAndFix) {
  TempDir dir;
  write_text(dir / "bad.jsonl", "{\"text\": \"ok\", \"label\": 0}\n{\"text\": \"broken\", \"label\": \n");
  write_text(dir / "quote.csv", "text,label\nfine,0\n\"open,1\nmore,0\n");
  write_text(dir / "columns.csv", "review,sentiment\ngood,pos\n");
  write_text(dir / "labels.jsonl", "{\"text\": \"ok\", \"label\": \"neutral\"}\n");
  write_text(dir / "broken.tar.gz", "not a gzip stream");
  struct Case {
    std::string arguments;
    int exit_code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"--data " + quoted(dir / "absent.jsonl"), 3,
       (dir / "absent.jsonl").string() + ": no such file or directory"},
      {"--data " + quoted(dir / "bad.jsonl"), 5,
       (dir / "bad.jsonl").string() + ":2: the line is not valid JSON"},
      {"--data " + quoted(dir / "quote.csv"), 5,
       (dir / "quote.csv").string() + ":3: a quoted field opened on this line is never closed"},
      {"--data " + quoted(dir / "columns.csv"), 6,
       "no column \"text\" in the header; the columns are: review, sentiment"},
      {"--data " + quoted(dir / "labels.jsonl") + " --labels neg,pos", 6,
       (dir / "labels.jsonl").string() + ":1: label \"neutral\" is not one of the given labels: neg, pos"},
      {"--data " + quoted(dir / "broken.tar.gz"), 5, "greentune data fetch imdb --force"},
      {"--data " + quoted(dir / "bad.jsonl") + " --validation-fraction 1", 2,
       "--validation-fraction: must be a number of at least 0 and below 1, got 1"},
      {"--data " + quoted(dir / "bad.jsonl") + " --format parquet", 2, "unknown dataset format \"parquet\""},
  };
  for (const Case& bad : cases) {
    SCOPED_TRACE(bad.arguments);
    const CommandResult result = run_cli("data stats " + bad.arguments);
    EXPECT_EQ(result.exit_code, bad.exit_code) << result.err;
    const std::string line = last_line(result.err);
    EXPECT_THAT(line, ::testing::StartsWith("greentune: error ["));
    EXPECT_THAT(line, HasSubstr(bad.message));
    EXPECT_THAT(line, HasSubstr("(fix: "));
    EXPECT_TRUE(result.out.empty()) << result.out;
  }
  const CommandResult no_data = run_cli("data stats");
  EXPECT_EQ(no_data.exit_code, 2);  // ErrorCode::usage
  EXPECT_THAT(no_data.err, HasSubstr("--data: no dataset given"));
}

TEST(DataStatsCli, RealImdbArchive) {
  GREENTUNE_REQUIRE_SHARED(shared);
  const CommandResult result =
      run_cli("data stats --data " + quoted(shared / "data/imdb/aclImdb_v1_labeled.tar.gz") +
              " --validation-fraction 0 --json");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const nlohmann::json stats = nlohmann::json::parse(result.out);
  ASSERT_EQ(stats.at("splits").size(), 2u);
  for (const nlohmann::json& split : stats.at("splits")) {
    EXPECT_EQ(split.at("examples"), 25000);
    EXPECT_EQ(split.at("labels"), nlohmann::json({{"neg", 12500}, {"pos", 12500}}));
  }
}

}  // namespace
}  // namespace greentune::testing
