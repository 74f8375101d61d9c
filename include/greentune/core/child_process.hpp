#pragma once
// Runs another program to its end, as `greentune measure` and a study's external variants do: Ctrl-C and
// SIGTERM reach the program, not this process, until it has ended, so that what greentune measured is still
// written after it.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace greentune {

struct ChildOptions {
  // Where the program's stdout and stderr go (created, or appended to); nullopt: this process's own.
  std::optional<std::filesystem::path> output_file;
};

struct ChildExit {
  bool started = false;     // false: the program could not be started (start_error says why)
  std::string start_error;  // "No such file or directory"
  // The program's exit status; 128 + N when signal N ended it (the shell's convention); 127 when it
  // could not be started.
  int exit_status = 127;
  std::optional<int> signal;           // the signal that ended it
  std::optional<int> received_signal;  // a signal this process got while it ran (Ctrl-C: SIGINT)
  // The program's own peak resident set size (MiB; sampled every 20 ms, its child processes' not counted).
  double peak_memory_mb = 0.0;
};

// Runs command (command[0] looked up on PATH) with this process's environment and working directory, and
// waits for its end. Throws Error(usage) for an empty command, Error(io) when output_file cannot be opened.
ChildExit run_child(const std::vector<std::string>& command, const ChildOptions& options = {});

}  // namespace greentune
