#pragma once
// The energy and carbon flags `measure` and `train` share (energy::metering_options()): where the
// electricity comes from, the data centre's PUE, and the sampling interval.

#include <CLI/CLI.hpp>

#include "greentune/energy/machine.hpp"

namespace greentune::cli {

void add_energy_flags(CLI::App& command, energy::MeteringOptions& options);

}  // namespace greentune::cli
