#include "fuzz_support.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "greentune/core/log.hpp"

namespace greentune::fuzz {

namespace {

std::filesystem::path make_scratch_dir() {
  log::set_quiet(true);  // info lines would slow every execution down
  const auto path = std::filesystem::temp_directory_path() / ("greentune-fuzz-" + std::to_string(getpid()));
  std::filesystem::remove_all(path);
  std::filesystem::create_directories(path);
  std::atexit([] {
    std::error_code ignored;
    std::filesystem::remove_all(scratch_dir(), ignored);
  });
  return path;
}

}  // namespace

const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path path = make_scratch_dir();
  return path;
}

std::filesystem::path write_scratch_file(std::string_view name, std::string_view bytes) {
  const std::filesystem::path path = scratch_dir() / name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out.flush()) {
    std::fprintf(stderr, "fuzz: cannot write %s\n", path.c_str());
    std::abort();
  }
  return path;
}

void check_not_internal(const Error& error) {
  if (error.code() == ErrorCode::internal) {
    std::fprintf(stderr, "fuzz: internal error on untrusted input: %s\n", error.what());
    std::abort();
  }
}

void broken_promise(std::string_view why) {
  std::fprintf(stderr, "fuzz: %.*s\n", static_cast<int>(why.size()), why.data());
  std::abort();
}

}  // namespace greentune::fuzz
