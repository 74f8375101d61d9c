// The dataset readers: aclImdb folders and tarballs, JSON lines, CSV/TSV, format detection, fingerprints.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "data_test_support.hpp"
#include "greentune/data/dataset.hpp"
#include "test_support.hpp"

namespace greentune::testing {
namespace {

namespace fs = std::filesystem;
using data::DataSpec;
using data::Format;
using data::load_dataset;
using data::RawDataset;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

DataSpec spec_for(const fs::path& path, std::vector<std::string> label_names = {}) {
  DataSpec spec;
  spec.path = path;
  spec.label_names = std::move(label_names);
  return spec;
}

Error load_error(const DataSpec& spec) {
  return error_of([&] { load_dataset(spec); });
}

// Writes contents to dir/name and reads it back as a dataset.
RawDataset load_text(const TempDir& dir, const std::string& name, const std::string& contents,
                     std::vector<std::string> label_names = {}) {
  write_text(dir / name, contents);
  return load_dataset(spec_for(dir / name, std::move(label_names)));
}

Error load_text_error(const TempDir& dir, const std::string& name, const std::string& contents,
                      std::vector<std::string> label_names = {}) {
  write_text(dir / name, contents);
  return load_error(spec_for(dir / name, std::move(label_names)));
}

void expect_small_imdb(const RawDataset& dataset) {
  EXPECT_EQ(dataset.format, Format::imdb);
  EXPECT_THAT(dataset.label_names, ElementsAre("neg", "pos"));
  ASSERT_EQ(dataset.splits.size(), 2u);
  const data::TextSplit& train = dataset.splits[0];
  EXPECT_EQ(train.name, "train");
  EXPECT_THAT(train.texts, ElementsAre("train neg one", "train neg two", "train neg eleven", "train pos nine",
                                       "train pos ten"));
  EXPECT_THAT(train.labels, ElementsAre(0, 0, 0, 1, 1));
  const data::TextSplit& test = dataset.splits[1];
  EXPECT_EQ(test.name, "test");
  EXPECT_THAT(test.texts,
              ElementsAre("test neg zero", "test pos three", "test pos hundred", "test pos without an id"));
  EXPECT_THAT(test.labels, ElementsAre(0, 1, 1, 1));
  EXPECT_EQ(dataset.find_split("test"), &test);
  EXPECT_EQ(dataset.find_split("validation"), nullptr);
}

TEST(ImdbReader, DirectoryWithOrWithoutTopFolderInIdOrder) {
  for (const std::string top : {"aclImdb/", ""}) {
    SCOPED_TRACE("top folder: '" + top + "'");
    TempDir dir;
    write_tree(dir.path(), small_imdb(top));
    expect_small_imdb(load_dataset(spec_for(dir.path())));
    if (!top.empty()) {
      expect_small_imdb(load_dataset(spec_for(dir / "aclImdb")));
    }
  }
}

TEST(ImdbReader, TarballIsStreamedInIdOrderWhateverTheArchiveOrder) {
  for (const std::string top : {"aclImdb/", ""}) {
    SCOPED_TRACE("top folder: '" + top + "'");
    TempDir dir;
    Members members = small_imdb(top);
    std::reverse(members.begin(), members.end());
    write_tar_gz(dir / "imdb.tar.gz", members);
    expect_small_imdb(load_dataset(spec_for(dir / "imdb.tar.gz")));
    // Read in place: nothing was extracted next to the archive.
    EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);
  }
}

TEST(ImdbReader, TgzExtensionAndExplicitFormat) {
  TempDir dir;
  write_tar_gz(dir / "reviews.tgz", small_imdb("aclImdb/"));
  expect_small_imdb(load_dataset(spec_for(dir / "reviews.tgz")));
  fs::copy_file(dir / "reviews.tgz", dir / "reviews.bin");
  DataSpec spec = spec_for(dir / "reviews.bin");
  spec.format = Format::imdb;
  expect_small_imdb(load_dataset(spec));
}

TEST(ImdbReader, TruncatedOrNonGzipArchiveSaysToDownloadAgain) {
  TempDir dir;
  Members members = small_imdb("aclImdb/");
  // Enough incompressible-ish text that a cut lands inside the compressed data of a member.
  std::string long_review;
  for (int i = 0; i < 20000; ++i) {
    long_review += std::to_string(i * 7919 % 10007) + " ";
  }
  members.emplace_back("aclImdb/train/pos/12_10.txt", long_review);
  write_tar_gz(dir / "full.tar.gz", members);
  const std::string archive = read_text(dir / "full.tar.gz");
  write_text(dir / "truncated.tar.gz", archive.substr(0, archive.size() / 2));
  write_text(dir / "plain.tar.gz", "this is not a gzip file\n");

  for (const std::string name : {"truncated.tar.gz", "plain.tar.gz"}) {
    SCOPED_TRACE(name);
    const Error error = load_error(spec_for(dir / name));
    EXPECT_EQ(error.code(), ErrorCode::parse);
    EXPECT_EQ(error.where(), (dir / name).string());
    EXPECT_THAT(error.what(), HasSubstr("not a complete .tar.gz archive"));
    EXPECT_THAT(error.what(), HasSubstr("greentune data fetch imdb --force"));
  }
}

// One ustar member header for name whose size field announces size_field_bytes (GNU base-256, so sizes
// beyond the 8 GiB of octal fit), with a valid header checksum.
std::string tar_header_announcing(const std::string& name, uint64_t size_field_bytes) {
  std::string header(512, '\0');
  header.replace(0, name.size(), name);
  header.replace(100, 8, "0000644", 8);
  header.replace(108, 8, "0000000", 8);
  header.replace(116, 8, "0000000", 8);
  header[124] = static_cast<char>(0x80);
  for (int byte = 0; byte < 8; ++byte) {
    header[135 - byte] = static_cast<char>((size_field_bytes >> (8 * byte)) & 0xFF);
  }
  header.replace(136, 12, "13576036400", 12);
  header.replace(148, 8, "        ");
  header[156] = '0';
  header.replace(257, 6, "ustar", 6);  // POSIX magic, its NUL included
  header.replace(263, 2, "00");        // and version
  unsigned checksum = 0;
  for (const char c : header) {
    checksum += static_cast<unsigned char>(c);
  }
  const std::string field = fmt::format("{:06o}", checksum);
  header.replace(148, 8, field + std::string("\0 ", 2));
  return header;
}

TEST(ImdbReader, MemberAnnouncingMoreBytesThanTheArchiveHoldsIsTruncatedNotAllocated) {
  TempDir dir;
  // 16 TiB announced, one block of review text present: a damaged archive, not 16 TiB to reserve.
  const std::string review = "A great film.\n";
  write_text(dir / "huge.tar", tar_header_announcing("aclImdb/train/pos/1_9.txt", uint64_t{1} << 44) +
                                   review + std::string(512 - review.size(), '\0'));
  DataSpec spec = spec_for(dir / "huge.tar");
  spec.format = Format::imdb;
  const Error error = load_error(spec);
  EXPECT_EQ(error.code(), ErrorCode::parse);
  EXPECT_EQ(error.where(), (dir / "huge.tar").string());
  EXPECT_THAT(error.what(), HasSubstr("not a complete .tar.gz archive"));
  EXPECT_THAT(error.what(), HasSubstr("greentune data fetch imdb --force"));
}

TEST(ImdbReader, FolderOrArchiveWithoutReviews) {
  TempDir dir;
  write_tree(dir / "empty", {{"train/neg/readme.md", "no reviews"}, {"train/pos/x.json", "{}"}});
  EXPECT_EQ(load_error(spec_for(dir / "empty")).code(), ErrorCode::invalid_data);

  write_tree(dir / "other", {{"photos/cat.jpg", "..."}});
  const Error not_imdb = load_error(spec_for(dir / "other"));
  EXPECT_EQ(not_imdb.code(), ErrorCode::invalid_data);
  EXPECT_THAT(not_imdb.what(), HasSubstr("not an aclImdb folder"));

  write_tar_gz(dir / "readme_only.tar.gz", {{"aclImdb/README", "hello"}});
  const Error no_reviews = load_error(spec_for(dir / "readme_only.tar.gz"));
  EXPECT_EQ(no_reviews.code(), ErrorCode::invalid_data);
  EXPECT_THAT(no_reviews.what(), HasSubstr("no reviews"));
}

TEST(ImdbReader, RealArchiveHas12500ReviewsPerLabelAndSplit) {
  GREENTUNE_REQUIRE_SHARED(shared);
  const RawDataset dataset = load_dataset(spec_for(shared / "data/imdb/aclImdb_v1_labeled.tar.gz"));
  ASSERT_EQ(dataset.splits.size(), 2u);
  EXPECT_THAT(dataset.label_names, ElementsAre("neg", "pos"));
  for (const data::TextSplit& split : dataset.splits) {
    SCOPED_TRACE(split.name);
    ASSERT_EQ(split.size(), 25000u);
    EXPECT_EQ(std::count(split.labels.begin(), split.labels.end(), 0), 12500);
    EXPECT_EQ(std::count(split.labels.begin(), split.labels.end(), 1), 12500);
    // neg first, then pos.
    EXPECT_TRUE(std::is_sorted(split.labels.begin(), split.labels.end()));
    EXPECT_TRUE(
        std::none_of(split.texts.begin(), split.texts.end(), [](const std::string& t) { return t.empty(); }));
  }
  EXPECT_EQ(dataset.splits[0].name, "train");
  EXPECT_EQ(dataset.splits[1].name, "test");
}

TEST(JsonlReader, IntLabelsAreIdsAndBlankLinesAreSkipped) {
  TempDir dir;
  const RawDataset dataset = load_text(dir, "d.jsonl",
                                       "{\"text\": \"good\", \"label\": 1}\n"
                                       "\n"
                                       "   \r\n"
                                       "{\"label\": 0, \"text\": \"bad\", \"id\": 7}\r\n"
                                       "{\"text\": \"meh\", \"label\": 2}");
  EXPECT_EQ(dataset.format, Format::jsonl);
  ASSERT_EQ(dataset.splits.size(), 1u);
  EXPECT_EQ(dataset.splits[0].name, "train");
  EXPECT_THAT(dataset.splits[0].texts, ElementsAre("good", "bad", "meh"));
  EXPECT_THAT(dataset.splits[0].labels, ElementsAre(1, 0, 2));
  EXPECT_THAT(dataset.label_names, ElementsAre("0", "1", "2"));
}

TEST(JsonlReader, StringLabelsAreSortedOrMappedThroughGivenNames) {
  TempDir dir;
  const std::string contents =
      "{\"text\": \"a\", \"label\": \"pos\"}\n{\"text\": \"b\", \"label\": \"neg\"}\n"
      "{\"text\": \"c\", \"label\": \"neutral\"}\n{\"text\": \"d\", \"label\": \"pos\"}\n";
  const RawDataset inferred = load_text(dir, "s.jsonl", contents);
  EXPECT_THAT(inferred.label_names, ElementsAre("neg", "neutral", "pos"));
  EXPECT_THAT(inferred.splits[0].labels, ElementsAre(2, 0, 1, 2));

  const RawDataset given = load_text(dir, "s.jsonl", contents, {"pos", "neutral", "neg"});
  EXPECT_THAT(given.label_names, ElementsAre("pos", "neutral", "neg"));
  EXPECT_THAT(given.splits[0].labels, ElementsAre(0, 2, 1, 0));

  // With given names an int label is an id into them.
  const RawDataset ids = load_text(dir, "i.jsonl", "{\"text\": \"a\", \"label\": 1}\n", {"neg", "pos"});
  EXPECT_THAT(ids.splits[0].labels, ElementsAre(1));
}

TEST(JsonlReader, BadLinesNameFileAndLine) {
  TempDir dir;
  const std::string good = "{\"text\": \"ok\", \"label\": 0}\n";
  struct Case {
    std::string line;
    ErrorCode code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"{\"text\": \"unterminated\", \"label\": 0", ErrorCode::parse, "not valid JSON"},
      {"[\"text\", 0]", ErrorCode::parse, "expected a JSON object, got an array"},
      {"{\"text\": \"x\", \"label\": 1e999}", ErrorCode::parse,
       "the line is not valid JSON: number overflow parsing '1e999'"},
      {"{\"text\": " + std::string(100000, '[') + "}", ErrorCode::parse,
       "the line nests arrays and objects deeper than 64 levels"},
      {"{\"label\": 0}", ErrorCode::invalid_data, "no \"text\" field (the object has \"label\")"},
      {"{\"text\": 12, \"label\": 0}", ErrorCode::invalid_data, "\"text\" is a number, expected a string"},
      {"{\"text\": null, \"label\": 0}", ErrorCode::invalid_data, "\"text\" is null"},
      {"{\"text\": \"x\"}", ErrorCode::invalid_data, "no \"label\" field"},
      {"{\"text\": \"x\", \"label\": 1.5}", ErrorCode::invalid_data, "\"label\" is a float"},
      {"{\"text\": \"x\", \"label\": true}", ErrorCode::invalid_data, "\"label\" is a boolean"},
      {"{\"text\": \"x\", \"label\": -1}", ErrorCode::invalid_data, "label -1 is not an id"},
      {"{\"text\": \"x\", \"label\": \"pos\"}", ErrorCode::invalid_data,
       "label is a string but the label on line 1 is an int"},
  };
  for (const Case& bad : cases) {
    SCOPED_TRACE(bad.line);
    const Error error = load_text_error(dir, "bad.jsonl", good + "\n" + bad.line + "\n" + good);
    EXPECT_EQ(error.code(), bad.code);
    EXPECT_EQ(error.where(), (dir / "bad.jsonl").string() + ":3");
    EXPECT_THAT(error.what(), HasSubstr(bad.message));
  }
}

