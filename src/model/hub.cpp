#include "greentune/model/hub.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <charconv>
#include <optional>
#include <string_view>
#include <vector>

#include "greentune/core/error.hpp"
#include "greentune/core/files.hpp"
#include "greentune/core/log.hpp"
#include "greentune/core/parse.hpp"
#include "greentune/core/strings.hpp"
#include "greentune/data/fetch.hpp"

namespace greentune::model {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kDefaultEndpoint = "https://huggingface.co";
constexpr size_t kMaxRepoIdChars = 96;   // huggingface_hub's validate_repo_id limit
constexpr size_t kCommitHexDigits = 40;  // a git commit id (SHA-1)
constexpr size_t kSha256HexDigits = 64;  // the etag of an LFS file is its SHA-256
constexpr int kMaxHubRedirects = 5;      // relative redirects, e.g. a renamed repository's old id

struct HubFile {
  std::string_view name;
  bool required;
};

// Required files first: the first answer pins the commit that every later file is fetched at.
constexpr std::array<HubFile, 4> kModelFiles{{{"config.json", true},
                                              {"model.safetensors", true},
                                              {"vocab.txt", true},
                                              {"tokenizer_config.json", false}}};

bool is_hex(std::string_view text, size_t digits) {
  return text.size() == digits && text.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

// huggingface_hub's constants.py: "1", "ON", "YES", "TRUE" in any case.
bool is_true_value(std::string value) {
  std::transform(value.begin(), value.end(), value.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return value == "1" || value == "ON" || value == "YES" || value == "TRUE";
}

std::string home_dir() {
  const std::string home = env_or("HOME", "");
  if (home.empty()) {
    throw Error(ErrorCode::usage, "", "cannot find the Hugging Face cache: HOME is not set",
                "set HF_HUB_CACHE (or HF_HOME) to the cache directory");
  }
  return home;
}

// "~" and "~/..." as Python's os.path.expanduser reads them.
fs::path expand_home(const std::string& path) {
  if (path == "~" || path.starts_with("~/")) {
    return home_dir() + path.substr(1);
  }
  return path;
}

fs::path hf_home() {
  const std::string configured = env_or("HF_HOME", "");
  if (!configured.empty()) {
    return expand_home(configured);
  }
  const std::string xdg_cache = env_or("XDG_CACHE_HOME", "");
  return (xdg_cache.empty() ? fs::path(home_dir()) / ".cache" : expand_home(xdg_cache)) / "huggingface";
}

bool is_word_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
}

// huggingface_hub's validate_repo_id: "name" or "namespace/name" of letters, digits, '_', '-' and '.',
// each part starting and ending with a letter, digit or '_', no "--" or "..", at most 96 characters.
bool is_hub_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxRepoIdChars || id.find("--") != std::string_view::npos ||
      id.find("..") != std::string_view::npos) {
    return false;
  }
  const size_t slash = id.find('/');
  std::vector<std::string_view> parts = {id.substr(0, slash)};
  if (slash != std::string_view::npos) {
    parts.push_back(id.substr(slash + 1));  // a second '/' fails the character check below
  }
  return std::all_of(parts.begin(), parts.end(), [](std::string_view part) {
    return !part.empty() && is_word_char(part.front()) && is_word_char(part.back()) &&
           std::all_of(part.begin(), part.end(),
                       [](char c) { return is_word_char(c) || c == '-' || c == '.'; });
  });
}

// A revision names a refs file under the cache (huggingface_hub writes refs/<revision>, "refs/pr/1"
// included), so it must stay inside that directory.
void check_revision(const std::string& revision) {
  bool inside = !revision.empty() && !revision.starts_with('/');
  for (const auto& part : fs::path(revision)) {
    inside = inside && part != "." && part != ".." && !part.empty();
  }
  const bool printable = std::all_of(revision.begin(), revision.end(), [](char c) {
    return std::isgraph(static_cast<unsigned char>(c)) != 0 && c != '\\';
  });
  if (!inside || !printable) {
    throw Error(ErrorCode::usage, "", fmt::format("'{}' is not a revision", revision),
                "give a branch, a tag or a commit of the model repository, e.g. main");
  }
}

