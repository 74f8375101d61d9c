#include "greentune/core/child_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>

#include "greentune/core/error.hpp"
#include "greentune/core/process_memory.hpp"

extern char** environ;

namespace greentune {

namespace {

// While the program runs, Ctrl-C and SIGTERM must reach it (the terminal sends Ctrl-C to both; SIGTERM and
// SIGHUP are forwarded) but not end this process before its results are written.
volatile sig_atomic_t forwarded_to = 0;
volatile sig_atomic_t received = 0;  // the last signal forwarded, 0 for none

class ChildSignalForwarding {
 public:
  explicit ChildSignalForwarding(pid_t child) {
    forwarded_to = child;
    received = 0;
    struct sigaction forward {};
    forward.sa_handler = [](int signal_number) {
      received = signal_number;
      if (forwarded_to > 0 && signal_number != SIGINT)  // Ctrl-C already reached the program's group
        kill(forwarded_to, signal_number);
    };
    sigemptyset(&forward.sa_mask);
    for (const int signal_number : kForwarded)
      sigaction(signal_number, &forward, &previous_[index(signal_number)]);
  }
  ~ChildSignalForwarding() {
    for (const int signal_number : kForwarded)
      sigaction(signal_number, &previous_[index(signal_number)], nullptr);
    forwarded_to = 0;
  }
  ChildSignalForwarding(const ChildSignalForwarding&) = delete;
  ChildSignalForwarding& operator=(const ChildSignalForwarding&) = delete;

 private:
  static constexpr int kForwarded[] = {SIGINT, SIGTERM, SIGHUP};
  static int index(int signal_number) {
    return signal_number == SIGINT ? 0 : signal_number == SIGTERM ? 1 : 2;
  }
  struct sigaction previous_[3]{};
};

// posix_spawn's file actions and the file the child's output goes to, freed at scope end.
class SpawnFileActions {
 public:
  SpawnFileActions() { posix_spawn_file_actions_init(&actions_); }
  ~SpawnFileActions() {
    close_output();
    posix_spawn_file_actions_destroy(&actions_);
  }
  SpawnFileActions(const SpawnFileActions&) = delete;
  SpawnFileActions& operator=(const SpawnFileActions&) = delete;
  posix_spawn_file_actions_t* get() { return &actions_; }

  // The child's stdout and stderr become output_fd (opened with O_CLOEXEC, so the child keeps only the
  // two copies).
  void redirect_output(int output_fd) {
    output_fd_ = output_fd;
    posix_spawn_file_actions_adddup2(&actions_, output_fd, STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions_, output_fd, STDERR_FILENO);
  }
  // This process's copy, once the child has started.
  void close_output() {
    if (output_fd_ >= 0)
      close(output_fd_);
    output_fd_ = -1;
  }

 private:
  posix_spawn_file_actions_t actions_{};
  int output_fd_ = -1;
};

// The program's peak resident set size, its /proc/PID/status VmHWM sampled every kSampleInterval until it
// has ended. Not wait4's ru_maxrss: after posix_spawn that includes this process's own peak (exec keeps the
// larger of the old and the new address space's high-water marks), which a study holding a model and a
// dataset makes far larger than the program's.
class PeakMemorySampler {
 public:
  explicit PeakMemorySampler(pid_t child)
      : pid_(std::to_string(child)), thread_([this] { sample_until_stopped(); }) {}
  PeakMemorySampler(const PeakMemorySampler&) = delete;
  PeakMemorySampler& operator=(const PeakMemorySampler&) = delete;
  ~PeakMemorySampler() { stop(); }

  // Stops sampling (call it before the program is reaped, while its PID is still its own); MiB.
  double stop() {
    {
      const std::lock_guard lock(mutex_);
      stopped_ = true;
    }
    wake_.notify_one();
    if (thread_.joinable())
      thread_.join();
    return peak_mb_;
  }

 private:
  static constexpr std::chrono::milliseconds kSampleInterval{20};

  void sample_until_stopped() {
    std::unique_lock lock(mutex_);
    while (!stopped_) {
      sample();
      wake_.wait_for(lock, kSampleInterval, [this] { return stopped_; });
    }
  }
  void sample() {
    if (const std::optional<double> peak = peak_memory_mb(pid_))
      peak_mb_ = std::max(peak_mb_, *peak);
  }

  std::string pid_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopped_ = false;
  double peak_mb_ = 0.0;
  std::thread thread_;  // last: started once the members it uses exist
};

}  // namespace

ChildExit run_child(const std::vector<std::string>& command, const ChildOptions& options) {
  if (command.empty())
    throw Error(ErrorCode::usage, "", "no command to run", "give the program and its arguments");
  std::vector<char*> argv;
  for (const std::string& argument : command)
    argv.push_back(const_cast<char*>(argument.c_str()));
  argv.push_back(nullptr);

  SpawnFileActions actions;
  if (options.output_file) {
    // Opened here rather than in the child, so that an unwritable file is this process's error.
    const int fd = open(options.output_file->c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
      throw Error(ErrorCode::io, options.output_file->string(), std::strerror(errno),
                  "make its directory writable");
    }
    actions.redirect_output(fd);
  }
  pid_t child = 0;
  const int spawn_error = posix_spawnp(&child, argv[0], actions.get(), nullptr, argv.data(), environ);
  actions.close_output();
  if (spawn_error != 0) {
    ChildExit failed;
    failed.start_error = std::strerror(spawn_error);
    return failed;
  }
  const ChildSignalForwarding forwarding(child);
  PeakMemorySampler peak_memory(child);
  ChildExit exit;
  exit.started = true;
  siginfo_t ended{};
  while (waitid(P_PID, static_cast<id_t>(child), &ended, WEXITED | WNOWAIT) < 0) {  // not reaped yet
    if (errno != EINTR)
      throw Error(ErrorCode::internal, "waitid", std::strerror(errno), "please report this");
  }
  exit.peak_memory_mb = peak_memory.stop();
  int status = 0;
  while (waitpid(child, &status, 0) < 0) {
    if (errno != EINTR)
      throw Error(ErrorCode::internal, "waitpid", std::strerror(errno), "please report this");
  }
  exit.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (WIFSIGNALED(status))
    exit.signal = WTERMSIG(status);
  if (received != 0)
    exit.received_signal = static_cast<int>(received);
  return exit;
}

}  // namespace greentune
