// Hub model resolution against loopback HTTP servers standing in for huggingface.co and its CDN: no test
// reaches the real network or the user's ~/.cache (HF_HUB_CACHE and HF_HOME point at temporary directories).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "greentune/core/error.hpp"
#include "greentune/model/hub.hpp"
#include "http_server.hpp"
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
using greentune::Error;
using greentune::ErrorCode;
using greentune::model::HubOptions;
using greentune::model::resolve_model_dir;
using greentune::testing::HttpRoute;
using greentune::testing::HttpServer;
using greentune::testing::read_text;
using greentune::testing::ReceivedRequest;
using greentune::testing::ScopedEnvironment;
using greentune::testing::sha256sum;
using greentune::testing::TempDir;
using ::testing::HasSubstr;

const std::string kRepoId = "greentune-test/distilbert-tiny";
const std::string kStorageFolder = "models--greentune-test--distilbert-tiny";
const std::string kCommit = "5b1c3e8f0a9d47e2b6c8d1f3a5e7092b4c6d8e0f";
const std::vector<std::string> kRevisions = {"main", kCommit};  // the hub answers at a branch or a commit

struct FakeFile {
  std::string body;
  std::string etag;  // the name of its blob
  bool lfs = false;  // served like the hub serves LFS files: a redirect to the CDN
};

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

// Every path under root, relative, symlinks not followed.
std::set<std::string> tree_of(const fs::path& root) {
  std::set<std::string> entries;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    entries.insert(entry.path().lexically_relative(root).string());
  }
  return entries;
}

size_t count_with_method(const std::vector<ReceivedRequest>& requests, const std::string& method) {
  return static_cast<size_t>(
      std::count_if(requests.begin(), requests.end(),
                    [&](const ReceivedRequest& request) { return request.method == method; }));
}

class HubTest : public ::testing::Test {
 protected:
  HubTest()
      : cache_(temp_ / "hub-cache"),
        hub_cache_env_("HF_HUB_CACHE", cache_.string()),
        hf_home_env_("HF_HOME", (temp_ / "hf-home").string()),
        endpoint_env_("HF_ENDPOINT", std::nullopt),
        token_env_("HF_TOKEN", std::nullopt),
        token_path_env_("HF_TOKEN_PATH", std::nullopt),
        offline_env_("HF_HUB_OFFLINE", std::nullopt) {
    const fs::path fixture = greentune::testing::test_data_dir() / "model" / "distilbert_tiny";
    const fs::path vocab = temp_ / "vocab.txt";
    greentune::testing::write_text(vocab, "[PAD]\n[unused0]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\nmovie\n##s\n");
    const fs::path tokenizer_config = temp_ / "tokenizer_config.json";
    greentune::testing::write_text(tokenizer_config,
                                   "{\"do_lower_case\": true, \"model_max_length\": 512}\n");
    // The hub names a regular file by its git blob id (SHA-1, 40 hex digits) and an LFS file by its SHA-256;
    // the first 40 digits of the SHA-256 stand in for the git id, which only has to be distinct.
    files_["config.json"] = {read_text(fixture / "config.json"),
                             sha256sum(fixture / "config.json").substr(0, 40)};
    files_["model.safetensors"] = {read_text(fixture / "model.safetensors"),
                                   sha256sum(fixture / "model.safetensors"), true};
    files_["vocab.txt"] = {read_text(vocab), sha256sum(vocab).substr(0, 40)};
    files_["tokenizer_config.json"] = {read_text(tokenizer_config),
                                       sha256sum(tokenizer_config).substr(0, 40)};
  }

  // The CDN serves each LFS file's bytes at /lfs/<sha256>.
  std::map<std::string, HttpRoute> cdn_routes() const {
    std::map<std::string, HttpRoute> routes;
    for (const auto& [name, file] : files_) {
      if (file.lfs) {
        routes["/lfs/" + file.etag] = HttpRoute{200, {}, file.body};
      }
    }
    return routes;
  }