TEST(JsonlReader, LabelsOutsideTheGivenNames) {
  TempDir dir;
  const Error unknown =
      load_text_error(dir, "l.jsonl", "{\"text\": \"x\", \"label\": \"neutral\"}\n", {"neg", "pos"});
  EXPECT_EQ(unknown.code(), ErrorCode::invalid_data);
  EXPECT_EQ(unknown.where(), (dir / "l.jsonl").string() + ":1");
  EXPECT_THAT(unknown.what(), HasSubstr("label \"neutral\" is not one of the given labels: neg, pos"));

  const Error out_of_range = load_text_error(
      dir, "l.jsonl", "{\"text\": \"x\", \"label\": 0}\n{\"text\": \"y\", \"label\": 2}\n", {"neg", "pos"});
  EXPECT_EQ(out_of_range.where(), (dir / "l.jsonl").string() + ":2");
  EXPECT_THAT(out_of_range.what(), HasSubstr("label 2 is not an id of the 2 given labels"));
}

TEST(JsonlReader, IntLabelsWithGapsKeepTheirIdsAndWarn) {
  TempDir dir;
  ::testing::internal::CaptureStderr();
  const RawDataset dataset =
      load_text(dir, "gap.jsonl", "{\"text\": \"a\", \"label\": 1}\n{\"text\": \"b\", \"label\": 3}\n");
  const std::string warnings = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(dataset.label_names, ElementsAre("0", "1", "2", "3"));
  EXPECT_THAT(dataset.splits[0].labels, ElementsAre(1, 3));
  EXPECT_THAT(warnings, HasSubstr("no example has label 0, 2;"));
  EXPECT_THAT(warnings, HasSubstr("the classifier gets 4 classes"));
}

