#pragma once
#include <sys/types.h>
// Helpers shared by the test suites: where the fixtures are, temporary directories, running the CLI.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
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

// Runs the built greentune CLI with a shell-quoted argument string; stdin from stdin_file when given;
// environment: shell assignments ("NAME='value' ...") for the command alone.
CommandResult run_cli(const std::string& arguments, const std::string& stdin_file = {},
                      const std::string& environment = {});

}  // namespace greentune::testing

// Skips the current test with a message naming what is missing.
#define GREENTUNE_REQUIRE_SHARED(var)                                                                       \
  auto var##_opt = ::greentune::testing::shared_dir();                                                      \
  if (!var##_opt) {                                                                                         \
    GTEST_SKIP() << "../shared not found: set GREENTUNE_SHARED_DIR to the folder with data/ and fixtures/"; \
  }                                                                                                         \
  const std::filesystem::path var = *var##_opt
