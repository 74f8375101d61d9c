#pragma once
// The one place that knows LibTorch versions apart: Debian's 1.13 (CPU) here, 2.x on GPU machines and
// for most users. Everything version-specific is guarded with TORCH_VERSION_MAJOR/MINOR here.

#include <ATen/autocast_mode.h>
#include <c10/core/Allocator.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <optional>

#define GREENTUNE_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

namespace greentune::model::compat {

// The type of the running totals LibTorch's allocators pass to c10::MemoryReportingInfoBase::
// reportMemoryUsage: int64_t in 1.13, size_t in later releases. Read off the declaration itself rather
// than guessed from a version number.
template <typename Method>
struct ReportMemoryUsageTotal;
template <typename Class, typename Pointer, typename Size, typename Total, typename Device>
struct ReportMemoryUsageTotal<void (Class::*)(Pointer, Size, Total, Total, Device)> {
  using type = Total;
};
using AllocatorTotal =
    ReportMemoryUsageTotal<decltype(&c10::MemoryReportingInfoBase::reportMemoryUsage)>::type;

// True where LibTorch has the public, fused at::scaled_dot_product_attention (2.0 and later).
constexpr bool has_public_sdpa = GREENTUNE_TORCH_AT_LEAST(2, 0);

// LibTorch's own attention kernel: q, k, v (B, H, T, D), key_mask (B, 1, 1, T) bool with true = attend.
// 2.x: the public fused SDPA. 1.13: the private at::_scaled_dot_product_attention (returns a tuple).
inline torch::Tensor library_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                       const torch::Tensor& key_mask, double dropout_p) {
#if GREENTUNE_TORCH_AT_LEAST(2, 0)
  return at::scaled_dot_product_attention(q, k, v, key_mask, dropout_p);
#else
  // 1.13's kernel takes 3-D inputs and an additive float mask.
  const auto batch = q.size(0), heads = q.size(1), length = q.size(2), head_size = q.size(3);
  const torch::Tensor additive =
      torch::zeros(key_mask.sizes(), q.options())
          .masked_fill(key_mask.logical_not(), -std::numeric_limits<float>::infinity())
          .expand({batch, heads, length, k.size(2)})
          .reshape({batch * heads, length, k.size(2)});
  auto output = std::get<0>(at::_scaled_dot_product_attention(
      q.reshape({batch * heads, length, head_size}), k.reshape({batch * heads, k.size(2), head_size}),
      v.reshape({batch * heads, v.size(2), head_size}), additive, dropout_p, false, false));
  return output.view({batch, heads, length, head_size});
#endif
}

// Turns LibTorch's cuDNN backend of scaled_dot_product_attention off (from 2.3, where it exists).
inline void disable_cudnn_attention() {
#if GREENTUNE_TORCH_AT_LEAST(2, 3)
  at::globalContext().setSDPUseCuDNN(false);
#endif
}

// True where LibTorch has the fused multi-tensor Adam and AdamW kernels (at::_fused_adam_, _fused_adamw_)
// for parameters on device_type: CUDA from 2.1, CPU from 2.4.
constexpr bool has_fused_adam(c10::DeviceType device_type) {
  if (device_type == c10::DeviceType::CUDA)
    return GREENTUNE_TORCH_AT_LEAST(2, 1);
  if (device_type == c10::DeviceType::CPU)
    return GREENTUNE_TORCH_AT_LEAST(2, 4);
  return false;
}