// Percent-encodes every byte except the unreserved ones (RFC 3986), as huggingface_hub quotes a revision.
std::string percent_encoded(std::string_view text) {
  std::string encoded;
  for (char c : text) {
    if (std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.' || c == '_' || c == '~') {
      encoded.push_back(c);
    } else {
      encoded += fmt::format("%{:02X}", static_cast<unsigned char>(c));
    }
  }
  return encoded;
}

void create_directories_or_throw(const fs::path& directory) {
  greentune::create_directories(directory, "set HF_HUB_CACHE (or HF_HOME) to a writable directory");
}

bool is_present(const fs::path& path) {
  std::error_code ec;
  return fs::exists(path, ec);  // through symlinks: a snapshot link counts only when its blob is there
}

// One repository in one cache, and how to reach it on the hub.
struct HubRepo {
  std::string id;
  std::string revision;
  fs::path storage;   // <cache>/models--ORG--NAME
  fs::path lock_dir;  // <cache>/.locks/models--ORG--NAME
  std::string endpoint;
  std::vector<std::string> headers;  // "Authorization: Bearer <token>" when there is a token
  std::string manual_download_fix;   // how to do without this download; fixes append it after "or"

  fs::path snapshot(const std::string& commit) const { return storage / "snapshots" / commit; }

  std::string file_url(const std::string& revision_or_commit, std::string_view filename) const {
    return fmt::format("{}/{}/resolve/{}/{}", endpoint, id, percent_encoded(revision_or_commit), filename);
  }
};

std::string token_from_environment() {
  const std::string token = env_or("HF_TOKEN", "");
  if (!token.empty()) {
    return token;
  }
  const std::string token_path_variable = env_or("HF_TOKEN_PATH", "");
  const fs::path token_path =
      token_path_variable.empty() ? hf_home() / "token" : expand_home(token_path_variable);
  if (!is_present(token_path)) {
    return {};
  }
  const std::string contents = read_file(token_path);
  return std::string(trim(contents));
}

HubRepo hub_repo(const std::string& id, const HubOptions& options) {
  HubRepo repo;
  repo.id = id;
  repo.revision = options.revision;
  std::string folder = "models--";  // huggingface_hub's repo_folder_name: "models--ORG--NAME"
  for (char c : id) {
    folder += c == '/' ? std::string("--") : std::string(1, c);
  }
  repo.manual_download_fix = fmt::format(
      "download the model directory on a connected machine (e.g. `huggingface-cli download {} "
      "--local-dir DIR`) and pass its path",
      id);
  const fs::path cache = options.cache_dir.empty() ? hub_cache_dir() : options.cache_dir;
  repo.storage = cache / folder;
  repo.lock_dir = cache / ".locks" / folder;
  repo.endpoint = !options.endpoint.empty() ? options.endpoint : env_or("HF_ENDPOINT", kDefaultEndpoint);
  while (repo.endpoint.ends_with('/')) {
    repo.endpoint.pop_back();
  }
  const std::string token = !options.token.empty() ? options.token : token_from_environment();
  if (!token.empty()) {
    repo.headers.push_back("Authorization: Bearer " + token);
  }
  return repo;
}

// The commit the revision names in the cache: the revision itself when it is a commit, else what
// refs/<revision> says.
std::optional<std::string> cached_commit(const HubRepo& repo) {
  if (is_hex(repo.revision, kCommitHexDigits)) {
    return repo.revision;
  }
  const fs::path ref = repo.storage / "refs" / repo.revision;
  if (!is_present(ref)) {
    return std::nullopt;
  }
  std::string commit = read_file(ref);
  commit.erase(
      std::remove_if(commit.begin(), commit.end(), [](unsigned char c) { return std::isspace(c) != 0; }),
      commit.end());
  return is_hex(commit, kCommitHexDigits) ? std::optional(commit) : std::nullopt;
}

std::vector<std::string_view> missing_required_files(const fs::path& snapshot) {
  std::vector<std::string_view> missing;
  for (const HubFile& file : kModelFiles) {
    if (file.required && !is_present(snapshot / file.name)) {
      missing.push_back(file.name);
    }
  }
  return missing;
}

