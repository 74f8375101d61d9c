#pragma once
// Downloads: a general resumable, verified file download (libcurl), HEAD requests for the metadata of
// a download, a lock for processes downloading the same file, and the local cache of the IMDB archive that
// training reads.
//
// Environment variables:
//   GREENTUNE_DATA_DIR     where downloaded datasets are kept (default $HOME/.cache/greentune)
//   GREENTUNE_IMDB_URL     where to download the IMDB archive from instead of Stanford's server: a mirror,
//                          or a file:// URL of a copy on disk
//   GREENTUNE_IMDB_SHA256  the archive's expected SHA-256 when that URL serves a different file
//   GREENTUNE_IMDB_SIZE    the archive's expected size in bytes, idem
// Options given in code or on the command line take precedence over these.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace greentune::data {

// $GREENTUNE_DATA_DIR, else $HOME/.cache/greentune. Throws Error(usage) when neither is set.
std::filesystem::path data_dir();

struct DownloadRequest {
  std::string url;                              // http://, https://, ftp:// or file://
  std::vector<std::string> headers;             // extra request header lines, e.g. "Authorization: Bearer
                                                // TOKEN"; redirects to another host or port do not get
                                                // them, so a token never reaches a CDN
  std::filesystem::path destination;            // replaced only by a complete, verified file
  std::optional<uint64_t> expected_size_bytes;  // checked when set
  std::string expected_sha256;                  // 64 hex digits; checked when not empty
  int max_attempts = 3;                         // transfers tried when a connection drops; each resumes
  long connect_timeout_s = 30;                  // seconds to establish a connection
  long low_speed_bytes_per_s = 1024;            // a transfer slower than this (bytes per second)...
  long low_speed_window_s = 60;                 // ...for this many seconds in a row is aborted
  std::string offline_fix;                      // how to get the file without this download, for errors;
                                                // default: save it yourself as the destination
};

struct DownloadResult {
  uint64_t size_bytes = 0;
  std::string sha256;  // lowercase hex digest of the destination's contents
};

// Downloads request.url into "<destination>.part", resuming a .part left by an interrupted earlier call
// with a range request (and starting over when the server does not support ranges), checks the expected
// size and SHA-256, then renames the .part onto the destination. Follows redirects; HTTP status >= 400 is
// an error. Progress goes to stderr. An existing destination is replaced.
// Throws Error(network) when the transfer fails, Error(integrity) when the size or digest is wrong (the
// .part is deleted so the next try starts clean), Error(io) when the destination cannot be written,
// Error(not_found) for a missing file:// source, Error(usage) for a malformed URL or checksum.
DownloadResult download_file(const DownloadRequest& request);

// The status and header fields of one HTTP response.
struct HttpResponseHead {
  long status = 0;
  std::vector<std::pair<std::string, std::string>> fields;  // in the order received, values trimmed
  std::string redirect_url;  // a 3xx answer's Location, resolved against the request URL; else empty

  // The value of the first field with this name (compared case-insensitively); nullopt when absent.
  std::optional<std::string> field(std::string_view name) const;
};

// Sends one HTTP(S) HEAD request with the extra header lines and returns the answer without following a
// redirect, so the caller can read the redirect's own headers and decide where to go next. Every status is
// returned, errors included. Throws Error(network) naming the URL when no answer comes (its fix: check the
// connection, or offline_fix), Error(usage) for a malformed or non-HTTP URL.
HttpResponseHead fetch_response_head(const std::string& url, const std::vector<std::string>& headers,
                                     std::string_view offline_fix);

// An exclusive advisory lock (flock) on lock_path, created when missing, held until destruction, so that
// processes downloading the same file take turns: the second finds the first's finished file instead of
// writing into the same .part. Waits, saying so on stderr, while another process holds it. Throws
// Error(io) when the lock file cannot be created (its fix: unwritable_fix) or locked.
class DownloadLock {
 public:
  DownloadLock(const std::filesystem::path& lock_path, std::string_view unwritable_fix);
  ~DownloadLock();  // closing the file releases the lock
  DownloadLock(const DownloadLock&) = delete;
  DownloadLock& operator=(const DownloadLock&) = delete;

 private:
  int fd_;
};

// The published IMDB movie-review archive (Maas et al., 2011).
inline constexpr std::string_view kImdbUrl =
    "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz";
inline constexpr uint64_t kImdbSizeBytes = 84125825;
inline constexpr std::string_view kImdbSha256 =
    "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe";
inline constexpr std::string_view kImdbFileName = "aclImdb_v1.tar.gz";

struct FetchImdbOptions {
  std::string url;                              // empty: $GREENTUNE_IMDB_URL, else kImdbUrl
  std::optional<uint64_t> expected_size_bytes;  // unset: $GREENTUNE_IMDB_SIZE, else kImdbSizeBytes
  std::string expected_sha256;                  // empty: $GREENTUNE_IMDB_SHA256, else kImdbSha256
  bool force = false;                           // download again even when a verified copy exists
  std::filesystem::path data_dir;               // empty: data_dir()
};

// Returns "<data dir>/imdb/aclImdb_v1.tar.gz", downloading it first unless a verified copy is there.
// A "<file>.verified" marker records the size, modification time and digest of the last verification, so
// later calls skip re-hashing the archive; a replaced or changed file is verified again. Concurrent calls
// (parallel training runs) wait for each other instead of downloading twice.
std::filesystem::path fetch_imdb(const FetchImdbOptions& options = {});

// "imdb": the cached IMDB archive (fetch_imdb with its defaults, so downloaded when missing).
// Anything else is a path, returned unchanged.
std::filesystem::path resolve_data_path(const std::string& path_or_name);

}  // namespace greentune::data
