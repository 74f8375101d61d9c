#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <numbers>

#include "greentune/core/error.hpp"
#include "greentune/train/loss_scaler.hpp"
#include "greentune/train/optimizer.hpp"
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

TEST(LossScaler, UnscalesSkipsAndBacksOffOnOverflowThenGrows) {
  LossScalerOptions options;
  options.growth_interval = 3;
  DynamicLossScaler scaler(options);
  torch::Tensor weight = torch::ones({2}, torch::requires_grad());
  const std::vector<torch::Tensor> parameters = {weight};

  // The loss is multiplied by 2^16 before backward; unscaling divides the gradient back.
  scaler.scale((weight * torch::tensor({3.0f, 4.0f})).sum()).backward();
  EXPECT_TRUE(torch::equal(weight.grad(), torch::tensor({3.0f * 65536.0f, 4.0f * 65536.0f})));
  scaler.unscale(parameters);
  EXPECT_TRUE(torch::equal(weight.grad(), torch::tensor({3.0f, 4.0f})));

  // Overflowed gradients: the update is skipped, counted, and the scale halved each time.
  EXPECT_FALSE(scaler.update(false));
  EXPECT_DOUBLE_EQ(scaler.current_scale(), 32768.0);
  EXPECT_FALSE(scaler.update(false));
  EXPECT_DOUBLE_EQ(scaler.current_scale(), 16384.0);
  EXPECT_EQ(scaler.skipped_steps(), 2);

  // growth_interval good updates in a row double it.
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(scaler.update(true));
  EXPECT_DOUBLE_EQ(scaler.current_scale(), 32768.0);
  EXPECT_EQ(scaler.state().good_steps, 0);
  EXPECT_EQ(scaler.skipped_steps(), 2);
}

TEST(LossScaler, ItsStateIsRestoredAndTravelsAsJson) {
  DynamicLossScaler scaler;
  scaler.restore({512.0, 7, 3});
  const nlohmann::json json = scaler.state();
  EXPECT_EQ(json, nlohmann::json::parse(R"({"scale": 512.0, "good_steps": 7, "skipped_steps": 3})"));
  DynamicLossScaler resumed;
  resumed.restore(json.get<LossScalerState>());
  EXPECT_DOUBLE_EQ(resumed.current_scale(), 512.0);
  EXPECT_EQ(resumed.skipped_steps(), 3);
}

// apply_update on one weight w = (1, 2) with loss 3 w0 + 4 w1 (gradient (3, 4), norm 5) and plain SGD:
// the weight after the update is computed by hand.
struct OneWeight {
  torch::Tensor weight = torch::tensor({1.0f, 2.0f}).requires_grad_(true);
  std::vector<torch::Tensor> parameters{weight};
  torch::optim::SGD optimizer{parameters, torch::optim::SGDOptions(0.1)};

  void backward(double loss_scale = 1.0) {
    ((weight * torch::tensor({3.0f, 4.0f})).sum() * loss_scale).backward();
  }
};

TEST(ApplyUpdate, StepsAtTheGivenLearningRateWithTheGradientUnscaled) {
  OneWeight plain;
  plain.backward();
  const UpdateOutcome update = apply_update(plain.optimizer, plain.parameters, 0.5, 0.0, nullptr);
  EXPECT_TRUE(update.applied);
  EXPECT_DOUBLE_EQ(update.grad_norm, 5.0);
  EXPECT_TRUE(torch::allclose(plain.weight, torch::tensor({1.0f - 0.5f * 3.0f, 2.0f - 0.5f * 4.0f})));

  LossScalerOptions options;
  options.initial_scale = 1024.0;
  DynamicLossScaler scaler(options);
  OneWeight scaled;
  scaled.backward(1024.0);
  const UpdateOutcome scaled_update = apply_update(scaled.optimizer, scaled.parameters, 0.5, 0.0, &scaler);
  EXPECT_TRUE(scaled_update.applied);
  EXPECT_DOUBLE_EQ(scaled_update.grad_norm, 5.0);
  EXPECT_TRUE(torch::equal(scaled.weight, plain.weight));
  EXPECT_EQ(scaler.skipped_steps(), 0);
}

TEST(ApplyUpdate, ClipsToMaxNormAndReportsTheNormBeforeClipping) {
  OneWeight clipped;
  clipped.backward();
  const UpdateOutcome update = apply_update(clipped.optimizer, clipped.parameters, 0.1, 1.0, nullptr);
  EXPECT_NEAR(update.grad_norm, 5.0, 1e-6);
  // The gradient scaled to norm 1: (0.6, 0.8).
  EXPECT_TRUE(torch::allclose(clipped.weight, torch::tensor({1.0f - 0.06f, 2.0f - 0.08f}), 1e-5, 1e-6));
}

TEST(ApplyUpdate, GradientsWithInfOrNanChangeNoWeight) {
  DynamicLossScaler scaler;
  OneWeight overflowed;
  overflowed.weight.mutable_grad() = torch::tensor({std::numeric_limits<float>::infinity(), 1.0f});
  const UpdateOutcome skipped = apply_update(overflowed.optimizer, overflowed.parameters, 0.1, 1.0, &scaler);
  EXPECT_FALSE(skipped.applied);
  EXPECT_FALSE(std::isfinite(skipped.grad_norm));
  EXPECT_TRUE(torch::equal(overflowed.weight, torch::tensor({1.0f, 2.0f})));
  EXPECT_EQ(scaler.skipped_steps(), 1);
  EXPECT_DOUBLE_EQ(scaler.current_scale(), 32768.0);

  OneWeight diverged;  // fp32: no scaler, the caller reports the failure
  diverged.weight.mutable_grad() = torch::tensor({std::nanf(""), 1.0f});
  const UpdateOutcome failed = apply_update(diverged.optimizer, diverged.parameters, 0.1, 0.0, nullptr);
  EXPECT_FALSE(failed.applied);
  EXPECT_TRUE(torch::equal(diverged.weight, torch::tensor({1.0f, 2.0f})));
}

}  // namespace
}  // namespace greentune::train