Error offline_miss(const HubRepo& repo, const std::optional<std::string>& commit) {
  std::string what;
  if (commit && is_present(repo.snapshot(*commit))) {
    const std::vector<std::string_view> missing = missing_required_files(repo.snapshot(*commit));
    what = fmt::format("the cached snapshot of {} (revision {}) at {} lacks {}", repo.id, repo.revision,
                       repo.snapshot(*commit).string(), fmt::join(missing, ", "));
  } else {
    what = fmt::format("{} (revision {}) is not in the Hugging Face cache at {}", repo.id, repo.revision,
                       repo.storage.string());
  }
  return Error(
      ErrorCode::not_found, "", what + ", and offline mode is on (HF_HUB_OFFLINE) so it is not downloaded",
      fmt::format(
          "unset HF_HUB_OFFLINE (and drop any offline option) to download it, or point HF_HUB_CACHE at "
          "a cache that has it, or {}",
          repo.manual_download_fix));
}

// What the hub says about one file at one commit.
struct RemoteFile {
  std::string_view name;
  std::string commit;                  // X-Repo-Commit
  std::string etag;                    // the blob's name
  std::optional<uint64_t> size_bytes;  // X-Linked-Size or Content-Length, when given
};

// X-Linked-Etag (an LFS file's SHA-256) when present, else ETag; without W/ and quotes, as
// huggingface_hub's _normalize_etag.
std::string blob_etag(const data::HttpResponseHead& head) {
  std::string etag = head.field("X-Linked-Etag").value_or(head.field("ETag").value_or(""));
  if (etag.starts_with("W/")) {
    etag.erase(0, 2);
  }
  etag.erase(std::remove(etag.begin(), etag.end(), '"'), etag.end());
  return etag;
}

// The etag becomes a file name in blobs/, so only a plain name is accepted.
bool is_safe_blob_name(std::string_view etag) {
  return !etag.empty() && !etag.starts_with('.') && std::all_of(etag.begin(), etag.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_' || c == '.';
  });
}

Error not_a_hub_answer(const HubRepo& repo, const std::string& url, std::string_view problem) {
  return Error(
      ErrorCode::network, url,
      fmt::format("the answer {}, which the Hugging Face hub always sends; the server at {} is not a "
                  "hub, or a proxy changes its answers",
                  problem, repo.endpoint),
      fmt::format("check HF_ENDPOINT and the proxy settings, or {}", repo.manual_download_fix));
}

std::optional<uint64_t> announced_size(const HubRepo& repo, const std::string& url,
                                       const data::HttpResponseHead& head) {
  const bool redirected = head.status >= 300;  // a redirect's Content-Length is that of its own short body
  const std::optional<std::string> text = head.field("X-Linked-Size")
                                              ? head.field("X-Linked-Size")
                                              : (redirected ? std::nullopt : head.field("Content-Length"));
  if (!text) {
    return std::nullopt;
  }
  const std::optional<uint64_t> size = parse_whole<uint64_t>(*text);
  if (!size) {
    throw not_a_hub_answer(repo, url, fmt::format("gives the size '{}', not a whole number of bytes", *text));
  }
  return size;
}

Error refused(const HubRepo& repo, std::string_view filename, const std::string& url,
              const data::HttpResponseHead& head) {
  const std::string hub_says =
      head.field("X-Error-Message") ? fmt::format(" ({})", *head.field("X-Error-Message")) : std::string();
  const bool has_token = !repo.headers.empty();
  switch (head.status) {
    case 401:
      return Error(
          ErrorCode::network, url,
          fmt::format("the hub refused {} with HTTP 401{}: {}", repo.id, hub_says,
                      has_token
                          ? "the access token was not accepted"
                          : "the repository does not exist, or it is private or gated and no access token "
                            "was given"),
          fmt::format("check the model id; for a private or gated model set HF_TOKEN to an access token "
                      "(https://huggingface.co/settings/tokens){}",
                      has_token ? " that is valid" : ", or run `huggingface-cli login`"));
    case 403:
      return Error(
          ErrorCode::network, url,
          fmt::format("the hub refused access to {} with HTTP 403{}: it is a gated or private model "
                      "that the account of the access token may not read",
                      repo.id, hub_says),
          fmt::format("request access on https://huggingface.co/{} with your account, and set HF_TOKEN "
                      "to an access token of that account",
                      repo.id));
    case 404:
      return Error(ErrorCode::not_found, url,
                   fmt::format("{} (revision {}) has no {}: the hub answered HTTP 404{}", repo.id,
                               repo.revision, filename, hub_says),
                   fmt::format("is the model id right? Check https://huggingface.co/{} and the revision; "
                               "there is no local directory '{}' either",
                               repo.id, repo.id));
    default:
      return Error(ErrorCode::network, url, fmt::format("the hub answered HTTP {}{}", head.status, hub_says),
                   fmt::format("try again later, or {}", repo.manual_download_fix));
  }
}

