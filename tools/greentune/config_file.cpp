#include "config_file.hpp"

#include <fmt/format.h>
#include <toml++/toml.h>

#include "greentune/core/error.hpp"

namespace greentune::cli {

namespace {

std::string where(const std::string& path, const toml::source_region& source, std::string_view key) {
  return fmt::format("{}:{}: key \"{}\"", path, source.begin.line, key);
}

// A scalar TOML value as the text CLI11 would have received on the command line.
std::string as_argument(const toml::node& node, const std::string& location) {
  if (const auto* text = node.as_string())
    return text->get();
  if (const auto* integer = node.as_integer())
    return std::to_string(integer->get());
  if (const auto* number = node.as_floating_point())
    return fmt::format("{}", number->get());
  if (const auto* boolean = node.as_boolean())
    return boolean->get() ? "true" : "false";
  throw Error(ErrorCode::parse, location, "expected a string, number or boolean",
              "write e.g. lr = 5e-5, optimizer = \"adamw\" or nesterov = true");
}

}  // namespace

void apply_config_file(CLI::App& command, const std::string& path) {
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& error) {
    throw Error(ErrorCode::parse,
                fmt::format("{}:{}:{}", path, error.source().begin.line, error.source().begin.column),
                std::string(error.description()), "fix the TOML syntax");
  }
  for (const auto& [key, node] : table) {
    const std::string name(key.str());
    const std::string location = where(path, node.source(), name);
    CLI::Option* option = name == "config" ? nullptr : command.get_option_no_throw("--" + name);
    if (option == nullptr) {
      throw Error(ErrorCode::usage, location, "unknown option",
                  fmt::format("use the option names of `greentune {} --help`, without the dashes",
                              command.get_name()));
    }
    if (option->count() > 0)
      continue;  // given on the command line: the flag wins
    try {
      if (const auto* array = node.as_array()) {
        for (const auto& element : *array)
          option->add_result(as_argument(element, location));
      } else {
        option->add_result(as_argument(node, location));
      }
      option->run_callback();
    } catch (const CLI::Error& error) {
      throw Error(ErrorCode::usage, location, error.what(),
                  fmt::format("see `greentune {} --help`", command.get_name()));
    }
  }
}

}  // namespace greentune::cli
