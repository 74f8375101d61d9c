#include "greentune/model/device.hpp"

#include <fmt/format.h>

#include <mutex>
#include <optional>

#include "greentune/core/error.hpp"
#include "greentune/core/parse.hpp"
#include "greentune/model/torch_compat.hpp"

#if GREENTUNE_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace greentune::model {

torch::Device resolve_device(std::string_view spec) {
  const int64_t gpus = torch::cuda::is_available() ? static_cast<int64_t>(torch::cuda::device_count()) : 0;
  if (spec == "cpu")
    return torch::kCPU;
  if (spec == "auto")
    return gpus > 0 ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  std::optional<int64_t> index;
  if (spec == "cuda")
    index = 0;
  else if (spec.rfind("cuda:", 0) == 0)
    index = parse_whole<int64_t>(spec.substr(5));
  if (!index || *index < 0) {
    throw Error(ErrorCode::usage, "--device", fmt::format("unknown device \"{}\"", spec),
                "use cpu, cuda, cuda:N (N from 0) or auto");
  }
  if (gpus == 0 || !built_with_cuda()) {
    throw Error(ErrorCode::usage, "--device",
                fmt::format("{} is not available: this greentune's LibTorch has no CUDA, or no NVIDIA GPU is "
                            "visible to it",
                            spec),
                "use --device cpu (or auto), or build greentune against a CUDA LibTorch on a machine with an "
                "NVIDIA GPU");
  }
  if (*index >= gpus) {
    throw Error(ErrorCode::usage, "--device", fmt::format("{}: only {} CUDA GPU(s) are visible", spec, gpus),
                fmt::format("use cuda:0 to cuda:{}", gpus - 1));
  }
  return {torch::kCUDA, static_cast<c10::DeviceIndex>(*index)};
}

void prepare_device(torch::Device device) {
  if (device.is_cuda())
    compat::disable_cudnn_attention();
}

bool built_with_cuda() {
  return GREENTUNE_CUDA != 0;
}

// LibTorch's default generator of the device: the CPU's, or the one of that GPU.
static at::Generator default_generator(torch::Device device) {
  return at::globalContext().defaultGenerator(device);
}

torch::Tensor rng_state(torch::Device device) {
  at::Generator generator = default_generator(device);
  std::lock_guard<std::mutex> lock(generator.mutex());
  return generator.get_state();
}

void set_rng_state(torch::Device device, const torch::Tensor& state) {
  at::Generator generator = default_generator(device);
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_state(state);
}

void synchronize(torch::Device device) {
  if (device.is_cuda())
    torch::cuda::synchronize(device.index());
}

#if GREENTUNE_CUDA

bool computes_bf16_natively(torch::Device device) {
  static constexpr int kFirstBf16ComputeCapability = 8;  // Ampere
  return device.is_cuda() &&
         at::cuda::getDeviceProperties(device.index())->major >= kFirstBf16ComputeCapability;
}

std::string device_name(torch::Device device) {
  return device.is_cuda() ? std::string(at::cuda::getDeviceProperties(device.index())->name) : "cpu";
}

std::optional<AllocatedBytes> allocated_bytes(torch::Device device) {
  if (!device.is_cuda())
    return std::nullopt;
  namespace allocator = c10::cuda::CUDACachingAllocator;
  const auto stats = allocator::getDeviceStats(device.index());
  const auto& all = stats.allocated_bytes[static_cast<size_t>(allocator::StatType::AGGREGATE)];
  return AllocatedBytes{all.current, all.peak};
}

void reset_peak_allocated_bytes(torch::Device device) {
  if (device.is_cuda())
    c10::cuda::CUDACachingAllocator::resetPeakStats(device.index());
}

#else  // without CUDA, resolve_device gives only CPUs

bool computes_bf16_natively(torch::Device) {
  return false;
}

std::string device_name(torch::Device) {
  return "cpu";
}

std::optional<AllocatedBytes> allocated_bytes(torch::Device) {
  return std::nullopt;
}

void reset_peak_allocated_bytes(torch::Device) {}

#endif

}  // namespace greentune::model
