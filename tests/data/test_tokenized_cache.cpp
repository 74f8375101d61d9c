// The tokenized cache: build once, memory-map later; staleness and corruption are detected and rebuilt.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "data_test_support.hpp"
#include "greentune/data/tokenized_cache.hpp"
#include "greentune/text/tokenizer.hpp"
#include "test_support.hpp"
#include "tokenized_cache_file.hpp"

namespace greentune::testing {
namespace {

namespace fs = std::filesystem;
using data::CacheOptions;
using data::CacheReport;
using data::DataSpec;
using data::TokenizedDataset;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

text::WordPieceTokenizer tiny_tokenizer() {
  return text::WordPieceTokenizer(
      text::Vocab::from_tokens({"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "movie", "was", "great",
                                "bad", "film", "##s", ",", "!", "a", "plot"}));
}

const std::string small_jsonl =
    "{\"text\": \"The movie was great!\", \"label\": \"pos\"}\n"
    "{\"text\": \"films, films, films\", \"label\": \"neg\"}\n"
    "{\"text\": \"\", \"label\": \"neg\"}\n"
    "{\"text\": \"a bad plot was the plot\", \"label\": \"neg\"}\n";

struct CacheFixture {
  TempDir dir;
  DataSpec spec;
  CacheOptions options;
  text::WordPieceTokenizer tokenizer = tiny_tokenizer();

  explicit CacheFixture(const std::string& contents = small_jsonl, const std::string& name = "d.jsonl") {
    spec.path = dir / name;
    write_text(spec.path, contents);
    options.cache_dir = dir / "cache";
  }