TEST(JsonlReader, LabelGivenTwiceIsAUsageError) {
  TempDir dir;
  const Error error =
      load_text_error(dir, "d.jsonl", "{\"text\": \"a\", \"label\": 1}\n", {"neg", "pos", "neg"});
  EXPECT_EQ(error.code(), ErrorCode::usage);
  EXPECT_THAT(error.what(), HasSubstr("label \"neg\" is given twice"));
}

TEST(JsonlReader, InvalidUtf8IsRepairedAndCountedNotAnError) {
  TempDir dir;
  // A stray continuation byte, a truncated 3-byte sequence before the quote, and an overlong '/'.
  const RawDataset dataset = load_text(dir, "u.jsonl",
                                       "{\"text\": \"caf\x80 ok\", \"label\": 0}\n"
                                       "{\"text\": \"x\xE2\x82\", \"label\": 1}\n"
                                       "{\"text\": \"\xC0\xAF\", \"label\": 1}\n");
  EXPECT_EQ(dataset.invalid_utf8_repairs, 4u);
  EXPECT_THAT(dataset.splits[0].texts,
              ElementsAre("caf\xEF\xBF\xBD ok", "x\xEF\xBF\xBD", "\xEF\xBF\xBD\xEF\xBF\xBD"));
}

TEST(JsonlReader, CustomFieldNamesAndJsonExtension) {
  TempDir dir;
  DataSpec spec = spec_for(dir / "d.json");
  spec.text_column = "review";
  spec.label_column = "sentiment";
  write_text(spec.path, "{\"review\": \"fine\", \"sentiment\": \"pos\"}\n");
  const RawDataset dataset = load_dataset(spec);
  EXPECT_THAT(dataset.splits[0].texts, ElementsAre("fine"));
  EXPECT_THAT(dataset.label_names, ElementsAre("pos"));
}

