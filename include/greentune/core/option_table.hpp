#pragma once
// Options declared once. An option table lists, for a struct of options, each option's name, help, how it
// is given (a flag, a value, a list), its allowed range, and how it is read from text into the struct and
// written back as JSON. Everything else comes from the table: the command-line flags (the CLI adds one per
// entry), the TOML readers (--config, study files: the keys are the names), the JSON of the resolved
// options, and validation of a struct filled in code (the ranges checked again).

#include <fmt/format.h>

#include <cmath>
#include <concepts>
#include <filesystem>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "greentune/core/error.hpp"
#include "greentune/core/json.hpp"  // std::optional values

namespace greentune {

// The values a numeric option allows: an interval, whole numbers only or any, e.g.
//   "a number greater than 0", "a number from 0 to 1", "a number of at least 0 and below 1",
//   "a whole number from 1 to 65536".
struct Range {
  double low = 0.0;
  bool low_included = true;
  double high = std::numeric_limits<double>::infinity();  // +inf: no upper end
  bool high_included = false;
  bool whole = false;

  bool contains(double value) const;
  std::string describe() const;
  // The text as a number of this range's kind (whole or not) inside it, or Error(usage) naming flag:
  // "must be a number greater than 0, got 0 (fix: pass a number greater than 0)".
  double parse(std::string_view flag, const std::string& text) const;
  // Error(usage) naming flag when value is outside.
  void check(std::string_view flag, double value) const;
};

Range greater_than(double low);                  // (low, inf)
Range at_least(double low);                      // [low, inf)
Range from_to(double low, double high);          // [low, high]
Range at_least_below(double low, double high);   // [low, high)
Range whole_at_least(int64_t low);               // whole numbers in [low, inf)
Range whole_from_to(int64_t low, int64_t high);  // whole numbers in [low, high]

// How an option is given on the command line: a flag takes no value ("--resume"; a file says
// `resume = true`), a value one, a list `count` values separated by commas (0: any number).
enum class OptionArity { flag, value, list };

// How an option's value names a file, for TOML files (--config, study files), whose relative paths are
// relative to the file that holds them: not at all; always a path; or a path where one exists relative to
// the file, else a name as it is ("imdb", a hub model id).
enum class PathKind { none, path, path_or_name };

template <typename Options>
struct Option {
  std::string name{};  // "lr": the flag "--lr", the TOML key "lr", the JSON key "lr"
  std::string help{};
  OptionArity arity = OptionArity::value;
  size_t count = 1;         // values of a list (0: any number)
  std::string negation{};   // a flag's opposite ("no-shuffle" for "shuffle"), empty if none
  std::string type_name{};  // shown in --help: "FLOAT", "INT", "TEXT", "PATH", a choice's names
  bool must_exist = false;  // a path that must exist when given
  PathKind path_kind = PathKind::none;
  // Whether a run's result depends on it: a resumed run refuses another value, and a study's record of
  // what determined a run holds it. False for where and how a run writes, reports and paces itself.
  bool changes_result = true;
  // Reads the option's arguments (empty for a flag given alone) into options; Error(usage) naming
  // "--name" for a value that is wrong on its own.
  std::function<void(Options&, std::span<const std::string>)> set{};
  std::function<nlohmann::json(const Options&)> get{};
  // Error(usage) naming "--name" when the value options hold is outside the range (structs filled in
  // code); empty for options with no range.
  std::function<void(const Options&)> check{};

