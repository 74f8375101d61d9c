#pragma once
// Inputs shared by the benchmarks.

#include <filesystem>
#include <string>

namespace greentune::bench {

// $GREENTUNE_SHARED_DIR or ../shared; exits with a message naming the missing file when absent.
std::filesystem::path shared_file(const std::string& relative_path);

}  // namespace greentune::bench
