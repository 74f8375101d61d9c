#include "greentune/data/fetch.hpp"

#include <curl/curl.h>
#include <fcntl.h>
#include <fmt/core.h>
#include <openssl/evp.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "greentune/core/error.hpp"
#include "greentune/core/files.hpp"
#include "greentune/core/log.hpp"
#include "greentune/core/parse.hpp"
#include "greentune/core/progress.hpp"
#include "greentune/core/strings.hpp"

namespace greentune::data {

namespace fs = std::filesystem;

namespace {

constexpr size_t kHashChunkBytes = size_t{1} << 20;
constexpr long kMaxRedirects = 10;
constexpr size_t kSha256HexDigits = 64;
constexpr long kHeadConnectTimeoutS = 30;  // seconds to connect for a HEAD request
constexpr long kHeadTimeoutS = 60;         // seconds for a whole HEAD request, answer included

std::string errno_message() {
  return std::strerror(errno);
}

// Lowercase hex digest, or Error(usage) naming what was given.
std::string normalized_sha256(std::string_view hex) {
  const std::string normalized = ascii_lowercase(hex);
  const bool all_hex = normalized.find_first_not_of("0123456789abcdef") == std::string::npos;
  if (normalized.size() != kSha256HexDigits || !all_hex) {
    throw Error(ErrorCode::usage, "", fmt::format("expected SHA-256 '{}' is not 64 hexadecimal digits", hex),
                "give the full hex digest, as sha256sum prints it");
  }
  return normalized;
}

std::string sha256_of_file(const fs::path& path) {
  const std::unique_ptr<FILE, decltype(&std::fclose)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) {
    throw Error(ErrorCode::io, path.string(), "cannot open it to compute its SHA-256: " + errno_message(),
                "check the file's permissions");
  }
  const std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (!context || EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr) != 1) {
    throw Error(ErrorCode::internal, "", "OpenSSL cannot start a SHA-256 digest");
  }
  std::vector<unsigned char> chunk(kHashChunkBytes);
  size_t chunk_bytes = 0;
  while ((chunk_bytes = std::fread(chunk.data(), 1, chunk.size(), file.get())) > 0) {
    EVP_DigestUpdate(context.get(), chunk.data(), chunk_bytes);
  }
  if (std::ferror(file.get()) != 0) {
    throw Error(ErrorCode::io, path.string(), "reading failed while computing its SHA-256",
                "check the file and the disk");
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_bytes = 0;
  EVP_DigestFinal_ex(context.get(), digest, &digest_bytes);
  std::string hex;
  for (unsigned int i = 0; i < digest_bytes; ++i) {
    hex += fmt::format("{:02x}", digest[i]);
  }
  return hex;
}

uint64_t size_or_zero(const fs::path& path) {
  std::error_code ec;
  const uintmax_t size = fs::file_size(path, ec);
  return ec ? 0 : static_cast<uint64_t>(size);
}

void create_directory_for(const fs::path& directory) {
  greentune::create_directories(directory, "set GREENTUNE_DATA_DIR (or --data-dir) to a writable directory");
}

void ensure_curl_initialized() {
  // A function-local static runs curl_global_init exactly once, even with concurrent first calls.
  static const CURLcode init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (init_result != CURLE_OK) {
    throw Error(ErrorCode::internal, "",
                fmt::format("libcurl failed to start: {}", curl_easy_strerror(init_result)));
  }
}

// Transfer progress on stderr: one line redrawn in place on a terminal, otherwise an occasional log line
// so that redirected output stays short.
class ProgressReporter {
 public:
  ProgressReporter(uint64_t resumed_at_bytes, std::optional<uint64_t> expected_total_bytes)
      : resumed_at_bytes_(resumed_at_bytes),
        expected_total_bytes_(expected_total_bytes),
        started_(Clock::now()) {}

  // Bytes of this transfer as libcurl counts them; transfer_total is 0 while unknown.
  void update(uint64_t transfer_total, uint64_t transfer_done) {
    line_.update([&] { return describe(transfer_total, transfer_done); });
  }

 private:
  using Clock = ProgressLine::Clock;

  static double mebibytes(double bytes) { return bytes / (1024.0 * 1024.0); }

