#pragma once
// The one error type of greentune. Every failure a user can cause (bad file, bad flag, bad network) is an
// Error with a code; its message says what was wrong, where (file, line, key) and how to fix it.

#include <stdexcept>
#include <string>
#include <string_view>

namespace greentune {

// The numeric value is the process exit status the CLI returns for it.
enum class ErrorCode : int {
  usage = 2,          // a command-line flag or option value is wrong
  not_found = 3,      // a file, directory or resource does not exist
  io = 4,             // reading or writing failed (permissions, disk full, unreadable)
  parse = 5,          // a file's syntax is wrong (JSON, CSV, tar, vocab)
  invalid_data = 6,   // syntax is fine but the content is not usable (empty dataset, unknown label)
  network = 7,        // a download failed
  integrity = 8,      // a checksum or size does not match
  distributed = 9,    // another process of a data-parallel run failed, or the group cannot be formed
  internal = 70,      // a bug in greentune
  interrupted = 130,  // stopped by Ctrl-C after writing what a resumed run needs (128 + SIGINT)
};

std::string_view to_string(ErrorCode code);

class Error : public std::runtime_error {
 public:
  // where: "file:line", "file" or "" ; what: the problem ; fix: what the user can do (may be empty).
  Error(ErrorCode code, std::string_view where, std::string_view what, std::string_view fix = {});

  ErrorCode code() const noexcept { return code_; }
  const std::string& where() const noexcept { return where_; }

 private:
  ErrorCode code_;
  std::string where_;
};

// "path:line" as used in Error's where.
std::string location(std::string_view path, size_t line);

}  // namespace greentune
