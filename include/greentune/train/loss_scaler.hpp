#pragma once
// Dynamic loss scaling for fp16 training, the algorithm of torch.cuda.amp.GradScaler (LibTorch's C++ API
// has none): the loss is multiplied by the scale before backward; before each update the gradients are
// divided by it, and if any is inf or NaN the update is skipped and the scale halved; after
// growth_interval updates in a row without overflow the scale doubles.

#include <torch/torch.h>

#include <vector>

namespace greentune::train {

struct LossScalerOptions {
  double initial_scale = 65536.0;  // 2^16
  double growth_factor = 2.0;
  double backoff_factor = 0.5;
  int64_t growth_interval = 2000;  // updates without overflow before the scale grows
};

class DynamicLossScaler {
 public:
  explicit DynamicLossScaler(LossScalerOptions options = {});

  torch::Tensor scale(const torch::Tensor& loss) const { return loss * scale_; }

  // Divides every gradient by the scale in place. Returns false (and backs the scale off) when any
  // gradient holds inf or NaN: the caller must skip the update.
  bool unscale_and_check(const std::vector<torch::Tensor>& parameters);

  double current_scale() const { return scale_; }
  int64_t skipped_steps() const { return skipped_steps_; }
  int64_t good_steps_in_a_row() const { return good_steps_; }
  // For checkpoints.
  void restore(double scale, int64_t good_steps, int64_t skipped_steps);

 private:
  LossScalerOptions options_;
  double scale_;
  int64_t good_steps_ = 0;
  int64_t skipped_steps_ = 0;
};

}  // namespace greentune::train