  std::string describe(uint64_t transfer_total, uint64_t transfer_done) const {
    const uint64_t done = resumed_at_bytes_ + transfer_done;
    const uint64_t total =
        transfer_total > 0 ? resumed_at_bytes_ + transfer_total : expected_total_bytes_.value_or(0);
    std::string line = fmt::format("downloaded {:.1f} MiB", mebibytes(static_cast<double>(done)));
    if (total > 0) {
      line += fmt::format(" of {:.1f} MiB ({:.0f}%)", mebibytes(static_cast<double>(total)),
                          100.0 * static_cast<double>(done) / static_cast<double>(total));
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - started_).count();
    line += fmt::format(", {:.1f} MiB/s", mebibytes(static_cast<double>(transfer_done) / seconds));
    return line;
  }

  uint64_t resumed_at_bytes_;
  std::optional<uint64_t> expected_total_bytes_;
  Clock::time_point started_;
  ProgressLine line_;
};

int report_progress(void* reporter, curl_off_t download_total, curl_off_t download_done,
                    curl_off_t /*upload*/, curl_off_t /*upload*/) {
  // Progress is cosmetic: a failed write to stderr must not cross libcurl's C frames as an exception.
  try {
    static_cast<ProgressReporter*>(reporter)->update(static_cast<uint64_t>(download_total),
                                                     static_cast<uint64_t>(download_done));
  } catch (...) {
  }
  return 0;
}

struct WriteTarget {
  FILE* file = nullptr;
  int write_errno = 0;  // errno of a failed write, for the error message
};

size_t write_body(char* data, size_t size, size_t count, void* target_pointer) {
  auto* target = static_cast<WriteTarget*>(target_pointer);
  const size_t bytes = size * count;
  if (std::fwrite(data, 1, bytes, target->file) != bytes) {
    target->write_errno = errno;
    return 0;  // makes libcurl stop with CURLE_WRITE_ERROR
  }
  return bytes;
}

struct TransferOutcome {
  CURLcode code = CURLE_OK;
  long http_status = 0;  // 0 for file:// and when no response came
  std::string detail;    // libcurl's description of the failure
  int write_errno = 0;
};

using CurlHandle = std::unique_ptr<CURL, decltype(&curl_easy_cleanup)>;
using CurlHeaderList = std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)>;

CurlHandle new_curl_handle() {
  CurlHandle handle(curl_easy_init(), &curl_easy_cleanup);
  if (!handle) {
    throw Error(ErrorCode::internal, "", "libcurl cannot create a transfer handle");
  }
  return handle;
}

CurlHeaderList curl_header_list(const std::vector<std::string>& lines) {
  CurlHeaderList list(nullptr, &curl_slist_free_all);
  for (const std::string& line : lines) {
    curl_slist* extended = curl_slist_append(list.get(), line.c_str());
    if (extended == nullptr) {
      throw Error(ErrorCode::internal, "", "libcurl cannot allocate a request header list");
    }
    list.release();  // now owned by extended, its new head
    list.reset(extended);
  }
  return list;
}

// The options every request shares: where it goes, which protocols it may use, the extra header lines.
void configure_request(CURL* curl, const std::string& url, const char* protocols, curl_slist* headers,
                       char* error_buffer, long connect_timeout_s) {
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, protocols);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  // Custom Authorization and Cookie headers go to the original host and port only, never to a redirect
  // target elsewhere (libcurl's default, stated here because tokens depend on it).
  curl_easy_setopt(curl, CURLOPT_UNRESTRICTED_AUTH, 0L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // timeouts without SIGALRM, safe in threads
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, connect_timeout_s);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "greentune/0.1");
}

