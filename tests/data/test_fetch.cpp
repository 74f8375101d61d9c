// Downloads against a loopback HTTP server and file:// URLs only: no test reaches the real network or
// the user's ~/.cache (every test points GREENTUNE_DATA_DIR at a temporary directory).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <future>
#include <random>

#include "greentune/core/error.hpp"
#include "greentune/data/fetch.hpp"
#include "http_server.hpp"
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
using greentune::Error;
using greentune::ErrorCode;
using greentune::data::DownloadRequest;
using greentune::data::FetchImdbOptions;
using greentune::testing::HttpServer;
using greentune::testing::HttpServerOptions;
using greentune::testing::ReceivedRequest;
using greentune::testing::ScopedEnvironment;
using greentune::testing::sha256sum;
using greentune::testing::TempDir;
using ::testing::HasSubstr;

constexpr size_t kBodyBytes = 300 * 1024;  // several socket buffers, so a cut lands mid-transfer

std::string random_bytes(size_t count, unsigned seed) {
  std::mt19937 generator(seed);
  std::uniform_int_distribution<int> byte(0, 255);
  std::string bytes(count, '\0');
  for (char& b : bytes) {
    b = static_cast<char>(byte(generator));
  }
  return bytes;
}

std::string file_url(const fs::path& path) {
  return "file://" + fs::absolute(path).string();
}

fs::path part_of(const fs::path& destination) {
  return destination.string() + ".part";
}

// A loopback port nothing listens on: bound to find a free one, then closed.
uint16_t closed_loopback_port() {
  const int socket_fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof address;
  ::bind(socket_fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  ::getsockname(socket_fd, reinterpret_cast<sockaddr*>(&address), &size);
  ::close(socket_fd);
  return ntohs(address.sin_port);
}

template <typename Call>
Error expect_error(Call&& call, ErrorCode code) {
  try {
    call();
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), code) << error.what();
    return error;
  }
  ADD_FAILURE() << "expected an Error with code " << greentune::to_string(code);
  return Error(ErrorCode::internal, "", "no error thrown");
}

class FetchTest : public ::testing::Test {
 protected:
  FetchTest()
      : body_(random_bytes(kBodyBytes, 7)),
        source_(temp_ / "source.bin"),
        destination_(temp_ / "downloads" / "file.bin"),
        cache_(temp_ / "cache"),
        data_dir_env_("GREENTUNE_DATA_DIR", cache_.string()),
        url_env_("GREENTUNE_IMDB_URL", std::nullopt),
        sha256_env_("GREENTUNE_IMDB_SHA256", std::nullopt),
        size_env_("GREENTUNE_IMDB_SIZE", std::nullopt) {
    greentune::testing::write_text(source_, body_);
    body_sha256_ = sha256sum(source_);
  }

  DownloadRequest request_for(const std::string& url) const {
    DownloadRequest request;
    request.url = url;
    request.destination = destination_;
    request.expected_size_bytes = body_.size();
    request.expected_sha256 = body_sha256_;
    return request;
  }

  FetchImdbOptions imdb_options() const {
    FetchImdbOptions options;
    options.url = file_url(source_);
    options.expected_size_bytes = body_.size();
    options.expected_sha256 = body_sha256_;
    return options;
  }

  fs::path cached_imdb() const { return cache_ / "imdb" / "aclImdb_v1.tar.gz"; }

  TempDir temp_;
  std::string body_;
  std::string body_sha256_;
  fs::path source_;
  fs::path destination_;
  fs::path cache_;
  ScopedEnvironment data_dir_env_;
  ScopedEnvironment url_env_;
  ScopedEnvironment sha256_env_;
  ScopedEnvironment size_env_;
};

TEST_F(FetchTest, DownloadsOverHttpAndVerifiesSha256) {
  HttpServer server({.body = body_});
  const auto result = greentune::data::download_file(request_for(server.url()));
  EXPECT_EQ(result.size_bytes, body_.size());
  EXPECT_EQ(result.sha256, body_sha256_);
  EXPECT_EQ(greentune::testing::read_text(destination_), body_);
  EXPECT_FALSE(fs::exists(part_of(destination_)));
  const std::vector<ReceivedRequest> requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].target, "/file");
  EXPECT_FALSE(requests[0].range_start.has_value());
}

