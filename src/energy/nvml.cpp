#include "greentune/energy/nvml.hpp"

#include <dlfcn.h>
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <memory>
#include <set>
#include <string_view>
#include <utility>

#include "greentune/core/error.hpp"
#include "greentune/core/files.hpp"

namespace greentune::energy {
namespace {

// The part of NVML's C ABI greentune calls, declared here with the values of NVML's public nvml.h so that
// building needs no NVIDIA header.
namespace nvml_abi {
using Return = int;                       // nvmlReturn_t, a C enum
constexpr Return kSuccess = 0;            // NVML_SUCCESS
constexpr Return kNotSupported = 3;       // NVML_ERROR_NOT_SUPPORTED
struct DeviceOpaque;                      // struct nvmlDevice_st, never looked into
using Device = DeviceOpaque*;             // nvmlDevice_t
constexpr unsigned kMigEnable = 1;        // NVML_DEVICE_MIG_ENABLE
constexpr unsigned kNameBufferSize = 96;  // NVML_DEVICE_NAME_V2_BUFFER_SIZE
constexpr unsigned kUuidBufferSize = 96;  // NVML_DEVICE_UUID_V2_BUFFER_SIZE
}  // namespace nvml_abi

using nvml_abi::Device;
using nvml_abi::Return;

constexpr double kMillijoulesPerJoule = 1000.0;
constexpr double kMilliwattsPerWatt = 1000.0;

struct NvmlFunctions {
  // Required: every driver with the _v2 entry points has them.
  Return (*init)() = nullptr;                              // nvmlInit_v2
  Return (*shutdown)() = nullptr;                          // nvmlShutdown
  const char* (*error_string)(Return) = nullptr;           // nvmlErrorString
  Return (*device_count)(unsigned*) = nullptr;             // nvmlDeviceGetCount_v2
  Return (*handle_by_index)(unsigned, Device*) = nullptr;  // nvmlDeviceGetHandleByIndex_v2
  Return (*name)(Device, char*, unsigned) = nullptr;       // nvmlDeviceGetName
  Return (*uuid)(Device, char*, unsigned) = nullptr;       // nvmlDeviceGetUUID
  Return (*power_mw)(Device, unsigned*) = nullptr;         // nvmlDeviceGetPowerUsage, mW
  // Optional: older drivers lack them, and the feature each serves is then unavailable.
  Return (*total_energy_mj)(Device, unsigned long long*) = nullptr;  // mJ since the driver loaded
  Return (*mig_mode)(Device, unsigned*, unsigned*) = nullptr;        // current, pending
  Return (*handle_by_uuid)(const char*, Device*) = nullptr;          // also takes MIG UUIDs
  Return (*parent_of_mig)(Device, Device*) = nullptr;                // nvmlDeviceGetDeviceHandleFromMig...
};

template <typename Function>
bool resolve(void* library, const char* symbol, Function*& function) {
  function = reinterpret_cast<Function*>(dlsym(library, symbol));
  return function != nullptr;
}

// An initialized NVML. Counters share it, so NVML stays loaded while any of them exists.
class NvmlLibrary {
 public:
  NvmlLibrary(void* handle, const NvmlFunctions& functions) : handle_(handle), functions_(functions) {}
  ~NvmlLibrary() {
    functions_.shutdown();
    dlclose(handle_);
  }
  NvmlLibrary(const NvmlLibrary&) = delete;
  NvmlLibrary& operator=(const NvmlLibrary&) = delete;

  const NvmlFunctions& call() const { return functions_; }
  // "GPU is lost (15)": NVML's words and the code to look up.
  std::string describe(Return code) const {
    return fmt::format("{} ({})", functions_.error_string(code), code);
  }

