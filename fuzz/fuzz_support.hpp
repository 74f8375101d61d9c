#pragma once
// What every fuzz target shares. A target hands libFuzzer's bytes to one of greentune's readers of
// untrusted files; the reader may reject them only with a greentune::Error of a code other than
// `internal`. Anything else (another exception, an `internal` error, a crash, a sanitizer report, a leak, a
// timeout, memory beyond -rss_limit_mb) is a finding.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string_view>

#include "greentune/core/error.hpp"

namespace greentune::fuzz {

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// A directory of this process's own under the system temp dir, made on first use and removed at exit.
const std::filesystem::path& scratch_dir();

// Writes bytes to scratch_dir()/name (replacing it) and returns its path.
std::filesystem::path write_scratch_file(std::string_view name, std::string_view bytes);

// Aborts (a finding for libFuzzer) when the reader reported an internal error: a bug, not bad input.
void check_not_internal(const Error& error);

// Aborts with why on stderr: the reader accepted input but broke a promise its callers rely on.
[[noreturn]] void broken_promise(std::string_view why);

// Runs read(); a greentune::Error that is not internal is the reader's answer to bad input.
template <class Read>
void read_untrusted(Read&& read) {
  try {
    read();
  } catch (const Error& error) {
    check_not_internal(error);
  }
}

}  // namespace greentune::fuzz
