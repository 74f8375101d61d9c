#include "greentune/energy/amdsmi.hpp"

#include <dlfcn.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "greentune/core/error.hpp"
#include "greentune/core/files.hpp"

namespace greentune::energy {
namespace {

// The part of AMD SMI's C ABI greentune calls, with the values of ROCm's amdsmi.h, so that building needs
// no ROCm header.
namespace amdsmi_abi {
using Status = int;                         // amdsmi_status_t
constexpr Status kSuccess = 0;              // AMDSMI_STATUS_SUCCESS
constexpr uint64_t kInitAmdGpus = 1u << 1;  // AMDSMI_INIT_AMD_GPUS
using Handle = void*;                       // amdsmi_socket_handle, amdsmi_processor_handle
constexpr size_t kStringLength = 256;       // AMDSMI_MAX_STRING_LENGTH
// amdsmi_asic_info_t starts with char market_name[256]; amdsmi_power_info_t (ROCm 6.1 and later) with
// uint64_t socket_power, then uint32_t current_socket_power and average_socket_power, in W. Both are
// filled into buffers larger than any release's struct.
constexpr size_t kStructBufferBytes = 8192;
constexpr size_t kCurrentPowerOffset = 8, kAveragePowerOffset = 12;
}  // namespace amdsmi_abi

using amdsmi_abi::Handle;
using amdsmi_abi::Status;

constexpr double kMicrojoulesPerJoule = 1e6;
constexpr const char* kRocmDefaultLibrary = "/opt/rocm/lib/libamd_smi.so";  // ROCm's default install
// The energy accumulator is read twice this far apart before it is trusted.
constexpr std::chrono::milliseconds kCounterProbe{100};
// More than this from one GPU is a counter misread, not a GPU (the largest draw about 1 kW).
constexpr double kImplausibleWatts = 3000.0;

struct AmdSmiFunctions {
  Status (*init)(uint64_t) = nullptr;                                      // amdsmi_init
  Status (*shut_down)() = nullptr;                                         // amdsmi_shut_down
  Status (*status_string)(Status, const char**) = nullptr;                 // amdsmi_status_code_to_string
  Status (*socket_handles)(uint32_t*, Handle*) = nullptr;                  // amdsmi_get_socket_handles
  Status (*processor_handles)(Handle, uint32_t*, Handle*) = nullptr;       // amdsmi_get_processor_handles
  Status (*asic_info)(Handle, void*) = nullptr;                            // amdsmi_get_gpu_asic_info
  Status (*uuid)(Handle, unsigned*, char*) = nullptr;                      // amdsmi_get_gpu_device_uuid
  Status (*power_info)(Handle, void*) = nullptr;                           // amdsmi_get_power_info
  Status (*energy_count)(Handle, uint64_t*, float*, uint64_t*) = nullptr;  // amdsmi_get_energy_count
};

class AmdSmiLibrary {
 public:
  AmdSmiLibrary(void* handle, const AmdSmiFunctions& functions) : handle_(handle), functions_(functions) {}
  ~AmdSmiLibrary() {
    functions_.shut_down();
    dlclose(handle_);
  }
  AmdSmiLibrary(const AmdSmiLibrary&) = delete;
  AmdSmiLibrary& operator=(const AmdSmiLibrary&) = delete;

  const AmdSmiFunctions& call() const { return functions_; }
  std::string describe(Status code) const {
    const char* text = nullptr;
    if (functions_.status_string == nullptr ||
        functions_.status_string(code, &text) != amdsmi_abi::kSuccess || text == nullptr) {
      return fmt::format("AMD SMI status {}", code);
    }
    return fmt::format("{} ({})", text, code);
  }
  // The GPU's power in W; nullopt when AMD SMI gives none.
  std::optional<double> power_w(Handle gpu) const {
    std::array<unsigned char, amdsmi_abi::kStructBufferBytes> info{};
    if (functions_.power_info(gpu, info.data()) != amdsmi_abi::kSuccess)
      return std::nullopt;
    uint32_t current = 0, average = 0;
    std::memcpy(&current, info.data() + amdsmi_abi::kCurrentPowerOffset, sizeof current);
    std::memcpy(&average, info.data() + amdsmi_abi::kAveragePowerOffset, sizeof average);
    return static_cast<double>(current != 0 ? current : average);  // MI300 fills current, older GPUs average
  }
  // The energy accumulator in joules; nullopt when AMD SMI gives none.
  std::optional<double> energy_j(Handle gpu, std::string* problem = nullptr) const {
    uint64_t accumulator = 0, timestamp_ns = 0;
    float resolution_uj = 0.0f;
    const Status code = functions_.energy_count(gpu, &accumulator, &resolution_uj, &timestamp_ns);
    if (code != amdsmi_abi::kSuccess || !(resolution_uj > 0.0f) || !std::isfinite(resolution_uj)) {
      if (problem != nullptr)
        *problem = code != amdsmi_abi::kSuccess ? describe(code) : "a counter resolution of 0 uJ";
      return std::nullopt;
    }
    return static_cast<double>(accumulator) * resolution_uj / kMicrojoulesPerJoule;
  }

