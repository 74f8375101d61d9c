#include "greentune/core/process_memory.hpp"

#include <cstdlib>
#include <fstream>

namespace greentune {

std::optional<double> peak_memory_mb(const std::string& pid) {
  std::ifstream status("/proc/" + pid + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0)  // "VmHWM:    123456 kB"
      return static_cast<double>(std::strtoull(line.c_str() + 6, nullptr, 10)) / 1024.0;
  }
  return std::nullopt;
}

bool reset_peak_memory() {
  std::ofstream clear_refs("/proc/self/clear_refs");
  clear_refs << "5";
  clear_refs.flush();
  return static_cast<bool>(clear_refs);
}

}  // namespace greentune
