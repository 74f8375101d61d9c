#include "greentune/data/split.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "greentune/core/error.hpp"
#include "greentune/core/random.hpp"

namespace greentune::data {

Range validation_fraction_range() {
  return at_least_below(0, 1);
}

void check_split_options(const SplitOptions& options) {
  validation_fraction_range().check("--validation-fraction", options.validation_fraction);
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
