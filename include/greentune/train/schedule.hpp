#pragma once
// Learning-rate schedules exactly as transformers' get_constant_schedule(_with_warmup),
// get_linear_schedule_with_warmup and get_cosine_schedule_with_warmup compute them. Torch-free.

#include <cstdint>
#include <string_view>

namespace greentune::train {

enum class Schedule { constant, linear, cosine };

Schedule parse_schedule(std::string_view name);  // "constant", "linear", "cosine"; Error(usage) otherwise
std::string_view to_string(Schedule schedule);

// The multiplier of the base learning rate for the optimizer update with index `step` (0-based: the first
// update uses step 0, so with warmup its learning rate is 0, as in a Hugging Face Trainer run).
// total_steps: updates in the whole run; warmup_steps: the linear ramp from 0.
double lr_factor(Schedule schedule, int64_t step, int64_t warmup_steps, int64_t total_steps);

// --warmup-ratio: ceil(ratio × total_steps), as transformers' TrainingArguments.get_warmup_steps.
int64_t warmup_steps_from_ratio(double ratio, int64_t total_steps);

}  // namespace greentune::train
