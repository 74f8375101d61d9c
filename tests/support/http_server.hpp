#pragma once
// Support for download tests. HttpServer is a loopback HTTP/1.1 server: it serves one byte buffer, or a
// fixed answer per path, on 127.0.0.1 from a background thread, one connection at a time, and records what
// it was asked (method, path, headers). It answers GET and HEAD, can honor or ignore "Range: bytes=N-",
// answer with an error status, redirect, add response headers, and cut responses off to simulate dropped
// connections. It stops when destroyed, or by itself after `lifetime` so a stuck test cannot hang.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace greentune::testing {

// The fixed answer for one path.
struct HttpRoute {
  int status = 200;                  // 200: the body (Range honored as below); 3xx: add a "Location: ..."
  std::vector<std::string> headers;  // extra response header lines without CRLF, e.g. "ETag: \"abc\""
  std::string body;
};

struct HttpServerOptions {
  std::string body{};                       // served for every path except /redirect
  bool honor_range = true;                  // false: answer 200 with the whole body even to a Range request
  int status = 200;                         // e.g. 404: every request gets this status and a short text body
  std::optional<size_t> cut_after_bytes{};  // close the connection after sending this many body bytes...
  int cut_responses = 1;                    // ...in this many of the first responses
  std::chrono::seconds lifetime{60};        // the server stops accepting after this long
  std::map<std::string, HttpRoute> routes{};  // when not empty: only these paths are served, others get
                                              // 404, and body, status and /redirect above are unused
};

struct ReceivedRequest {
  std::string method;                   // "GET", "HEAD"
  std::string target;                   // e.g. "/file"
  std::optional<uint64_t> range_start;  // N of "Range: bytes=N-", when the request had one
  std::vector<std::pair<std::string, std::string>> headers;  // every header line, in order

  // The value of the first header with this name (compared case-insensitively); nullopt when absent.
  std::optional<std::string> header(std::string_view name) const;
};

class HttpServer {
 public:
  explicit HttpServer(HttpServerOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // "http://127.0.0.1:PORT" + path. GET /redirect answers 302 to /file.
  std::string url(const std::string& path = "/file") const;
  uint16_t port() const { return port_; }  // e.g. for URLs that reach it as "localhost"
  std::vector<ReceivedRequest> requests() const;
  // Replaces (or adds) the answer for target while the server runs (routes mode).
  void set_route(const std::string& target, HttpRoute route);

 private:
  void serve();
  void answer(int connection);
  HttpRoute route_for(const std::string& target) const;

  HttpServerOptions options_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  mutable std::mutex routes_mutex_;  // options_.routes, which set_route changes while serving
  mutable std::mutex requests_mutex_;
  std::vector<ReceivedRequest> requests_;
  int responses_cut_ = 0;
  std::thread thread_;
};

// Sets (or, with nullopt, unsets) an environment variable for a scope, restoring the old value after;
// download tests use it to point GREENTUNE_DATA_DIR away from the user's real cache.
class ScopedEnvironment {
 public:
  ScopedEnvironment(std::string name, const std::optional<std::string>& value);
  ~ScopedEnvironment();
  ScopedEnvironment(const ScopedEnvironment&) = delete;
  ScopedEnvironment& operator=(const ScopedEnvironment&) = delete;

 private:
  std::string name_;
  std::optional<std::string> previous_;
};

// The SHA-256 of a file as the sha256sum program computes it: expected values independent of greentune.
std::string sha256sum(const std::filesystem::path& path);

}  // namespace greentune::testing