  // Answers like huggingface.co's /REPO/resolve/REVISION/FILE at "main" and at the commit: a regular file
  // directly with its ETag (weak for vocab.txt, as a proxy may make it), an LFS file as a redirect to the
  // CDN at another host name (localhost, not 127.0.0.1) carrying X-Linked-Etag and X-Linked-Size. Files in
  // `omitted` answer 404 like the hub's EntryNotFound.
  std::map<std::string, HttpRoute> hub_routes(const HttpServer& cdn, const std::string& repo_id = kRepoId,
                                              const std::set<std::string>& omitted = {}) const {
    std::map<std::string, HttpRoute> routes;
    for (const std::string& revision : kRevisions) {
      for (const auto& [name, file] : files_) {
        const std::string path = "/" + repo_id + "/resolve/" + revision + "/" + name;
        if (omitted.count(name) > 0) {
          routes[path] =
              HttpRoute{404, {"X-Error-Code: EntryNotFound", "X-Error-Message: Entry not found"}, ""};
        } else if (file.lfs) {
          routes[path] = HttpRoute{
              302,
              {"X-Repo-Commit: " + kCommit, "ETag: \"pointer-" + file.etag.substr(0, 8) + "\"",
               "X-Linked-Etag: \"" + file.etag + "\"", "X-Linked-Size: " + std::to_string(file.body.size()),
               "Location: http://localhost:" + std::to_string(cdn.port()) + "/lfs/" + file.etag},
              ""};
        } else {
          const std::string etag = name == "vocab.txt" ? "W/\"" + file.etag + "\"" : "\"" + file.etag + "\"";
          routes[path] = HttpRoute{200, {"X-Repo-Commit: " + kCommit, "ETag: " + etag}, file.body};
        }
      }
    }
    return routes;
  }

  fs::path storage() const { return cache_ / kStorageFolder; }
  fs::path snapshot() const { return storage() / "snapshots" / kCommit; }

  // The snapshot holds each named file as a relative link to ../../blobs/<etag> with the served bytes.
  void expect_snapshot_files(const fs::path& snapshot, const std::vector<std::string>& names) const {
    for (const std::string& name : names) {
      const fs::path link = snapshot / name;
      ASSERT_TRUE(fs::is_symlink(link)) << link;
      EXPECT_EQ(fs::read_symlink(link), fs::path("../../blobs") / files_.at(name).etag) << name;
      EXPECT_EQ(read_text(link), files_.at(name).body) << name;
    }
  }

  TempDir temp_;
  fs::path cache_;
  ScopedEnvironment hub_cache_env_;
  ScopedEnvironment hf_home_env_;
  ScopedEnvironment endpoint_env_;
  ScopedEnvironment token_env_;
  ScopedEnvironment token_path_env_;
  ScopedEnvironment offline_env_;
  std::map<std::string, FakeFile> files_;
};

TEST_F(HubTest, DownloadsIntoTheHuggingFaceCacheLayout) {
  HttpServer cdn({.routes = cdn_routes()});
  HttpServer hub({.routes = hub_routes(cdn)});
  const ScopedEnvironment endpoint("HF_ENDPOINT", hub.url("/"));  // a trailing slash is fine

  EXPECT_EQ(resolve_model_dir(kRepoId), snapshot());

  EXPECT_EQ(read_text(storage() / "refs" / "main"), kCommit);  // no newline, as huggingface_hub writes it
  std::set<std::string> expected = {"refs", "refs/main", "blobs", "snapshots", "snapshots/" + kCommit};
  for (const auto& [name, file] : files_) {
    expected.insert("blobs/" + file.etag);
    expected.insert("snapshots/" + kCommit + "/" + name);
    EXPECT_EQ(read_text(storage() / "blobs" / file.etag), file.body) << name;
  }
  EXPECT_EQ(tree_of(storage()), expected);
  expect_snapshot_files(snapshot(),
                        {"config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json"});
  EXPECT_EQ(tree_of(cache_).count(".locks/" + kStorageFolder), 1u);  // where huggingface_hub locks too

  // Metadata from HEAD requests, the first at the revision and the rest at the commit it named; the
  // downloads at the commit, the LFS file's bytes from the CDN.
  const std::vector<ReceivedRequest> requests = hub.requests();
  ASSERT_FALSE(requests.empty());
  EXPECT_EQ(requests.front().method, "HEAD");
  EXPECT_EQ(requests.front().target, "/" + kRepoId + "/resolve/main/config.json");
  EXPECT_EQ(count_with_method(requests, "HEAD"), 4u);
  EXPECT_EQ(count_with_method(requests, "GET"), 4u);
  for (size_t i = 1; i < requests.size(); ++i) {
    EXPECT_THAT(requests[i].target, HasSubstr("/resolve/" + kCommit + "/"));
    EXPECT_FALSE(requests[i].header("Authorization").has_value());  // no token configured
  }
  const std::vector<ReceivedRequest> cdn_requests = cdn.requests();
  ASSERT_EQ(cdn_requests.size(), 1u);
  EXPECT_EQ(cdn_requests[0].method, "GET");
  EXPECT_EQ(cdn_requests[0].target, "/lfs/" + files_.at("model.safetensors").etag);
}

