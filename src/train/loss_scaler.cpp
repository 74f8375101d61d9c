#include "greentune/train/loss_scaler.hpp"

namespace greentune::train {

DynamicLossScaler::DynamicLossScaler(LossScalerOptions options)
    : options_(options), scale_(options.initial_scale) {}

bool DynamicLossScaler::unscale_and_check(const std::vector<torch::Tensor>& parameters) {
  torch::NoGradGuard no_grad;
  bool finite = true;
  for (const auto& parameter : parameters) {
    torch::Tensor grad = parameter.grad();
    if (!grad.defined())
      continue;
    grad.mul_(1.0 / scale_);
    finite = finite && torch::isfinite(grad).all().item<bool>();
  }
  if (!finite) {
    scale_ *= options_.backoff_factor;
    good_steps_ = 0;
    ++skipped_steps_;
    return false;
  }
  if (++good_steps_ >= options_.growth_interval) {
    scale_ *= options_.growth_factor;
    good_steps_ = 0;
  }
  return true;
}

void DynamicLossScaler::restore(double scale, int64_t good_steps, int64_t skipped_steps) {
  scale_ = scale;
  good_steps_ = good_steps;
  skipped_steps_ = skipped_steps;
}

}  // namespace greentune::train
