#pragma once
#include <sys/types.h>
// Helpers shared by the test suites: where the fixtures are, temporary directories, running the CLI.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "greentune/core/error.hpp"

namespace greentune::testing {

// Files committed with the tests (tests/data_files).
std::filesystem::path test_data_dir();

// ../shared (or $GREENTUNE_SHARED_DIR) when it exists; nullopt otherwise.
std::optional<std::filesystem::path> shared_dir();

// A fresh directory under the system temp dir, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// The Error action throws; a test failure (and an internal Error) when it throws none.
template <typename Action>
Error error_of(Action&& action) {
  try {
    action();
  } catch (const Error& error) {
    return error;
  }
  ADD_FAILURE() << "no Error thrown";
  return Error(ErrorCode::internal, "", "none");
}

// A tmpfs of capacity_bytes (rounded up to whole pages by the kernel) mounted on a fresh directory, for
// tests of a full disk; unmounted and removed by the destructor. Mounting needs root (CAP_SYS_ADMIN):
// elsewhere mounted() is false and why_not() says why, for GTEST_SKIP.
class SmallDisk {
 public:
  explicit SmallDisk(uint64_t capacity_bytes);
  ~SmallDisk();
  SmallDisk(const SmallDisk&) = delete;
  SmallDisk& operator=(const SmallDisk&) = delete;
  bool mounted() const { return mounted_; }
  const std::string& why_not() const { return why_not_; }
  const std::filesystem::path& path() const { return dir_.path(); }
  std::filesystem::path operator/(const std::string& name) const { return dir_ / name; }
  uint64_t free_bytes() const;
  // Writes DIR/filler until the disk is full: every later write fails with ENOSPC.
  void fill();
  // Gives the disk a new capacity, its files kept (a remount).
  void resize(uint64_t capacity_bytes);

 private:
  TempDir dir_;
  bool mounted_ = false;
  std::string why_not_;
};

void write_text(const std::filesystem::path& path, const std::string& contents);
// A powercap tree with one package and a dram zone whose counters do not move: RAPL is found and used.
void write_powercap(const std::filesystem::path& root);
std::string read_text(const std::filesystem::path& path);
// Each line of a JSON-lines file (metrics.jsonl) parsed.
std::vector<nlohmann::json> read_json_lines(const std::filesystem::path& path);

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Starts argv (argv[0] a path) in a child process with environment's (name, value) pairs added to this
// process's environment, stdout and stderr both into output (discarded when output is empty); returns its
// pid.
pid_t spawn_process(const std::vector<std::string>& argv,
                    const std::vector<std::pair<std::string, std::string>>& environment = {},
                    const std::filesystem::path& output = {});
// spawn_process with this environment and the output discarded.
pid_t spawn_quietly(const std::vector<std::string>& argv);
// Waits for the child and returns its wait status (WIFEXITED / WIFSIGNALED apply).
int wait_for_exit(pid_t pid);
// The same, giving up after timeout: nullopt when the child is still running then.
std::optional<int> wait_for_exit_within(pid_t pid, std::chrono::milliseconds timeout);
// A TCP port on 127.0.0.1 that was free a moment ago (the kernel's choice for port 0).
int free_tcp_port();

// The payloads of a TFRecord file (a TensorBoard event file), each record's two masked CRC-32Cs checked.
std::vector<std::string> tfrecord_payloads(const std::filesystem::path& file);
// protoc's text of an event payload read as a tensorflow.Event with TensorFlow's field numbers
// (data_files/tensorboard/event.proto); protoc is Debian's protobuf-compiler (GREENTUNE_REQUIRE_PROTOC).
std::string decode_event(const std::string& payload);
bool has_protoc();

// A real Prometheus Pushgateway (Debian's prometheus-pushgateway) on a free port of 127.0.0.1, started by
// the constructor (ready once it answers /-/ready) and killed by the destructor; running() is false, and
// why_not() says why, where the program is missing (GREENTUNE_REQUIRE_PUSHGATEWAY).
class PushgatewayServer {
 public:
  PushgatewayServer();
  ~PushgatewayServer();
  PushgatewayServer(const PushgatewayServer&) = delete;
  PushgatewayServer& operator=(const PushgatewayServer&) = delete;
  bool running() const { return pid_ > 0; }
  const std::string& why_not() const { return why_not_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // The samples of metric in /metrics: its labels ("component=\"gpu\",instance=..." as the Pushgateway
  // writes them, sorted) -> value.
  std::map<std::string, double> samples(const std::string& metric) const;

 private:
  TempDir dir_;
  int port_ = 0;
  pid_t pid_ = -1;
  std::string why_not_;
};

// Runs the built greentune CLI with a shell-quoted argument string; stdin from stdin_file when given;
// environment: shell assignments ("NAME='value' ...") for the command alone.
CommandResult run_cli(const std::string& arguments, const std::string& stdin_file = {},
                      const std::string& environment = {});

}  // namespace greentune::testing

#define GREENTUNE_REQUIRE_PROTOC()                                                                     \
  if (!::greentune::testing::has_protoc()) {                                                           \
    GTEST_SKIP() << "protoc not found: run scripts/setup.sh (it installs Debian's protobuf-compiler)"; \
  }

#define GREENTUNE_REQUIRE_PUSHGATEWAY(server)     \
  ::greentune::testing::PushgatewayServer server; \
  if (!server.running()) {                        \
    GTEST_SKIP() << server.why_not();             \
  }

// Skips the current test with a message naming what is missing.
#define GREENTUNE_REQUIRE_SHARED(var)                                                                       \
  auto var##_opt = ::greentune::testing::shared_dir();                                                      \
  if (!var##_opt) {                                                                                         \
    GTEST_SKIP() << "../shared not found: set GREENTUNE_SHARED_DIR to the folder with data/ and fixtures/"; \
  }                                                                                                         \
  const std::filesystem::path var = *var##_opt