  TokenizedDataset open(CacheReport& report) const {
    return TokenizedDataset::open_or_build(spec, tokenizer, options, &report);
  }
};

// Every example of every split matches the raw dataset encoded directly.
void expect_matches_source(const TokenizedDataset& tokenized, const DataSpec& spec,
                           const text::WordPieceTokenizer& tokenizer) {
  const data::RawDataset raw = data::load_dataset(spec);
  EXPECT_EQ(tokenized.label_names(), raw.label_names);
  ASSERT_EQ(tokenized.splits().size(), raw.splits.size());
  for (const data::TextSplit& split : raw.splits) {
    const data::TokenizedSplit& cached = tokenized.split(split.name);
    ASSERT_EQ(cached.size(), split.size());
    for (size_t i = 0; i < split.size(); ++i) {
      std::vector<int32_t> expected;
      tokenizer.encode(split.texts[i], expected);
      EXPECT_THAT(std::vector<int32_t>(cached.tokens(i).begin(), cached.tokens(i).end()),
                  ::testing::ElementsAreArray(expected))
          << split.name << " " << i;
      EXPECT_EQ(cached.length(i), expected.size());
      EXPECT_EQ(cached.label(i), split.labels[i]);
    }
  }
}

TEST(TokenizedCache, FirstOpenBuildsLaterOpensMapWithoutRebuilding) {
  CacheFixture fixture;
  CacheReport first;
  const TokenizedDataset built = fixture.open(first);
  EXPECT_TRUE(first.built);
  EXPECT_EQ(first.reason, "no cache yet");
  EXPECT_TRUE(fs::exists(first.path));
  EXPECT_EQ(first.path.parent_path(), fixture.options.cache_dir);
  EXPECT_THAT(first.path.filename().string(), StartsWith("d.jsonl-"));
  expect_matches_source(built, fixture.spec, fixture.tokenizer);

  const auto written = fs::last_write_time(first.path);
  CacheReport second;
  const TokenizedDataset mapped = fixture.open(second);
  EXPECT_FALSE(second.built);
  EXPECT_EQ(second.path, first.path);
  EXPECT_EQ(fs::last_write_time(first.path), written);
  expect_matches_source(mapped, fixture.spec, fixture.tokenizer);
  EXPECT_THAT(mapped.split_names(), ElementsAre("train"));
  EXPECT_THAT(mapped.label_names(), ElementsAre("neg", "pos"));
  const data::TokenizedSplit& train = mapped.split("train");
  EXPECT_THAT(std::vector<int32_t>(train.tokens(0).begin(), train.tokens(0).end()),
              ElementsAre(2, 5, 6, 7, 8, 13, 3));  // [CLS] the movie was great ! [SEP]
  EXPECT_EQ(train.length(2), 2u);                  // the empty text: [CLS] [SEP]
  EXPECT_THAT(train.lengths(), ElementsAre(7, 10, 2, 8));
  EXPECT_EQ(train.token_count(), 27u);
}

TEST(TokenizedCache, TruncatedViewsMatchTruncateEncoding) {
  CacheFixture fixture;
  CacheReport report;
  const TokenizedDataset dataset = fixture.open(report);
  const data::TokenizedSplit& train = dataset.split("train");
  for (size_t i = 0; i < train.size(); ++i) {
    for (size_t max_length : {2, 3, 5, 7, 8, 512}) {
      std::vector<int32_t> expected(train.tokens(i).begin(), train.tokens(i).end());
      text::truncate_encoding(expected, max_length);
      const data::TruncatedTokens view = train.tokens(i, max_length);
      EXPECT_EQ(view.to_vector(), expected) << "example " << i << " max_length " << max_length;
      ASSERT_EQ(view.size(), expected.size());
      for (size_t position = 0; position < view.size(); ++position) {
        EXPECT_EQ(view[position], expected[position]);
      }
    }
  }
  EXPECT_THAT(train.tokens(1, 4).to_vector(), ElementsAre(2, 10, 11, 3));  // [CLS] film ##s [SEP]
  EXPECT_EQ(error_of([&] { train.tokens(0, 1); }).code(), ErrorCode::usage);
  const Error out_of_range = error_of([&] { train.label(4); });
  EXPECT_EQ(out_of_range.code(), ErrorCode::usage);
  EXPECT_THAT(out_of_range.what(), HasSubstr("split \"train\" has 4 examples"));
  const Error no_split = error_of([&] { dataset.split("test"); });
  EXPECT_THAT(no_split.what(), HasSubstr("no split \"test\"; it has: train"));
  EXPECT_EQ(dataset.find_split("test"), nullptr);
}

TEST(TokenizedCache, ThreadCountDoesNotChangeTheFile) {
  std::string many;
  for (int i = 0; i < 1000; ++i) {
    many += "{\"text\": \"" + std::string(i % 7 == 0 ? "the great movie, " : "a bad plot ") +
            std::string(static_cast<size_t>(i % 13), 'a') + " films\", \"label\": " + std::to_string(i % 3) +
            "}\n";
  }
  CacheFixture fixture(many);
  CacheReport one_thread;
  fixture.options.threads = 1;
  fixture.options.cache_dir = fixture.dir / "one";
  const TokenizedDataset single = fixture.open(one_thread);
  CacheReport four_threads;
  fixture.options.threads = 4;
  fixture.options.cache_dir = fixture.dir / "four";
  const TokenizedDataset parallel = fixture.open(four_threads);
  EXPECT_TRUE(one_thread.built);
  EXPECT_TRUE(four_threads.built);
  EXPECT_EQ(read_text(one_thread.path), read_text(four_threads.path));
  expect_matches_source(parallel, fixture.spec, fixture.tokenizer);
}

TEST(TokenizedCache, ChangedSourceIsDetectedAndRebuilt) {
  CacheFixture fixture;
  CacheReport report;
  fixture.open(report);
  const fs::path cache_path = report.path;

  // Touched only: same bytes, new modification time.
  fs::last_write_time(fixture.spec.path, fs::last_write_time(fixture.spec.path) + std::chrono::seconds(3));
  fixture.open(report);
  EXPECT_TRUE(report.built);
  EXPECT_EQ(report.reason, "the source changed since the cache was built");
  EXPECT_EQ(report.path, cache_path);

  // Modified: the new contents are what the cache holds.
  write_text(fixture.spec.path,
             "{\"text\": \"plot\", \"label\": \"pos\"}\n{\"text\": \"bad\", \"label\": \"neg\"}\n");
  const TokenizedDataset modified = fixture.open(report);
  EXPECT_TRUE(report.built);
  EXPECT_EQ(report.path, cache_path);
  EXPECT_EQ(modified.split("train").size(), 2u);
  expect_matches_source(modified, fixture.spec, fixture.tokenizer);

  fixture.open(report);
  EXPECT_FALSE(report.built);
  // One cache file for the source: rebuilt in place, no temporary files left behind.
  EXPECT_EQ(std::distance(fs::directory_iterator(fixture.options.cache_dir), fs::directory_iterator()), 1);
}

TEST(TokenizedCache, ImdbFolderIsRebuiltWhenAReviewChanges) {
  TempDir dir;
  write_tree(dir / "imdb", small_imdb("aclImdb/"));
  DataSpec spec;
  spec.path = dir / "imdb";
  const text::WordPieceTokenizer tokenizer = tiny_tokenizer();
  const CacheOptions options{dir / "cache", 2};
  CacheReport report;
  TokenizedDataset::open_or_build(spec, tokenizer, options, &report);
  EXPECT_TRUE(report.built);
  TokenizedDataset::open_or_build(spec, tokenizer, options, &report);
  EXPECT_FALSE(report.built);
  write_text(dir / "imdb/aclImdb/test/neg/0_2.txt", "the plot was bad");
  const TokenizedDataset changed = TokenizedDataset::open_or_build(spec, tokenizer, options, &report);
  EXPECT_TRUE(report.built);
  EXPECT_EQ(report.reason, "the source changed since the cache was built");
  EXPECT_EQ(changed.split("test").length(0), 6u);  // [CLS] the plot was bad [SEP]
  expect_matches_source(changed, spec, tokenizer);
}

TEST(TokenizedCache, AnotherTokenizerOrSpecGetsItsOwnFile) {
  CacheFixture fixture;
  CacheReport uncased;
  fixture.open(uncased);
  const text::WordPieceTokenizer cased(tiny_tokenizer().vocab(), text::TokenizerOptions::cased());
  CacheReport cased_report;
  const TokenizedDataset cased_dataset =
      TokenizedDataset::open_or_build(fixture.spec, cased, fixture.options, &cased_report);
  EXPECT_TRUE(cased_report.built);
  EXPECT_NE(cased_report.path, uncased.path);
  // "The" is not in the vocab when case is kept.
  EXPECT_EQ(cased_dataset.split("train").tokens(0)[1], cased.unk_id());

  DataSpec labelled = fixture.spec;
  labelled.label_names = {"pos", "neg"};
  CacheReport labelled_report;
  const TokenizedDataset relabelled =
      TokenizedDataset::open_or_build(labelled, fixture.tokenizer, fixture.options, &labelled_report);
  EXPECT_TRUE(labelled_report.built);
  EXPECT_NE(labelled_report.path, uncased.path);
  EXPECT_THAT(relabelled.label_names(), ElementsAre("pos", "neg"));
  EXPECT_EQ(relabelled.split("train").label(0), 0);

  fixture.open(uncased);
  EXPECT_FALSE(uncased.built) << "the first cache is still there and valid";
}

// Overwrites bytes of the cache file at offset.
void patch(const fs::path& path, size_t offset, const std::string& bytes) {
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  file.seekp(static_cast<std::streamoff>(offset));
  file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

TEST(TokenizedCache, CorruptFilesAreReportedAndRebuilt) {
  CacheFixture fixture;
  CacheReport report;
  fixture.open(report);
  const fs::path cache_path = report.path;
  const std::string pristine = read_text(cache_path);
  ASSERT_GT(pristine.size(), 100u);

  struct Damage {
    std::string name;
    std::function<void()> apply;
    std::string reason;
  };
  const std::vector<Damage> damages = {
      {"flipped payload byte",
       [&] {
         patch(cache_path, pristine.size() - 6,
               std::string(1, static_cast<char>(pristine[pristine.size() - 6] ^ 0x5A)));
       },
       "checksum mismatch"},
      {"truncated", [&] { fs::resize_file(cache_path, pristine.size() - 9); }, "truncated"},
      {"shorter than the header", [&] { fs::resize_file(cache_path, 20); }, "shorter than the header"},
      {"empty", [&] { fs::resize_file(cache_path, 0); }, "empty file"},
      {"bad magic", [&] { patch(cache_path, 0, "NOTCACHE"); }, "bad magic bytes"},
      {"other version", [&] { patch(cache_path, 8, std::string("\x63\x00\x00\x00", 4)); },
       "format version 99"},
      {"appended bytes", [&] { write_text(cache_path, pristine + "extra!!!"); }, "the header announces"},
  };
  for (const Damage& damage : damages) {
    SCOPED_TRACE(damage.name);
    damage.apply();
    const TokenizedDataset rebuilt = fixture.open(report);
    EXPECT_TRUE(report.built);
    EXPECT_THAT(report.reason, HasSubstr("corrupt"));
    EXPECT_THAT(report.reason, HasSubstr(damage.reason));
    expect_matches_source(rebuilt, fixture.spec, fixture.tokenizer);
    EXPECT_EQ(read_text(cache_path), pristine);
    fixture.open(report);
    EXPECT_FALSE(report.built);
  }
}

TEST(TokenizedCache, TokenIdOutsideTheVocabularyIsCorruptEvenWithAValidChecksum) {
  CacheFixture fixture;
  CacheReport report;
  fixture.open(report);
  const fs::path cache_path = report.path;
  const std::string pristine = read_text(cache_path);
  data::cache_file::Header header{};
  std::memcpy(&header, pristine.data(), sizeof header);
  std::string payload = pristine.substr(sizeof header);
  // The last example ends "plot [SEP]": make "plot" (id 15) the id 16, one past the 16-token vocabulary.
  const std::string plot_then_sep("\x0f\0\0\0\x03\0\0\0", 8);
  const size_t at = payload.rfind(plot_then_sep);
  ASSERT_NE(at, std::string::npos);
  payload[at] = '\x10';
  write_text(cache_path, data::cache_file::sealed_file(header, payload));

  const TokenizedDataset rebuilt = fixture.open(report);
  EXPECT_TRUE(report.built);
  EXPECT_THAT(report.reason, HasSubstr("corrupt"));
  EXPECT_THAT(report.reason, HasSubstr("split \"train\": a token id outside the vocabulary's 0..15"));
  expect_matches_source(rebuilt, fixture.spec, fixture.tokenizer);
  EXPECT_EQ(read_text(cache_path), pristine);
}

TEST(TokenizedCache, ImdbTarballKeepsTrainAndTestSplits) {
  TempDir dir;
  write_tar_gz(dir / "imdb.tar.gz", small_imdb("aclImdb/"));
  DataSpec spec;
  spec.path = dir / "imdb.tar.gz";
  const text::WordPieceTokenizer tokenizer = tiny_tokenizer();
  CacheReport report;
  const TokenizedDataset dataset =
      TokenizedDataset::open_or_build(spec, tokenizer, {dir / "cache", 2}, &report);
  EXPECT_THAT(dataset.split_names(), ElementsAre("train", "test"));
  EXPECT_EQ(dataset.split("train").size(), 5u);
  EXPECT_EQ(dataset.split("test").size(), 4u);
  EXPECT_THAT(dataset.split("test").labels(), ElementsAre(0, 1, 1, 1));
  expect_matches_source(dataset, spec, tokenizer);
}

TEST(TokenizedCache, ReportsInvalidUtf8Repairs) {
  CacheFixture fixture("{\"text\": \"the \xFF movie \xC3\", \"label\": 0}\n");
  CacheReport report;
  const TokenizedDataset dataset = fixture.open(report);
  EXPECT_EQ(report.invalid_utf8_repairs, 2u);
  // The replacement characters are dropped by clean_text: [CLS] the movie [SEP].
  EXPECT_THAT(
      std::vector<int32_t>(dataset.split("train").tokens(0).begin(), dataset.split("train").tokens(0).end()),
      ElementsAre(2, 5, 6, 3));
}

TEST(TokenizedCache, BadSourceFailsWithoutLeavingACacheFile) {
  CacheFixture fixture("{\"text\": \"fine\", \"label\": 0}\n{\"text\": oops}\n");
  CacheReport report;
  const Error error = error_of([&] { fixture.open(report); });
  EXPECT_EQ(error.code(), ErrorCode::parse);
  EXPECT_EQ(error.where(), fixture.spec.path.string() + ":2");
  EXPECT_TRUE(!fs::exists(fixture.options.cache_dir) || fs::is_empty(fixture.options.cache_dir));

  fixture.spec.path = fixture.dir / "missing.jsonl";
  EXPECT_EQ(error_of([&] { fixture.open(report); }).code(), ErrorCode::not_found);
}

TEST(TokenizedCache, DefaultDirectoryIsUnderGreentuneDataDir) {
  CacheFixture fixture;
  const char* previous = std::getenv("GREENTUNE_DATA_DIR");
  const std::string saved = previous != nullptr ? previous : "";
  ::setenv("GREENTUNE_DATA_DIR", (fixture.dir / "data-home").c_str(), 1);
  EXPECT_EQ(data::default_cache_dir(), fixture.dir / "data-home" / "cache");
  CacheReport report;
  TokenizedDataset::open_or_build(fixture.spec, fixture.tokenizer, {}, &report);
  EXPECT_EQ(report.path.parent_path(), fixture.dir / "data-home" / "cache");
  EXPECT_TRUE(fs::exists(report.path));
  if (previous != nullptr) {
    ::setenv("GREENTUNE_DATA_DIR", saved.c_str(), 1);
  } else {
    ::unsetenv("GREENTUNE_DATA_DIR");
  }
}

TEST(TokenizedCache, RealImdbWithBertVocab) {
  GREENTUNE_REQUIRE_SHARED(shared);
  TempDir dir;
  DataSpec spec;
  spec.path = shared / "data/imdb/aclImdb_v1_labeled.tar.gz";
  const auto tokenizer =
      text::WordPieceTokenizer::from_vocab_file(shared / "data/vocab/bert-base-uncased-vocab.txt");
  CacheReport report;
  const TokenizedDataset built = TokenizedDataset::open_or_build(spec, tokenizer, {dir.path(), 0}, &report);
  EXPECT_TRUE(report.built);
  const TokenizedDataset mapped = TokenizedDataset::open_or_build(spec, tokenizer, {dir.path(), 0}, &report);
  EXPECT_FALSE(report.built);
  const data::RawDataset raw = data::load_dataset(spec);
  for (const std::string name : {"train", "test"}) {
    SCOPED_TRACE(name);
    const data::TokenizedSplit& split = mapped.split(name);
    const data::TextSplit& texts = *raw.find_split(name);
    ASSERT_EQ(split.size(), 25000u);
    EXPECT_EQ(std::count(split.labels().begin(), split.labels().end(), 0), 12500);
    EXPECT_EQ(std::count(split.labels().begin(), split.labels().end(), 1), 12500);
    for (size_t i : {size_t{0}, size_t{12499}, size_t{12500}, size_t{24999}}) {
      std::vector<int32_t> expected;
      tokenizer.encode(texts.texts[i], expected);
      EXPECT_TRUE(
          std::equal(expected.begin(), expected.end(), split.tokens(i).begin(), split.tokens(i).end()))
          << "example " << i;
      EXPECT_EQ(split.tokens(i).front(), tokenizer.cls_id());
      EXPECT_EQ(split.tokens(i).back(), tokenizer.sep_id());
    }
  }
}

}  // namespace
}  // namespace greentune::testing