// One fused update of every tensor of params by Adam (decoupled false: L2 weight decay added to the
// gradient) or AdamW (decoupled true), as torch.optim's fused=True runs it; state_steps are the updates
// so far including this one, float tensors on the parameters' device. Only where has_fused_adam.
inline void fused_adam(bool decoupled, at::TensorList params, at::TensorList grads, at::TensorList exp_avgs,
                       at::TensorList exp_avg_sqs, at::TensorList state_steps, double lr, double beta1,
                       double beta2, double weight_decay, double eps) {
#if GREENTUNE_TORCH_AT_LEAST(2, 1)
  constexpr bool amsgrad = false, maximize = false;
  if (decoupled) {
    at::_fused_adamw_(params, grads, exp_avgs, exp_avg_sqs, {}, state_steps, lr, beta1, beta2, weight_decay,
                      eps, amsgrad, maximize);
  } else {
    at::_fused_adam_(params, grads, exp_avgs, exp_avg_sqs, {}, state_steps, lr, beta1, beta2, weight_decay,
                     eps, amsgrad, maximize);
  }
#else
  (void)decoupled, (void)params, (void)grads, (void)exp_avgs, (void)exp_avg_sqs, (void)state_steps, (void)lr,
      (void)beta1, (void)beta2, (void)weight_decay, (void)eps;
  TORCH_CHECK(false, "this LibTorch has no fused Adam kernels");
#endif
}

// The reduced dtype autocast runs in on device_type (CPU or CUDA) now, or nullopt when it is off there.
inline std::optional<torch::ScalarType> active_autocast(c10::DeviceType device_type) {
#if GREENTUNE_TORCH_AT_LEAST(2, 4)
  if (!at::autocast::is_autocast_enabled(device_type))
    return std::nullopt;
  return at::autocast::get_autocast_dtype(device_type);
#else
  if (device_type == c10::DeviceType::CPU) {
    if (!at::autocast::is_cpu_enabled())
      return std::nullopt;
    return at::autocast::get_autocast_cpu_dtype();
  }
  if (!at::autocast::is_enabled())
    return std::nullopt;
  return at::autocast::get_autocast_gpu_dtype();
#endif
}

// Mixed precision for the scope of the guard: matmuls and linears run in dtype (bf16 or fp16) on
// device_type, reductions and losses stay fp32, as torch.autocast does. LibTorch 2.4 replaced the
// per-device setters (set_cpu_enabled, set_autocast_cpu_dtype) with device-typed ones.
class AutocastGuard {
 public:
  AutocastGuard(c10::DeviceType device_type, torch::ScalarType dtype) : device_type_(device_type) {
#if GREENTUNE_TORCH_AT_LEAST(2, 4)
    previous_enabled_ = at::autocast::is_autocast_enabled(device_type_);
    previous_dtype_ = at::autocast::get_autocast_dtype(device_type_);
    at::autocast::set_autocast_enabled(device_type_, true);
    at::autocast::set_autocast_dtype(device_type_, dtype);
#else
    const bool cpu = device_type_ == c10::DeviceType::CPU;
    previous_enabled_ = cpu ? at::autocast::is_cpu_enabled() : at::autocast::is_enabled();
    previous_dtype_ = cpu ? at::autocast::get_autocast_cpu_dtype() : at::autocast::get_autocast_gpu_dtype();
    if (cpu) {
      at::autocast::set_cpu_enabled(true);
      at::autocast::set_autocast_cpu_dtype(dtype);
    } else {
      at::autocast::set_enabled(true);
      at::autocast::set_autocast_gpu_dtype(dtype);
    }
#endif
    at::autocast::increment_nesting();
  }

  ~AutocastGuard() {
    if (at::autocast::decrement_nesting() == 0)
      at::autocast::clear_cache();  // drop cached casted weights
#if GREENTUNE_TORCH_AT_LEAST(2, 4)
    at::autocast::set_autocast_enabled(device_type_, previous_enabled_);
    at::autocast::set_autocast_dtype(device_type_, previous_dtype_);
#else
    if (device_type_ == c10::DeviceType::CPU) {
      at::autocast::set_cpu_enabled(previous_enabled_);
      at::autocast::set_autocast_cpu_dtype(previous_dtype_);
    } else {
      at::autocast::set_enabled(previous_enabled_);
      at::autocast::set_autocast_gpu_dtype(previous_dtype_);
    }
#endif
  }

  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  c10::DeviceType device_type_;
  bool previous_enabled_ = false;
  torch::ScalarType previous_dtype_ = torch::kFloat;
};

}  // namespace greentune::model::compat
