#pragma once
// CPU package and DRAM energy from RAPL (Running Average Power Limit) through the Linux powercap sysfs
// interface: each zone directory (intel-rapl:0, intel-rapl:0:2, and the same for other *-rapl control
// types such as intel-rapl-mmio) holds `name`, `energy_uj` (a cumulative µJ counter that wraps) and
// `max_energy_range_uj` (where it wraps).
//
// Package zones ("package-0", "package-1", "package-0-die-1") are the CPU; "dram" zones are the memory.
// "psys" is left out because it covers the whole platform (packages included) and "core"/"uncore"
// because they are parts of their package.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "greentune/energy/energy_counter.hpp"

namespace greentune::energy {

// Environment variable naming another powercap root (tests; containers that mount the host's /sys elsewhere).
inline constexpr const char* kPowercapRootVariable = "GREENTUNE_POWERCAP_ROOT";
inline constexpr const char* kDefaultPowercapRoot = "/sys/class/powercap";

// $GREENTUNE_POWERCAP_ROOT when set and not empty, /sys/class/powercap otherwise.
std::filesystem::path powercap_root();

// One RAPL zone as discovery found it.
struct RaplZone {
  std::filesystem::path directory;   // e.g. /sys/class/powercap/intel-rapl:0
  std::string name;                  // its `name` file: "package-0", "dram"
  uint64_t max_energy_range_uj = 0;  // energy_uj counts from 0 up to this, then starts again at 0
};

// µJ consumed between two readings of a wrapping counter, assuming at most one wrap between them (the
// Meter polls far more often than the fastest wrap, about a minute at 250 W on a 2^32 µJ range). A reading
// lower than the previous one wrapped: now + (max_energy_range_uj - previous), the convention of Zeus
// (reading + wraps x max_energy_range_uj). Throws Error(io) naming zone_file when previous exceeds
// max_energy_range_uj, which no wrap can explain.
uint64_t rapl_delta_uj(uint64_t previous_uj, uint64_t now_uj, uint64_t max_energy_range_uj,
                       const std::filesystem::path& zone_file);

// The sum of some RAPL zones' energy since construction, each zone's wraps accumulated separately.
class RaplCounter : public EnergyCounter {
 public:
  // Reads every zone's energy_uj as the starting point. Throws Error(io) when one cannot be read.
  RaplCounter(Component component, std::vector<RaplZone> zones);

  Component component() const override { return component_; }
  Method method() const override { return Method::rapl; }
  std::string label() const override;  // "RAPL package-0 + package-1"
  double poll_joules(Clock::time_point now) override;
  const std::vector<RaplZone>& zones() const { return zones_; }

 private:
  struct ZoneState {
    uint64_t last_reading_uj = 0;
    uint64_t accumulated_uj = 0;  // since construction, wraps included
  };
  Component component_;
  std::vector<RaplZone> zones_;
  std::vector<ZoneState> states_;  // parallel to zones_
};

struct RaplDiscovery {
  std::unique_ptr<RaplCounter> cpu;   // every package zone; null when there is none or one is unreadable
  std::unique_ptr<RaplCounter> dram;  // every dram zone; null when there is none or one is unreadable
  // Why cpu (or dram) is missing although the machine may have it, with the fix: no powercap tree,
  // energy_uj readable only by root. Empty when every package and dram zone found is in use, and also
  // when the machine simply has no dram zone. Not an error: the caller falls back to the TDP model.
  std::string problem;
};

// Finds the RAPL zones under root (the flat /sys/class/powercap layout and the nested
// /sys/devices/virtual/powercap one both work). A zone that another control type repeats (intel-rapl-mmio:0
// beside intel-rapl:0, both "package-0") is counted once, from the first control type in name order.
// Never throws for missing or unreadable sysfs files; those end up in problem.
RaplDiscovery discover_rapl(const std::filesystem::path& root = powercap_root());

}  // namespace greentune::energy