// One libcurl transfer appending to part_path from byte offset on (0: from the start, truncating).
TransferOutcome transfer(const DownloadRequest& request, const fs::path& part_path, uint64_t offset) {
  const CurlHeaderList headers = curl_header_list(request.headers);
  const CurlHandle handle = new_curl_handle();
  FILE* part = std::fopen(part_path.c_str(), offset > 0 ? "ab" : "wb");
  if (part == nullptr) {
    throw Error(ErrorCode::io, part_path.string(),
                "cannot open the download file for writing: " + errno_message(),
                "make the directory writable, or set GREENTUNE_DATA_DIR (or --data-dir) to one that is");
  }
  WriteTarget target{part};
  ProgressReporter progress(offset, request.expected_size_bytes);
  char error_buffer[CURL_ERROR_SIZE] = "";
  CURL* curl = handle.get();
  configure_request(curl, request.url, "http,https,ftp,file", headers.get(), error_buffer,
                    request.connect_timeout_s);
  curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https,ftp");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(curl, CURLOPT_MAXREDIRS, kMaxRedirects);
  curl_easy_setopt(curl, CURLOPT_FAILONERROR, 1L);  // HTTP >= 400: no body written, CURLE_HTTP_RETURNED_ERROR
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, request.low_speed_bytes_per_s);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, request.low_speed_window_s);
  // For HTTP this sends "Range: bytes=offset-"; a server that answers 200 instead of 206 makes libcurl stop
  // with CURLE_RANGE_ERROR before writing any of the body.
  curl_easy_setopt(curl, CURLOPT_RESUME_FROM_LARGE, static_cast<curl_off_t>(offset));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &write_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &target);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &report_progress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &progress);

  TransferOutcome outcome;
  outcome.code = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &outcome.http_status);
  outcome.detail = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(outcome.code);
  outcome.write_errno = target.write_errno;

  // Flushed and synced before the rename, so a crash cannot leave a destination with missing bytes.
  const bool flushed = std::fflush(part) == 0 && ::fsync(::fileno(part)) == 0;
  const int flush_errno = errno;
  const bool closed = std::fclose(part) == 0;
  if (!flushed || !closed) {
    throw Error(ErrorCode::io, part_path.string(),
                std::string("writing the download failed: ") + std::strerror(flushed ? errno : flush_errno),
                "free some disk space and run the command again (it resumes)");
  }
  return outcome;
}

// libcurl hands over one header line at a time, the status line first; a new status line (after a
// "100 Continue") starts the fields afresh.
size_t collect_header_line(char* data, size_t size, size_t count, void* head_pointer) {
  auto* head = static_cast<HttpResponseHead*>(head_pointer);
  const std::string_view line(data, size * count);
  if (line.starts_with("HTTP/")) {
    head->fields.clear();
  } else if (const size_t colon = line.find(':'); colon != std::string_view::npos) {
    head->fields.emplace_back(std::string(trim(line.substr(0, colon))),
                              std::string(trim(line.substr(colon + 1))));
  }
  return size * count;
}

// The server or file cannot continue from the offset asked for: the download has to start over.
bool resume_refused(const TransferOutcome& outcome) {
  return outcome.code == CURLE_RANGE_ERROR || outcome.code == CURLE_BAD_DOWNLOAD_RESUME ||
         (outcome.code == CURLE_HTTP_RETURNED_ERROR && outcome.http_status == 416);
}

// Failures that another attempt, resuming, may get past.
bool is_transient(const TransferOutcome& outcome) {
  switch (outcome.code) {
    case CURLE_PARTIAL_FILE:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
      return true;
    case CURLE_HTTP_RETURNED_ERROR:
      return outcome.http_status >= 500;
    default:
      return false;
  }
}

Error transfer_error(const DownloadRequest& request, const fs::path& part_path,
                     const TransferOutcome& outcome) {
  const std::string offline =
      request.offline_fix.empty()
          ? fmt::format("download it by other means and save it as {}", request.destination.string())
          : request.offline_fix;
  switch (outcome.code) {
    case CURLE_HTTP_RETURNED_ERROR:
      return Error(ErrorCode::network, request.url,
                   fmt::format("the server answered HTTP {}", outcome.http_status),
                   fmt::format("check the URL, or try again later, or {}", offline));
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
      return Error(ErrorCode::usage, request.url, "cannot download from this URL: " + outcome.detail,
                   "give an http://, https://, ftp:// or file:// URL");
    case CURLE_FILE_COULDNT_READ_FILE:
      return Error(ErrorCode::not_found, request.url, "cannot read the source file: " + outcome.detail,
                   "check the path in the file:// URL");
    case CURLE_WRITE_ERROR:
      return Error(
          ErrorCode::io, part_path.string(),
          std::string("writing the download failed: ") +
              (outcome.write_errno != 0 ? std::strerror(outcome.write_errno) : "short write"),
          "free some disk space or make the directory writable, then run the command again (it resumes)");
    default:
      return Error(
          ErrorCode::network, request.url,
          fmt::format("download failed: {} (curl error {})", outcome.detail, static_cast<int>(outcome.code)),
          fmt::format("check the network connection and the URL, or {}", offline));
  }
}

