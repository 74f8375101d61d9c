// The tensor-memory tracker counts exactly the bytes LibTorch allocates and frees while it exists.
#include <gtest/gtest.h>

#include <optional>

#include "greentune/model/tensor_memory.hpp"

namespace greentune::model {
namespace {

constexpr int64_t kFloatBytes = 4;

TEST(TensorMemory, CountsAllocationsFreesAndThePeak) {
  TensorMemoryTracker tracker;
  EXPECT_EQ(tracker.current_bytes(), 0);
  {
    const torch::Tensor big = torch::empty({1000, 250});  // 1 MB of fp32
    EXPECT_EQ(tracker.current_bytes(), 250'000 * kFloatBytes);
    const torch::Tensor small = torch::empty({1000});
    EXPECT_EQ(tracker.current_bytes(), 251'000 * kFloatBytes);
  }
  EXPECT_EQ(tracker.current_bytes(), 0);
  EXPECT_EQ(tracker.peak_bytes(), 251'000 * kFloatBytes);

  tracker.reset_peak();
  EXPECT_EQ(tracker.peak_bytes(), 0);
  const torch::Tensor kept = torch::empty({10}, torch::kDouble);
  EXPECT_EQ(tracker.peak_bytes(), 80);
}

TEST(TensorMemory, SeesTheActivationsAutogradKeepsForBackward) {
  const torch::Tensor weight = torch::randn({64, 64}, torch::requires_grad());
  const torch::Tensor input = torch::randn({128, 64});
  TensorMemoryTracker tracker;
  torch::Tensor loss = torch::tanh(torch::tanh(input.matmul(weight)).matmul(weight)).sum();
  // Kept for backward: at least the two (128, 64) tanh outputs.
  EXPECT_GE(tracker.current_bytes(), 2 * 128 * 64 * kFloatBytes);
  loss.backward();
  loss = torch::Tensor();
  // Only the weight's gradient is left.
  EXPECT_EQ(tracker.current_bytes(), 64 * 64 * kFloatBytes);
}

TEST(TensorMemory, TrackersNestAndStopCountingWhenDestroyed) {
  TensorMemoryTracker outer;
  torch::Tensor first;
  {
    TensorMemoryTracker inner;
    first = torch::empty({100});
    EXPECT_EQ(inner.current_bytes(), 100 * kFloatBytes);
  }
  EXPECT_EQ(outer.current_bytes(), 100 * kFloatBytes);  // the outer tracker saw it too
  std::optional<TensorMemoryTracker> ended(std::in_place);
  ended.reset();
  const torch::Tensor second = torch::empty({50});
  EXPECT_EQ(outer.current_bytes(), 150 * kFloatBytes);
  first = torch::Tensor();
  EXPECT_EQ(outer.current_bytes(), 50 * kFloatBytes);
}

}  // namespace
}  // namespace greentune::model