// A redirect within the hub's own host ("Location: /new-org/name/resolve/..."), which huggingface_hub
// follows; an absolute one leads to the CDN, another host that must not get the token.
bool is_relative_redirect(const data::HttpResponseHead& head) {
  const std::string location = head.field("Location").value_or("");
  return head.status >= 300 && head.status < 400 && !head.redirect_url.empty() && location.starts_with('/') &&
         !location.starts_with("//");
}

// Asks the hub about one file with HEAD requests, following its relative redirects (a renamed repository)
// but not an absolute one (to its CDN): the hub's own answer carries the commit and the etag. nullopt for
// an optional file the repository does not have.
std::optional<RemoteFile> remote_file(const HubRepo& repo, const std::string& revision_or_commit,
                                      const HubFile& file) {
  std::string url = repo.file_url(revision_or_commit, file.name);
  data::HttpResponseHead head = data::fetch_response_head(url, repo.headers, repo.manual_download_fix);
  for (int redirects = 0; is_relative_redirect(head); ++redirects) {
    if (redirects == kMaxHubRedirects) {
      throw Error(ErrorCode::network, url,
                  fmt::format("the hub redirected more than {} times", kMaxHubRedirects),
                  fmt::format("check HF_ENDPOINT, or {}", repo.manual_download_fix));
    }
    url = head.redirect_url;
    head = data::fetch_response_head(url, repo.headers, repo.manual_download_fix);
  }
  if (head.status == 404 && !file.required) {
    return std::nullopt;
  }
  if (head.status >= 400) {
    throw refused(repo, file.name, url, head);
  }
  RemoteFile remote{file.name, head.field("X-Repo-Commit").value_or(""), blob_etag(head),
                    announced_size(repo, url, head)};
  if (!is_hex(remote.commit, kCommitHexDigits)) {
    throw not_a_hub_answer(repo, url, "lacks a commit id in its X-Repo-Commit header");
  }
  if (!is_safe_blob_name(remote.etag)) {
    throw not_a_hub_answer(repo, url, fmt::format("has no usable ETag ('{}')", remote.etag));
  }
  return remote;
}

// Downloads the file into blobs/<etag> unless it is there. Blobs are shared by every snapshot and by
// huggingface_hub, which takes the same lock file.
void fetch_blob(const HubRepo& repo, const RemoteFile& file) {
  const fs::path blob = repo.storage / "blobs" / file.etag;
  if (is_present(blob)) {
    return;
  }
  create_directories_or_throw(repo.lock_dir);
  create_directories_or_throw(blob.parent_path());
  const data::DownloadLock lock(repo.lock_dir / (file.etag + ".lock"),
                                "set HF_HUB_CACHE (or HF_HOME) to a writable directory");
  if (is_present(blob)) {
    return;  // another process downloaded it while this one waited for the lock
  }
  data::DownloadRequest request;
  request.url = repo.file_url(file.commit, file.name);
  request.headers = repo.headers;
  request.destination = blob;
  request.expected_size_bytes = file.size_bytes;
  if (is_hex(file.etag, kSha256HexDigits)) {
    request.expected_sha256 = file.etag;
  }
  request.offline_fix = repo.manual_download_fix;
  data::download_file(request);
}

// Points snapshot/<filename> at its blob with a relative link, replacing whatever was there at once.
void link_into_snapshot(const fs::path& snapshot, std::string_view filename, const fs::path& blob) {
  const fs::path link = snapshot / filename;
  static std::atomic<unsigned> links_made{0};  // with the pid: a name no other thread or process uses
  const fs::path temporary = fmt::format("{}.tmp-{}-{}", link.string(), ::getpid(), links_made.fetch_add(1));
  std::error_code ec;
  fs::remove(temporary, ec);
  fs::create_symlink(blob.lexically_relative(snapshot), temporary, ec);
  if (!ec) {
    fs::rename(temporary, link, ec);
  }
  if (ec) {
    fs::remove(temporary, ec);
    throw Error(ErrorCode::io, link.string(),
                "cannot create the snapshot's link to " + blob.string() + ": " + ec.message(),
                "set HF_HUB_CACHE (or HF_HOME) to a writable directory on a file system with symbolic links");
  }
}

