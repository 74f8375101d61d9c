#include "format.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>

namespace greentune::report::detail {

int decimals_for(double value) {
  constexpr int kSignificantDigits = 4;
  constexpr int kMaxDecimals = 8;
  if (value == 0.0 || !std::isfinite(value)) {
    return 2;
  }
  const int leading_digit_exponent = static_cast<int>(std::floor(std::log10(std::fabs(value))));
  return std::clamp(kSignificantDigits - 1 - leading_digit_exponent, 0, kMaxDecimals);
}

std::string format_mean_std(const Summary& summary, double scale) {
  if (summary.n == 0) {
    return "n/a";
  }
  const double mean = summary.mean * scale;
  const int decimals = decimals_for(mean != 0.0 ? mean : summary.std_dev.value_or(0.0) * scale);
  if (!summary.std_dev) {
    return fmt::format("{:.{}f}", mean, decimals);
  }
  return fmt::format("{:.{}f} ± {:.{}f}", mean, decimals, *summary.std_dev * scale, decimals);
}

std::string format_signed(double value, int decimals) {
  return fmt::format("{:+.{}f}", value, decimals);
}

std::string format_change_value(const std::optional<Change>& change, int decimals) {
  return change ? format_signed(change->value, decimals) : "n/a";
}

std::string format_change_interval(const std::optional<Change>& change, int decimals) {
  if (!change) {
    return "n/a";
  }
  if (!change->ci95) {
    return "[n/a]";
  }
  return fmt::format("[{}, {}]", format_signed(change->ci95->low, decimals),
                     format_signed(change->ci95->high, decimals));
}

std::string format_change_cell(const std::optional<Change>& change, int decimals) {
  return change ? format_change_value(change, decimals) + " " + format_change_interval(change, decimals)
                : "n/a";
}

std::string describe_change(const Change& change, int decimals, const std::string& unit) {
  const std::string value = format_signed(change.value, decimals) + unit;
  if (!change.ci95) {
    return value + " (95% CI n/a: fewer than 2 runs on a side)";
  }
  return fmt::format("{} (95% CI {}{} to {}{})", value, format_signed(change.ci95->low, decimals), unit,
                     format_signed(change.ci95->high, decimals), unit);
}

}  // namespace greentune::report::detail