 private:
  void* handle_;
  NvmlFunctions functions_;
};

struct LoadedNvml {
  std::shared_ptr<const NvmlLibrary> library;
  std::string problem;  // why library is null
};

LoadedNvml load_nvml(const std::string& library_name) {
  void* handle = dlopen(library_name.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    return {nullptr, fmt::format("no NVIDIA driver library: {} (GPU energy is not measured; if the driver is "
                                 "installed, set GREENTUNE_NVML_LIB to the path of libnvidia-ml.so.1)",
                                 dlerror())};
  }
  NvmlFunctions functions;
  std::string missing;
  const auto require = [&](const char* symbol, auto*& function) {
    if (!resolve(handle, symbol, function)) {
      missing += missing.empty() ? symbol : fmt::format(", {}", symbol);
    }
  };
  require("nvmlInit_v2", functions.init);
  require("nvmlShutdown", functions.shutdown);
  require("nvmlErrorString", functions.error_string);
  require("nvmlDeviceGetCount_v2", functions.device_count);
  require("nvmlDeviceGetHandleByIndex_v2", functions.handle_by_index);
  require("nvmlDeviceGetName", functions.name);
  require("nvmlDeviceGetUUID", functions.uuid);
  require("nvmlDeviceGetPowerUsage", functions.power_mw);
  resolve(handle, "nvmlDeviceGetTotalEnergyConsumption", functions.total_energy_mj);
  resolve(handle, "nvmlDeviceGetMigMode", functions.mig_mode);
  resolve(handle, "nvmlDeviceGetHandleByUUID", functions.handle_by_uuid);
  resolve(handle, "nvmlDeviceGetDeviceHandleFromMigDeviceHandle", functions.parent_of_mig);
  if (!missing.empty()) {
    dlclose(handle);
    return {nullptr, fmt::format("{} lacks {}: the NVIDIA driver is too old for GPU metering (update it, or "
                                 "point GREENTUNE_NVML_LIB at a newer libnvidia-ml.so.1)",
                                 library_name, missing)};
  }
  if (const Return code = functions.init(); code != nvml_abi::kSuccess) {
    std::string problem = fmt::format(
        "NVML did not start: nvmlInit_v2 returned {} ({}); GPU energy is not measured (check that nvidia-smi "
        "works)",
        functions.error_string(code), code);
    dlclose(handle);
    return {nullptr, std::move(problem)};
  }
  return {std::make_shared<const NvmlLibrary>(handle, functions), {}};
}

// One GPU as NVML lists it; handle is null (and handle_problem says why) when NVML gave none.
struct NvmlGpu {
  unsigned index = 0;
  Device handle = nullptr;
  std::string name;
  std::string uuid;
  std::string handle_problem;
};

std::string read_string(Return (*getter)(Device, char*, unsigned), Device device, unsigned buffer_size) {
  std::string buffer(buffer_size, '\0');
  if (getter(device, buffer.data(), buffer_size) != nvml_abi::kSuccess) {
    return {};
  }
  buffer.resize(buffer.find('\0'));
  return buffer;
}

std::vector<NvmlGpu> list_gpus(const NvmlLibrary& nvml, unsigned count) {
  std::vector<NvmlGpu> gpus(count);
  for (unsigned index = 0; index < count; ++index) {
    NvmlGpu& gpu = gpus[index];
    gpu.index = index;
    if (const Return code = nvml.call().handle_by_index(index, &gpu.handle); code != nvml_abi::kSuccess) {
      gpu.handle = nullptr;
      gpu.handle_problem = nvml.describe(code);
      continue;
    }
    gpu.name = read_string(nvml.call().name, gpu.handle, nvml_abi::kNameBufferSize);
    if (gpu.name.empty()) {
      gpu.name = "unnamed NVIDIA GPU";
    }
    gpu.uuid = read_string(nvml.call().uuid, gpu.handle, nvml_abi::kUuidBufferSize);
  }
  return gpus;
}

// What one CUDA_VISIBLE_DEVICES entry names: a GPU's NVML index, or why CUDA would not accept it.
struct EntryMatch {
  std::optional<unsigned> index;
  std::string rejection;  // "matches no GPU", when index is empty
  bool mig = false;       // named a MIG instance (its parent GPU is metered)
};

EntryMatch match_uuid_prefix(std::string_view prefix, const std::vector<NvmlGpu>& gpus) {
  EntryMatch match;
  for (const NvmlGpu& gpu : gpus) {
    if (!gpu.uuid.empty() && gpu.uuid.starts_with(prefix)) {
      if (match.index) {
        return {std::nullopt, "is the start of more than one GPU's UUID"};
      }
      match.index = gpu.index;
    }
  }
  if (!match.index) {
    match.rejection = "is no GPU's UUID nor the start of one";
  }
  return match;
}

// "MIG-GPU-<parent UUID>/<GPU instance>/<compute instance>" (CUDA 11.0-11.3) names the parent directly;
// "MIG-<MIG UUID>" (driver R470 and newer, as nvidia-smi -L prints it) is looked up through NVML.
EntryMatch match_mig(std::string_view entry, const std::vector<NvmlGpu>& gpus, const NvmlLibrary& nvml) {
  constexpr std::string_view kMigPrefix = "MIG-";
  EntryMatch match;
  const std::string_view after_prefix = entry.substr(kMigPrefix.size());
  if (after_prefix.starts_with("GPU-")) {
    match = match_uuid_prefix(after_prefix.substr(0, after_prefix.find('/')), gpus);
  } else if (nvml.call().handle_by_uuid == nullptr || nvml.call().parent_of_mig == nullptr) {
    match.rejection = "is a MIG UUID, and this NVIDIA driver cannot look MIG UUIDs up (update it)";
  } else {
    Device mig_device = nullptr;
    Device parent = nullptr;
    const std::string mig_uuid(entry);
    if (nvml.call().handle_by_uuid(mig_uuid.c_str(), &mig_device) != nvml_abi::kSuccess ||
        nvml.call().parent_of_mig(mig_device, &parent) != nvml_abi::kSuccess) {
      match.rejection = "is no MIG instance's UUID (nvidia-smi -L lists them)";
    } else {
      const std::string parent_uuid = read_string(nvml.call().uuid, parent, nvml_abi::kUuidBufferSize);
      match = parent_uuid.empty() ? EntryMatch{std::nullopt, "is a MIG instance whose GPU has no UUID"}
                                  : match_uuid_prefix(parent_uuid, gpus);
    }
  }
  match.mig = true;
  return match;
}

// CUDA reads an index like strtoul: leading digits, the rest of the entry ignored ("1gpu2" is 1); no
// digits, or a sign, make it invalid.
EntryMatch match_index(std::string_view entry, const std::vector<NvmlGpu>& gpus) {
  unsigned index = 0;
  const auto [end, error] = std::from_chars(entry.data(), entry.data() + entry.size(), index);
  if (error != std::errc() || end == entry.data()) {
    return {std::nullopt, "is not a GPU index, UUID or MIG UUID"};
  }
  if (index >= gpus.size()) {
    return {std::nullopt, fmt::format("is no GPU: this machine has GPUs 0 to {}", gpus.size() - 1)};
  }
  return {index, {}};
}

struct VisibleGpus {
  std::vector<unsigned> indices;  // NVML indices, in CUDA's order
  std::string explanation;        // why CUDA ignores some entries or all GPUs; empty when it reads them all
  bool by_index = false;          // some GPU was named by index rather than UUID
};

// The GPUs CUDA_VISIBLE_DEVICES shows, by CUDA's rules: unset shows every GPU; entries separated by commas
// are indices, GPU UUIDs or unique UUID prefixes ("GPU-8f3a"), or MIG instances (metered as their whole
// parent GPU); the first invalid entry ends the list (so "" and "-1" show none); a GPU named twice
// makes CUDA show none.
VisibleGpus visible_gpus(const std::optional<std::string>& cuda_visible_devices,
                         const std::vector<NvmlGpu>& gpus, const NvmlLibrary& nvml) {
  VisibleGpus visible;
  if (!cuda_visible_devices) {
    for (const NvmlGpu& gpu : gpus) {
      visible.indices.push_back(gpu.index);
    }
    return visible;
  }
  std::set<unsigned> named_as_gpu;  // duplicates among these hide every GPU; MIG instances may share one
  std::string_view rest = *cuda_visible_devices;
  while (true) {
    const size_t comma = rest.find(',');
    std::string_view entry = rest.substr(0, comma);
    entry.remove_prefix(std::min(entry.find_first_not_of(" \t"), entry.size()));
    const EntryMatch match = entry.starts_with("MIG-")   ? match_mig(entry, gpus, nvml)
                             : entry.starts_with("GPU-") ? match_uuid_prefix(entry, gpus)
                                                         : match_index(entry, gpus);
    if (!match.index) {
      visible.explanation =
          fmt::format("CUDA_VISIBLE_DEVICES entry \"{}\" {}, so CUDA ignores it and every entry after it",
                      entry, match.rejection);
      break;
    }
    if (!match.mig && !named_as_gpu.insert(*match.index).second) {
      visible.indices.clear();
      visible.explanation =
          fmt::format("CUDA_VISIBLE_DEVICES names GPU {} twice, and CUDA then shows no GPU", *match.index);
      break;
    }
    visible.by_index = visible.by_index || (!match.mig && !entry.starts_with("GPU-"));
    if (std::find(visible.indices.begin(), visible.indices.end(), *match.index) == visible.indices.end()) {
      visible.indices.push_back(*match.index);
    }
    if (comma == std::string_view::npos) {
      break;
    }
    rest.remove_prefix(comma + 1);
  }
  return visible;
}

// What both NVML counters share: NVML kept loaded, the device, and how it fails.
class NvmlCounter : public EnergyCounter {
 public:
  Component component() const override { return Component::gpu; }
  std::string label() const override { return label_; }