void discard(const fs::path& path) {
  std::error_code ec;
  fs::remove(path, ec);
}

// Runs transfers until part_path holds the whole file, resuming after drops.
void download_into(const DownloadRequest& request, const fs::path& part_path) {
  int attempt = 1;
  while (true) {
    uint64_t offset = size_or_zero(part_path);
    if (request.expected_size_bytes && offset >= *request.expected_size_bytes) {
      if (offset == *request.expected_size_bytes) {
        log::info(fmt::format("{} is complete; verifying it", part_path.string()));
        return;
      }
      log::warn(fmt::format("{} is larger than the expected {} bytes; downloading again from the start",
                            part_path.string(), *request.expected_size_bytes));
      offset = 0;
    }
    if (offset > 0) {
      log::info(fmt::format("resuming after the {} bytes already in {}", offset, part_path.string()));
    }
    const TransferOutcome outcome = transfer(request, part_path, offset);
    if (outcome.code == CURLE_OK) {
      return;
    }
    if (offset > 0 && resume_refused(outcome)) {
      // The next round starts at offset 0, where a refusal cannot recur, so this happens at most once.
      log::info("the source cannot resume a partial download; downloading from the start");
      discard(part_path);
      continue;
    }
    if (attempt < request.max_attempts && is_transient(outcome)) {
      const std::chrono::seconds pause{attempt};  // 1 s, 2 s, ...: lets a flaky link or server recover
      log::warn(fmt::format("download interrupted ({}); retrying in {} s (attempt {} of {})", outcome.detail,
                            pause.count(), attempt + 1, request.max_attempts));
      std::this_thread::sleep_for(pause);
      ++attempt;
      continue;
    }
    if (size_or_zero(part_path) == 0) {
      discard(part_path);  // nothing worth resuming
    }
    throw transfer_error(request, part_path, outcome);
  }
}

// Modification time and size identify one version of a file; the digest vouched for that version.
struct VerifiedStamp {
  uint64_t size_bytes = 0;
  int64_t modified_ticks = 0;  // file_clock ticks (nanoseconds with libstdc++)
  std::string sha256;
};

std::optional<VerifiedStamp> current_stamp(const fs::path& file, const std::string& sha256) {
  std::error_code size_error;
  std::error_code time_error;
  const uintmax_t size = fs::file_size(file, size_error);
  const fs::file_time_type modified = fs::last_write_time(file, time_error);
  if (size_error || time_error) {
    return std::nullopt;
  }
  return VerifiedStamp{static_cast<uint64_t>(size), static_cast<int64_t>(modified.time_since_epoch().count()),
                       sha256};
}

bool marker_vouches_for(const fs::path& marker, const fs::path& file, const std::string& sha256) {
  const std::optional<VerifiedStamp> now = current_stamp(file, sha256);
  std::error_code ec;
  if (!now || !fs::is_regular_file(marker, ec)) {
    return false;
  }
  try {
    const nlohmann::json recorded = nlohmann::json::parse(read_file(marker));
    return recorded.at("size_bytes").get<uint64_t>() == now->size_bytes &&
           recorded.at("modified_ticks").get<int64_t>() == now->modified_ticks &&
           recorded.at("sha256").get<std::string>() == now->sha256;
  } catch (const std::exception&) {
    return false;  // an unreadable or foreign marker only costs a re-verification
  }
}

void write_marker(const fs::path& marker, const fs::path& file, const std::string& sha256) {
  const std::optional<VerifiedStamp> stamp = current_stamp(file, sha256);
  if (!stamp) {
    throw Error(ErrorCode::io, file.string(), "cannot read the size and time of the verified file",
                "check the data directory's permissions");
  }
  const nlohmann::json recorded = {{"size_bytes", stamp->size_bytes},
                                   {"modified_ticks", stamp->modified_ticks},
                                   {"sha256", stamp->sha256}};
  write_file_atomically(marker, recorded.dump() + "\n");
}

struct ImdbSource {
  std::string url;
  uint64_t size_bytes = 0;
  std::string sha256;
};

