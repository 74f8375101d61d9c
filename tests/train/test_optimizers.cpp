// Per-step losses of the tiny reference model under each optimizer and schedule, against an independent
// reference: the update rules of torch.optim written out here on plain tensors.
#include <gtest/gtest.h>
#include <torch/version.h>

#include <cmath>
#include <sstream>
#include <string>
#include <utility>

#include "../model/model_test_support.hpp"
#include "greentune/model/pretrained.hpp"
#include "greentune/model/torch_compat.hpp"
#include "greentune/model/weights.hpp"
#include "greentune/train/optimizer.hpp"
#include "greentune/train/schedule.hpp"

namespace greentune::train {
namespace {

struct ReferenceState {
  std::vector<torch::Tensor> first_moment, second_moment, momentum_buffer;
};

// One update of torch.optim.{AdamW, Adam, SGD} on parameter i, written out.
void reference_update(const OptimizerOptions& options, double lr, int64_t step, torch::Tensor& parameter,
                      const torch::Tensor& grad_in, bool decay, ReferenceState& state, size_t i) {
  const double weight_decay = decay ? options.weight_decay : 0.0;
  torch::Tensor grad = grad_in.clone();
  switch (options.kind) {
    case OptimizerKind::adamw:
    case OptimizerKind::adam: {
      if (options.kind == OptimizerKind::adamw) {
        parameter.mul_(1.0 - lr * weight_decay);  // decoupled decay
      } else {
        grad.add_(parameter, weight_decay);  // L2 in the gradient
      }
      state.first_moment[i].mul_(options.beta1).add_(grad, 1.0 - options.beta1);
      state.second_moment[i].mul_(options.beta2).addcmul_(grad, grad, 1.0 - options.beta2);
      const double correction1 = 1.0 - std::pow(options.beta1, static_cast<double>(step));
      const double correction2 = 1.0 - std::pow(options.beta2, static_cast<double>(step));
      const torch::Tensor denominator =
          (state.second_moment[i].sqrt() / std::sqrt(correction2)).add_(options.eps);
      parameter.addcdiv_(state.first_moment[i], denominator, -lr / correction1);
      break;
    }
    case OptimizerKind::sgd: {
      grad.add_(parameter, weight_decay);
      if (step == 1) {
        state.momentum_buffer[i] = grad.clone();
      } else {
        state.momentum_buffer[i].mul_(options.momentum).add_(grad);
      }
      const torch::Tensor direction =
          options.nesterov ? grad.add(state.momentum_buffer[i], options.momentum) : state.momentum_buffer[i];
      parameter.add_(direction, -lr);
      break;
    }
  }
}

void expect_same_losses(const OptimizerOptions& options, Schedule schedule, int64_t warmup) {
  testing::TempDir dir;
  testing::write_tiny_model_dir(dir / "model", "distilbert_tiny");
  auto ours = model::load_pretrained((dir / "model").string()).model;
  auto reference = model::load_pretrained((dir / "model").string()).model;
  ours->eval();  // dropout off: both sides see the same function
  reference->eval();
  const auto fixture = model::SafetensorsFile::open(greentune::testing::test_data_dir() /
                                                    "model/distilbert_tiny/reference.safetensors");
  const torch::Tensor input_ids = model::tensor_view(fixture.tensor("input_ids")).clone();
  const torch::Tensor attention_mask = model::tensor_view(fixture.tensor("attention_mask")).clone();
  const torch::Tensor labels = model::tensor_view(fixture.tensor("labels")).clone();

  auto optimizer = make_optimizer(*ours, options);
  std::vector<torch::Tensor> reference_parameters = reference->parameters();
  ReferenceState state;
  for (const auto& parameter : reference_parameters) {
    state.first_moment.push_back(torch::zeros_like(parameter));
    state.second_moment.push_back(torch::zeros_like(parameter));
    state.momentum_buffer.push_back(torch::Tensor());
  }
  constexpr int64_t steps = 6;
  for (int64_t step = 0; step < steps; ++step) {
    const double lr = options.lr * lr_factor(schedule, step, warmup, steps);
    const torch::Tensor our_loss =
        torch::cross_entropy_loss(ours->forward(input_ids, attention_mask).logits, labels);
    our_loss.backward();
    set_learning_rate(*optimizer, lr);
    optimizer->step();
    optimizer->zero_grad();

    const torch::Tensor reference_loss =
        torch::cross_entropy_loss(reference->forward(input_ids, attention_mask).logits, labels);
    reference_loss.backward();
    {
      torch::NoGradGuard no_grad;
      for (size_t i = 0; i < reference_parameters.size(); ++i) {
        auto& parameter = reference_parameters[i];
        reference_update(options, lr, step + 1, parameter, parameter.grad(), parameter.dim() >= 2, state, i);
        parameter.mutable_grad().zero_();
      }
    }
    EXPECT_NEAR(our_loss.item<double>(), reference_loss.item<double>(), 1e-5)
        << to_string(options.kind) << " step " << step;
  }
  // The runs really trained: the loss moved.
  const double final_loss =
      torch::cross_entropy_loss(ours->forward(input_ids, attention_mask).logits, labels).item<double>();
  const double first_loss =
      torch::cross_entropy_loss(
          model::load_pretrained((dir / "model").string()).model->forward(input_ids, attention_mask).logits,
          labels)
          .item<double>();
  EXPECT_GT(std::abs(final_loss - first_loss), 1e-4);
}

TEST(Optimizers, AdamWWithLinearWarmupMatchesTheReferenceUpdate) {
  OptimizerOptions options;
  options.lr = 1e-3;
  expect_same_losses(options, Schedule::linear, 2);
}

TEST(Optimizers, AdamWithCosineMatchesTheReferenceUpdate) {
  OptimizerOptions options;
  options.kind = OptimizerKind::adam;
  options.lr = 1e-3;
  expect_same_losses(options, Schedule::cosine, 1);
}

TEST(Optimizers, SgdMomentumAndNesterovMatchTheReferenceUpdate) {
  OptimizerOptions options;
  options.kind = OptimizerKind::sgd;
  options.lr = 0.05;
  expect_same_losses(options, Schedule::constant, 0);
  options.nesterov = true;
  expect_same_losses(options, Schedule::linear, 0);
}

// Where this LibTorch has fused Adam kernels for CPU tensors (2.4 and later), make_optimizer steps with
// them, and they must give the plain loop's weights; their state must be the plain optimizer's, so that a
// checkpoint of one resumes in the other. (The reference tests above then check the fused path too.)
TEST(Optimizers, FusedAdamAndAdamWGiveThePlainLoopsWeightsWhereLibTorchHasThem) {
  testing::TempDir dir;
  testing::write_tiny_model_dir(dir / "model", "distilbert_tiny");
  const auto fixture = model::SafetensorsFile::open(greentune::testing::test_data_dir() /
                                                    "model/distilbert_tiny/reference.safetensors");
  const torch::Tensor input_ids = model::tensor_view(fixture.tensor("input_ids")).clone();
  const torch::Tensor attention_mask = model::tensor_view(fixture.tensor("attention_mask")).clone();
  const torch::Tensor labels = model::tensor_view(fixture.tensor("labels")).clone();
  for (const OptimizerKind kind : {OptimizerKind::adamw, OptimizerKind::adam}) {
    SCOPED_TRACE(std::string(to_string(kind)));
    OptimizerOptions options;
    options.kind = kind;
    options.lr = 1e-3;
    auto fused_model = model::load_pretrained((dir / "model").string()).model;
    auto plain_model = model::load_pretrained((dir / "model").string()).model;
    auto fused = make_optimizer(*fused_model, options);
    auto plain = make_optimizer(*plain_model, options, FusedKernels::never);
    EXPECT_FALSE(is_fused(*plain));
    EXPECT_EQ(is_fused(*fused), model::compat::has_fused_adam(c10::DeviceType::CPU));
    if (!is_fused(*fused)) {
      GTEST_SKIP() << "LibTorch " << TORCH_VERSION
                   << " has no fused Adam kernels for CPU tensors (they come with 2.4): make_optimizer steps "
                      "with the plain loop here";
    }
    for (auto* side : {&fused_model, &plain_model})
      (*side)->eval();
    for (int step = 0; step < 5; ++step) {
      for (auto [net, optimizer] :
           {std::pair{fused_model.get(), fused.get()}, {plain_model.get(), plain.get()}}) {
        torch::cross_entropy_loss(net->forward(input_ids, attention_mask).logits, labels).backward();
        optimizer->step();
        optimizer->zero_grad();
      }
    }
    const auto fused_parameters = fused_model->parameters();
    const auto plain_parameters = plain_model->parameters();
    for (size_t i = 0; i < fused_parameters.size(); ++i)
      EXPECT_TRUE(torch::allclose(fused_parameters[i], plain_parameters[i], 1e-5, 1e-7)) << "parameter " << i;
    // The fused optimizer's state, saved, loads into a plain one.
    std::stringstream saved;
    torch::save(*fused, saved);
    auto reloaded = make_optimizer(*plain_model, options, FusedKernels::never);
    torch::load(*reloaded, saved);
    EXPECT_EQ(reloaded->state().size(), plain->state().size());
  }
}

TEST(Optimizers, WeightDecayOnlyOnMatricesAndEmbeddings) {
  testing::TempDir dir;
  testing::write_tiny_model_dir(dir / "model", "bert_tiny");
  auto model = model::load_pretrained((dir / "model").string()).model;
  auto optimizer = make_optimizer(*model, {});
  ASSERT_EQ(optimizer->param_groups().size(), 2u);
  for (const auto& parameter : optimizer->param_groups()[0].params())
    EXPECT_GE(parameter.dim(), 2);
  for (const auto& parameter : optimizer->param_groups()[1].params())
    EXPECT_EQ(parameter.dim(), 1);
  EXPECT_DOUBLE_EQ(
      static_cast<const torch::optim::AdamWOptions&>(optimizer->param_groups()[1].options()).weight_decay(),
      0.0);
  EXPECT_EQ(optimizer->param_groups()[0].params().size() + optimizer->param_groups()[1].params().size(),
            model->parameters().size());
}

TEST(Optimizers, ClippingScalesToTheMaximumNorm) {
  torch::Tensor a = torch::zeros({2}, torch::requires_grad()), b = torch::zeros({1}, torch::requires_grad());
  a.mutable_grad() = torch::tensor({3.0f, 0.0f});
  b.mutable_grad() = torch::tensor({4.0f});
  EXPECT_NEAR(clip_gradients({a, b}, 0.0), 5.0, 1e-9);  // 0: measure only
  EXPECT_NEAR(clip_gradients({a, b}, 1.0), 5.0, 1e-6);  // returns the norm before clipping
  EXPECT_NEAR(a.grad()[0].item<double>(), 3.0 / 5.0, 1e-5);
  EXPECT_NEAR(b.grad()[0].item<double>(), 4.0 / 5.0, 1e-5);
}

}  // namespace
}  // namespace greentune::train
