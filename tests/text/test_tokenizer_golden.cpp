// Golden files made with Hugging Face tokenizers (BertWordPieceTokenizer, bert-base-uncased vocab):
// every id and every piece must match.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "greentune/text/tokenizer.hpp"
#include "test_support.hpp"

namespace greentune::text {
namespace {

void expect_matches_golden(const std::filesystem::path& golden_path, const WordPieceTokenizer& tokenizer,
                           size_t minimum_cases) {
  std::ifstream golden(golden_path);
  ASSERT_TRUE(golden) << golden_path;
  std::string line;
  size_t cases = 0;
  while (std::getline(golden, line)) {
    const auto record = nlohmann::json::parse(line);
    const std::string text = record.at("text");
    const std::vector<int32_t> expected_ids = record.at("ids_512");
    const std::vector<std::string> expected_tokens = record.at("tokens_512");
    const size_t full_length = record.at("n_tokens_full");

    std::vector<int32_t> full;
    tokenizer.encode(text, full);
    EXPECT_EQ(full.size(), full_length) << record.at("source");
    const std::vector<int32_t> ids = tokenizer.encode(text, 512);
    EXPECT_EQ(ids, expected_ids) << record.at("source") << ": " << text.substr(0, 200);
    std::vector<std::string> tokens;
    for (int32_t id : ids)
      tokens.push_back(tokenizer.vocab().token(id));
    EXPECT_EQ(tokens, expected_tokens) << record.at("source");
    ++cases;
  }
  EXPECT_GE(cases, minimum_cases);
}

TEST(TokenizerGolden, TrickyCasesMatchHuggingFace) {
  GREENTUNE_REQUIRE_SHARED(shared);  // the real vocab stays in ../shared
  const auto tokenizer =
      WordPieceTokenizer::from_vocab_file(shared / "data/vocab/bert-base-uncased-vocab.txt");
  expect_matches_golden(testing::test_data_dir() / "text/tok_tricky.jsonl", tokenizer, 37);
}

TEST(TokenizerGolden, ImdbReviewsMatchHuggingFace) {
  GREENTUNE_REQUIRE_SHARED(shared);
  const auto golden = shared / "fixtures/tok_imdb_shared.jsonl";
  if (!std::filesystem::exists(golden))
    GTEST_SKIP() << golden << " not found";
  const auto tokenizer =
      WordPieceTokenizer::from_vocab_file(shared / "data/vocab/bert-base-uncased-vocab.txt");
  expect_matches_golden(golden, tokenizer, 400);
}

}  // namespace
}  // namespace greentune::text
