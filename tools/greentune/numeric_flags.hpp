#pragma once
// The allowed range of a numeric option, stated once where the option is declared, and one message for
// every value outside it or not a number at all, e.g.
//   greentune: error [usage]: --lr: must be greater than 0, got 0 (fix: pass a number greater than 0)

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string_view>

namespace greentune::cli {

// Any number (whole or not) in the range.
CLI::Validator greater_than(double low);                 // (low, inf)
CLI::Validator at_least(double low);                     // [low, inf)
CLI::Validator from_to(double low, double high);         // [low, high]
CLI::Validator at_least_below(double low, double high);  // [low, high)

// Whole numbers only ("2.5" and "1e3" are refused).
CLI::Validator whole_at_least(int64_t low);               // [low, int64 max]
CLI::Validator whole_from_to(int64_t low, int64_t high);  // [low, high]

// How greentune's Error messages, and a range check's, open their fix: "... (fix: ...)".
inline constexpr std::string_view kFixOpening = "(fix: ";

// Whether a CLI11 error message already ends with its fix (a range check's does).
inline bool states_its_fix(std::string_view message) {
  return message.find(kFixOpening) != std::string_view::npos;
}

}  // namespace greentune::cli
