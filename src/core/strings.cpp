#include "greentune/core/strings.hpp"

#include <algorithm>

namespace greentune {

namespace {

char ascii_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

}  // namespace

std::string ascii_lowercase(std::string_view text) {
  std::string lowered(text);
  std::transform(lowered.begin(), lowered.end(), lowered.begin(), ascii_lower);
  return lowered;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](char x, char y) { return ascii_lower(x) == ascii_lower(y); });
}

std::string_view trim(std::string_view text, std::string_view whitespace) {
  const size_t first = text.find_first_not_of(whitespace);
  return first == std::string_view::npos ? std::string_view{} : trim_end(text.substr(first), whitespace);
}

std::string_view trim_end(std::string_view text, std::string_view whitespace) {
  return text.substr(0, text.find_last_not_of(whitespace) + 1);  // npos + 1 == 0: nothing left
}

bool is_blank(std::string_view text, std::string_view whitespace) {
  return text.find_first_not_of(whitespace) == std::string_view::npos;
}

std::string join(std::span<const std::string> parts, std::string_view separator) {
  std::string joined;
  for (const std::string& part : parts) {
    if (&part != parts.data())
      joined += separator;
    joined += part;
  }
  return joined;
}

}  // namespace greentune
