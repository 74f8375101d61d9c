#pragma once
// Writing CSV lines the way Python's csv module (QUOTE_MINIMAL) and pandas read them back unchanged.

#include <string>
#include <string_view>

namespace greentune {

// RFC 4180: a field holding a comma, a quote or a line break is quoted, with its quotes doubled.
void append_csv_field(std::string& line, std::string_view field);

// The fields (any range of string-likes) as one line, without its line break.
template <typename Fields>
std::string csv_line(const Fields& fields) {
  std::string line;
  bool first = true;
  for (const auto& field : fields) {
    if (!first)
      line.push_back(',');
    first = false;
    append_csv_field(line, field);
  }
  return line;
}

}  // namespace greentune