TEST(CsvReader, QuotedFieldsDoubledQuotesNewlinesAndCrlf) {
  TempDir dir;
  const RawDataset dataset = load_text(dir, "d.csv",
                                       "\xEF\xBB\xBFid,text,label\r\n"
                                       "1,\"Hello, world\",pos\r\n"
                                       "2,\"She said \"\"wow\"\"\",neg\r\n"
                                       "\r\n"
                                       "3,\"line one\nline two\r\nline three\",pos\r\n"
                                       "4,plain,neg");
  EXPECT_EQ(dataset.format, Format::csv);
  EXPECT_THAT(dataset.splits[0].texts,
              ElementsAre("Hello, world", "She said \"wow\"", "line one\nline two\r\nline three", "plain"));
  EXPECT_THAT(dataset.label_names, ElementsAre("neg", "pos"));
  EXPECT_THAT(dataset.splits[0].labels, ElementsAre(1, 0, 1, 0));
}

TEST(CsvReader, TsvIntLabelsCustomColumnsAndEmptyFields) {
  TempDir dir;
  DataSpec spec = spec_for(dir / "d.tsv");
  spec.text_column = "sentence";
  spec.label_column = "y";
  write_text(spec.path, "sentence\ty\nit, was \"fine\"\t1\n\t0\n\"tab\there\"\t1\n");
  const RawDataset dataset = load_dataset(spec);
  EXPECT_EQ(dataset.format, Format::tsv);
  EXPECT_THAT(dataset.splits[0].texts, ElementsAre("it, was \"fine\"", "", "tab\there"));
  EXPECT_THAT(dataset.splits[0].labels, ElementsAre(1, 0, 1));
  EXPECT_THAT(dataset.label_names, ElementsAre("0", "1"));

  // With given names, digits in a label column are ids into them.
  spec.label_names = {"neg", "pos"};
  EXPECT_THAT(load_dataset(spec).splits[0].labels, ElementsAre(1, 0, 1));
}

