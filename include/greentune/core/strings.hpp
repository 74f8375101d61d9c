#pragma once
// Byte-string helpers for ASCII-keyed text (file names, header fields, /proc and sysfs lines, CPU names):
// bytes outside ASCII, UTF-8 included, pass through unchanged.

#include <span>
#include <string>
#include <string_view>

namespace greentune {

// What the C locale's isspace counts as white space.
inline constexpr std::string_view kWhitespace = " \t\n\v\f\r";
// What JSON (RFC 8259) allows between tokens.
inline constexpr std::string_view kJsonWhitespace = " \t\n\r";

// text with A-Z turned into a-z.
std::string ascii_lowercase(std::string_view text);
// Whether a and b are equal once A-Z is turned into a-z in both.
bool equals_ignoring_case(std::string_view a, std::string_view b);

// text without the leading and trailing characters that are in `whitespace`.
std::string_view trim(std::string_view text, std::string_view whitespace = kWhitespace);
// text without the trailing characters that are in `whitespace`.
std::string_view trim_end(std::string_view text, std::string_view whitespace = kWhitespace);
// Whether text has nothing but characters of `whitespace` (an empty text too).
bool is_blank(std::string_view text, std::string_view whitespace = kWhitespace);

// parts with separator between each two of them.
std::string join(std::span<const std::string> parts, std::string_view separator);

}  // namespace greentune