TEST_F(FetchTest, AcceptsUppercaseExpectedSha256) {
  HttpServer server({.body = body_});
  DownloadRequest request = request_for(server.url());
  std::transform(request.expected_sha256.begin(), request.expected_sha256.end(),
                 request.expected_sha256.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  EXPECT_EQ(greentune::data::download_file(request).sha256, body_sha256_);
}

TEST_F(FetchTest, FollowsRedirects) {
  HttpServer server({.body = body_});
  greentune::data::download_file(request_for(server.url("/redirect")));
  EXPECT_EQ(greentune::testing::read_text(destination_), body_);
  const std::vector<ReceivedRequest> requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].target, "/redirect");
  EXPECT_EQ(requests[1].target, "/file");
}

TEST_F(FetchTest, WrongSha256IsAnIntegrityErrorAndLeavesNoFile) {
  HttpServer server({.body = body_});
  DownloadRequest request = request_for(server.url());
  const std::string wrong(64, 'a');
  request.expected_sha256 = wrong;
  const Error error = expect_error([&] { greentune::data::download_file(request); }, ErrorCode::integrity);
  EXPECT_THAT(error.what(), HasSubstr(wrong));
  EXPECT_THAT(error.what(), HasSubstr(body_sha256_));
  EXPECT_FALSE(fs::exists(destination_));
  EXPECT_FALSE(fs::exists(part_of(destination_)));
}

TEST_F(FetchTest, WrongSizeIsAnIntegrityErrorAndLeavesNoFile) {
  HttpServer server({.body = body_});
  DownloadRequest request = request_for(server.url());
  request.expected_size_bytes = body_.size() + 1;
  const Error error = expect_error([&] { greentune::data::download_file(request); }, ErrorCode::integrity);
  EXPECT_THAT(error.what(), HasSubstr(std::to_string(body_.size() + 1)));
  EXPECT_FALSE(fs::exists(destination_));
  EXPECT_FALSE(fs::exists(part_of(destination_)));
}

TEST_F(FetchTest, MalformedExpectedSha256IsAUsageError) {
  DownloadRequest request = request_for(file_url(source_));
  request.expected_sha256 = "c40f74";
  const Error error = expect_error([&] { greentune::data::download_file(request); }, ErrorCode::usage);
  EXPECT_THAT(error.what(), HasSubstr("c40f74"));
}

TEST_F(FetchTest, ResumesAfterADroppedConnectionOnTheNextCall) {
  constexpr size_t kCut = 100000;
  HttpServer server({.body = body_, .cut_after_bytes = kCut});
  DownloadRequest request = request_for(server.url());
  request.max_attempts = 1;

  expect_error([&] { greentune::data::download_file(request); }, ErrorCode::network);
  EXPECT_FALSE(fs::exists(destination_));
  ASSERT_TRUE(fs::exists(part_of(destination_)));
  EXPECT_EQ(greentune::testing::read_text(part_of(destination_)), body_.substr(0, kCut));

  const auto result = greentune::data::download_file(request);
  EXPECT_EQ(result.sha256, body_sha256_);
  EXPECT_EQ(greentune::testing::read_text(destination_), body_);
  const std::vector<ReceivedRequest> requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_FALSE(requests[0].range_start.has_value());
  EXPECT_EQ(requests[1].range_start, std::optional<uint64_t>(kCut));
}

TEST_F(FetchTest, RetriesADroppedConnectionByResuming) {
  constexpr size_t kCut = 50000;
  HttpServer server({.body = body_, .cut_after_bytes = kCut});
  const auto result = greentune::data::download_file(request_for(server.url()));
  EXPECT_EQ(result.sha256, body_sha256_);
  EXPECT_EQ(greentune::testing::read_text(destination_), body_);
  const std::vector<ReceivedRequest> requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[1].range_start, std::optional<uint64_t>(kCut));
}

TEST_F(FetchTest, StartsOverWhenTheServerIgnoresRange) {
  // Bytes that must not survive: if they were kept, the result would not match the digest.
  constexpr size_t kStaleBytes = 1000;
  fs::create_directories(destination_.parent_path());
  greentune::testing::write_text(part_of(destination_), std::string(kStaleBytes, 'x'));
  HttpServer server({.body = body_, .honor_range = false});

  const auto result = greentune::data::download_file(request_for(server.url()));
  EXPECT_EQ(result.sha256, body_sha256_);
  EXPECT_EQ(greentune::testing::read_text(destination_), body_);
  const std::vector<ReceivedRequest> requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].range_start, std::optional<uint64_t>(kStaleBytes));
  EXPECT_FALSE(requests[1].range_start.has_value());
}