uint64_t parse_size_variable(const char* name, const std::string& text) {
  const std::optional<uint64_t> value = parse_whole<uint64_t>(text);
  if (!value) {
    throw Error(ErrorCode::usage, name, fmt::format("'{}' is not a size in bytes", text),
                fmt::format("set {} to the archive's size as a whole number of bytes, or unset it", name));
  }
  return *value;
}

// Options first, then the environment, then the published figures.
ImdbSource imdb_source(const FetchImdbOptions& options) {
  ImdbSource source;
  source.url = !options.url.empty() ? options.url : env_or("GREENTUNE_IMDB_URL", kImdbUrl);
  const std::string size_variable = env_or("GREENTUNE_IMDB_SIZE", "");
  source.size_bytes = options.expected_size_bytes ? *options.expected_size_bytes
                      : !size_variable.empty()    ? parse_size_variable("GREENTUNE_IMDB_SIZE", size_variable)
                                                  : kImdbSizeBytes;
  source.sha256 =
      normalized_sha256(!options.expected_sha256.empty() ? options.expected_sha256
                                                         : env_or("GREENTUNE_IMDB_SHA256", kImdbSha256));
  return source;
}

// Whether the archive already there is the expected one; records a successful verification in the marker.
bool cached_copy_is_verified(const fs::path& archive, const fs::path& marker, const ImdbSource& source) {
  std::error_code ec;
  if (!fs::exists(archive, ec)) {
    return false;
  }
  if (marker_vouches_for(marker, archive, source.sha256)) {
    log::info(fmt::format("using the verified copy at {}", archive.string()));
    return true;
  }
  const uint64_t size = size_or_zero(archive);
  if (size != source.size_bytes) {
    log::warn(fmt::format("{} has {} bytes, expected {}; downloading it again", archive.string(), size,
                          source.size_bytes));
    return false;
  }
  log::info(fmt::format("verifying the SHA-256 of {}", archive.string()));
  const std::string digest = sha256_of_file(archive);
  if (digest != source.sha256) {
    log::warn(fmt::format("{} has SHA-256 {}, expected {}; downloading it again", archive.string(), digest,
                          source.sha256));
    return false;
  }
  write_marker(marker, archive, digest);
  return true;
}

}  // namespace

fs::path data_dir() {
  const std::string configured = env_or("GREENTUNE_DATA_DIR", "");
  if (!configured.empty()) {
    return configured;
  }
  const std::string home = env_or("HOME", "");
  if (home.empty()) {
    throw Error(ErrorCode::usage, "",
                "cannot choose a data directory: neither GREENTUNE_DATA_DIR nor HOME is set",
                "set GREENTUNE_DATA_DIR to the directory for downloaded datasets");
  }
  return fs::path(home) / ".cache" / "greentune";
}

std::optional<std::string> HttpResponseHead::field(std::string_view name) const {
  for (const auto& [field_name, value] : fields) {
    if (equals_ignoring_case(field_name, name)) {
      return value;
    }
  }
  return std::nullopt;
}

HttpResponseHead fetch_response_head(const std::string& url, const std::vector<std::string>& headers,
                                     std::string_view offline_fix) {
  ensure_curl_initialized();
  const CurlHeaderList header_list = curl_header_list(headers);
  const CurlHandle handle = new_curl_handle();
  char error_buffer[CURL_ERROR_SIZE] = "";
  HttpResponseHead head;
  CURL* curl = handle.get();
  configure_request(curl, url, "http,https", header_list.get(), error_buffer, kHeadConnectTimeoutS);
  curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);  // HEAD
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, kHeadTimeoutS);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &collect_header_line);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &head);

  const CURLcode code = curl_easy_perform(curl);
  const std::string detail = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code);
  if (code == CURLE_UNSUPPORTED_PROTOCOL || code == CURLE_URL_MALFORMAT) {
    throw Error(ErrorCode::usage, url, "cannot request this URL: " + detail,
                "give an http:// or https:// URL");
  }
  if (code != CURLE_OK) {
    throw Error(ErrorCode::network, url,
                fmt::format("no answer: {} (curl error {})", detail, static_cast<int>(code)),
                fmt::format("check the network connection and the URL, or {}", offline_fix));
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &head.status);
  char* redirect_url = nullptr;
  curl_easy_getinfo(curl, CURLINFO_REDIRECT_URL, &redirect_url);
  if (redirect_url != nullptr) {
    head.redirect_url = redirect_url;
  }
  return head;
}