TEST(CsvReader, UnclosedQuoteNamesTheLineItOpened) {
  TempDir dir;
  const Error error = load_text_error(dir, "q.csv", "text,label\nfine,1\n\"never closed,1\nmore,0\nrows,1\n");
  EXPECT_EQ(error.code(), ErrorCode::parse);
  EXPECT_EQ(error.where(), (dir / "q.csv").string() + ":3");
  EXPECT_THAT(error.what(), HasSubstr("never closed"));
}

TEST(CsvReader, WrongFieldCountCountsLinesInsideQuotes) {
  TempDir dir;
  const Error error = load_text_error(dir, "f.csv", "text,label\n\"two\nlines\",1\nunquoted, comma,0\n");
  EXPECT_EQ(error.code(), ErrorCode::parse);
  EXPECT_EQ(error.where(), (dir / "f.csv").string() + ":4");
  EXPECT_THAT(error.what(), HasSubstr("the row has 3 fields but the header has 2"));

  const Error after_quote = load_text_error(dir, "g.csv", "text,label\n\"quoted\"tail,1\n");
  EXPECT_EQ(after_quote.where(), (dir / "g.csv").string() + ":2");
  EXPECT_THAT(after_quote.what(), HasSubstr("text follows the closing quote"));
}

TEST(CsvReader, MissingColumnListsTheHeader) {
  TempDir dir;
  const Error error = load_text_error(dir, "m.csv", "review,sentiment\ngood,pos\n");
  EXPECT_EQ(error.code(), ErrorCode::invalid_data);
  EXPECT_THAT(error.what(),
              HasSubstr("no column \"text\" in the header; the columns are: review, sentiment"));
  EXPECT_THAT(error.what(), HasSubstr("--text-column"));

  const Error label = load_text_error(dir, "n.csv", "text,sentiment\ngood,pos\n");
  EXPECT_THAT(label.what(), HasSubstr("no column \"label\""));
  EXPECT_THAT(label.what(), HasSubstr("--label-column"));

  const Error empty_label = load_text_error(dir, "e.csv", "text,label\ngood,\n");
  EXPECT_EQ(empty_label.where(), (dir / "e.csv").string() + ":2");
  EXPECT_THAT(empty_label.what(), HasSubstr("the \"label\" field is empty"));
}

