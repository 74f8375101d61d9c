#pragma once
// Private to the report module: how numbers and lists are written, shared by the statement and the tables
// so that every output shows the same digits.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "greentune/report/statistics.hpp"

namespace greentune::report::detail {

// Decimals that show value with 4 significant digits (0 for values >= 1000, at most 8).
int decimals_for(double value);

// "91.23 ± 0.45" (mean and std times scale, the std with the mean's decimals); "91.23" when the std is
// absent (one run); "n/a" without runs.
std::string format_mean_std(const Summary& summary, double scale);

// "+1.25" / "-0.50": the sign always shown, so a change reads as one.
std::string format_signed(double value, int decimals);

// A change's value, "-23.4", and its interval, "[-30.1, -16.7]" ("[n/a]" without one); both "n/a" without a
// change.
std::string format_change_value(const std::optional<Change>& change, int decimals);
std::string format_change_interval(const std::optional<Change>& change, int decimals);
// Both in one table cell: "-23.4 [-30.1, -16.7]", or "n/a" without a change.
std::string format_change_cell(const std::optional<Change>& change, int decimals);

// Prose, unit after every number: "-23.4% (95% CI -30.1% to -16.7%)" for unit "%"; without an interval
// "-23.4% (95% CI n/a: fewer than 2 runs on a side)".
std::string describe_change(const Change& change, int decimals, const std::string& unit);

}  // namespace greentune::report::detail