TEST_F(FetchTest, CompletePartFileIsVerifiedWithoutATransfer) {
  fs::create_directories(destination_.parent_path());
  greentune::testing::write_text(part_of(destination_), body_);
  HttpServer server({.body = body_});
  greentune::data::download_file(request_for(server.url()));
  EXPECT_EQ(greentune::testing::read_text(destination_), body_);
  EXPECT_TRUE(server.requests().empty());
}

TEST_F(FetchTest, HttpErrorStatusIsANetworkErrorNamingTheStatus) {
  HttpServer server({.body = body_, .status = 404});
  const Error error =
      expect_error([&] { greentune::data::download_file(request_for(server.url())); }, ErrorCode::network);
  EXPECT_THAT(error.what(), HasSubstr("404"));
  EXPECT_THAT(error.what(), HasSubstr(server.url()));
  EXPECT_FALSE(fs::exists(destination_));
  EXPECT_FALSE(fs::exists(part_of(destination_)));
}

TEST_F(FetchTest, UnreachableServerIsANetworkErrorWithTheUrlAndAFix) {
  const std::string url = "http://127.0.0.1:" + std::to_string(closed_loopback_port()) + "/file";
  const Error error =
      expect_error([&] { greentune::data::download_file(request_for(url)); }, ErrorCode::network);
  EXPECT_THAT(error.what(), HasSubstr(url));
  EXPECT_THAT(error.what(), HasSubstr("check the network connection"));
  EXPECT_THAT(error.what(), HasSubstr(destination_.string()));  // the default offline fix: save it there
}

TEST_F(FetchTest, DownloadsFileUrls) {
  const auto result = greentune::data::download_file(request_for(file_url(source_)));
  EXPECT_EQ(result.size_bytes, body_.size());
  EXPECT_EQ(result.sha256, body_sha256_);
  EXPECT_EQ(greentune::testing::read_text(destination_), body_);
}

TEST_F(FetchTest, ResumesFileUrlsFromThePartFile) {
  // The .part's bytes are kept and only the rest is read from the source: the stand-in 'z' prefix shows it.
  constexpr size_t kHave = 12345;
  fs::create_directories(destination_.parent_path());
  greentune::testing::write_text(part_of(destination_), std::string(kHave, 'z'));
  DownloadRequest request = request_for(file_url(source_));
  request.expected_sha256.clear();

  greentune::data::download_file(request);
  EXPECT_EQ(greentune::testing::read_text(destination_), std::string(kHave, 'z') + body_.substr(kHave));
}

TEST_F(FetchTest, MissingFileUrlSourceIsNotFound) {
  const std::string url = file_url(temp_ / "missing.bin");
  const Error error =
      expect_error([&] { greentune::data::download_file(request_for(url)); }, ErrorCode::not_found);
  EXPECT_THAT(error.what(), HasSubstr("missing.bin"));
  EXPECT_FALSE(fs::exists(part_of(destination_)));
}

TEST_F(FetchTest, DataDirComesFromTheEnvironmentOrHome) {
  EXPECT_EQ(greentune::data::data_dir(), cache_);
  const ScopedEnvironment no_data_dir("GREENTUNE_DATA_DIR", std::nullopt);
  {
    const ScopedEnvironment home("HOME", temp_.path().string());
    EXPECT_EQ(greentune::data::data_dir(), temp_.path() / ".cache" / "greentune");
  }
  const ScopedEnvironment no_home("HOME", std::nullopt);
  const Error error = expect_error([] { greentune::data::data_dir(); }, ErrorCode::usage);
  EXPECT_THAT(error.what(), HasSubstr("GREENTUNE_DATA_DIR"));
}

TEST_F(FetchTest, FetchImdbDownloadsOnceThenUsesTheVerifiedCopy) {
  const fs::path archive = greentune::data::fetch_imdb(imdb_options());
  EXPECT_EQ(archive, cached_imdb());
  EXPECT_EQ(greentune::testing::read_text(archive), body_);
  EXPECT_TRUE(fs::exists(archive.string() + ".verified"));

  fs::remove(source_);  // a second download would now fail
  EXPECT_EQ(greentune::data::fetch_imdb(imdb_options()), cached_imdb());
  EXPECT_EQ(greentune::testing::read_text(archive), body_);
}

