#pragma once
// Dynamic loss scaling for fp16 training, the algorithm of torch.cuda.amp.GradScaler (LibTorch's C++ API
// has none): the loss is multiplied by the scale before backward; before each update the gradients are
// divided by it, and if any is inf or NaN (the update's gradient norm is not finite) the update is skipped
// and the scale halved; after growth_interval updates in a row without overflow the scale doubles.
// Scaling and unscaling stay on the gradients' device: the one value the host reads per update is the
// gradient norm, which decides.

#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "greentune/train/loss_scaler_state.hpp"

namespace greentune::train {

class DynamicLossScaler {
 public:
  explicit DynamicLossScaler(LossScalerOptions options = {});

  torch::Tensor scale(const torch::Tensor& loss) const { return loss * state_.scale; }

  // Divides every gradient by the scale, in place on its device.
  void unscale(const std::vector<torch::Tensor>& parameters) const;

  // After the update's gradients were checked: finite ones count towards growth; inf or NaN ones skip the
  // update (counted) and back the scale off. Returns gradients_finite: whether to apply the update.
  bool update(bool gradients_finite);

  double current_scale() const { return state_.scale; }
  int64_t skipped_steps() const { return state_.skipped_steps; }
  const LossScalerState& state() const { return state_; }
  void restore(const LossScalerState& state) { state_ = state; }

 private:
  LossScalerOptions options_;
  LossScalerState state_;
};

}  // namespace greentune::train