TEST_F(HubTest, SecondResolveMakesNoRequest) {
  HttpServer cdn({.routes = cdn_routes()});
  HttpServer hub({.routes = hub_routes(cdn)});
  const ScopedEnvironment endpoint("HF_ENDPOINT", hub.url(""));
  const fs::path first = resolve_model_dir(kRepoId);
  const size_t hub_requests = hub.requests().size();
  const size_t cdn_requests = cdn.requests().size();

  EXPECT_EQ(resolve_model_dir(kRepoId), first);
  EXPECT_EQ(hub.requests().size(), hub_requests);
  EXPECT_EQ(cdn.requests().size(), cdn_requests);
}

TEST_F(HubTest, CompletesAPartialSnapshotReusingBlobsAlreadyThere) {
  HttpServer cdn({.routes = cdn_routes()});
  HttpServer hub({.routes = hub_routes(cdn)});
  const ScopedEnvironment endpoint("HF_ENDPOINT", hub.url(""));
  resolve_model_dir(kRepoId);
  // As if another tool had fetched only some files: vocab.txt's blob without its link, no model at all.
  fs::remove(snapshot() / "vocab.txt");
  fs::remove(snapshot() / "model.safetensors");
  fs::remove(storage() / "blobs" / files_.at("model.safetensors").etag);
  const size_t hub_gets = count_with_method(hub.requests(), "GET");
  const size_t cdn_requests = cdn.requests().size();

  EXPECT_EQ(resolve_model_dir(kRepoId), snapshot());
  expect_snapshot_files(snapshot(),
                        {"config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json"});
  EXPECT_EQ(count_with_method(hub.requests(), "GET"), hub_gets + 1);  // model.safetensors only
  EXPECT_EQ(cdn.requests().size(), cdn_requests + 1);
}

TEST_F(HubTest, SendsHfTokenToTheHubButNotToTheCdn) {
  HttpServer cdn({.routes = cdn_routes()});
  HttpServer hub({.routes = hub_routes(cdn)});
  const ScopedEnvironment endpoint("HF_ENDPOINT", hub.url(""));
  const ScopedEnvironment token("HF_TOKEN", "hf_secret_from_env");
  resolve_model_dir(kRepoId);

  const std::vector<ReceivedRequest> requests = hub.requests();
  ASSERT_EQ(requests.size(), 8u);
  for (const ReceivedRequest& request : requests) {
    EXPECT_EQ(request.header("Authorization"), std::optional<std::string>("Bearer hf_secret_from_env"))
        << request.method << " " << request.target;
  }
  const std::vector<ReceivedRequest> cdn_requests = cdn.requests();
  ASSERT_EQ(cdn_requests.size(), 1u);
  EXPECT_FALSE(cdn_requests[0].header("Authorization").has_value());
}

TEST_F(HubTest, ReadsTheTokenFileInHfHome) {
  HttpServer cdn({.routes = cdn_routes()});
  HttpServer hub({.routes = hub_routes(cdn)});
  const ScopedEnvironment endpoint("HF_ENDPOINT", hub.url(""));
  fs::create_directories(temp_ / "hf-home");
  greentune::testing::write_text(temp_ / "hf-home" / "token", "hf_secret_from_file\n");
  resolve_model_dir(kRepoId);

  const std::vector<ReceivedRequest> requests = hub.requests();
  ASSERT_FALSE(requests.empty());
  EXPECT_EQ(requests.front().header("Authorization"),
            std::optional<std::string>("Bearer hf_secret_from_file"));
}

