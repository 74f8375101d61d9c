#pragma once
// Inputs shared by the benchmarks, and running the CLI they time.

#include <filesystem>
#include <string>
#include <vector>

namespace greentune::bench {

// relative_path under $GREENTUNE_SHARED_DIR (default ../shared beside the checkout), whether it exists or
// not.
std::filesystem::path shared_path(const std::string& relative_path);

// shared_path; exits with a message naming the missing file when absent.
std::filesystem::path shared_file(const std::string& relative_path);

// One line of advice for a benchmark input missing at path.
std::string missing_input_message(const std::filesystem::path& path);

// argument as one /bin/sh word: in single quotes, each embedded ' written as '\''.
std::string shell_quoted(const std::string& argument);

// Runs arguments as one command through /bin/sh, each argument quoted so that spaces and quotes survive;
// shell_redirection (e.g. "> /dev/null") follows unquoted. Returns the exit status, or -1 when the command
// did not exit normally (killed by a signal, or the shell could not start).
int run_command(const std::vector<std::string>& arguments, const std::string& shell_redirection);

}  // namespace greentune::bench
