#include "bench_support.hpp"

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>

#include "greentune/core/files.hpp"

namespace greentune::bench {

std::filesystem::path shared_path(const std::string& relative_path) {
  return std::filesystem::path(env_or("GREENTUNE_SHARED_DIR", GREENTUNE_SHARED_DIR_DEFAULT)) / relative_path;
}

std::filesystem::path shared_file(const std::string& relative_path) {
  const std::filesystem::path path = shared_path(relative_path);
  if (!std::filesystem::exists(path)) {
    std::fprintf(stderr, "%s\n", missing_input_message(path).c_str());
    std::exit(2);
  }
  return path;
}

std::string missing_input_message(const std::filesystem::path& path) {
  return "benchmark input " + path.string() + " not found: set GREENTUNE_SHARED_DIR to the folder with data/";
}

std::string shell_quoted(const std::string& argument) {
  std::string quoted = "'";
  for (const char character : argument) {
    if (character == '\'')
      quoted += "'\\''";
    else
      quoted += character;
  }
  return quoted + "'";
}

int run_command(const std::vector<std::string>& arguments, const std::string& shell_redirection) {
  std::string command;
  for (const std::string& argument : arguments)
    command += shell_quoted(argument) + " ";
  command += shell_redirection;
  const int status = std::system(command.c_str());
  return status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace greentune::bench