DownloadLock::DownloadLock(const fs::path& lock_path, std::string_view unwritable_fix)
    : fd_(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644)) {
  if (fd_ < 0) {
    throw Error(ErrorCode::io, lock_path.string(), "cannot create the download lock file: " + errno_message(),
                unwritable_fix);
  }
  if (::flock(fd_, LOCK_EX | LOCK_NB) == 0) {
    return;
  }
  log::info(fmt::format("waiting for another process to finish its download into {}",
                        lock_path.parent_path().string()));
  while (::flock(fd_, LOCK_EX) != 0) {
    if (errno != EINTR) {
      const std::string reason = errno_message();
      ::close(fd_);
      throw Error(ErrorCode::io, lock_path.string(), "cannot lock the download: " + reason,
                  fmt::format("check that {} is on a local file system", lock_path.parent_path().string()));
    }
  }
}

DownloadLock::~DownloadLock() {
  ::close(fd_);
}

DownloadResult download_file(const DownloadRequest& request) {
  if (request.url.empty() || request.destination.empty()) {
    throw Error(ErrorCode::usage, request.url, "a download needs both a URL and a destination path",
                "give both");
  }
  const std::string expected_sha256 =
      request.expected_sha256.empty() ? std::string() : normalized_sha256(request.expected_sha256);
  ensure_curl_initialized();
  if (request.destination.has_parent_path()) {
    create_directory_for(request.destination.parent_path());
  }
  const fs::path part_path = request.destination.string() + ".part";
  log::info(fmt::format("downloading {} to {}", request.url, request.destination.string()));
  download_into(request, part_path);

  const uint64_t size = size_or_zero(part_path);
  if (request.expected_size_bytes && size != *request.expected_size_bytes) {
    discard(part_path);
    throw Error(ErrorCode::integrity, request.url,
                fmt::format("the download has {} bytes, expected {}", size, *request.expected_size_bytes),
                "run the command again; if it fails the same way, the URL serves a different file than "
                "expected: check the URL and the expected size");
  }
  const std::string digest = sha256_of_file(part_path);
  if (!expected_sha256.empty() && digest != expected_sha256) {
    discard(part_path);
    throw Error(ErrorCode::integrity, request.url,
                fmt::format("the download has SHA-256 {}, expected {}", digest, expected_sha256),
                "run the command again; if it fails the same way, the URL serves a different file than "
                "expected: check the URL and the expected checksum");
  }
  std::error_code ec;
  fs::rename(part_path, request.destination, ec);
  if (ec) {
    throw Error(ErrorCode::io, request.destination.string(),
                "cannot move the finished download into place: " + ec.message(),
                "check the directory's permissions");
  }
  log::info(fmt::format("downloaded {} ({} bytes, SHA-256 {})", request.destination.string(), size, digest));
  return DownloadResult{size, digest};
}

fs::path fetch_imdb(const FetchImdbOptions& options) {
  const ImdbSource source = imdb_source(options);
  const fs::path directory = (options.data_dir.empty() ? data_dir() : options.data_dir) / "imdb";
  create_directory_for(directory);
  const fs::path archive = directory / kImdbFileName;
  const fs::path marker = archive.string() + ".verified";
  const DownloadLock lock(archive.string() + ".lock",
                          "set GREENTUNE_DATA_DIR (or --data-dir) to a writable directory");

  if (options.force) {
    discard(archive.string() + ".part");  // forced: start clean rather than resume
  } else if (cached_copy_is_verified(archive, marker, source)) {
    return archive;
  }
  DownloadRequest request;
  request.url = source.url;
  request.destination = archive;
  request.expected_size_bytes = source.size_bytes;
  request.expected_sha256 = source.sha256;
  request.offline_fix =
      fmt::format("download {} yourself and pass --data PATH, or save it as {}", kImdbUrl, archive.string());
  const DownloadResult result = download_file(request);
  write_marker(marker, archive, result.sha256);
  return archive;
}

fs::path resolve_data_path(const std::string& path_or_name) {
  if (path_or_name != "imdb") {
    return path_or_name;
  }
  std::error_code ec;
  if (fs::exists(path_or_name, ec)) {
    log::warn("'imdb' names the IMDB dataset, not ./imdb in this directory; pass ./imdb to use that instead");
  }
  return fetch_imdb();
}

}  // namespace greentune::data
