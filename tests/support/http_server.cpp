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

std::string_view trimmed(std::string_view text) {
  const size_t first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) {
    return {};
  }
  return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

ReceivedRequest parse_request(const std::string& head) {
  ReceivedRequest request;
  const size_t target_start = head.find(' ');
  const size_t target_end = head.find(' ', target_start + 1);
  if (target_start != std::string::npos && target_end != std::string::npos) {
    request.method = head.substr(0, target_start);
    request.target = head.substr(target_start + 1, target_end - target_start - 1);
  }
  // Header lines run from after the request line to the blank line.
  size_t line_start = head.find("\r\n");
  while (line_start != std::string::npos) {
    line_start += 2;
    const size_t line_end = head.find("\r\n", line_start);
    if (line_end == std::string::npos || line_end == line_start) {
      break;
    }
    const std::string_view line(head.data() + line_start, line_end - line_start);
    const size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      request.headers.emplace_back(trimmed(line.substr(0, colon)), trimmed(line.substr(colon + 1)));
    }
    line_start = line_end;
  }
  if (const std::optional<std::string> range = request.header("Range")) {
    const std::string range_prefix = "bytes=";
    if (range->starts_with(range_prefix)) {
      request.range_start = std::stoull(range->substr(range_prefix.size()));
    }
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

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 206:
      return "Partial Content";
    case 302:
      return "Found";
    case 307:
      return "Temporary Redirect";
    case 404:
      return "Not Found";
    case 416:
      return "Range Not Satisfiable";
    default:
      return "Status";
  }
}

std::string head_of(int status, size_t content_length, const std::vector<std::string>& extra = {}) {
  std::string head = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason_phrase(status)) + "\r\n";
  for (const std::string& line : extra) {
    head += line + "\r\n";
  }
  return head + "Content-Length: " + std::to_string(content_length) + "\r\nConnection: close\r\n\r\n";
}

HttpRoute error_route(int status) {
  return HttpRoute{status, {"Content-Type: text/plain"}, "error " + std::to_string(status) + "\n"};
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

void HttpServer::set_route(const std::string& target, HttpRoute route) {
  const std::lock_guard lock(routes_mutex_);
  options_.routes[target] = std::move(route);
}

HttpRoute HttpServer::route_for(const std::string& target) const {
  const std::lock_guard lock(routes_mutex_);
  if (!options_.routes.empty()) {
    const auto route = options_.routes.find(target);
    return route != options_.routes.end() ? route->second : error_route(404);
  }
  if (target == "/redirect") {
    return HttpRoute{302, {"Location: /file"}, ""};
  }
  if (options_.status != 200) {
    return error_route(options_.status);
  }
  return HttpRoute{200, {}, options_.body};
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
  // A HEAD answer has the same head as the GET answer, without the body.
  const bool head_only = request.method == "HEAD";
  const HttpRoute route = route_for(request.target);
  if (route.status != 200) {
    send_all(connection, head_of(route.status, route.body.size(), route.headers));
    if (!head_only) {
      send_all(connection, route.body);
    }
    return;
  }
  const size_t total = route.body.size();
  std::string response_head;
  std::string_view payload = route.body;
  if (request.range_start && options_.honor_range) {
    const size_t start = *request.range_start;
    if (start >= total) {
      send_all(connection, head_of(416, 0, {"Content-Range: bytes */" + std::to_string(total)}));
      return;
    }
    payload.remove_prefix(start);
    std::vector<std::string> headers = route.headers;
    headers.push_back("Content-Range: bytes " + std::to_string(start) + "-" + std::to_string(total - 1) +
                      "/" + std::to_string(total));
    response_head = head_of(206, payload.size(), headers);
  } else {
    response_head = head_of(200, total, route.headers);
  }
  send_all(connection, response_head);
  if (head_only) {
    return;
  }
  if (options_.cut_after_bytes && responses_cut_ < options_.cut_responses) {
    ++responses_cut_;
    payload = payload.substr(0, std::min(*options_.cut_after_bytes, payload.size()));
  }
  send_all(connection, payload);
}

std::optional<std::string> ReceivedRequest::header(std::string_view name) const {
  const std::string wanted = lowercase(name);
  for (const auto& [header_name, value] : headers) {
    if (lowercase(header_name) == wanted) {
      return value;
    }
  }
  return std::nullopt;
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
