#include "greentune/core/log.hpp"

#include <fmt/core.h>

#include <atomic>
#include <cstdio>

namespace greentune::log {

namespace {
std::atomic<bool> quiet_mode{false};
}

void info(std::string_view message) {
  if (!quiet_mode.load()) {
    fmt::print(stderr, "{}\n", message);
  }
}

void warn(std::string_view message) {
  fmt::print(stderr, "warning: {}\n", message);
}

void set_quiet(bool quiet) {
  quiet_mode.store(quiet);
}

bool quiet() {
  return quiet_mode.load();
}

}  // namespace greentune::log
