#pragma once
// Where a model runs: --device cpu, cuda, cuda:N or auto (the first CUDA GPU when one is visible, else
// the CPU).

#include <torch/torch.h>

#include <string_view>

namespace greentune::model {

// The --device flag's help, for every command that has it.
inline constexpr const char* kDeviceHelp =
    "cpu, cuda, cuda:N or auto (the first CUDA GPU when one is visible, else the CPU)";

// spec as a device. Error(usage) naming --device for text that is none of the four forms, and for a CUDA
// device this process cannot use (a LibTorch built without CUDA, no visible GPU, an index past them).
torch::Device resolve_device(std::string_view spec);

}  // namespace greentune::model