TEST_F(HubTest, OfflineModeUsesAWarmCacheWithoutRequests) {
  HttpServer cdn({.routes = cdn_routes()});
  HttpServer hub({.routes = hub_routes(cdn)});
  {
    const ScopedEnvironment endpoint("HF_ENDPOINT", hub.url(""));
    resolve_model_dir(kRepoId);
  }
  const size_t hub_requests = hub.requests().size();
  const ScopedEnvironment unreachable("HF_ENDPOINT",
                                      "http://127.0.0.1:" + std::to_string(closed_loopback_port()));
  {
    const ScopedEnvironment offline("HF_HUB_OFFLINE", "1");
    EXPECT_EQ(resolve_model_dir(kRepoId), snapshot());
  }
  HubOptions offline;
  offline.offline = true;
  EXPECT_EQ(resolve_model_dir(kRepoId, offline), snapshot());
  EXPECT_EQ(hub.requests().size(), hub_requests);
}

TEST_F(HubTest, OfflineModeWithAColdCacheSaysWhatIsMissingAndHowToFixIt) {
  HttpServer cdn({.routes = cdn_routes()});
  HttpServer hub({.routes = hub_routes(cdn)});
  const ScopedEnvironment endpoint("HF_ENDPOINT", hub.url(""));
  const ScopedEnvironment offline("HF_HUB_OFFLINE", "true");

  const Error error = expect_error([] { resolve_model_dir(kRepoId); }, ErrorCode::not_found);
  EXPECT_THAT(error.what(), HasSubstr(kRepoId));
  EXPECT_THAT(error.what(), HasSubstr("not in the Hugging Face cache at " + storage().string()));
  EXPECT_THAT(error.what(), HasSubstr("offline mode is on"));
  EXPECT_THAT(error.what(), HasSubstr("unset HF_HUB_OFFLINE"));
  EXPECT_THAT(error.what(), HasSubstr("pass its path"));
  EXPECT_TRUE(hub.requests().empty());
  EXPECT_FALSE(fs::exists(storage()));
}

TEST_F(HubTest, RevisionGivenAsACommitNamesTheSnapshotAndWritesNoRef) {
  HttpServer cdn({.routes = cdn_routes()});
  HttpServer hub({.routes = hub_routes(cdn)});
  const ScopedEnvironment endpoint("HF_ENDPOINT", hub.url(""));
  HubOptions options;
  options.revision = kCommit;

  EXPECT_EQ(resolve_model_dir(kRepoId, options), snapshot());
  expect_snapshot_files(snapshot(), {"config.json", "model.safetensors", "vocab.txt"});
  EXPECT_FALSE(fs::exists(storage() / "refs"));
  for (const ReceivedRequest& request : hub.requests()) {
    EXPECT_THAT(request.target, HasSubstr("/resolve/" + kCommit + "/"));
  }
  // The commit's snapshot is found without the refs file, offline too.
  const size_t hub_requests = hub.requests().size();
  options.offline = true;
  EXPECT_EQ(resolve_model_dir(kRepoId, options), snapshot());
  EXPECT_EQ(hub.requests().size(), hub_requests);
}

TEST_F(HubTest, MissingOptionalTokenizerConfigIsRecordedLikeHuggingFaceHub) {
  HttpServer cdn({.routes = cdn_routes()});
  HttpServer hub({.routes = hub_routes(cdn, kRepoId, {"tokenizer_config.json"})});
  const ScopedEnvironment endpoint("HF_ENDPOINT", hub.url(""));

  EXPECT_EQ(resolve_model_dir(kRepoId), snapshot());
  expect_snapshot_files(snapshot(), {"config.json", "model.safetensors", "vocab.txt"});
  EXPECT_FALSE(fs::exists(snapshot() / "tokenizer_config.json"));
  const fs::path no_exist = storage() / ".no_exist" / kCommit / "tokenizer_config.json";
  ASSERT_TRUE(fs::is_regular_file(no_exist));
  EXPECT_EQ(fs::file_size(no_exist), 0u);
}

