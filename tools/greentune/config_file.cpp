#include "config_file.hpp"

#include <fmt/format.h>

#include "greentune/core/error.hpp"
#include "greentune/study/plan.hpp"
#include "numeric_flags.hpp"

namespace greentune::cli {

void apply_option_arguments(CLI::App& command, const std::string& key,
                            const std::vector<std::string>& arguments, const std::string& location) {
  CLI::Option* option = key == "config" ? nullptr : command.get_option_no_throw("--" + key);
  if (option == nullptr) {
    throw Error(
        ErrorCode::usage, location, "unknown option",
        fmt::format("use the option names of `greentune {} --help`, without the dashes", command.get_name()));
  }
  try {
    for (const std::string& argument : arguments)
      option->add_result(argument);
    option->run_callback();
  } catch (const CLI::Error& error) {
    throw Error(
        ErrorCode::usage, location, error.what(),
        states_its_fix(error.what()) ? "" : fmt::format("see `greentune {} --help`", command.get_name()));
  }
}

void apply_config_file(CLI::App& command, const std::string& path) {
  for (const study::Setting& setting : study::read_option_file(path)) {
    const CLI::Option* option = command.get_option_no_throw("--" + setting.key);
    if (option != nullptr && option->count() > 0)
      continue;  // given on the command line: the flag wins
    apply_option_arguments(command, setting.key, setting.arguments,
                           fmt::format("{}:{}: key \"{}\"", path, setting.line, setting.key));
  }
}

}  // namespace greentune::cli
