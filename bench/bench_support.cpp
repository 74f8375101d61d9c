#include "bench_support.hpp"

#include <cstdio>
#include <cstdlib>

#include "greentune/core/files.hpp"

namespace greentune::bench {

std::filesystem::path shared_file(const std::string& relative_path) {
  const std::filesystem::path path =
      std::filesystem::path(env_or("GREENTUNE_SHARED_DIR", GREENTUNE_SHARED_DIR_DEFAULT)) / relative_path;
  if (!std::filesystem::exists(path)) {
    std::fprintf(stderr, "benchmark input %s not found: set GREENTUNE_SHARED_DIR to the folder with data/\n",
                 path.c_str());
    std::exit(2);
  }
  return path;
}

}  // namespace greentune::bench
