#pragma once
// An option table (core/option_table.hpp) as CLI11 flags: one flag per entry, read into a struct when
// given, with the entry's help, type and default. Values outside an entry's range are greentune Errors
// thrown while parsing, which main prints in the one-line form:
//   greentune: error [usage]: --lr: must be a number greater than 0, got 0 (fix: pass a number greater than
//   0)

#include <CLI/CLI.hpp>
#include <string>

#include "greentune/core/option_table.hpp"

namespace greentune::cli {

// The default as --help shows it: the JSON value without a string's quotes; empty for none (an unset
// optional, an empty list).
inline std::string default_text(const nlohmann::json& value) {
  if (value.is_null() || (value.is_array() && value.empty()))
    return "";
  return value.is_string() ? value.get<std::string>() : value.dump();
}

// Registers every entry of table on command. table and target must outlive the parse.
template <typename Options>
void add_table_options(CLI::App& command, const OptionTable<Options>& table, Options& target) {
  const Options defaults{};
  for (const Option<Options>& option : table) {
    if (option.arity == OptionArity::flag) {
      command.add_flag_callback(
          option.flag(), [&option, &target] { option.set(target, {}); }, option.help);
      if (!option.negation.empty()) {
        command.add_flag_callback(
            "--" + option.negation,
            [&option, &target] {
              const std::string value = "false";
              option.set(target, std::span<const std::string>(&value, 1));
            },
            "The opposite of " + option.flag());
      }
      continue;
    }
    CLI::Option* flag = command.add_option(
        option.flag(),
        [&option, &target](const CLI::results_t& results) {
          option.set(target, results);
          return true;
        },
        option.help);
    flag->type_name(option.type_name);
    flag->default_str(default_text(option.get(defaults)));
    if (option.arity == OptionArity::list) {
      flag->delimiter(',');
      if (option.count > 0)
        flag->expected(static_cast<int>(option.count));
      else
        flag->expected(1, CLI::detail::expected_max_vector_size);
    }
  }
}

// Whether the entry (or its negation) was given on command's command line.
template <typename Options>
bool given_on_command_line(const CLI::App& command, const Option<Options>& option) {
  const CLI::Option* flag = command.get_option_no_throw(option.flag());
  const CLI::Option* negation =
      option.negation.empty() ? nullptr : command.get_option_no_throw("--" + option.negation);
  return (flag != nullptr && flag->count() > 0) || (negation != nullptr && negation->count() > 0);
}

}  // namespace greentune::cli