  std::string flag() const { return "--" + name; }
};

template <typename Options>
using OptionTable = std::vector<Option<Options>>;

namespace option_detail {

// The one argument of a value option; a list given for it is a usage error.
inline const std::string& single(std::string_view flag, std::span<const std::string> arguments) {
  if (arguments.size() != 1) {
    throw Error(ErrorCode::usage, flag, fmt::format("takes one value, got {}", arguments.size()),
                fmt::format("give {} one value", flag));
  }
  return arguments.front();
}

template <typename T>
struct is_optional : std::false_type {};
template <typename T>
struct is_optional<std::optional<T>> : std::true_type {};

}  // namespace option_detail

// A number held at access(options) (an arithmetic type, or std::optional of one: unset until given).
template <typename Options, typename Access>
Option<Options> number_option(std::string name, Access access, Range range, std::string help) {
  using Held = std::remove_cvref_t<decltype(access(std::declval<Options&>()))>;
  using Number = typename std::conditional_t<option_detail::is_optional<Held>::value, Held,
                                             std::optional<Held>>::value_type;
  static_assert(std::is_arithmetic_v<Number>);
  range.whole = range.whole || std::is_integral_v<Number>;
  Option<Options> option{.name = std::move(name), .help = std::move(help)};
  option.type_name = range.whole ? "INT" : "FLOAT";
  const std::string flag = option.flag();
  option.set = [access, range, flag](Options& options, std::span<const std::string> arguments) {
    access(options) = static_cast<Number>(range.parse(flag, option_detail::single(flag, arguments)));
  };
  option.get = [access](const Options& options) { return nlohmann::json(access(options)); };
  option.check = [access, range, flag](const Options& options) {
    if constexpr (option_detail::is_optional<Held>::value) {
      if (access(options))
        range.check(flag, static_cast<double>(*access(options)));
    } else {
      range.check(flag, static_cast<double>(access(options)));
    }
  };
  return option;
}

// A std::chrono::duration held at access(options), given and written as its count of the duration's unit.
template <typename Options, typename Access>
Option<Options> duration_option(std::string name, Access access, Range range, std::string help) {
  using Held = std::remove_cvref_t<decltype(access(std::declval<Options&>()))>;
  range.whole = true;
  Option<Options> option{.name = std::move(name), .help = std::move(help)};
  option.type_name = "INT";
  const std::string flag = option.flag();
  option.set = [access, range, flag](Options& options, std::span<const std::string> arguments) {
    access(options) =
        Held(static_cast<typename Held::rep>(range.parse(flag, option_detail::single(flag, arguments))));
  };
  option.get = [access](const Options& options) { return nlohmann::json(access(options).count()); };
  option.check = [access, range, flag](const Options& options) {
    range.check(flag, static_cast<double>(access(options).count()));
  };
  return option;
}

// Text (std::string) or a path (std::filesystem::path) held at access(options).
template <typename Options, typename Access>
Option<Options> text_option(std::string name, Access access, std::string help, bool must_exist = false) {
  using Held = std::remove_cvref_t<decltype(access(std::declval<Options&>()))>;
  Option<Options> option{.name = std::move(name), .help = std::move(help)};
  option.type_name = std::is_same_v<Held, std::filesystem::path> ? "PATH" : "TEXT";
  option.path_kind = std::is_same_v<Held, std::filesystem::path> ? PathKind::path : PathKind::none;
  option.must_exist = must_exist;
  const std::string flag = option.flag();
  option.set = [access, flag](Options& options, std::span<const std::string> arguments) {
    access(options) = Held(option_detail::single(flag, arguments));
  };
  option.get = [access](const Options& options) {
    if constexpr (std::is_same_v<Held, std::filesystem::path>)
      return nlohmann::json(access(options).string());
    else
      return nlohmann::json(access(options));
  };
  if (must_exist) {
    option.check = [access, flag](const Options& options) {
      const std::filesystem::path path(access(options));
      std::error_code ec;
      if (!path.empty() && !std::filesystem::exists(path, ec)) {
        throw Error(ErrorCode::not_found, flag, fmt::format("{} does not exist", path.string()),
                    "check the path");
      }
    };
  }
  return option;
}

// A comma-separated list of text held at access(options) (std::vector<std::string>).
template <typename Options, typename Access>
Option<Options> text_list_option(std::string name, Access access, std::string help) {
  Option<Options> option{
      .name = std::move(name), .help = std::move(help), .arity = OptionArity::list, .count = 0};
  option.type_name = "TEXT,...";
  option.set = [access](Options& options, std::span<const std::string> arguments) {
    access(options).assign(arguments.begin(), arguments.end());
  };
  option.get = [access](const Options& options) { return nlohmann::json(access(options)); };
  return option;
}

// A bool held at access(options): given alone it sets true; a file gives true or false. negation names
// the flag that sets false ("no-shuffle").
template <typename Options, typename Access>
Option<Options> flag_option(std::string name, Access access, std::string help, std::string negation = "") {
  Option<Options> option{.name = std::move(name), .help = std::move(help), .arity = OptionArity::flag};
  option.negation = std::move(negation);
  const std::string flag = option.flag();
  option.set = [access, flag](Options& options, std::span<const std::string> arguments) {
    if (arguments.empty()) {
      access(options) = true;
      return;
    }
    const std::string& text = option_detail::single(flag, arguments);
    if (text != "true" && text != "false")
      throw Error(ErrorCode::usage, flag, fmt::format("must be true or false, got {}", text),
                  "pass true or false");
    access(options) = text == "true";
  };
  option.get = [access](const Options& options) { return nlohmann::json(access(options)); };
  return option;
}

// One of a few names held at access(options) as an enum: parse(name) gives the value (Error(usage) for
// an unknown name), name_of(value) its name; names lists them for --help.
template <typename Options, typename Access, typename Parse, typename NameOf>
Option<Options> choice_option(std::string name, Access access, Parse parse, NameOf name_of, std::string names,
                              std::string help) {
  Option<Options> option{.name = std::move(name), .help = std::move(help)};
  option.type_name = std::move(names);
  const std::string flag = option.flag();
  option.set = [access, parse, flag](Options& options, std::span<const std::string> arguments) {
    try {
      access(options) = parse(option_detail::single(flag, arguments));
    } catch (const Error& error) {
      if (!error.where().empty())
        throw;
      throw Error(error.code(), flag, error.what());  // the parser's message names no option
    }
  };
  option.get = [access, name_of](const Options& options) {
    return nlohmann::json(std::string(name_of(access(options))));
  };
  return option;
}

// option, changed: option with the path kind kind, or with changes_result false (where and how a run
// writes, reports and paces itself).
template <typename Options>
Option<Options> naming_file(Option<Options> option, PathKind kind) {
  option.path_kind = kind;
  return option;
}
template <typename Options>
Option<Options> not_changing_result(Option<Options> option) {
  option.changes_result = false;
  return option;
}

// The options of inner tables, for a struct that holds their struct at access(outer): the same names,
// reading and writing the member.
template <typename Outer, typename Inner, typename Access>
void append_nested(OptionTable<Outer>& table, const OptionTable<Inner>& inner, Access access) {
  for (const Option<Inner>& option : inner) {
    Option<Outer> nested{.name = option.name,
                         .help = option.help,
                         .arity = option.arity,
                         .count = option.count,
                         .negation = option.negation,
                         .type_name = option.type_name,
                         .must_exist = option.must_exist,
                         .path_kind = option.path_kind,
                         .changes_result = option.changes_result};
    nested.set = [set = option.set, access](Outer& outer, std::span<const std::string> arguments) {
      set(access(outer), arguments);
    };
    nested.get = [get = option.get, access](const Outer& outer) { return get(access(outer)); };
    if (option.check)
      nested.check = [check = option.check, access](const Outer& outer) { check(access(outer)); };
    table.push_back(std::move(nested));
  }
}

// The entry named name, or its negation's; nullptr when there is none.
template <typename Options>
const Option<Options>* find_option(const OptionTable<Options>& table, std::string_view name) {
  for (const Option<Options>& option : table) {
    if (option.name == name || (!option.negation.empty() && option.negation == name))
      return &option;
  }
  return nullptr;
}

// Sets the option named key (a name or a negation) from a file's or a command line's arguments.
// Error(usage) for an unknown key, or what the option's reader throws.
template <typename Options>
void set_option(const OptionTable<Options>& table, Options& options, std::string_view key,
                std::span<const std::string> arguments) {
  const Option<Options>* option = find_option(table, key);
  if (option == nullptr)
    throw Error(ErrorCode::usage, fmt::format("--{}", key), "unknown option",
                "see --help for the option names");
  if (option->negation == key) {
    // "no-shuffle = true" sets shuffle false; "no-shuffle" alone too.
    const bool negated = arguments.empty() || arguments.front() == "true";
    const std::string value = negated ? "false" : "true";
    option->set(options, std::span<const std::string>(&value, 1));
    return;
  }
  option->set(options, arguments);
}

// Every option's value as JSON, keyed by name, in table order.
template <typename Options>
nlohmann::json options_json(const OptionTable<Options>& table, const Options& options) {
  nlohmann::json json = nlohmann::json::object();
  for (const Option<Options>& option : table)
    json[option.name] = option.get(options);
  return json;
}

// Every option's range and path check on options as they are.
template <typename Options>
void check_options(const OptionTable<Options>& table, const Options& options) {
  for (const Option<Options>& option : table) {
    if (option.check)
      option.check(options);
  }
}

}  // namespace greentune
