#include "numeric_flags.hpp"

#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <optional>
#include <string>

#include "greentune/core/parse.hpp"

namespace greentune::cli {

namespace {

struct Range {
  double low;
  bool low_included;
  double high;  // +inf: no upper end
  bool high_included;
  bool whole;

  bool contains(double value) const {
    return (low_included ? value >= low : value > low) && (high_included ? value <= high : value < high);
  }

  // "a number greater than 0", "a number from 0 to 1", "a number of at least 0 and below 1",
  // "a whole number from 1 to 65536".
  std::string describe() const {
    const std::string kind = whole ? "a whole number " : "a number ";
    if (std::isinf(high))
      return kind + fmt::format("{} {}", low_included ? "of at least" : "greater than", low);
    if (low_included && high_included)
      return kind + fmt::format("from {} to {}", low, high);
    return kind + fmt::format("{} {} and {} {}", low_included ? "of at least" : "greater than", low,
                              high_included ? "at most" : "below", high);
  }
};

std::optional<double> parse_number(const std::string& text, bool whole) {
  if (whole) {
    if (const std::optional<int64_t> value = parse_whole<int64_t>(text))
      return static_cast<double>(*value);
    if (const std::optional<uint64_t> value = parse_whole<uint64_t>(text))  // seeds above int64's range
      return static_cast<double>(*value);
    return std::nullopt;
  }
  const std::optional<double> value = parse_whole<double>(text);
  return value && std::isfinite(*value) ? value : std::nullopt;
}

CLI::Validator validator(const Range& range) {
  const std::string description = range.describe();
  return CLI::Validator(
      [range, description](const std::string& text) -> std::string {
        const std::optional<double> value = parse_number(text, range.whole);
        if (value && range.contains(*value))
          return {};
        return fmt::format("must be {}, got {} {}pass {})", description, text, kFixOpening, description);
      },
      description);
}

constexpr double kNoEnd = std::numeric_limits<double>::infinity();

}  // namespace

CLI::Validator greater_than(double low) {
  return validator({low, false, kNoEnd, false, false});
}

CLI::Validator at_least(double low) {
  return validator({low, true, kNoEnd, false, false});
}

CLI::Validator from_to(double low, double high) {
  return validator({low, true, high, true, false});
}

CLI::Validator at_least_below(double low, double high) {
  return validator({low, true, high, false, false});
}

CLI::Validator whole_at_least(int64_t low) {
  return validator({static_cast<double>(low), true, kNoEnd, false, true});
}

CLI::Validator whole_from_to(int64_t low, int64_t high) {
  return validator({static_cast<double>(low), true, static_cast<double>(high), true, true});
}

}  // namespace greentune::cli
