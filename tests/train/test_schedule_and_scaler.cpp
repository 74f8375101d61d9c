#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "greentune/core/error.hpp"
#include "greentune/train/loss_scaler.hpp"
#include "greentune/train/schedule.hpp"

namespace greentune::train {
namespace {

TEST(Schedule, LinearWithWarmupMatchesTransformersFormula) {
  // warmup 4, total 20: 0, 0.25, 0.5, 0.75, then (20 - s) / 16.
  const double expected[] = {0.0, 0.25, 0.5, 0.75, 1.0, 15.0 / 16.0, 14.0 / 16.0};
  for (int step = 0; step < 7; ++step) {
    EXPECT_DOUBLE_EQ(lr_factor(Schedule::linear, step, 4, 20), expected[step]) << step;
  }
  EXPECT_DOUBLE_EQ(lr_factor(Schedule::linear, 19, 4, 20), 1.0 / 16.0);
  EXPECT_DOUBLE_EQ(lr_factor(Schedule::linear, 20, 4, 20), 0.0);
  EXPECT_DOUBLE_EQ(lr_factor(Schedule::linear, 25, 4, 20), 0.0);  // never negative
  // No warmup: the first update uses the full rate.
  EXPECT_DOUBLE_EQ(lr_factor(Schedule::linear, 0, 0, 10), 1.0);
}

TEST(Schedule, CosineWithWarmupMatchesTransformersFormula) {
  EXPECT_DOUBLE_EQ(lr_factor(Schedule::cosine, 1, 2, 12), 0.5);
  EXPECT_DOUBLE_EQ(lr_factor(Schedule::cosine, 2, 2, 12), 1.0);
  EXPECT_NEAR(lr_factor(Schedule::cosine, 7, 2, 12), 0.5, 1e-12);  // half way through the decay
  EXPECT_NEAR(lr_factor(Schedule::cosine, 12, 2, 12), 0.0, 1e-12);
  EXPECT_NEAR(lr_factor(Schedule::cosine, 4, 2, 12), 0.5 * (1.0 + std::cos(std::numbers::pi * 0.2)), 1e-12);
}

TEST(Schedule, ConstantAndWarmupRatio) {
  EXPECT_DOUBLE_EQ(lr_factor(Schedule::constant, 0, 0, 10), 1.0);
  EXPECT_DOUBLE_EQ(lr_factor(Schedule::constant, 9, 0, 10), 1.0);
  EXPECT_DOUBLE_EQ(lr_factor(Schedule::constant, 1, 4, 10), 0.25);
  EXPECT_EQ(warmup_steps_from_ratio(0.1, 95), 10);  // ceil(9.5)
  EXPECT_EQ(warmup_steps_from_ratio(0.0, 95), 0);
  EXPECT_THROW(parse_schedule("step"), Error);
}

TEST(LossScaler, SkipsAndBacksOffOnInfThenGrows) {
  LossScalerOptions options;
  options.growth_interval = 3;
  DynamicLossScaler scaler(options);
  torch::Tensor weight = torch::ones({2}, torch::requires_grad());
  std::vector<torch::Tensor> parameters = {weight};

  // A finite gradient is divided by the scale.
  scaler.scale(weight.sum()).backward();
  EXPECT_TRUE(scaler.unscale_and_check(parameters));
  EXPECT_TRUE(torch::allclose(weight.grad(), torch::ones({2})));
  EXPECT_DOUBLE_EQ(scaler.current_scale(), 65536.0);

  // An injected inf: the update must be skipped and the scale halved.
  weight.mutable_grad() = torch::tensor({1.0f, std::numeric_limits<float>::infinity()});
  EXPECT_FALSE(scaler.unscale_and_check(parameters));
  EXPECT_DOUBLE_EQ(scaler.current_scale(), 32768.0);
  EXPECT_EQ(scaler.skipped_steps(), 1);
  weight.mutable_grad() = torch::tensor({std::nanf(""), 0.0f});
  EXPECT_FALSE(scaler.unscale_and_check(parameters));
  EXPECT_DOUBLE_EQ(scaler.current_scale(), 16384.0);
  EXPECT_EQ(scaler.skipped_steps(), 2);

  // growth_interval good updates in a row double it.
  for (int i = 0; i < 3; ++i) {
    weight.mutable_grad() = torch::ones({2});
    EXPECT_TRUE(scaler.unscale_and_check(parameters));
  }
  EXPECT_DOUBLE_EQ(scaler.current_scale(), 32768.0);
  EXPECT_EQ(scaler.good_steps_in_a_row(), 0);
}

}  // namespace
}  // namespace greentune::train
