#include "energy_flags.hpp"

#include "greentune/energy/metering_options.hpp"
#include "option_flags.hpp"

namespace greentune::cli {

void add_energy_flags(CLI::App& command, energy::MeteringOptions& options) {
  add_table_options(command, energy::metering_options(), options);
}

}  // namespace greentune::cli
