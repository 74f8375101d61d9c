#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

#include "greentune/core/error.hpp"
#include "greentune/text/jsonl_tokenize.hpp"
#include "greentune/text/tokenizer.hpp"
#include "test_support.hpp"

namespace greentune::text {
namespace {

using ::testing::HasSubstr;

// ids: [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4 then the words below.
Vocab tiny_vocab() {
  return Vocab::from_tokens({"[PAD]", "[UNK]",    "[CLS]",  "[SEP]", "[MASK]", "the", "movie", "was", "great",
                             "un",    "##believ", "##able", "!",     ".",      ",",   "'",     "s",   "t",
                             "don",   "cafe",     "Cafe",   "##s",   "é",      "e",   "?",     "a"},
                            "tiny-vocab");
}

std::vector<int32_t> ids_of(const WordPieceTokenizer& tokenizer, std::string_view text) {
  std::vector<int32_t> ids;
  tokenizer.encode(text, ids);
  return ids;
}

TEST(Vocab, LoadsOneTokenPerLineWithIdsAsLineNumbers) {
  testing::TempDir dir;
  testing::write_text(dir / "vocab.txt", "[PAD]\n[UNK]\r\nhello\n");
  const Vocab vocab = Vocab::load(dir / "vocab.txt");
  EXPECT_EQ(vocab.size(), 3u);
  EXPECT_EQ(vocab.find("hello"), 2);
  EXPECT_EQ(vocab.find("[UNK]"), 1);
  EXPECT_EQ(vocab.find("absent"), Vocab::npos);
  EXPECT_EQ(vocab.token(2), "hello");
  EXPECT_THROW(vocab.token(3), Error);
}

TEST(Vocab, RejectsEmptyDuplicateBlankAndMissingFiles) {
  testing::TempDir dir;
  testing::write_text(dir / "empty.txt", "");
  testing::write_text(dir / "dup.txt", "a\nb\na\n");
  testing::write_text(dir / "blank.txt", "a\n\nb\n");
  try {
    Vocab::load(dir / "empty.txt");
    FAIL() << "empty vocab accepted";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::parse);
    EXPECT_THAT(error.what(), HasSubstr("empty"));
  }
  try {
    Vocab::load(dir / "dup.txt");
    FAIL() << "duplicate accepted";
  } catch (const Error& error) {
    EXPECT_THAT(error.what(), HasSubstr("dup.txt:3"));
    EXPECT_THAT(error.what(), HasSubstr("first on line 1"));
  }
  try {
    Vocab::load(dir / "blank.txt");
    FAIL() << "blank line accepted";
  } catch (const Error& error) {
    EXPECT_THAT(error.what(), HasSubstr("blank.txt:2"));
  }
  try {
    Vocab::load(dir / "missing.txt");
    FAIL() << "missing file accepted";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::not_found);
  }
}

TEST(Tokenizer, RequiresTheSpecialTokens) {
  try {
    WordPieceTokenizer(Vocab::from_tokens({"[PAD]", "[UNK]", "[CLS]", "hello"}, "v.txt"));
    FAIL() << "vocab without [SEP] accepted";
  } catch (const Error& error) {
    EXPECT_THAT(error.what(), HasSubstr("[SEP]"));
  }
}

TEST(Tokenizer, GreedyLongestMatchWithContinuations) {
  const WordPieceTokenizer tokenizer(tiny_vocab());
  EXPECT_EQ(ids_of(tokenizer, "The movie was unbelievable!"),
            (std::vector<int32_t>{2, 5, 6, 7, 9, 10, 11, 12, 3}));
  // One unmatched remainder makes the whole word [UNK].
  EXPECT_EQ(ids_of(tokenizer, "unbelievx"), (std::vector<int32_t>{2, 1, 3}));
}

