#include "greentune/train/schedule.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>

#include "greentune/core/error.hpp"

namespace greentune::train {

Schedule parse_schedule(std::string_view name) {
  if (name == "constant")
    return Schedule::constant;
  if (name == "linear")
    return Schedule::linear;
  if (name == "cosine")
    return Schedule::cosine;
  throw Error(ErrorCode::usage, "--schedule", "unknown schedule \"" + std::string(name) + "\"",
              "use constant, linear or cosine");
}

std::string_view to_string(Schedule schedule) {
  switch (schedule) {
    case Schedule::constant:
      return "constant";
    case Schedule::linear:
      return "linear";
    case Schedule::cosine:
      return "cosine";
  }
  return "unknown";
}

double lr_factor(Schedule schedule, int64_t step, int64_t warmup_steps, int64_t total_steps) {
  if (step < warmup_steps) {
    return static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, warmup_steps));
  }
  const double decay_steps = static_cast<double>(std::max<int64_t>(1, total_steps - warmup_steps));
  switch (schedule) {
    case Schedule::constant:
      return 1.0;
    case Schedule::linear:
      return std::max(0.0, static_cast<double>(total_steps - step) / decay_steps);
    case Schedule::cosine: {
      // transformers' default num_cycles = 0.5: half a cosine wave from 1 down to 0.
      const double progress = static_cast<double>(step - warmup_steps) / decay_steps;
      return std::max(0.0, 0.5 * (1.0 + std::cos(std::numbers::pi * 2.0 * 0.5 * progress)));
    }
  }
  return 1.0;
}

int64_t warmup_steps_from_ratio(double ratio, int64_t total_steps) {
  return static_cast<int64_t>(std::ceil(ratio * static_cast<double>(total_steps)));
}

}  // namespace greentune::train
