#pragma once
// The energy and carbon options `greentune train` and `greentune measure` share, declared once: where the
// electricity comes from, the data centre's PUE, the sampling interval and where the numbers are pushed.

#include "greentune/core/option_table.hpp"
#include "greentune/energy/machine.hpp"

namespace greentune::energy {

const OptionTable<MeteringOptions>& metering_options();

}  // namespace greentune::energy