TEST(Tokenizer, SpecialTokensInTextKeepTheirIds) {
  const WordPieceTokenizer tokenizer(tiny_vocab());
  EXPECT_EQ(ids_of(tokenizer, "the[SEP]movie [MASK]"), (std::vector<int32_t>{2, 5, 3, 6, 4, 3}));
  // Matching is case-sensitive, as in Hugging Face: "[sep]" is punctuation and a word.
  EXPECT_EQ(ids_of(tokenizer, "[sep]"), (std::vector<int32_t>{2, 1, 1, 1, 3}));
}

TEST(Tokenizer, UncasedStripsAccentsCasedKeepsThem) {
  const WordPieceTokenizer uncased(tiny_vocab());
  EXPECT_EQ(ids_of(uncased, "Café"), (std::vector<int32_t>{2, 19, 3}));
  const WordPieceTokenizer cased(tiny_vocab(), TokenizerOptions::cased());
  EXPECT_EQ(ids_of(cased, "Cafes"), (std::vector<int32_t>{2, 20, 21, 3}));
  EXPECT_EQ(ids_of(cased, "é"), (std::vector<int32_t>{2, 22, 3}));
  EXPECT_EQ(ids_of(uncased, "é"), (std::vector<int32_t>{2, 23, 3}));
}

TEST(Tokenizer, OverlongWordsBecomeUnknown) {
  const WordPieceTokenizer tokenizer(tiny_vocab());
  EXPECT_EQ(ids_of(tokenizer, std::string(100, 'a')), (std::vector<int32_t>{2, 1, 3}));  // no such piece
  TokenizerOptions options;
  options.max_input_chars_per_word = 3;
  const WordPieceTokenizer short_words(tiny_vocab(), options);
  EXPECT_EQ(ids_of(short_words, "the movie"), (std::vector<int32_t>{2, 5, 1, 3}));
}

TEST(Tokenizer, InvalidUtf8IsDroppedAndCounted) {
  const WordPieceTokenizer tokenizer(tiny_vocab());
  std::vector<int32_t> ids;
  EncodeStats stats;
  tokenizer.encode("the\xff movie\xe2\x82 was", ids, &stats);
  EXPECT_EQ(ids, (std::vector<int32_t>{2, 5, 6, 7, 3}));
  EXPECT_EQ(stats.invalid_utf8_sequences, 2u);
}

TEST(Tokenizer, TruncationKeepsFirstPiecesAndSep) {
  const WordPieceTokenizer tokenizer(tiny_vocab());
  EXPECT_EQ(tokenizer.encode("the movie was great", 4), (std::vector<int32_t>{2, 5, 6, 3}));
  EXPECT_EQ(tokenizer.encode("the movie", 512), (std::vector<int32_t>{2, 5, 6, 3}));
  EXPECT_EQ(tokenizer.encode("the movie", 2), (std::vector<int32_t>{2, 3}));
}

TEST(Tokenizer, DecodeJoinsPiecesLikeHuggingFace) {
  const WordPieceTokenizer tokenizer(tiny_vocab());
  const auto ids = ids_of(tokenizer, "The movie was unbelievable, don't!");
  EXPECT_EQ(tokenizer.decode(ids), "the movie was unbelievable, don't!");
  EXPECT_EQ(tokenizer.decode(ids, /*skip_special_tokens=*/false),
            "[CLS] the movie was unbelievable, don't! [SEP]");
}

