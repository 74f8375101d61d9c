#pragma once
// The energy and carbon flags `measure` and `train` share: where the electricity comes from, the data
// centre's PUE, and the sampling interval.

#include <CLI/CLI.hpp>

#include "greentune/energy/machine.hpp"

namespace greentune::cli {

struct EnergyFlags {
  energy::MeteringOptions metering;
  int interval_ms = 100;
  std::optional<double> carbon_intensity;

  // The options with the flags applied (interval, carbon override).
  energy::MeteringOptions options() const;
};

void add_energy_flags(CLI::App& command, EnergyFlags& flags);

}  // namespace greentune::cli