 private:
  void* handle_;
  AmdSmiFunctions functions_;
};

struct LoadedAmdSmi {
  std::shared_ptr<const AmdSmiLibrary> library;
  std::string problem;
};

// library_name, or where ROCm installs it by default; a machine without either is not an AMD GPU machine
// (no problem is said), while a library named in GREENTUNE_AMDSMI_LIB that does not load is one.
LoadedAmdSmi load_amdsmi(const std::string& library_name) {
  void* handle = dlopen(library_name.c_str(), RTLD_NOW | RTLD_LOCAL);
  const std::string named_error = handle == nullptr ? dlerror() : "";
  if (handle == nullptr && library_name == AmdGpuDiscoveryOptions().amdsmi_library) {
    handle = dlopen(kRocmDefaultLibrary, RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr)
      return {nullptr, {}};
  }
  if (handle == nullptr) {
    return {nullptr, fmt::format("no AMD SMI library: {} (AMD GPU energy is not measured; set "
                                 "GREENTUNE_AMDSMI_LIB to the path of ROCm's libamd_smi.so)",
                                 named_error)};
  }
  AmdSmiFunctions functions;
  std::string missing;
  const auto require = [&](const char* symbol, auto*& function) {
    function = reinterpret_cast<std::remove_reference_t<decltype(function)>>(dlsym(handle, symbol));
    if (function == nullptr)
      missing += missing.empty() ? symbol : fmt::format(", {}", symbol);
  };
  require("amdsmi_init", functions.init);
  require("amdsmi_shut_down", functions.shut_down);
  require("amdsmi_get_socket_handles", functions.socket_handles);
  require("amdsmi_get_processor_handles", functions.processor_handles);
  require("amdsmi_get_gpu_asic_info", functions.asic_info);
  require("amdsmi_get_gpu_device_uuid", functions.uuid);
  require("amdsmi_get_power_info", functions.power_info);
  require("amdsmi_get_energy_count", functions.energy_count);
  functions.status_string =
      reinterpret_cast<decltype(functions.status_string)>(dlsym(handle, "amdsmi_status_code_to_string"));
  if (!missing.empty()) {
    dlclose(handle);
    return {nullptr, fmt::format("{} lacks {}: this ROCm is too old for AMD GPU metering (ROCm 6.1 or later)",
                                 library_name, missing)};
  }
  if (const Status code = functions.init(amdsmi_abi::kInitAmdGpus); code != amdsmi_abi::kSuccess) {
    dlclose(handle);
    return {nullptr,
            fmt::format("AMD SMI did not start: amdsmi_init returned {}; AMD GPU energy is not measured "
                        "(check that amd-smi works)",
                        code)};
  }
  return {std::make_shared<const AmdSmiLibrary>(handle, functions), {}};
}

struct AmdGpu {
  unsigned index = 0;
  Handle handle = nullptr;
  std::string name, uuid;
};

std::vector<AmdGpu> list_gpus(const AmdSmiLibrary& amdsmi) {
  uint32_t sockets = 0;
  if (amdsmi.call().socket_handles(&sockets, nullptr) != amdsmi_abi::kSuccess)
    return {};
  std::vector<Handle> socket_handles(sockets);
  if (amdsmi.call().socket_handles(&sockets, socket_handles.data()) != amdsmi_abi::kSuccess)
    return {};
  std::vector<AmdGpu> gpus;
  for (Handle socket : socket_handles) {
    uint32_t count = 0;
    if (amdsmi.call().processor_handles(socket, &count, nullptr) != amdsmi_abi::kSuccess)
      continue;
    std::vector<Handle> processors(count);
    if (amdsmi.call().processor_handles(socket, &count, processors.data()) != amdsmi_abi::kSuccess)
      continue;
    for (Handle processor : processors) {
      AmdGpu gpu;
      gpu.index = static_cast<unsigned>(gpus.size());
      gpu.handle = processor;
      std::array<char, amdsmi_abi::kStructBufferBytes> asic{};
      if (amdsmi.call().asic_info(processor, asic.data()) == amdsmi_abi::kSuccess)
        gpu.name.assign(asic.data(), strnlen(asic.data(), amdsmi_abi::kStringLength));
      if (gpu.name.empty())
        gpu.name = "AMD GPU";
      std::array<char, amdsmi_abi::kStringLength> uuid{};
      unsigned length = static_cast<unsigned>(uuid.size());
      if (amdsmi.call().uuid(processor, &length, uuid.data()) == amdsmi_abi::kSuccess)
        gpu.uuid.assign(uuid.data(), strnlen(uuid.data(), uuid.size()));
      gpus.push_back(std::move(gpu));
    }
  }
  return gpus;
}

std::string_view without_gpu_prefix(std::string_view id) {
  return id.starts_with("GPU-") ? id.substr(4) : id;
}

// The entries of a ROCR/HIP_VISIBLE_DEVICES list picked from candidates (indices into it, or UUIDs, with
// or without "GPU-"); what is not understood goes into notes.
std::vector<size_t> select_visible(std::string_view variable, const std::string& list,
                                   const std::vector<size_t>& candidates, const std::vector<AmdGpu>& gpus,
                                   std::vector<std::string>& notes) {
  std::vector<size_t> picked;
  std::string_view rest = list;
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    const std::string_view entry = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    if (entry.empty())
      continue;
    char* end = nullptr;
    const std::string text(entry);
    const unsigned long index = std::strtoul(text.c_str(), &end, 10);
    if (end != nullptr && *end == '\0') {
      if (index < candidates.size())
        picked.push_back(candidates[index]);
      else
        notes.push_back(fmt::format("{} names GPU {}, which does not exist here", variable, text));
      continue;
    }
    const auto by_uuid = std::find_if(candidates.begin(), candidates.end(), [&](size_t candidate) {
      return !gpus[candidate].uuid.empty() &&
             without_gpu_prefix(gpus[candidate].uuid) == without_gpu_prefix(entry);
    });
    if (by_uuid != candidates.end())
      picked.push_back(*by_uuid);
    else
      notes.push_back(fmt::format("{} names \"{}\", which is no GPU's index or UUID here", variable, text));
  }
  return picked;
}

// The GPU's energy accumulator, in joules since this counter was created.
class AmdEnergyCounter final : public EnergyCounter {
 public:
  AmdEnergyCounter(std::shared_ptr<const AmdSmiLibrary> amdsmi, Handle gpu, std::string label, double start_j)
      : amdsmi_(std::move(amdsmi)), gpu_(gpu), label_(std::move(label)), start_j_(start_j) {}
  Component component() const override { return Component::gpu; }
  Method method() const override { return Method::amdsmi_counter; }
  std::string label() const override { return label_; }
  double poll_joules(Clock::time_point /*now*/) override {
    std::string problem;
    const std::optional<double> now_j = amdsmi_->energy_j(gpu_, &problem);
    if (!now_j) {
      throw Error(ErrorCode::io, label_, "AMD SMI's amdsmi_get_energy_count failed: " + problem,
                  "check the GPU with amd-smi; its energy stays at the last reading");
    }
    return *now_j - start_j_;
  }