TEST(Tokenizer, ModelDirectoryReadsLowercaseSetting) {
  testing::TempDir dir;
  std::string vocab_text;
  for (const char* token : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "Movie", "movie"}) {
    vocab_text += std::string(token) + "\n";
  }
  testing::write_text(dir / "vocab.txt", vocab_text);
  EXPECT_EQ(ids_of(WordPieceTokenizer::from_model_dir(dir.path()), "Movie"), (std::vector<int32_t>{2, 6, 3}));
  testing::write_text(dir / "tokenizer_config.json", R"({"do_lower_case": false, "strip_accents": null})");
  const auto cased = WordPieceTokenizer::from_model_dir(dir.path());
  EXPECT_FALSE(cased.options().lowercase);
  EXPECT_FALSE(cased.options().strip_accents);
  EXPECT_EQ(ids_of(cased, "Movie"), (std::vector<int32_t>{2, 5, 3}));
  testing::write_text(dir / "tokenizer_config.json", R"({"do_lower_case": "yes"})");
  try {
    WordPieceTokenizer::from_model_dir(dir.path());
    FAIL() << "non-boolean do_lower_case accepted";
  } catch (const Error& error) {
    EXPECT_THAT(error.what(), HasSubstr("do_lower_case"));
  }
  // A hub's tokenizer_config.json is untrusted: what is wrong with it is said, nesting is bounded.
  const auto error_for = [&](const std::string& config) {
    testing::write_text(dir / "tokenizer_config.json", config);
    return testing::error_of([&] { WordPieceTokenizer::from_model_dir(dir.path()); });
  };
  EXPECT_THAT(
      error_for(R"({"model_max_length": 1e999})").what(),
      HasSubstr("tokenizer_config.json: the file is not valid JSON: number overflow parsing '1e999'"));
  EXPECT_THAT(error_for("{\"added_tokens_decoder\": " + std::string(100000, '[')).what(),
              HasSubstr("tokenizer_config.json: the file nests arrays and objects deeper than 64 levels"));
  EXPECT_THAT(error_for("[true]").what(), HasSubstr("tokenizer_config.json: is not a JSON object"));
}

TEST(SanitizeUtf8, ReplacesEachMaximalInvalidSubpart) {
  std::string valid = "caf\xc3\xa9 \xf0\x9f\x98\x8d";
  EXPECT_EQ(sanitize_utf8(valid), 0u);
  EXPECT_EQ(valid, "caf\xc3\xa9 \xf0\x9f\x98\x8d");

  std::string broken =
      "a\xc3"           // truncated 2-byte sequence
      "b\xed\xa0\x80"   // surrogate: three invalid bytes (E D, A0 out of range, 80)
      "c\xc0\xaf"       // overlong: two invalid bytes
      "d\xf0\x9f\x98";  // truncated 4-byte sequence at the end: one subpart
  EXPECT_EQ(sanitize_utf8(broken), 1u + 3u + 2u + 1u);
  const std::string fffd = "\xef\xbf\xbd";
  EXPECT_EQ(broken, "a" + fffd + "b" + fffd + fffd + fffd + "c" + fffd + fffd + "d" + fffd);
}

TEST(JsonlTokenize, WritesIdsAndTokensInInputOrder) {
  const WordPieceTokenizer tokenizer(tiny_vocab());
  std::string output;
  JsonlTokenizeOptions options;
  options.show_tokens = true;
  const auto report = tokenize_jsonl(
      tokenizer, "{\"text\": \"The movie\"}\n\n{\"text\": \"great!\", \"label\": 1}\n", output, options);
  EXPECT_EQ(report.lines, 2u);
  EXPECT_EQ(output,
            "{\"ids\": [2, 5, 6, 3], \"tokens\": [\"[CLS]\", \"the\", \"movie\", \"[SEP]\"]}\n"
            "{\"ids\": [2, 8, 12, 3], \"tokens\": [\"[CLS]\", \"great\", \"!\", \"[SEP]\"]}\n");
}

