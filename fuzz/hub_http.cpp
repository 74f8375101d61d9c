// The hub client (model::resolve_model_dir) against a server that answers with fuzzed bytes: the HEAD
// requests' status lines and headers (X-Repo-Commit, ETag, X-Linked-Etag, X-Linked-Size, Content-Length,
// Location redirects, X-Error-Message) as data::fetch_response_head parses them, the redirects the hub client
// follows, and the GET downloads of the blobs (data::download_file: sizes, digests, resumes) into a cache
// directory that starts empty for every input.
//
// The server is a loopback socket of this process, answering each connection with the next of the input's
// responses, then closing it; when they run out, it answers 404. It is also every proxy curl uses, so a
// fuzzed absolute redirect to another host reaches it too and never the network or DNS.

#include <fuzzer/FuzzedDataProvider.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fuzz_support.hpp"
#include "greentune/model/hub.hpp"

namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxResponses = 16;        // a full download: 4 HEADs, 4 GETs, and room for redirects
constexpr size_t kMaxRequestBytes = 65536;  // a request header larger than this is not curl's

const std::string kFallbackResponse = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";

class FuzzedServer {
 public:
  FuzzedServer() {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listener_, 16) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      std::perror("fuzz: cannot listen on a loopback port");
      std::abort();
    }
    port_ = ntohs(address.sin_port);
    std::thread([this] { serve(); }).detach();  // lives as long as the process
  }

  uint16_t port() const { return port_; }

  void answer_with(std::vector<std::string> responses) {
    const std::lock_guard<std::mutex> lock(mutex_);
    responses_ = std::move(responses);
    next_ = 0;
  }

 private:
  std::string next_response() {
    const std::lock_guard<std::mutex> lock(mutex_);
    return next_ < responses_.size() ? responses_[next_++] : kFallbackResponse;
  }

  void serve() {
    for (;;) {
      const int connection = ::accept(listener_, nullptr, nullptr);
      if (connection < 0) {
        continue;
      }
      // A client that sends nothing must not stall the server: give up on it after a second.
      const timeval timeout{1, 0};
      ::setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
      read_request_head(connection);
      const std::string response = next_response();
      for (size_t sent = 0; sent < response.size();) {
        const ssize_t written =
            ::send(connection, response.data() + sent, response.size() - sent, MSG_NOSIGNAL);
        if (written <= 0) {
          break;
        }
        sent += static_cast<size_t>(written);
      }
      ::shutdown(connection, SHUT_WR);
      ::close(connection);
    }
  }

  // Reads up to the blank line ending the request's header (HEAD and GET have no body), so that closing
  // leaves nothing unread, which would reset the connection before curl read the answer.
  static void read_request_head(int connection) {
    std::string request;
    std::array<char, 4096> buffer;
    while (request.find("\r\n\r\n") == std::string::npos && request.size() < kMaxRequestBytes) {
      const ssize_t received = ::recv(connection, buffer.data(), buffer.size(), 0);
      if (received <= 0) {
        return;
      }
      request.append(buffer.data(), static_cast<size_t>(received));
    }
  }

  int listener_ = -1;
  uint16_t port_ = 0;
  std::mutex mutex_;
  std::vector<std::string> responses_;
  size_t next_ = 0;
};

// Set while the hub client runs on this thread: its pauses between download attempts (1 s, 2 s) would
// make each input take seconds; the attempts themselves still run.
thread_local bool skipping_retry_pauses = false;

FuzzedServer& server() {
  static FuzzedServer instance;
  return instance;
}

std::string loopback_url() {
  return "http://127.0.0.1:" + std::to_string(server().port());
}

// A header value that is mostly well formed (what reaches the code behind the checks), else fuzzed bytes.
std::string commit_value(FuzzedDataProvider& input) {
  static const std::array<std::string, 2> commits = {"5b1c3e8f0a9d47e2b6c8d1f3a5e7092b4c6d8e0f",
                                                     "0123456789abcdef0123456789abcdef01234567"};
  return input.ConsumeBool() ? commits[input.ConsumeIntegralInRange<size_t>(0, 1)]
                             : input.ConsumeRandomLengthString(48);
}

std::string location_value(FuzzedDataProvider& input) {
  switch (input.ConsumeIntegralInRange(0, 3)) {
    case 0:
      return "/org/renamed/resolve/main/" + input.ConsumeRandomLengthString(24);
    case 1:
      return loopback_url() + "/cdn/" + input.ConsumeRandomLengthString(24);
    case 2:
      return "http://cdn.example/" + input.ConsumeRandomLengthString(24);  // reaches the proxy: this server
    default:
      return input.ConsumeRandomLengthString(64);
  }
}

