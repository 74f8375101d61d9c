#include "greentune/model/device.hpp"

#include <fmt/format.h>

#include <optional>

#include "greentune/core/error.hpp"
#include "greentune/core/parse.hpp"

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
  if (gpus == 0) {
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

}  // namespace greentune::model