TEST(JsonlTokenize, ThreadsGiveTheSameOutput) {
  const WordPieceTokenizer tokenizer(tiny_vocab());
  std::string input;
  for (int i = 0; i < 500; ++i) {
    input +=
        "{\"text\": \"the movie " + std::string(i % 7, 'a') + " was great " + std::to_string(i) + "\"}\n";
  }
  std::string single, parallel;
  JsonlTokenizeOptions options;
  tokenize_jsonl(tokenizer, input, single, options);
  options.threads = 3;
  const auto report = tokenize_jsonl(tokenizer, input, parallel, options);
  EXPECT_EQ(report.lines, 500u);
  EXPECT_EQ(single, parallel);
  options.threads = 0;  // one per hardware thread
  std::string all_cores;
  tokenize_jsonl(tokenizer, input, all_cores, options);
  EXPECT_EQ(single, all_cores);
  // And both right: "a" is in the tiny vocabulary, "aa" (no "##a") and the numbers are not.
  EXPECT_EQ(single.substr(0, single.find('\n', single.find('\n') + 1) + 1),
            "{\"ids\": [2, 5, 6, 7, 8, 1, 3]}\n{\"ids\": [2, 5, 6, 25, 7, 8, 1, 3]}\n");
  EXPECT_NE(parallel.find("{\"ids\": [2, 5, 6, 1, 7, 8, 1, 3]}\n"), std::string::npos);
}

TEST(JsonlTokenize, BadLinesNameTheLineAndLeaveOutputUntouched) {
  const WordPieceTokenizer tokenizer(tiny_vocab());
  JsonlTokenizeOptions options;
  options.input_name = "reviews.jsonl";
  options.threads = 2;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{\"text\": \"ok\"}\n{\"text\": \"ok\"}\nnot json\n", "reviews.jsonl:3: line is not valid JSON"},
      // Bad lines in both threads' halves: the first one is reported.
      {"{\"text\": \"ok\"}\nnot json\n{\"text\": \"ok\"}\n{\"text\": \"ok\"}\n{\"review\": 1}\n",
       "reviews.jsonl:2: line is not valid JSON"},
      {"{\"text\": \"ok\"}\n{\"review\": \"x\"}\n", "reviews.jsonl:2: line has no \"text\" field"},
      {"{\"text\": 5}\n", "reviews.jsonl:1: \"text\" is not a string"},
      {"[1, 2]\n", "reviews.jsonl:1: line has no \"text\" field"},
  };
  for (const auto& [input, message] : cases) {
    std::string output = "untouched";
    try {
      tokenize_jsonl(tokenizer, input, output, options);
      FAIL() << "accepted: " << input;
    } catch (const Error& error) {
      EXPECT_EQ(error.code(), ErrorCode::parse);
      EXPECT_THAT(error.what(), HasSubstr(message));
    }
    EXPECT_EQ(output, "untouched");
  }
}

TEST(JsonlTokenize, InvalidUtf8InJsonIsRepairedAndCounted) {
  const WordPieceTokenizer tokenizer(tiny_vocab());
  std::string output;
  const auto report = tokenize_jsonl(tokenizer, "{\"text\": \"the \xff\xfe movie\"}\n", output, {});
  EXPECT_EQ(report.invalid_utf8_sequences, 2u);
  EXPECT_EQ(output, "{\"ids\": [2, 5, 6, 3]}\n");
}

}  // namespace
}  // namespace greentune::text

namespace greentune::text {
namespace {

TEST(Tokenizer, ArbitraryBytesNeverFailAndStayWellFormed) {
  const WordPieceTokenizer tokenizer(tiny_vocab());
  std::mt19937 engine(7);
  for (int round = 0; round < 2000; ++round) {
    std::string bytes(engine() % 64, '\0');
    for (char& byte : bytes)
      byte = static_cast<char>(engine() & 0xFF);
    std::vector<int32_t> ids;
    ASSERT_NO_THROW(tokenizer.encode(bytes, ids));
    ASSERT_GE(ids.size(), 2u);
    EXPECT_EQ(ids.front(), tokenizer.cls_id());
    EXPECT_EQ(ids.back(), tokenizer.sep_id());
    for (int32_t id : ids)
      ASSERT_LT(static_cast<size_t>(id), tokenizer.vocab().size());
    std::string repaired = bytes;
    sanitize_utf8(repaired);
    std::string twice = repaired;
    EXPECT_EQ(sanitize_utf8(twice), 0u) << "sanitized text must be valid UTF-8";
  }
}

}  // namespace
}  // namespace greentune::text
