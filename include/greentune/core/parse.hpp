#pragma once
// Numbers from text that must be nothing but the number: sysfs files, table fields, HTTP headers.

#include <charconv>
#include <optional>
#include <string_view>

namespace greentune {

// The whole of text as a Number (an integer type, or double), or nullopt for empty text, other characters
// before or after it, or a value out of Number's range. No leading '+' or blanks (std::from_chars's rule).
template <typename Number>
std::optional<Number> parse_whole(std::string_view text) {
  Number value{};
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size())
    return std::nullopt;
  return value;
}

}  // namespace greentune
