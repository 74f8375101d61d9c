#pragma once
// A numeric flag's allowed range as a CLI11 check, for the commands whose options are not in an option
// table; the range itself (greentune::Range, core/option_table.hpp) gives one message for every value
// outside it or not a number at all, e.g.
//   greentune: error [usage]: --lr: must be a number greater than 0, got 0 (fix: pass a number greater than
//   0)

#include <CLI/CLI.hpp>
#include <string_view>

#include "greentune/core/option_table.hpp"

namespace greentune::cli {

CLI::Validator in_range(const Range& range);

// How greentune's Error messages, and a range check's, open their fix: "... (fix: ...)".
inline constexpr std::string_view kFixOpening = "(fix: ";

// Whether a CLI11 error message already ends with its fix (a range check's does).
inline bool states_its_fix(std::string_view message) {
  return message.find(kFixOpening) != std::string_view::npos;
}

}  // namespace greentune::cli
