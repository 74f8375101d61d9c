#include "greentune/data/split.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "greentune/core/error.hpp"
#include "greentune/core/random.hpp"

namespace greentune::data {

void check_split_options(const SplitOptions& options) {
  const double fraction = options.validation_fraction;
  if (!(fraction >= 0.0 && fraction < 1.0)) {  // also rejects NaN
    throw Error(ErrorCode::usage, "--validation-fraction",
                fmt::format("validation fraction {} is outside [0, 1)", fraction),
                "pass a fraction such as 0.1 (0 for no validation split)");
  }
}

TrainValidationSplit split_train_validation(size_t example_count, const SplitOptions& options) {
  check_split_options(options);
  const double fraction = options.validation_fraction;
  const auto validation_count =
      static_cast<size_t>(std::llround(static_cast<double>(example_count) * fraction));
  if (example_count > 0 && validation_count >= example_count) {
    throw Error(ErrorCode::invalid_data, "",
                fmt::format("a validation fraction of {} holds out all {} training examples", fraction,
                            example_count),
                "use a smaller --validation-fraction, or more training data");
  }
  std::vector<size_t> order(example_count);
  std::iota(order.begin(), order.end(), size_t{0});
  std::mt19937_64 engine = random::seeded_engine(options.seed, validation_stream);
  random::fisher_yates_shuffle(order, engine);
  TrainValidationSplit split;
  split.validation.assign(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(validation_count));
  split.train.assign(order.begin() + static_cast<std::ptrdiff_t>(validation_count), order.end());
  std::sort(split.validation.begin(), split.validation.end());
  std::sort(split.train.begin(), split.train.end());
  return split;
}

}  // namespace greentune::data
