#include "greentune/train/optimizer.hpp"

#include <cmath>
#include <string>

#include "greentune/core/error.hpp"

namespace greentune::train {

OptimizerKind parse_optimizer(std::string_view name) {
  if (name == "adamw")
    return OptimizerKind::adamw;
  if (name == "adam")
    return OptimizerKind::adam;
  if (name == "sgd")
    return OptimizerKind::sgd;
  throw Error(ErrorCode::usage, "--optimizer", "unknown optimizer \"" + std::string(name) + "\"",
              "use adamw, adam or sgd");
}

std::string_view to_string(OptimizerKind kind) {
  switch (kind) {
    case OptimizerKind::adamw:
      return "adamw";
    case OptimizerKind::adam:
      return "adam";
    case OptimizerKind::sgd:
      return "sgd";
  }
  return "unknown";
}

namespace {

std::unique_ptr<torch::optim::OptimizerOptions> group_options(const OptimizerOptions& options,
                                                              double weight_decay) {
  switch (options.kind) {
    case OptimizerKind::adamw:
      return std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(options.lr)
                                                              .betas({options.beta1, options.beta2})
                                                              .eps(options.eps)
                                                              .weight_decay(weight_decay));
    case OptimizerKind::adam:
      return std::make_unique<torch::optim::AdamOptions>(torch::optim::AdamOptions(options.lr)
                                                             .betas({options.beta1, options.beta2})
                                                             .eps(options.eps)
                                                             .weight_decay(weight_decay));
    case OptimizerKind::sgd:
      return std::make_unique<torch::optim::SGDOptions>(torch::optim::SGDOptions(options.lr)
                                                            .momentum(options.momentum)
                                                            .nesterov(options.nesterov)
                                                            .weight_decay(weight_decay));
  }
  throw Error(ErrorCode::internal, "optimizer", "unknown optimizer kind");
}

}  // namespace

std::unique_ptr<torch::optim::Optimizer> make_optimizer(torch::nn::Module& model,
                                                        const OptimizerOptions& options) {
  std::vector<torch::Tensor> decay, no_decay;
  for (const auto& parameter : model.parameters()) {
    (parameter.dim() >= 2 ? decay : no_decay).push_back(parameter);
  }
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, group_options(options, options.weight_decay));
  groups.emplace_back(no_decay, group_options(options, 0.0));
  switch (options.kind) {
    case OptimizerKind::adamw:
      return std::make_unique<torch::optim::AdamW>(std::move(groups), torch::optim::AdamWOptions(options.lr));
    case OptimizerKind::adam:
      return std::make_unique<torch::optim::Adam>(std::move(groups), torch::optim::AdamOptions(options.lr));
    case OptimizerKind::sgd:
      return std::make_unique<torch::optim::SGD>(std::move(groups), torch::optim::SGDOptions(options.lr));
  }
  throw Error(ErrorCode::internal, "optimizer", "unknown optimizer kind");
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups())
    group.options().set_lr(lr);
}

double clip_gradients(const std::vector<torch::Tensor>& parameters, double max_norm) {
  if (max_norm > 0.0)
    return torch::nn::utils::clip_grad_norm_(parameters, max_norm);
  torch::NoGradGuard no_grad;
  torch::Tensor squared;  // () double on the gradients' device: summed there in parameter order
  for (const auto& parameter : parameters) {
    if (!parameter.grad().defined())
      continue;
    const torch::Tensor term = parameter.grad().to(torch::kDouble).pow(2).sum();
    squared = squared.defined() ? squared + term : term;
  }
  return squared.defined() ? std::sqrt(squared.item<double>()) : 0.0;
}

UpdateOutcome apply_update(torch::optim::Optimizer& optimizer, const std::vector<torch::Tensor>& parameters,
                           double lr, double max_norm, DynamicLossScaler* scaler) {
  if (scaler != nullptr)
    scaler->unscale(parameters);
  UpdateOutcome outcome;
  outcome.grad_norm = clip_gradients(parameters, max_norm);
  outcome.applied = std::isfinite(outcome.grad_norm);
  if (scaler != nullptr)
    scaler->update(outcome.applied);
  if (outcome.applied) {
    set_learning_rate(optimizer, lr);
    optimizer.step();
  }
  return outcome;
}

}  // namespace greentune::train
