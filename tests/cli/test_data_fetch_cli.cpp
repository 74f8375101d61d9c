// `greentune data fetch`, run as a program against file:// sources; GREENTUNE_DATA_DIR points at a
// temporary directory so the user's real cache is never touched.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "http_server.hpp"
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
using greentune::testing::read_text;
using greentune::testing::run_cli;
using greentune::testing::ScopedEnvironment;
using greentune::testing::sha256sum;
using greentune::testing::TempDir;
using ::testing::HasSubstr;

constexpr int kUsageExit = 2;
constexpr int kIntegrityExit = 8;

class DataFetchCliTest : public ::testing::Test {
 protected:
  DataFetchCliTest()
      : source_(temp_ / "reviews.tar.gz"),
        cache_(temp_ / "cache"),
        data_dir_env_("GREENTUNE_DATA_DIR", cache_.string()),
        url_env_("GREENTUNE_IMDB_URL", std::nullopt) {
    std::string contents;
    for (int review = 0; review < 2000; ++review) {
      contents += "review " + std::to_string(review) + ": a film worth downloading\n";
    }
    greentune::testing::write_text(source_, contents);
  }

  // The fetch arguments for the test source: its file:// URL and its sha256sum and size.
  std::string source_arguments() const {
    return "--url 'file://" + source_.string() + "' --sha256 " + sha256sum(source_) + " --size " +
           std::to_string(fs::file_size(source_));
  }

  TempDir temp_;
  fs::path source_;
  fs::path cache_;
  ScopedEnvironment data_dir_env_;
  ScopedEnvironment url_env_;
};

TEST_F(DataFetchCliTest, PrintsThePathOfTheVerifiedArchive) {
  const auto result = run_cli("data fetch imdb " + source_arguments());
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const fs::path archive = cache_ / "imdb" / "aclImdb_v1.tar.gz";
  EXPECT_EQ(result.out, archive.string() + "\n");
  EXPECT_EQ(read_text(archive), read_text(source_));
}

TEST_F(DataFetchCliTest, DataDirOptionChoosesWhereTheArchiveGoes) {
  const fs::path elsewhere = temp_ / "elsewhere";
  const auto result =
      run_cli("data fetch imdb " + source_arguments() + " --data-dir '" + elsewhere.string() + "'");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, (elsewhere / "imdb" / "aclImdb_v1.tar.gz").string() + "\n");
  EXPECT_FALSE(fs::exists(cache_));
}

TEST_F(DataFetchCliTest, SecondFetchReusesTheVerifiedCopy) {
  ASSERT_EQ(run_cli("data fetch imdb " + source_arguments()).exit_code, 0);
  const std::string arguments = source_arguments();
  fs::remove(source_);
  const auto result = run_cli("data fetch imdb " + arguments);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.err, HasSubstr("using the verified copy"));
}

TEST_F(DataFetchCliTest, WrongChecksumFailsWithAnIntegrityError) {
  const auto result = run_cli("data fetch imdb --url 'file://" + source_.string() + "' --sha256 " +
                              std::string(64, '0') + " --size " + std::to_string(fs::file_size(source_)));
  EXPECT_EQ(result.exit_code, kIntegrityExit);
  EXPECT_THAT(result.err, HasSubstr("error [integrity]"));
  EXPECT_THAT(result.err, HasSubstr(sha256sum(source_)));
  EXPECT_EQ(result.out, "");
  EXPECT_FALSE(fs::exists(cache_ / "imdb" / "aclImdb_v1.tar.gz"));
}

TEST_F(DataFetchCliTest, UnknownDatasetIsAUsageErrorListingTheKnownOnes) {
  const auto result = run_cli("data fetch mnist");
  EXPECT_EQ(result.exit_code, kUsageExit);
  EXPECT_THAT(result.err, HasSubstr("unknown dataset 'mnist'"));
  EXPECT_THAT(result.err, HasSubstr("known datasets: imdb"));
  EXPECT_EQ(result.out, "");
}

}  // namespace