TEST_F(HubTest, MissingRequiredFileIsNotFoundAndLeavesNoSnapshot) {
  HttpServer cdn({.routes = cdn_routes()});
  HttpServer hub({.routes = hub_routes(cdn, kRepoId, {"model.safetensors"})});
  const ScopedEnvironment endpoint("HF_ENDPOINT", hub.url(""));

  const Error error = expect_error([] { resolve_model_dir(kRepoId); }, ErrorCode::not_found);
  EXPECT_THAT(error.what(), HasSubstr(kRepoId + " (revision main) has no model.safetensors"));
  EXPECT_THAT(error.what(), HasSubstr("404"));
  EXPECT_THAT(error.what(), HasSubstr("is the model id right?"));
  EXPECT_FALSE(fs::exists(storage() / "snapshots"));
  EXPECT_FALSE(fs::exists(storage() / "refs"));
  EXPECT_FALSE(fs::exists(storage() / "blobs"));
  EXPECT_EQ(count_with_method(hub.requests(), "GET"), 0u);
}

TEST_F(HubTest, CorruptLfsDownloadIsAnIntegrityErrorAndLeavesNoSnapshot) {
  std::map<std::string, HttpRoute> cdn_serving_other_bytes = cdn_routes();
  for (auto& [path, route] : cdn_serving_other_bytes) {
    route.body[route.body.size() / 2] ^= 0x01;
  }
  HttpServer cdn({.routes = cdn_serving_other_bytes});
  HttpServer hub({.routes = hub_routes(cdn)});
  const ScopedEnvironment endpoint("HF_ENDPOINT", hub.url(""));

  const Error error = expect_error([] { resolve_model_dir(kRepoId); }, ErrorCode::integrity);
  EXPECT_THAT(error.what(), HasSubstr(files_.at("model.safetensors").etag));
  EXPECT_FALSE(fs::exists(storage() / "snapshots"));
  EXPECT_FALSE(fs::exists(storage() / "refs"));
  EXPECT_FALSE(fs::exists(storage() / "blobs" / files_.at("model.safetensors").etag));
}

TEST_F(HubTest, FollowsTheHubsRelativeRedirectOfARenamedRepository) {
  // huggingface.co answers the legacy id distilbert-base-uncased with a 307 to distilbert/....
  HttpServer cdn({.routes = cdn_routes()});
  std::map<std::string, HttpRoute> routes = hub_routes(cdn, "distilbert/distilbert-base-uncased");
  for (const std::string& revision : kRevisions) {
    for (const auto& [name, file] : files_) {
      const std::string tail = "/resolve/" + revision + "/" + name;
      routes["/distilbert-base-uncased" + tail] =
          HttpRoute{307, {"Location: /distilbert/distilbert-base-uncased" + tail}, ""};
    }
  }
  HttpServer hub({.routes = routes});
  const ScopedEnvironment endpoint("HF_ENDPOINT", hub.url(""));

  const fs::path resolved = resolve_model_dir("distilbert-base-uncased");
  EXPECT_EQ(resolved, cache_ / "models--distilbert-base-uncased" / "snapshots" / kCommit);
  expect_snapshot_files(resolved, {"config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json"});
  EXPECT_EQ(read_text(cache_ / "models--distilbert-base-uncased" / "refs" / "main"), kCommit);
}

TEST_F(HubTest, UnauthorizedAndGatedAnswersPointAtHfToken) {
  const std::string config_path = "/" + kRepoId + "/resolve/main/config.json";
  {
    HttpServer hub({.routes = {{config_path, HttpRoute{401, {"X-Error-Code: RepoNotFound"}, ""}}}});
    const ScopedEnvironment endpoint("HF_ENDPOINT", hub.url(""));
    const Error error = expect_error([] { resolve_model_dir(kRepoId); }, ErrorCode::network);
    EXPECT_THAT(error.what(), HasSubstr("401"));
    EXPECT_THAT(error.what(), HasSubstr("private or gated"));
    EXPECT_THAT(error.what(), HasSubstr("HF_TOKEN"));
  }
  {
    HttpServer hub(
        {.routes = {{config_path, HttpRoute{403, {"X-Error-Message: Access to model is restricted"}, ""}}}});
    const ScopedEnvironment endpoint("HF_ENDPOINT", hub.url(""));
    const ScopedEnvironment token("HF_TOKEN", "hf_without_access");
    const Error error = expect_error([] { resolve_model_dir(kRepoId); }, ErrorCode::network);
    EXPECT_THAT(error.what(), HasSubstr("403"));
    EXPECT_THAT(error.what(), HasSubstr("Access to model is restricted"));
    EXPECT_THAT(error.what(), HasSubstr("gated"));
    EXPECT_THAT(error.what(), HasSubstr("HF_TOKEN"));
  }
  EXPECT_FALSE(fs::exists(storage() / "snapshots"));
}

