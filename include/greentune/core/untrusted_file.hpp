#pragma once
// Reading a file that a user, a script or a hub repository handed us, with its size bounded before a byte
// is read: a multi-gigabyte "config" is reported, not loaded.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace greentune {

// The whole file, when it has at most max_bytes. Throws Error(invalid_data) naming the path, its size and
// the limit when larger (fix: how to get a file of the right kind), and what read_file throws otherwise.
std::string read_untrusted_file(const std::filesystem::path& path, uint64_t max_bytes, std::string_view fix);

}  // namespace greentune
