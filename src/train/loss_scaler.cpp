#include "greentune/train/loss_scaler.hpp"

namespace greentune::train {

DynamicLossScaler::DynamicLossScaler(LossScalerOptions options) : options_(options) {
  state_.scale = options.initial_scale;
}

void DynamicLossScaler::unscale(const std::vector<torch::Tensor>& parameters) const {
  torch::NoGradGuard no_grad;
  for (const auto& parameter : parameters) {
    if (parameter.grad().defined())
      parameter.grad().mul_(1.0 / state_.scale);
  }
}

bool DynamicLossScaler::update(bool gradients_finite) {
  if (!gradients_finite) {
    state_.scale *= options_.backoff_factor;
    state_.good_steps = 0;
    ++state_.skipped_steps;
    return false;
  }
  if (++state_.good_steps >= options_.growth_interval) {
    state_.scale *= options_.growth_factor;
    state_.good_steps = 0;
  }
  return true;
}

}  // namespace greentune::train
