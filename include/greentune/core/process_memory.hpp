#pragma once
// A process's peak resident set size from Linux's /proc/PID/status (VmHWM), and, for this process, a new
// start for it: a study trains its runs one after another in one process, and each run's peak is its own.

#include <optional>
#include <string>

namespace greentune {

// The peak resident set size of process pid ("self": this one) in MiB; nullopt when unreadable (the process
// has ended, or this is not Linux).
std::optional<double> peak_memory_mb(const std::string& pid = "self");

// Starts this process's peak over from its resident size now (/proc/self/clear_refs "5", Linux 4.0 and
// later); false where the kernel does not allow it (the peak then stays the whole process's).
bool reset_peak_memory();

}  // namespace greentune
