#include "http_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string_view>

namespace greentune::testing {

namespace {

constexpr size_t kMaxRequestHeadBytes = 16 * 1024;
constexpr int kPollIntervalMs = 50;    // how often the server thread checks whether to stop
constexpr time_t kSocketTimeoutS = 5;  // a client that stalls this long is dropped

std::string lowercase(std::string_view text) {
  std::string lowered(text);
  std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lowered;
}

// Reads up to the blank line that ends the request head; empty when the client sent nothing usable.
std::string read_request_head(int connection) {
  std::string head;
  char buffer[1024];
  while (head.find("\r\n\r\n") == std::string::npos && head.size() < kMaxRequestHeadBytes) {
    const ssize_t received = ::recv(connection, buffer, sizeof buffer, 0);
    if (received <= 0) {
      return {};
    }
    head.append(buffer, static_cast<size_t>(received));
  }
  return head;
}

ReceivedRequest parse_request(const std::string& head) {
  ReceivedRequest request;
  const size_t target_start = head.find(' ');
  const size_t target_end = head.find(' ', target_start + 1);
  if (target_start != std::string::npos && target_end != std::string::npos) {
    request.target = head.substr(target_start + 1, target_end - target_start - 1);
  }
  const std::string lowered = lowercase(head);
  const std::string range_prefix = "\r\nrange: bytes=";
  const size_t range = lowered.find(range_prefix);
  if (range != std::string::npos) {
    request.range_start = std::stoull(head.substr(range + range_prefix.size()));
  }
  return request;
}

void send_all(int connection, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t sent = ::send(connection, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (sent <= 0) {
      return;  // the client went away; nothing to do in a test server
    }
    bytes.remove_prefix(static_cast<size_t>(sent));
  }
}

std::string head_of(int status, std::string_view reason, size_t content_length,
                    const std::string& extra = {}) {
  return "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) + "\r\n" + extra +
         "Content-Length: " + std::to_string(content_length) + "\r\nConnection: close\r\n\r\n";
}

}  // namespace

HttpServer::HttpServer(HttpServerOptions options) : options_(std::move(options)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) {
    throw std::runtime_error(std::string("test HTTP server: socket: ") + std::strerror(errno));
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;  // any free port
  socklen_t address_size = sizeof address;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listen_fd_, 8) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &address_size) != 0) {
    const std::string reason = std::strerror(errno);
    ::close(listen_fd_);
    throw std::runtime_error("test HTTP server: cannot listen on 127.0.0.1: " + reason);
  }
  port_ = ntohs(address.sin_port);
  thread_ = std::thread([this] { serve(); });
}

HttpServer::~HttpServer() {
  stopping_ = true;
  thread_.join();
  ::close(listen_fd_);
}

std::string HttpServer::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

std::vector<ReceivedRequest> HttpServer::requests() const {
  const std::lock_guard lock(requests_mutex_);
  return requests_;
}

void HttpServer::serve() {
  const auto deadline = std::chrono::steady_clock::now() + options_.lifetime;
  while (!stopping_ && std::chrono::steady_clock::now() < deadline) {
    pollfd waiting{listen_fd_, POLLIN, 0};
    if (::poll(&waiting, 1, kPollIntervalMs) <= 0) {
      continue;
    }
    const int connection = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (connection < 0) {
      continue;
    }
    const timeval timeout{kSocketTimeoutS, 0};
    ::setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ::setsockopt(connection, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    answer(connection);
    ::shutdown(connection, SHUT_WR);
    ::close(connection);
  }
}

void HttpServer::answer(int connection) {
  const std::string head = read_request_head(connection);
  if (head.empty()) {
    return;
  }
  const ReceivedRequest request = parse_request(head);
  {
    const std::lock_guard lock(requests_mutex_);
    requests_.push_back(request);
  }
  if (request.target == "/redirect") {
    send_all(connection, head_of(302, "Found", 0, "Location: /file\r\n"));
    return;
  }
  if (options_.status != 200) {
    const std::string body = "error " + std::to_string(options_.status) + "\n";
    send_all(connection,
             head_of(options_.status, "Error", body.size(), "Content-Type: text/plain\r\n") + body);
    return;
  }
  const size_t total = options_.body.size();
  std::string response_head;
  std::string_view payload = options_.body;
  if (request.range_start && options_.honor_range) {
    const size_t start = *request.range_start;
    if (start >= total) {
      send_all(connection, head_of(416, "Range Not Satisfiable", 0,
                                   "Content-Range: bytes */" + std::to_string(total) + "\r\n"));
      return;
    }
    payload.remove_prefix(start);
    response_head = head_of(206, "Partial Content", payload.size(),
                            "Content-Range: bytes " + std::to_string(start) + "-" +
                                std::to_string(total - 1) + "/" + std::to_string(total) + "\r\n");
  } else {
    response_head = head_of(200, "OK", total);
  }
  if (options_.cut_after_bytes && responses_cut_ < options_.cut_responses) {
    ++responses_cut_;
    payload = payload.substr(0, std::min(*options_.cut_after_bytes, payload.size()));
  }
  send_all(connection, response_head);
  send_all(connection, payload);
}

namespace {
void set_or_unset(const std::string& name, const std::optional<std::string>& value) {
  if (value) {
    ::setenv(name.c_str(), value->c_str(), 1);
  } else {
    ::unsetenv(name.c_str());
  }
}
}  // namespace

ScopedEnvironment::ScopedEnvironment(std::string name, const std::optional<std::string>& value)
    : name_(std::move(name)) {
  if (const char* previous = std::getenv(name_.c_str())) {
    previous_ = previous;
  }
  set_or_unset(name_, value);
}

ScopedEnvironment::~ScopedEnvironment() {
  set_or_unset(name_, previous_);
}

std::string sha256sum(const std::filesystem::path& path) {
  const std::string command = "sha256sum '" + path.string() + "'";
  const std::unique_ptr<FILE, decltype(&::pclose)> pipe(::popen(command.c_str(), "r"), &::pclose);
  char digest[65] = "";
  if (!pipe || std::fread(digest, 1, 64, pipe.get()) != 64) {
    throw std::runtime_error("cannot run " + command);
  }
  return digest;
}

}  // namespace greentune::testing
