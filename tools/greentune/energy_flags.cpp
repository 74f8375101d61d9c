#include "energy_flags.hpp"

#include "numeric_flags.hpp"

namespace greentune::cli {

energy::MeteringOptions EnergyFlags::options() const {
  energy::MeteringOptions options = metering;
  options.interval = std::chrono::milliseconds(interval_ms);
  options.carbon.gco2_per_kwh = carbon_intensity;
  return options;
}

void add_energy_flags(CLI::App& command, EnergyFlags& flags) {
  energy::CarbonOptions& carbon = flags.metering.carbon;
  command.add_option(
      "--country", carbon.country,
      "Country of the electricity grid, ISO 3166 alpha-3 (FRA, USA, ...); default: world average");
  command.add_option("--region", carbon.region,
                     "US state, Canadian province or Nordic zone within --country");
  command.add_option("--cloud-provider", carbon.cloud_provider, "gcp, aws or azure");
  command.add_option("--cloud-region", carbon.cloud_region,
                     "Cloud region, e.g. us-central1 or aws:us-east-1");
  command.add_option("--carbon-intensity", flags.carbon_intensity, "gCO2e/kWh to use instead of the table's")
      ->check(at_least(0));
  command.add_option("--pue", flags.metering.pue, "Power usage effectiveness of the data centre")
      ->check(from_to(1, 5))
      ->capture_default_str();
  command.add_option("--interval-ms", flags.interval_ms, "Energy sampling interval in milliseconds")
      ->check(whole_from_to(1, 60000))
      ->capture_default_str();
}

}  // namespace greentune::cli