 private:
  std::shared_ptr<const AmdSmiLibrary> amdsmi_;
  Handle gpu_;
  std::string label_;
  double start_j_;
};

// Power read at every poll and integrated.
class AmdPowerCounter final : public EnergyCounter {
 public:
  AmdPowerCounter(std::shared_ptr<const AmdSmiLibrary> amdsmi, Handle gpu, std::string label,
                  Clock::time_point first_time, double first_power_w)
      : amdsmi_(std::move(amdsmi)),
        gpu_(gpu),
        label_(std::move(label)),
        integral_(first_time, first_power_w) {}
  Component component() const override { return Component::gpu; }
  Method method() const override { return Method::amdsmi_power; }
  std::string label() const override { return label_; }
  double poll_joules(Clock::time_point now) override {
    const std::optional<double> power_w = amdsmi_->power_w(gpu_);
    if (!power_w) {
      throw Error(ErrorCode::io, label_, "AMD SMI's amdsmi_get_power_info failed",
                  "check the GPU with amd-smi; its energy stays at the last reading");
    }
    return integral_.add(now, *power_w);
  }

 private:
  std::shared_ptr<const AmdSmiLibrary> amdsmi_;
  Handle gpu_;
  std::string label_;
  PowerIntegral integral_;
};

}  // namespace

