#include "config_file.hpp"

#include <fmt/format.h>

#include "greentune/core/error.hpp"
#include "numeric_flags.hpp"
#include "option_flags.hpp"

namespace greentune::cli {

study::Setting relative_to_file(study::Setting setting, const std::filesystem::path& dir) {
  const auto* option = find_option(train::train_options(), setting.key);
  if (option == nullptr || option->path_kind == PathKind::none || setting.arguments.size() != 1)
    return setting;
  const std::filesystem::path value = setting.arguments.front();
  if (value.empty() || value.is_absolute())
    return setting;
  const std::filesystem::path beside = (dir / value).lexically_normal();
  std::error_code ec;
  if (option->path_kind == PathKind::path || std::filesystem::exists(beside, ec)) {
    setting.arguments = {beside.string()};
    setting.text = beside.string();
  }
  return setting;
}

void apply_setting(train::TrainOptions& options, const study::Setting& setting, const std::string& location) {
  if (find_option(train::train_options(), setting.key) == nullptr) {
    throw Error(ErrorCode::usage, location, "unknown option",
                "use the option names of `greentune train --help`, without the dashes");
  }
  try {
    train::set_train_option(options, setting.key, setting.arguments);
  } catch (const Error& error) {
    throw Error(error.code(), location, error.what(),
                states_its_fix(error.what()) ? "" : "see `greentune train --help`");
  }
}

void apply_config_file(const CLI::App& command, train::TrainOptions& options, const std::string& path) {
  const std::filesystem::path dir = std::filesystem::absolute(path).parent_path();
  for (const study::Setting& read : study::read_option_file(path)) {
    const study::Setting setting = relative_to_file(read, dir);
    const auto* option = find_option(train::train_options(), setting.key);
    if (option != nullptr && given_on_command_line(command, *option))
      continue;  // given on the command line: the flag wins
    apply_setting(options, setting, fmt::format("{}:{}: key \"{}\"", path, setting.line, setting.key));
  }
}

}  // namespace greentune::cli