// Asks the hub for every file, downloads the missing blobs, then writes the snapshot's links and the refs
// file, so that a failure part-way leaves no snapshot that lacks files (only reusable blobs).
fs::path download_snapshot(const HubRepo& repo) {
  std::vector<RemoteFile> present;
  std::vector<std::string_view> absent;
  for (const HubFile& file : kModelFiles) {
    const std::string revision_or_commit = present.empty() ? repo.revision : present.front().commit;
    std::optional<RemoteFile> remote = remote_file(repo, revision_or_commit, file);
    if (!remote) {
      absent.push_back(file.name);
    } else if (!present.empty() && remote->commit != present.front().commit) {
      throw not_a_hub_answer(
          repo, repo.file_url(revision_or_commit, file.name),
          fmt::format("names commit {} for commit {}", remote->commit, revision_or_commit));
    } else {
      present.push_back(std::move(*remote));
    }
  }
  const std::string& commit = present.front().commit;  // config.json is required, so present is not empty
  const fs::path snapshot = repo.snapshot(commit);
  for (const RemoteFile& file : present) {
    if (!is_present(snapshot / file.name)) {
      fetch_blob(repo, file);
    }
  }
  create_directories_or_throw(snapshot);
  for (const RemoteFile& file : present) {
    if (!is_present(snapshot / file.name)) {
      link_into_snapshot(snapshot, file.name, repo.storage / "blobs" / file.etag);
    }
  }
  for (std::string_view name : absent) {  // huggingface_hub's record of files the commit does not have
    create_directories_or_throw(repo.storage / ".no_exist" / commit);
    write_file_atomically(repo.storage / ".no_exist" / commit / name, "");
  }
  if (repo.revision != commit) {
    const fs::path ref = repo.storage / "refs" / repo.revision;
    create_directories_or_throw(ref.parent_path());
    write_file_atomically(ref, commit);  // no newline, as huggingface_hub writes it
  }
  return snapshot;
}

}  // namespace

fs::path hub_cache_dir() {
  const std::string configured = env_or("HF_HUB_CACHE", "");
  return configured.empty() ? hf_home() / "hub" : expand_home(configured);
}

fs::path resolve_model_dir(const std::string& model, const HubOptions& options) {
  std::error_code ec;
  if (fs::is_directory(model, ec)) {
    return model;
  }
  if (!is_hub_id(model)) {
    throw Error(ErrorCode::not_found, model,
                "the model directory does not exist, and it is not a hub model id",
                "give an existing directory with config.json, model.safetensors and vocab.txt, or a Hugging "
                "Face model id such as distilbert-base-uncased or org/name");
  }
  check_revision(options.revision);
  const HubRepo repo = hub_repo(model, options);
  const std::optional<std::string> commit = cached_commit(repo);
  if (commit && missing_required_files(repo.snapshot(*commit)).empty()) {
    return repo.snapshot(*commit);
  }
  if (options.offline || is_true_value(env_or("HF_HUB_OFFLINE", ""))) {
    throw offline_miss(repo, commit);
  }
  log::info(fmt::format("fetching {} (revision {}) from {} into {}", repo.id, repo.revision, repo.endpoint,
                        repo.storage.string()));
  try {
    return download_snapshot(repo);
  } catch (const Error& error) {
    if (error.code() != ErrorCode::network && error.code() != ErrorCode::not_found)
      throw;
    // A name that is neither: a typo of a local directory reads like a hub id, so both are said.
    throw Error(error.code(), model,
                fmt::format("is not a directory relative to {}, and the hub answered: {}",
                            fs::current_path(ec).string(), error.what()),
                "give an existing model directory (in a TOML file: relative to that file) or a hub id that "
                "exists, such as distilbert-base-uncased");
  }
}

}  // namespace greentune::model