TEST_F(FetchTest, FetchImdbVerifiesACopyPlacedByHand) {
  fs::create_directories(cached_imdb().parent_path());
  fs::copy_file(source_, cached_imdb());
  fs::remove(source_);
  EXPECT_EQ(greentune::data::fetch_imdb(imdb_options()), cached_imdb());
  EXPECT_TRUE(fs::exists(cached_imdb().string() + ".verified"));
}

TEST_F(FetchTest, FetchImdbReplacesAChangedCopy) {
  greentune::data::fetch_imdb(imdb_options());
  greentune::testing::write_text(cached_imdb(), "damaged");
  EXPECT_EQ(greentune::data::fetch_imdb(imdb_options()), cached_imdb());
  EXPECT_EQ(greentune::testing::read_text(cached_imdb()), body_);
}

TEST_F(FetchTest, FetchImdbForceDownloadsAgainAndKeepsTheCopyWhenThatFails) {
  greentune::data::fetch_imdb(imdb_options());
  fs::remove(source_);
  FetchImdbOptions options = imdb_options();
  options.force = true;
  expect_error([&] { greentune::data::fetch_imdb(options); }, ErrorCode::not_found);
  EXPECT_EQ(greentune::testing::read_text(cached_imdb()), body_);
}

TEST_F(FetchTest, ParallelFetchesDownloadOnce) {
  HttpServer server({.body = body_});
  FetchImdbOptions options = imdb_options();
  options.url = server.url();
  auto fetch = [&options] { return greentune::data::fetch_imdb(options); };
  std::future<fs::path> first = std::async(std::launch::async, fetch);
  std::future<fs::path> second = std::async(std::launch::async, fetch);
  EXPECT_EQ(first.get(), cached_imdb());
  EXPECT_EQ(second.get(), cached_imdb());
  EXPECT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(greentune::testing::read_text(cached_imdb()), body_);
}

TEST_F(FetchTest, UnwritableDataDirIsAnIoError) {
  greentune::testing::write_text(temp_ / "a-file", "not a directory");
  FetchImdbOptions options = imdb_options();
  options.data_dir = temp_ / "a-file" / "cache";
  const Error error = expect_error([&] { greentune::data::fetch_imdb(options); }, ErrorCode::io);
  EXPECT_THAT(error.what(), HasSubstr("GREENTUNE_DATA_DIR"));
}

TEST_F(FetchTest, ResolveDataPathFetchesImdbFromTheUrlInTheEnvironment) {
  const ScopedEnvironment url("GREENTUNE_IMDB_URL", file_url(source_));
  const ScopedEnvironment sha256("GREENTUNE_IMDB_SHA256", body_sha256_);
  const ScopedEnvironment size("GREENTUNE_IMDB_SIZE", std::to_string(body_.size()));
  EXPECT_EQ(greentune::data::resolve_data_path("imdb"), cached_imdb());
  EXPECT_EQ(greentune::testing::read_text(cached_imdb()), body_);
}

TEST_F(FetchTest, MirrorUrlStillHasToMatchThePublishedFigures) {
  const ScopedEnvironment url("GREENTUNE_IMDB_URL", file_url(source_));
  const Error error = expect_error([] { greentune::data::resolve_data_path("imdb"); }, ErrorCode::integrity);
  EXPECT_THAT(error.what(), HasSubstr(std::to_string(greentune::data::kImdbSizeBytes)));
  EXPECT_FALSE(fs::exists(cached_imdb()));
}

TEST_F(FetchTest, BadSizeInTheEnvironmentIsAUsageError) {
  const ScopedEnvironment size("GREENTUNE_IMDB_SIZE", "84MB");
  const Error error = expect_error([] { greentune::data::fetch_imdb(); }, ErrorCode::usage);
  EXPECT_THAT(error.what(), HasSubstr("GREENTUNE_IMDB_SIZE"));
}

TEST_F(FetchTest, ResolveDataPathReturnsOtherStringsUnchanged) {
  EXPECT_EQ(greentune::data::resolve_data_path("some/dir/reviews.tar.gz"),
            fs::path("some/dir/reviews.tar.gz"));
  EXPECT_FALSE(fs::exists(cache_));
}

}  // namespace
