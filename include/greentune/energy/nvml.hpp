#pragma once
// GPU energy through NVML, the NVIDIA driver's management library, loaded with dlopen at run time so that
// greentune builds and runs without NVIDIA headers or a driver. One EnergyCounter per GPU that
// CUDA_VISIBLE_DEVICES shows: the GPU's own total-energy counter (Volta and newer) or, on older GPUs, its
// power readings integrated over the sampler's polls.

#include <optional>
#include <string>
#include <vector>

#include "greentune/energy/energy_counter.hpp"

namespace greentune::energy {

// Where the NVML library and the CUDA device selection come from. Tests fill it in; programs use
// gpu_discovery_options_from_environment().
struct GpuDiscoveryOptions {
  std::string nvml_library = "libnvidia-ml.so.1";  // a dlopen name or a path
  // CUDA_VISIBLE_DEVICES as the process sees it; nullopt when unset (every GPU is visible).
  std::optional<std::string> cuda_visible_devices;
  // CUDA_DEVICE_ORDER; only consulted to warn when CUDA's default order may number GPUs differently from
  // NVML's PCI bus order.
  std::optional<std::string> cuda_device_order;
  // The time of the first power reading of power-integrating counters; nullopt: when each is created.
  std::optional<Clock::time_point> start;
};

// nvml_library from GREENTUNE_NVML_LIB (when set and non-empty), CUDA_VISIBLE_DEVICES and
// CUDA_DEVICE_ORDER from the environment.
GpuDiscoveryOptions gpu_discovery_options_from_environment();

// One metered GPU, for summaries and the emissions.csv gpu_model / gpu_count columns.
struct GpuDevice {
  unsigned nvml_index = 0;  // NVML's index: PCI bus order, as nvidia-smi numbers GPUs
  std::string name;         // "NVIDIA A100-SXM4-80GB"
  std::string uuid;         // "GPU-8f3a1c2e-..."
  Method method = Method::nvml_counter;
  bool mig_enabled = false;  // MIG mode on: the energy is the whole GPU's, not one MIG instance's
};

struct GpuDiscovery {
  EnergyCounters counters;         // Component::gpu, in CUDA_VISIBLE_DEVICES order
  std::vector<GpuDevice> devices;  // devices[i] is what counters[i] measures
  // Why no GPU is metered (no NVIDIA driver, NVML failed to start, CUDA_VISIBLE_DEVICES hides every GPU);
  // empty when counters is not. Not an error: CPU-only machines are normal.
  std::string problem;
  // Caveats about what is metered: CUDA_VISIBLE_DEVICES entries CUDA ignores, GPUs that report neither
  // energy nor power, index order that may differ from CUDA's.
  std::vector<std::string> notes;
};

// Loads NVML and creates a counter per GPU that CUDA_VISIBLE_DEVICES shows. Never throws: what goes
// wrong is in problem and notes. The counters keep NVML loaded; nvmlShutdown runs when the last one is
// destroyed. Their poll_joules throws Error(io) when the GPU stops answering.
GpuDiscovery discover_gpus(const GpuDiscoveryOptions& options = gpu_discovery_options_from_environment());

}  // namespace greentune::energy