 protected:
  NvmlCounter(std::shared_ptr<const NvmlLibrary> nvml, Device device, std::string label)
      : nvml_(std::move(nvml)), device_(device), label_(std::move(label)) {}

  // Throws Error(io) naming the GPU when an NVML call did not succeed.
  void check(Return code, std::string_view function) const {
    if (code != nvml_abi::kSuccess) {
      throw Error(ErrorCode::io, label_, fmt::format("NVML's {} failed: {}", function, nvml_->describe(code)),
                  "check the GPU with nvidia-smi; its energy stays at the last reading");
    }
  }

  std::shared_ptr<const NvmlLibrary> nvml_;
  Device device_;
  std::string label_;
};

// The GPU's own energy counter (Volta and newer): exact, whatever the polling rate.
class TotalEnergyCounter final : public NvmlCounter {
 public:
  TotalEnergyCounter(std::shared_ptr<const NvmlLibrary> nvml, Device device, std::string label,
                     unsigned long long start_mj)
      : NvmlCounter(std::move(nvml), device, std::move(label)), start_mj_(start_mj) {}

  Method method() const override { return Method::nvml_counter; }

  double poll_joules(Clock::time_point /*now*/) override {
    unsigned long long now_mj = 0;
    check(nvml_->call().total_energy_mj(device_, &now_mj), "nvmlDeviceGetTotalEnergyConsumption");
    if (now_mj < start_mj_) {
      throw Error(ErrorCode::io, label_,
                  fmt::format("NVML's energy counter went back from {} mJ to {} mJ", start_mj_, now_mj),
                  "the NVIDIA driver was probably reloaded during the run; measure again");
    }
    return static_cast<double>(now_mj - start_mj_) / kMillijoulesPerJoule;
  }