AmdGpuDiscoveryOptions amd_gpu_discovery_options_from_environment() {
  AmdGpuDiscoveryOptions options;
  options.amdsmi_library = env_or("GREENTUNE_AMDSMI_LIB", options.amdsmi_library);
  options.rocr_visible_devices = env_value("ROCR_VISIBLE_DEVICES");
  options.hip_visible_devices = env_value("HIP_VISIBLE_DEVICES");
  return options;
}

GpuDiscovery discover_amd_gpus(const AmdGpuDiscoveryOptions& options) {
  GpuDiscovery discovery;
  LoadedAmdSmi loaded = load_amdsmi(options.amdsmi_library);
  if (loaded.library == nullptr) {
    discovery.problem = std::move(loaded.problem);  // empty on a machine without ROCm
    return discovery;
  }
  const AmdSmiLibrary& amdsmi = *loaded.library;
  const std::vector<AmdGpu> gpus = list_gpus(amdsmi);
  if (gpus.empty()) {
    discovery.problem = "AMD SMI lists no GPU";
    return discovery;
  }
  std::vector<size_t> visible(gpus.size());
  for (size_t i = 0; i < gpus.size(); ++i)
    visible[i] = i;
  for (const auto& [variable, list] : {std::pair{"ROCR_VISIBLE_DEVICES", options.rocr_visible_devices},
                                       std::pair{"HIP_VISIBLE_DEVICES", options.hip_visible_devices}}) {
    if (list)
      visible = select_visible(variable, *list, visible, gpus, discovery.notes);
  }
  if (visible.empty()) {
    discovery.problem = "ROCR_VISIBLE_DEVICES / HIP_VISIBLE_DEVICES show no AMD GPU";
    return discovery;
  }
  // Each energy accumulator is read twice, kCounterProbe apart, and trusted when it moves as a GPU can.
  std::vector<std::optional<double>> first_j;
  std::vector<std::string> energy_problems(visible.size());
  for (size_t i = 0; i < visible.size(); ++i)
    first_j.push_back(amdsmi.energy_j(gpus[visible[i]].handle, &energy_problems[i]));
  const Clock::time_point probe_start = Clock::now();
  if (std::any_of(first_j.begin(), first_j.end(), [](const auto& j) { return j.has_value(); }))
    std::this_thread::sleep_for(kCounterProbe);
  const double probe_s = std::chrono::duration<double>(Clock::now() - probe_start).count();
  for (size_t i = 0; i < visible.size(); ++i) {
    const AmdGpu& gpu = gpus[visible[i]];
    std::string label = fmt::format("AMD GPU {} ({})", gpu.index, gpu.name);
    GpuDevice device{gpu.index, gpu.name, gpu.uuid, Method::amdsmi_counter, false};
    const std::optional<double> power_w = amdsmi.power_w(gpu.handle);
    if (first_j[i]) {
      const std::optional<double> later_j = amdsmi.energy_j(gpu.handle);
      const double watts = later_j ? (*later_j - *first_j[i]) / probe_s : -1.0;
      const bool idle_counter = watts == 0.0 && power_w.value_or(0.0) >= 5.0;
      if (watts >= 0.0 && watts <= kImplausibleWatts && !idle_counter) {
        discovery.counters.push_back(std::make_unique<AmdEnergyCounter>(loaded.library, gpu.handle,
                                                                        std::move(label), later_j.value()));
        discovery.devices.push_back(device);
        continue;
      }
      energy_problems[i] = later_j
                               ? fmt::format("it read {:.0f} W over {:.0f} ms while the GPU reports {:.0f} W",
                                             watts, probe_s * 1000.0, power_w.value_or(0.0))
                               : "its second reading failed";
    }
    if (!power_w) {
      discovery.notes.push_back(
          fmt::format("{} is not metered: AMD SMI reports neither its energy ({}) nor its power", label,
                      energy_problems[i]));
      continue;
    }
    discovery.notes.push_back(
        fmt::format("{}: the energy counter is not usable ({}), so its power is integrated instead", label,
                    energy_problems[i]));
    device.method = Method::amdsmi_power;
    discovery.counters.push_back(std::make_unique<AmdPowerCounter>(
        loaded.library, gpu.handle, std::move(label), options.start.value_or(Clock::now()), *power_w));
    discovery.devices.push_back(device);
  }
  if (discovery.counters.empty())
    discovery.problem = "no visible AMD GPU reports its energy or power through AMD SMI";
  return discovery;
}

}  // namespace greentune::energy