TEST_F(HubTest, UnreachableHubIsANetworkErrorWithTheUrlAndAFix) {
  const std::string endpoint_url = "http://127.0.0.1:" + std::to_string(closed_loopback_port());
  const ScopedEnvironment endpoint("HF_ENDPOINT", endpoint_url);
  const Error error = expect_error([] { resolve_model_dir(kRepoId); }, ErrorCode::network);
  EXPECT_THAT(error.what(), HasSubstr(endpoint_url + "/" + kRepoId + "/resolve/main/config.json"));
  EXPECT_THAT(error.what(), HasSubstr("check the network connection"));
  EXPECT_THAT(error.what(), HasSubstr("pass its path"));
}

TEST_F(HubTest, ServerThatIsNotAHubIsRejected) {
  HttpServer plain({.body = "{}"});  // 200 without X-Repo-Commit
  const ScopedEnvironment endpoint("HF_ENDPOINT", plain.url(""));
  const Error error = expect_error([] { resolve_model_dir(kRepoId); }, ErrorCode::network);
  EXPECT_THAT(error.what(), HasSubstr("X-Repo-Commit"));
  EXPECT_THAT(error.what(), HasSubstr("HF_ENDPOINT"));
  EXPECT_FALSE(fs::exists(storage() / "snapshots"));
}

TEST_F(HubTest, LocalDirectoryIsReturnedAsItIs) {
  const fs::path local = temp_ / "my-model";
  fs::create_directories(local);
  EXPECT_EQ(resolve_model_dir(local.string()), local);
  EXPECT_FALSE(fs::exists(cache_));
}

TEST_F(HubTest, NeitherDirectoryNorHubIdIsNotFound) {
  for (const std::string model :
       {"./missing/dir", "a/b/c", "/no/such/model", "bad--id", "-leading-dash", ""}) {
    const Error error = expect_error([&] { resolve_model_dir(model); }, ErrorCode::not_found);
    EXPECT_THAT(error.what(), HasSubstr("the model directory does not exist")) << model;
    EXPECT_THAT(error.what(), HasSubstr("distilbert-base-uncased")) << model;  // the fix shows a hub id
  }
  EXPECT_FALSE(fs::exists(cache_));
}

TEST_F(HubTest, RevisionThatLeavesTheRefsDirectoryIsAUsageError) {
  HubOptions options;
  options.revision = "../../escape";
  const Error error = expect_error([&] { resolve_model_dir(kRepoId, options); }, ErrorCode::usage);
  EXPECT_THAT(error.what(), HasSubstr("../../escape"));
}

TEST_F(HubTest, CacheDirectoryFollowsHuggingFaceHubsEnvironmentVariables) {
  EXPECT_EQ(greentune::model::hub_cache_dir(), cache_);
  const ScopedEnvironment no_hub_cache("HF_HUB_CACHE", std::nullopt);
  EXPECT_EQ(greentune::model::hub_cache_dir(), temp_ / "hf-home" / "hub");
  const ScopedEnvironment no_hf_home("HF_HOME", std::nullopt);
  {
    const ScopedEnvironment xdg("XDG_CACHE_HOME", (temp_ / "xdg").string());
    EXPECT_EQ(greentune::model::hub_cache_dir(), temp_ / "xdg" / "huggingface" / "hub");
  }
  const ScopedEnvironment no_xdg("XDG_CACHE_HOME", std::nullopt);
  const ScopedEnvironment home("HOME", (temp_ / "home").string());
  EXPECT_EQ(greentune::model::hub_cache_dir(), temp_ / "home" / ".cache" / "huggingface" / "hub");
  const ScopedEnvironment tilde("HF_HUB_CACHE", "~/hf-cache");
  EXPECT_EQ(greentune::model::hub_cache_dir(), temp_ / "home" / "hf-cache");
}

}  // namespace
