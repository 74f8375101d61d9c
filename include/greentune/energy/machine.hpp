#pragma once
// This machine's energy counters, chosen best first and each recorded with its method: GPUs through
// NVML; the CPU through RAPL, else the TDP x utilization model; memory through RAPL's dram zones, else the
// DIMM-count model. Plus the carbon intensity, and what emissions.csv needs to know about the machine.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "greentune/energy/carbon.hpp"
#include "greentune/energy/electricitymaps.hpp"
#include "greentune/energy/emissions_csv.hpp"
#include "greentune/energy/meter.hpp"
#include "greentune/energy/nvml.hpp"

namespace greentune::energy {

struct MachineInfo {
  std::string os;         // "Linux-6.1.0-18-amd64-x86_64"
  std::string cpu_model;  // /proc/cpuinfo's model name
  int cpu_count = 0;      // hardware threads
  double ram_total_gb = 0.0;
  std::vector<GpuDevice> gpus;  // the metered ones
};

struct MachineCounters {
  EnergyCounters counters;
  MachineInfo machine;
  // Why a better method was not available (RAPL permissions, no NVIDIA driver), each with its fix.
  std::vector<std::string> notes;
};

// What one process meters. The processes of a data-parallel run share machines: each meters the GPUs it
// computes on and one process per machine the CPU and memory, so that nothing is counted twice (see
// assign_metering in ranks.hpp). The default meters the whole machine.
struct MeteringScope {
  bool host = true;  // the CPU and memory counters (RAPL zones, or the TDP and DIMM models)
  // The GPUs to meter, by NVML UUID, among those CUDA_VISIBLE_DEVICES shows; nullopt: all of them.
  std::optional<std::vector<std::string>> gpu_uuids;
};

// Discovers the best counter of every component in scope. Never throws for missing hardware or
// permissions: the fallbacks take over and notes say why.
MachineCounters discover_machine_counters(const MeteringScope& scope = {});

struct MeteringOptions {
  CarbonOptions carbon;
  double pue = 1.0;
  std::chrono::milliseconds interval{100};
  std::function<void()> synchronize;  // see MeterOptions
  MeteringScope scope;
  std::string pushgateway_url;  // a Prometheus Pushgateway to push to (energy/pushgateway.hpp); empty: none
};

// A running Meter over this machine's counters, with the carbon intensity it applies.
struct Metering {
  // --carbon-source electricitymaps: the live intensity the Meter reads (declared before it, so that it
  // outlives it); null for an offline one.
  std::unique_ptr<LiveCarbonIntensity> live_carbon;
  std::unique_ptr<Meter> meter;
  MachineInfo machine;
  CarbonIntensity carbon;  // as resolved at the start (for a live one: the offline figure of its place)
  std::vector<std::string> notes;

  // The carbon intensity as it stands now: carbon, with a live source's samples so far (applied_to then
  // gives the energy-weighted average of a window).
  CarbonIntensity carbon_now() const;
};

// Resolves the carbon intensity first (Error(usage) for an unknown --country and the like, before any
// work; a live source takes its first sample), then discovers the counters and starts the Meter.
Metering start_metering(const MeteringOptions& options);

// Names the run in emissions.csv.
struct RunIdentity {
  std::string project_name = "greentune";
  std::string run_id;  // empty: a random UUID (version 4), as CodeCarbon makes one
  std::string experiment_id;
};

// The emissions.csv row of measurement on machine: powers are the window's averages (W), energies kWh per
// component as measured (RAPL DRAM and the DIMM model both go to ram_energy), energy_consumed and
// emissions with the PUE applied.
EmissionsRow make_emissions_row(const Measurement& measurement, const MachineInfo& machine,
                                const CarbonIntensity& carbon, const RunIdentity& identity);

// This machine's host name, and a name every process on this machine shares and no other machine has:
// the host name and the kernel's boot id (containers on different machines may share a host name).
std::string host_name();
std::string node_identity();

// A few lines for people: duration, energy per component with its method, total, CO2 and the carbon
// intensity with the reason it was chosen.
std::string describe(const Measurement& measurement, const CarbonIntensity& carbon);

std::string random_uuid();

}  // namespace greentune::energy