// One HTTP answer: raw fuzzed bytes, or a status line and headers chosen by the input around a fuzzed body.
std::string fuzzed_response(FuzzedDataProvider& input) {
  if (input.ConsumeIntegralInRange(0, 3) == 0) {
    return input.ConsumeRandomLengthString(2048);
  }
  static const std::array<int, 12> statuses = {200, 206, 301, 302, 307, 308, 401, 403, 404, 416, 500, 503};
  const int status = input.ConsumeBool()
                         ? statuses[input.ConsumeIntegralInRange<size_t>(0, statuses.size() - 1)]
                         : input.ConsumeIntegralInRange(100, 999);
  std::string response =
      "HTTP/1.1 " + std::to_string(status) + " " + input.ConsumeRandomLengthString(16) + "\r\n";
  const auto header = [&](std::string_view name, const std::string& value) {
    response += std::string(name) + ": " + value + "\r\n";
  };
  if (input.ConsumeBool())
    header("X-Repo-Commit", commit_value(input));
  if (input.ConsumeBool())
    header("ETag", "\"" + input.ConsumeRandomLengthString(320) + "\"");
  if (input.ConsumeBool())
    header("X-Linked-Etag", input.ConsumeRandomLengthString(320));
  if (input.ConsumeBool())
    header("X-Linked-Size", input.ConsumeRandomLengthString(24));
  if (input.ConsumeBool())
    header("Location", location_value(input));
  if (input.ConsumeBool())
    header("X-Error-Message", input.ConsumeRandomLengthString(64));
  if (input.ConsumeBool())
    header("Content-Range", input.ConsumeRandomLengthString(32));
  if (input.ConsumeBool())
    header("Accept-Ranges", "bytes");
  const bool honest_length = input.ConsumeBool();
  const std::string declared_length = honest_length ? std::string() : input.ConsumeRandomLengthString(24);
  const std::string body = input.ConsumeRandomLengthString(1024);
  header("Content-Length", honest_length ? std::to_string(body.size()) : declared_length);
  header("Connection", "close");
  return response + "\r\n" + body;
}

}  // namespace

// Replaces the C library's nanosleep, which std::this_thread::sleep_for calls: returns at once while the hub
// client runs, else sleeps (libFuzzer's own threads sleep through it too).
extern "C" int nanosleep(const timespec* duration, timespec* remaining) {
  if (skipping_retry_pauses) {
    return 0;
  }
  return static_cast<int>(::syscall(SYS_nanosleep, duration, remaining));
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Every URL curl is handed or redirected to goes to this process's server, whatever its host.
  const std::string proxy = loopback_url();
  for (const char* variable : {"http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"}) {
    ::setenv(variable, proxy.c_str(), 1);
  }
  for (const char* variable :
       {"no_proxy", "NO_PROXY", "HF_ENDPOINT", "HF_TOKEN", "HF_TOKEN_PATH", "HF_HUB_OFFLINE"}) {
    ::unsetenv(variable);
  }
  ::setenv("HF_HOME", (greentune::fuzz::scratch_dir() / "hf-home").c_str(), 1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace greentune;
  FuzzedDataProvider input(data, size);
  model::HubOptions options;
  options.endpoint = loopback_url();
  options.cache_dir = fuzz::scratch_dir() / "hub";
  options.revision = input.ConsumeBool() ? "main" : "5b1c3e8f0a9d47e2b6c8d1f3a5e7092b4c6d8e0f";
  options.token = input.ConsumeBool() ? "hf_fuzz_token" : "";
  fs::remove_all(options.cache_dir);  // every input starts from an empty cache

  std::vector<std::string> responses;
  const size_t count = input.ConsumeIntegralInRange<size_t>(1, kMaxResponses);
  while (responses.size() < count && input.remaining_bytes() > 0) {
    responses.push_back(fuzzed_response(input));
  }
  server().answer_with(std::move(responses));

  skipping_retry_pauses = true;
  fuzz::read_untrusted([&] {
    const fs::path snapshot = model::resolve_model_dir("greentune-fuzz/distilbert-tiny", options);
    for (const char* required : {"config.json", "model.safetensors", "vocab.txt"}) {
      if (!fs::exists(snapshot / required)) {
        std::fprintf(stderr, "fuzz: the resolved snapshot %s lacks %s\n", snapshot.c_str(), required);
        std::abort();
      }
    }
  });
  skipping_retry_pauses = false;
  return 0;
}
