#pragma once
// The seeded train/validation split: a fraction of the train split is held out for validation; the test
// split stays as it is. The draw uses greentune/core/random.hpp, not std::shuffle, so a split is the same
// on every platform and compiler:
//   engine  = random::seeded_engine(seed, validation_stream)
//   shuffle = random::fisher_yates_shuffle over 0..N-1
//   the first round(N * fraction) shuffled positions are validation, the rest train.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "greentune/core/option_table.hpp"

namespace greentune::data {

// The engine stream of the split: one no epoch index of the batch sampler reaches, so the split and the
// batch order are independent draws even with the same seed.
inline constexpr uint64_t validation_stream = ~uint64_t{0};

// The share of train --validation-fraction may hold out: every option reading it states this range.
Range validation_fraction_range();  // [0, 1)

struct SplitOptions {
  double validation_fraction = 0.1;  // share of train held out, in [0, 1); 0 means no validation
  uint64_t seed = 42;
};

struct TrainValidationSplit {
  std::vector<size_t> train;       // positions in the original train split, ascending
  std::vector<size_t> validation;  // positions in the original train split, ascending
};

// Error(usage) for a fraction outside validation_fraction_range(): lets a caller reject bad flags before any
// slow work.
void check_split_options(const SplitOptions& options);

// Throws what check_split_options throws, and Error(invalid_data) when the fraction would leave no
// training example.
TrainValidationSplit split_train_validation(size_t example_count, const SplitOptions& options = {});

}  // namespace greentune::data
