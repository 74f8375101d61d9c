#pragma once
// AMD GPU energy through AMD SMI (ROCm's libamd_smi.so), loaded with dlopen at run time like NVML, so that
// greentune builds and runs without ROCm. One EnergyCounter per GPU that ROCR_VISIBLE_DEVICES and then
// HIP_VISIBLE_DEVICES show: the GPU's energy accumulator (amdsmi_get_energy_count) where it works and
// reads plausibly, else its power (amdsmi_get_power_info) integrated over the sampler's polls. Tested
// with a fake library only: unverified on real AMD hardware.

#include <optional>
#include <string>

#include "greentune/energy/nvml.hpp"

namespace greentune::energy {

struct AmdGpuDiscoveryOptions {
  std::string amdsmi_library = "libamd_smi.so";  // a dlopen name or a path
  // As the process sees them; nullopt when unset. ROCR_VISIBLE_DEVICES selects among all GPUs,
  // HIP_VISIBLE_DEVICES among those ROCR_VISIBLE_DEVICES left; entries are indices or UUIDs.
  std::optional<std::string> rocr_visible_devices, hip_visible_devices;
  std::optional<Clock::time_point> start;  // see GpuDiscoveryOptions
};

// amdsmi_library from GREENTUNE_AMDSMI_LIB (when set and non-empty), the device selections from the
// environment.
AmdGpuDiscoveryOptions amd_gpu_discovery_options_from_environment();

// Loads AMD SMI (the default name, else /opt/rocm/lib/libamd_smi.so) and creates a counter per visible
// GPU; devices[i].nvml_index is AMD SMI's index. Never throws: what goes wrong is in problem and notes, as
// with discover_gpus; problem is empty (and there are no counters) on a machine without ROCm.
GpuDiscovery discover_amd_gpus(
    const AmdGpuDiscoveryOptions& options = amd_gpu_discovery_options_from_environment());

}  // namespace greentune::energy