 private:
  unsigned long long start_mj_;  // the counter when this counter was created
};

// GPUs without an energy counter: power read at every poll, integrated with the trapezoid rule over the
// poll times, which is accurate when the caller polls often (the Meter: every 100 ms or less).
class IntegratedPowerCounter final : public NvmlCounter {
 public:
  IntegratedPowerCounter(std::shared_ptr<const NvmlLibrary> nvml, Device device, std::string label,
                         Clock::time_point first_time, unsigned first_power_mw)
      : NvmlCounter(std::move(nvml), device, std::move(label)),
        integral_(first_time, first_power_mw / kMilliwattsPerWatt) {}

  Method method() const override { return Method::nvml_power; }

  double poll_joules(Clock::time_point now) override {
    unsigned power_mw = 0;
    check(nvml_->call().power_mw(device_, &power_mw), "nvmlDeviceGetPowerUsage");
    return integral_.add(now, power_mw / kMilliwattsPerWatt);
  }

 private:
  PowerIntegral integral_;
};

bool mig_enabled(const NvmlLibrary& nvml, Device device) {
  unsigned current = 0;
  unsigned pending = 0;
  return nvml.call().mig_mode != nullptr &&
         nvml.call().mig_mode(device, &current, &pending) == nvml_abi::kSuccess &&
         current == nvml_abi::kMigEnable;
}

// The counter for one GPU, the energy counter when it has one; null, with a note saying why, when the GPU
// reports neither energy nor power.
std::unique_ptr<EnergyCounter> make_counter(const std::shared_ptr<const NvmlLibrary>& nvml,
                                            const NvmlGpu& gpu, const std::optional<Clock::time_point>& start,
                                            GpuDevice& device, std::vector<std::string>& notes) {
  const std::string plain_label = fmt::format("GPU {} ({})", gpu.index, gpu.name);
  if (gpu.handle == nullptr) {
    notes.push_back(
        fmt::format("GPU {} is not metered: NVML gave no handle for it: {}", gpu.index, gpu.handle_problem));
    return nullptr;
  }
  device = {gpu.index, gpu.name, gpu.uuid, Method::nvml_counter, mig_enabled(*nvml, gpu.handle)};
  std::string label = plain_label;
  if (device.mig_enabled) {
    label += ", whole GPU: MIG instances are not metered separately";
  }

  std::string energy_problem = "this NVIDIA driver has no nvmlDeviceGetTotalEnergyConsumption";
  if (nvml->call().total_energy_mj != nullptr) {
    unsigned long long start_mj = 0;
    const Return code = nvml->call().total_energy_mj(gpu.handle, &start_mj);
    if (code == nvml_abi::kSuccess) {
      return std::make_unique<TotalEnergyCounter>(nvml, gpu.handle, std::move(label), start_mj);
    }
    energy_problem = nvml->describe(code);
    if (code == nvml_abi::kNotSupported) {
      energy_problem.clear();  // expected before Volta: the power readings are the way
    }
  }
  unsigned power_mw = 0;
  if (const Return code = nvml->call().power_mw(gpu.handle, &power_mw); code != nvml_abi::kSuccess) {
    notes.push_back(fmt::format("{} is not metered: NVML reports neither its energy nor its power ({})",
                                plain_label, nvml->describe(code)));
    return nullptr;
  }
  if (!energy_problem.empty()) {
    notes.push_back(fmt::format("{}: the energy counter failed ({}), so its power is integrated instead",
                                plain_label, energy_problem));
  }
  device.method = Method::nvml_power;
  return std::make_unique<IntegratedPowerCounter>(nvml, gpu.handle, std::move(label),
                                                  start.value_or(Clock::now()), power_mw);
}

// CUDA numbers GPUs fastest first unless CUDA_DEVICE_ORDER=PCI_BUS_ID, NVML in PCI bus order; the two
// agree when every GPU is the same model.
bool cuda_order_may_differ(const GpuDiscoveryOptions& options, const std::vector<NvmlGpu>& gpus) {
  if (options.cuda_device_order == "PCI_BUS_ID") {
    return false;
  }
  std::set<std::string> models;
  for (const NvmlGpu& gpu : gpus) {
    models.insert(gpu.name);
  }
  return models.size() > 1;
}

}  // namespace

GpuDiscoveryOptions gpu_discovery_options_from_environment() {
  GpuDiscoveryOptions options;
  options.nvml_library = env_or("GREENTUNE_NVML_LIB", options.nvml_library);
  options.cuda_visible_devices = env_value("CUDA_VISIBLE_DEVICES");
  options.cuda_device_order = env_value("CUDA_DEVICE_ORDER");
  return options;
}

GpuDiscovery discover_gpus(const GpuDiscoveryOptions& options) {
  GpuDiscovery discovery;
  LoadedNvml loaded = load_nvml(options.nvml_library);
  if (loaded.library == nullptr) {
    discovery.problem = std::move(loaded.problem);
    return discovery;
  }
  const NvmlLibrary& nvml = *loaded.library;
  unsigned count = 0;
  if (const Return code = nvml.call().device_count(&count); code != nvml_abi::kSuccess) {
    discovery.problem = fmt::format("NVML could not count the GPUs: {}", nvml.describe(code));
    return discovery;
  }
  if (count == 0) {
    discovery.problem = "NVML lists no GPU";
    return discovery;
  }
  const std::vector<NvmlGpu> gpus = list_gpus(nvml, count);
  VisibleGpus visible = visible_gpus(options.cuda_visible_devices, gpus, nvml);
  if (visible.indices.empty()) {
    discovery.problem = fmt::format("CUDA_VISIBLE_DEVICES=\"{}\" shows CUDA no GPU{}{}",
                                    options.cuda_visible_devices.value_or(""),
                                    visible.explanation.empty() ? "" : ": ", visible.explanation);
    return discovery;
  }
  if (!visible.explanation.empty()) {
    discovery.notes.push_back(std::move(visible.explanation));
  }
  if (visible.by_index && cuda_order_may_differ(options, gpus)) {
    discovery.notes.push_back(
        "CUDA_VISIBLE_DEVICES indices are read in NVML's PCI bus order, while CUDA numbers GPUs fastest "
        "first "
        "and this machine has several GPU models: set CUDA_DEVICE_ORDER=PCI_BUS_ID or name GPUs by UUID so "
        "that the GPUs metered are the GPUs used");
  }
  for (const unsigned index : visible.indices) {
    GpuDevice device;
    if (auto counter = make_counter(loaded.library, gpus[index], options.start, device, discovery.notes)) {
      discovery.counters.push_back(std::move(counter));
      discovery.devices.push_back(std::move(device));
    }
  }
  if (discovery.counters.empty()) {
    discovery.problem = "no visible GPU reports its energy or power through NVML";
  }
  return discovery;
}

}  // namespace greentune::energy
