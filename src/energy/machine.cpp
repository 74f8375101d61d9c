#include "greentune/energy/machine.hpp"

#include <fmt/format.h>
#include <sys/utsname.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <random>

#include "greentune/core/error.hpp"
#include "greentune/energy/amdsmi.hpp"
#include "greentune/energy/cpu_model.hpp"
#include "greentune/energy/rapl.hpp"

namespace greentune::energy {

namespace {

std::string operating_system() {
  utsname names{};
  if (uname(&names) != 0)
    return "";
  return fmt::format("{}-{}-{}", names.sysname, names.release, names.machine);
}

// "2 x NVIDIA H100 80GB HBM3", as CodeCarbon writes gpu_model; mixed models are joined with " + " (no
// comma, so that naive CSV readers keep the columns).
std::string gpu_model_summary(const std::vector<GpuDevice>& gpus) {
  std::map<std::string, int> count_by_name;
  for (const GpuDevice& gpu : gpus)
    ++count_by_name[gpu.name];
  std::string summary;
  for (const auto& [name, count] : count_by_name)
    summary += fmt::format("{}{} x {}", summary.empty() ? "" : " + ", count, name);
  return summary;
}

}  // namespace

MachineCounters discover_machine_counters(const MeteringScope& scope) {
  MachineCounters result;
  const Clock::time_point start = Clock::now();

  GpuDiscoveryOptions nvidia_options = gpu_discovery_options_from_environment();
  nvidia_options.start = start;
  AmdGpuDiscoveryOptions amd_options = amd_gpu_discovery_options_from_environment();
  amd_options.start = start;
  GpuDiscovery discoveries[] = {discover_gpus(nvidia_options), discover_amd_gpus(amd_options)};
  for (GpuDiscovery& gpus : discoveries) {
    for (size_t i = 0; i < gpus.counters.size(); ++i) {
      const GpuDevice& device = gpus.devices[i];
      if (scope.gpu_uuids && std::find(scope.gpu_uuids->begin(), scope.gpu_uuids->end(), device.uuid) ==
                                 scope.gpu_uuids->end()) {
        continue;  // another process meters it, or no process of this run uses it
      }
      result.counters.push_back(std::move(gpus.counters[i]));
      result.machine.gpus.push_back(device);
    }
    if (!gpus.problem.empty())
      result.notes.push_back("GPU: " + gpus.problem);
    for (const std::string& note : gpus.notes)
      result.notes.push_back("GPU: " + note);
  }

  const CpuInfo cpu = read_cpu_info();
  result.machine.os = operating_system();
  result.machine.cpu_model = cpu.model_name;
  result.machine.cpu_count = cpu.threads;
  result.machine.ram_total_gb = read_total_ram_gib() * 1.073741824;  // GiB -> GB
  if (!scope.host)
    return result;

  RaplDiscovery rapl = discover_rapl();
  if (!rapl.problem.empty())
    result.notes.push_back("RAPL: " + rapl.problem);
  if (rapl.cpu) {
    result.counters.push_back(std::move(rapl.cpu));
  } else {
    result.counters.push_back(make_cpu_model_counter("/proc", start));
  }
  if (rapl.dram) {
    result.counters.push_back(std::move(rapl.dram));
  } else {
    result.counters.push_back(make_ram_model_counter("/proc", host_architecture(), start));
  }
  return result;
}

Metering start_metering(const MeteringOptions& options) {
  Metering metering;
  metering.carbon = resolve_carbon_intensity(options.carbon);
  if (options.carbon.source == IntensitySource::electricitymaps) {
    if (options.carbon.gco2_per_kwh) {
      throw Error(ErrorCode::usage, "--carbon-intensity",
                  "a given figure and --carbon-source electricitymaps exclude each other",
                  "drop --carbon-intensity to use live figures, or --carbon-source to use the given one");
    }
    const std::string zone = options.carbon.live_zone.empty() ? electricitymaps_zone(metering.carbon)
                                                              : checked_zone(options.carbon.live_zone);
    metering.live_carbon = std::make_unique<LiveCarbonIntensity>(
        electricitymaps_options_from_environment(zone, options.carbon.live_sample_interval),
        metering.carbon.gco2_per_kwh);
  }
  MachineCounters machine = discover_machine_counters(options.scope);
  metering.machine = std::move(machine.machine);
  metering.notes = std::move(machine.notes);
  MeterOptions meter_options;
  meter_options.interval = options.interval;
  meter_options.pue = options.pue;
  meter_options.gco2_per_kwh = metering.carbon.gco2_per_kwh;
  meter_options.synchronize = options.synchronize;
  if (metering.live_carbon) {
    meter_options.live_gco2_per_kwh = [live = metering.live_carbon.get()] {
      return live->current_gco2_per_kwh();
    };
  }
  metering.meter = std::make_unique<Meter>(std::move(machine.counters), meter_options);
  return metering;
}

CarbonIntensity Metering::carbon_now() const {
  return live_carbon ? live_carbon_intensity(carbon, *live_carbon) : carbon;
}

std::string host_name() {
  utsname names{};
  return uname(&names) == 0 ? std::string(names.nodename) : std::string();
}

std::string node_identity() {
  std::string boot_id;
  std::ifstream file("/proc/sys/kernel/random/boot_id");
  std::getline(file, boot_id);
  return boot_id.empty() ? host_name() : host_name() + "/" + boot_id;
}

std::string random_uuid() {
  std::random_device entropy;
  std::uniform_int_distribution<int> nibble(0, 15);
  std::string uuid = "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx";
  for (char& c : uuid) {
    if (c == 'x' || c == 'y') {
      const int value = c == 'x' ? nibble(entropy) : 8 + nibble(entropy) % 4;  // variant 10xx
      c = "0123456789abcdef"[value];
    }
  }
  return uuid;
}

EmissionsRow make_emissions_row(const Measurement& measurement, const MachineInfo& machine,
                                const CarbonIntensity& carbon, const RunIdentity& identity) {
  const auto kwh = [](double joules) { return joules / kJoulesPerKwh; };
  const auto watts = [&](double joules) {
    return measurement.duration_s > 0.0 ? joules / measurement.duration_s : 0.0;
  };
  EmissionsRow row;
  row.timestamp = codecarbon_timestamp(std::chrono::system_clock::now());
  row.project_name = identity.project_name;
  row.run_id = identity.run_id.empty() ? random_uuid() : identity.run_id;
  row.experiment_id = identity.experiment_id;
  row.duration_s = measurement.duration_s;
  row.emissions_kg = measurement.co2_kg;
  row.emissions_rate_kg_per_s =
      measurement.duration_s > 0.0 ? measurement.co2_kg / measurement.duration_s : 0.0;
  const double memory_j = measurement.dram_j + measurement.ram_j;
  row.cpu_power_w = watts(measurement.cpu_j);
  row.gpu_power_w = watts(measurement.gpu_total_j());
  row.ram_power_w = watts(memory_j);
  row.cpu_energy_kwh = kwh(measurement.cpu_j);
  row.gpu_energy_kwh = kwh(measurement.gpu_total_j());
  row.ram_energy_kwh = kwh(memory_j);
  row.energy_consumed_kwh = measurement.kwh;
  row.country_name = carbon.country_name;
  row.country_iso_code = carbon.country_iso3;
  row.region = carbon.region;
  row.cloud_provider = carbon.cloud_provider;
  row.cloud_region = carbon.cloud_region;
  row.on_cloud = !carbon.cloud_provider.empty();
  row.os = machine.os;
  row.cpu_count = machine.cpu_count;
  row.cpu_model = machine.cpu_model;
  row.gpu_count = static_cast<int>(machine.gpus.size());
  row.gpu_model = gpu_model_summary(machine.gpus);
  row.ram_total_size_gb = machine.ram_total_gb;
  row.tracking_mode = "machine";
  row.pue = measurement.pue;
  return row;
}

std::string describe(const Measurement& measurement, const CarbonIntensity& carbon) {
  std::string text = fmt::format("energy over {:.1f} s:\n", measurement.duration_s);
  for (const ComponentEnergy& component : measurement.components) {
    text += fmt::format("  {:<5} {:>12.1f} J  {:<24} {}\n", to_string(component.component), component.joules,
                        to_string(component.method), component.label);
  }
  text += fmt::format("  total {:>12.1f} J = {:.6f} kWh (PUE {:.2f}), {:.1f} W on average\n",
                      measurement.total_j, measurement.kwh, measurement.pue, measurement.average_w());
  text += fmt::format("  CO2   {:.4g} g at {:.0f} gCO2e/kWh ({}{})", measurement.co2_kg * 1000.0,
                      carbon.gco2_per_kwh, carbon.reason, carbon.source.empty() ? "" : "; " + carbon.source);
  return text;
}

}  // namespace greentune::energy
