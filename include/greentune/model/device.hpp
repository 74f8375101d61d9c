#pragma once
// Where a model runs: --device cpu, cuda, cuda:N or auto (the first CUDA GPU when one is visible, else
// the CPU), and what the training loop asks of that device: its random generator, whether it computes in
// bf16, waiting for its queued work, and its memory peak. The CUDA-only parts are compiled where
// LibTorch has CUDA (CMake option GREENTUNE_CUDA, the project's one compile-time switch); elsewhere a CUDA
// device cannot be resolved, so they are never reached.

#include <torch/torch.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace greentune::model {

// The --device flag's help, for every command that has it.
inline constexpr const char* kDeviceHelp =
    "cpu, cuda, cuda:N or auto (the first CUDA GPU when one is visible, else the CPU)";

// spec as a device. Error(usage) naming --device for text that is none of the four forms, and for a CUDA
// device this process cannot use (a LibTorch built without CUDA, no visible GPU, an index past them).
torch::Device resolve_device(std::string_view spec);

// What the run sets for all work on the device, before the first: on CUDA, LibTorch's cuDNN attention
// backend off (it builds a new graph for every new sequence length, and is the default on Hopper GPUs);
// the flash and memory-efficient kernels stay on. Nothing on the CPU.
void prepare_device(torch::Device device);

// True when greentune was compiled with its CUDA code (GREENTUNE_CUDA).
bool built_with_cuda();

// The state of the device's default random generator, which draws its dropout masks: the CPU generator
// on a CPU, that GPU's generator on CUDA. Saved in checkpoints and restored by resumed runs and by
// gradient checkpointing's recomputation.
torch::Tensor rng_state(torch::Device device);
void set_rng_state(torch::Device device, const torch::Tensor& state);

// Whether the device computes bf16 natively: CUDA GPUs of compute capability 8.0 and later (Ampere,
// Hopper, ...); false for CPUs (whose bf16 may be emulated) and older GPUs, which train fp16 instead.
bool computes_bf16_natively(torch::Device device);

// The device's name as its driver gives it ("NVIDIA H100 80GB HBM3"), "cpu" for the CPU.
std::string device_name(torch::Device device);

// Waits until the work queued on the device is done (a no-op on the CPU, whose work is done when its
// call returns): an energy window must close after the kernels it measures, not when they were queued.
void synchronize(torch::Device device);

// Bytes of tensors LibTorch's CUDA caching allocator holds on the device: now, and at the fullest moment
// since the last reset (torch.cuda.memory_allocated and max_memory_allocated); nullopt on the CPU.
struct AllocatedBytes {
  int64_t current = 0;
  int64_t peak = 0;
};
std::optional<AllocatedBytes> allocated_bytes(torch::Device device);
void reset_peak_allocated_bytes(torch::Device device);

}  // namespace greentune::model
