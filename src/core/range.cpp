#include <cmath>
#include <optional>

#include "greentune/core/option_table.hpp"
#include "greentune/core/parse.hpp"

namespace greentune {

namespace {

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

constexpr double kNoEnd = std::numeric_limits<double>::infinity();

}  // namespace

bool Range::contains(double value) const {
  return (low_included ? value >= low : value > low) && (high_included ? value <= high : value < high) &&
         (!whole || value == std::floor(value));
}

std::string Range::describe() const {
  const std::string kind = whole ? "a whole number " : "a number ";
  if (std::isinf(high))
    return kind + fmt::format("{} {}", low_included ? "of at least" : "greater than", low);
  if (low_included && high_included)
    return kind + fmt::format("from {} to {}", low, high);
  return kind + fmt::format("{} {} and {} {}", low_included ? "of at least" : "greater than", low,
                            high_included ? "at most" : "below", high);
}

double Range::parse(std::string_view flag, const std::string& text) const {
  const std::optional<double> value = parse_number(text, whole);
  if (!value || !contains(*value)) {
    throw Error(ErrorCode::usage, flag, fmt::format("must be {}, got {}", describe(), text),
                "pass " + describe());
  }
  return *value;
}

void Range::check(std::string_view flag, double value) const {
  if (!contains(value)) {
    throw Error(ErrorCode::usage, flag, fmt::format("must be {}, got {}", describe(), value),
                "pass " + describe());
  }
}

Range greater_than(double low) {
  return {low, false, kNoEnd, false, false};
}

Range at_least(double low) {
  return {low, true, kNoEnd, false, false};
}

Range from_to(double low, double high) {
  return {low, true, high, true, false};
}

Range at_least_below(double low, double high) {
  return {low, true, high, false, false};
}

Range whole_at_least(int64_t low) {
  return {static_cast<double>(low), true, kNoEnd, false, true};
}

Range whole_from_to(int64_t low, int64_t high) {
  return {static_cast<double>(low), true, static_cast<double>(high), true, true};
}

}  // namespace greentune
