// `greentune tokenize` end to end: the real program, files and pipes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "test_support.hpp"

namespace greentune::testing {
namespace {

using ::testing::HasSubstr;

TEST(TokenizeCli, MatchesTheGoldenFileThroughStdinAndStdout) {
  GREENTUNE_REQUIRE_SHARED(shared);
  const auto vocab = shared / "data/vocab/bert-base-uncased-vocab.txt";
  const auto golden = test_data_dir() / "text/tok_tricky.jsonl";
  for (const std::string threads : {"1", "2"}) {
    const CommandResult result = run_cli(
        "tokenize --vocab '" + vocab.string() + "' --show-tokens --threads " + threads, golden.string());
    ASSERT_EQ(result.exit_code, 0) << result.err;
    std::istringstream expected_lines(read_text(golden));
    std::istringstream actual_lines(result.out);
    std::string expected_line, actual_line;
    size_t lines = 0;
    while (std::getline(expected_lines, expected_line)) {
      ASSERT_TRUE(std::getline(actual_lines, actual_line)) << "output ended after " << lines << " lines";
      const auto expected = nlohmann::json::parse(expected_line);
      const auto actual = nlohmann::json::parse(actual_line);
      EXPECT_EQ(actual.at("ids"), expected.at("ids_512")) << expected.at("source");
      EXPECT_EQ(actual.at("tokens"), expected.at("tokens_512")) << expected.at("source");
      ++lines;
    }
    EXPECT_FALSE(std::getline(actual_lines, actual_line)) << "extra output line";
    EXPECT_EQ(lines, 37u);
  }
}

TEST(TokenizeCli, ModelDirectoryFilesAndMaxLength) {
  TempDir dir;
  write_text(dir / "vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\nmovie\nMovie\n");
  write_text(dir / "tokenizer_config.json", R"({"do_lower_case": false})");
  write_text(dir / "in.jsonl", "{\"text\": \"Movie the movie\"}\n");
  const CommandResult result =
      run_cli("tokenize --model '" + dir.path().string() + "' --max-length 3 --input '" +
              (dir / "in.jsonl").string() + "' --output '" + (dir / "out.jsonl").string() + "'");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(read_text(dir / "out.jsonl"), "{\"ids\": [2, 7, 3]}\n");
}

TEST(TokenizeCli, BadInputGivesOneClearErrorAndNoOutputFile) {
  TempDir dir;
  write_text(dir / "vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\n");
  write_text(dir / "bad.jsonl", "{\"text\": \"the\"}\n{\"text\": \"the\"\n");
  const CommandResult result =
      run_cli("tokenize --vocab '" + (dir / "vocab.txt").string() + "' --input '" +
              (dir / "bad.jsonl").string() + "' --output '" + (dir / "out.jsonl").string() + "'");
  EXPECT_EQ(result.exit_code, 5);  // ErrorCode::parse
  EXPECT_THAT(result.err, HasSubstr("bad.jsonl:2: line is not valid JSON"));
  EXPECT_FALSE(std::filesystem::exists(dir / "out.jsonl"));
  // Only the two inputs remain: no output and no temporary file.
  EXPECT_EQ(
      std::distance(std::filesystem::directory_iterator(dir.path()), std::filesystem::directory_iterator()),
      2);

  write_text(dir / "dup_vocab.txt", "[PAD]\n[UNK]\n[PAD]\n");
  const CommandResult duplicate =
      run_cli("tokenize --vocab '" + (dir / "dup_vocab.txt").string() + "'", "/dev/null");
  EXPECT_NE(duplicate.exit_code, 0);
  EXPECT_THAT(duplicate.err, HasSubstr("dup_vocab.txt:3: duplicate token '[PAD]'"));

  const CommandResult no_vocab = run_cli("tokenize", "/dev/null");
  EXPECT_EQ(no_vocab.exit_code, 2);
  EXPECT_THAT(no_vocab.err, HasSubstr("--vocab"));
}

}  // namespace
}  // namespace greentune::testing