TEST(Readers, EmptyDatasetsAreInvalidData) {
  TempDir dir;
  for (const auto& [name, contents] : std::vector<std::pair<std::string, std::string>>{
           {"blank.jsonl", "\n\n  \n"}, {"header.csv", "text,label\n"}, {"nothing.csv", ""}}) {
    SCOPED_TRACE(name);
    const Error error = load_text_error(dir, name, contents);
    EXPECT_EQ(error.code(), ErrorCode::invalid_data);
    EXPECT_EQ(error.where(), (dir / name).string());
  }
}

TEST(Readers, FormatDetectionAndOverride) {
  TempDir dir;
  const Error missing = load_error(spec_for(dir / "absent.jsonl"));
  EXPECT_EQ(missing.code(), ErrorCode::not_found);
  EXPECT_EQ(missing.where(), (dir / "absent.jsonl").string());

  const Error unknown = load_text_error(dir, "data.txt", "{\"text\": \"x\", \"label\": 0}\n");
  EXPECT_EQ(unknown.code(), ErrorCode::usage);
  EXPECT_THAT(unknown.what(), HasSubstr("--format"));

  DataSpec spec = spec_for(dir / "data.txt");
  spec.format = Format::jsonl;
  EXPECT_EQ(load_dataset(spec).splits[0].size(), 1u);
  write_text(dir / "UPPER.CSV", "text,label\nx,0\n");
  EXPECT_EQ(data::resolve_format(spec_for(dir / "UPPER.CSV")), Format::csv);
  EXPECT_EQ(data::resolve_format(spec_for(dir.path())), Format::imdb);
}

TEST(Readers, FormatNames) {
  for (Format format : {Format::automatic, Format::imdb, Format::jsonl, Format::csv, Format::tsv}) {
    EXPECT_EQ(data::parse_format(data::to_string(format)), format);
  }
  const Error error = error_of([] { data::parse_format("parquet"); });
  EXPECT_EQ(error.code(), ErrorCode::usage);
  EXPECT_THAT(error.what(), HasSubstr("auto, imdb, jsonl, csv, tsv"));
}

TEST(Fingerprints, SourceFollowsContentsAndTimesSpecFollowsColumnsAndLabels) {
  TempDir dir;
  write_text(dir / "d.jsonl", "{\"text\": \"x\", \"label\": 0}\n");
  const DataSpec spec = spec_for(dir / "d.jsonl");
  const uint64_t original = data::source_fingerprint(spec);
  EXPECT_EQ(data::source_fingerprint(spec), original);
  fs::last_write_time(spec.path, fs::last_write_time(spec.path) + std::chrono::seconds(5));
  const uint64_t touched = data::source_fingerprint(spec);
  EXPECT_NE(touched, original);

  DataSpec other_column = spec;
  other_column.text_column = "review";
  DataSpec labelled = spec;
  labelled.label_names = {"neg", "pos"};
  EXPECT_NE(data::spec_fingerprint(other_column), data::spec_fingerprint(spec));
  EXPECT_NE(data::spec_fingerprint(labelled), data::spec_fingerprint(spec));

  write_tree(dir / "imdb", small_imdb(""));
  const DataSpec folder = spec_for(dir / "imdb");
  const uint64_t before = data::source_fingerprint(folder);
  write_text(dir / "imdb/test/neg/5_1.txt", "another");
  EXPECT_NE(data::source_fingerprint(folder), before);
  // Files the reader ignores do not matter.
  const uint64_t with_review = data::source_fingerprint(folder);
  write_text(dir / "imdb/README", "changed");
  EXPECT_EQ(data::source_fingerprint(folder), with_review);
}

}  // namespace
}  // namespace greentune::testing
