#include "numeric_flags.hpp"

namespace greentune::cli {

CLI::Validator in_range(const Range& range) {
  return CLI::Validator(
      [range](const std::string& text) -> std::string {
        try {
          range.parse("", text);
          return {};
        } catch (const Error& error) {
          return error.what();  // "must be ..., got ... (fix: pass ...)": CLI11 puts the flag before it
        }
      },
      range.describe());
}

}  // namespace greentune::cli
