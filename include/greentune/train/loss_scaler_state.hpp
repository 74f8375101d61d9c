#pragma once
// The dynamic loss scaler's options and state (loss_scaler.hpp), torch-free: checkpoints hold the state.

#include <cstdint>
#include <nlohmann/json.hpp>

namespace greentune::train {

struct LossScalerOptions {
  double initial_scale = 65536.0;  // 2^16
  double growth_factor = 2.0;
  double backoff_factor = 0.5;
  int64_t growth_interval = 2000;  // updates without overflow before the scale grows
};

// Where the scaler stands, for checkpoints: a resumed run scales as an uninterrupted one would.
struct LossScalerState {
  double scale = LossScalerOptions{}.initial_scale;
  int64_t good_steps = 0;     // updates without overflow since the scale last changed
  int64_t skipped_steps = 0;  // updates skipped because of inf or NaN gradients, over the run
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(LossScalerState, scale, good_steps, skipped_steps)

}  // namespace greentune::train
