#include "greentune/train/optimizer.hpp"

#include <cmath>
#include <sstream>
#include <string>
#include <type_traits>
#include <unordered_map>

#include "greentune/core/error.hpp"
#include "greentune/model/torch_compat.hpp"

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

// The key of a parameter in an optimizer's state map: its TensorImpl's address, as text in LibTorch 1.13
// (c10::guts::to_string of the pointer), as the pointer itself in later releases.
template <typename StateMap>
typename StateMap::key_type state_key(const torch::Tensor& parameter) {
  using Key = typename StateMap::key_type;
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream text;
    text << parameter.unsafeGetTensorImpl();
    return text.str();
  } else {
    return static_cast<Key>(parameter.unsafeGetTensorImpl());
  }
}

// Adam or AdamW (Base: torch::optim::Adam or AdamW, with its Options and ParamState) whose step runs the
// fused kernel on each parameter group. Its state stays in Base's map and types: checkpoints are the plain
// optimizer's.
template <typename Base, typename Options, typename ParamState>
class FusedAdam final : public Base {
 public:
  FusedAdam(std::vector<torch::optim::OptimizerParamGroup> groups, Options defaults, bool decoupled)
      : Base(std::move(groups), defaults), decoupled_(decoupled) {}

  torch::Tensor step(torch::optim::Optimizer::LossClosure closure = nullptr) override {
    torch::Tensor loss;
    if (closure != nullptr) {
      torch::AutoGradMode enable_grad(true);
      loss = closure();
    }
    torch::NoGradGuard no_grad;
    for (auto& group : this->param_groups()) {
      std::vector<torch::Tensor> parameters, grads, exp_avgs, exp_avg_sqs, steps;
      for (const auto& parameter : group.params()) {
        if (!parameter.grad().defined())
          continue;
        ParamState& state = state_of(parameter);
        state.step(state.step() + 1);
        parameters.push_back(parameter);
        grads.push_back(parameter.grad());
        exp_avgs.push_back(state.exp_avg());
        exp_avg_sqs.push_back(state.exp_avg_sq());
        steps.push_back(device_step(parameter, state.step()));
      }
      if (parameters.empty())
        continue;
      torch::_foreach_add_(steps, 1.0);  // on the device, as the host's counts went up
      const auto& options = static_cast<const Options&>(group.options());
      model::compat::fused_adam(decoupled_, parameters, grads, exp_avgs, exp_avg_sqs, steps, options.lr(),
                                std::get<0>(options.betas()), std::get<1>(options.betas()),
                                options.weight_decay(), options.eps());
    }
    return loss;
  }

 private:
  // The parameter's state, made as Base makes it on its first update (zero moments).
  ParamState& state_of(const torch::Tensor& parameter) {
    auto& states = this->state();
    auto& slot = states[state_key<std::remove_reference_t<decltype(states)>>(parameter)];
    if (!slot) {
      auto state = std::make_unique<ParamState>();
      state->step(0);
      state->exp_avg(torch::zeros_like(parameter, torch::MemoryFormat::Preserve));
      state->exp_avg_sq(torch::zeros_like(parameter, torch::MemoryFormat::Preserve));
      slot = std::move(state);
    }
    return static_cast<ParamState&>(*slot);
  }

  // The parameter's update count as the kernel reads it: a float tensor on the parameter's device, made
  // once per process from the host's count before this update (a resumed run's comes from its checkpoint)
  // and then raised on the device with every update.
  torch::Tensor device_step(const torch::Tensor& parameter, int64_t host_step) {
    torch::Tensor& counter = device_steps_[parameter.unsafeGetTensorImpl()];
    if (!counter.defined())
      counter = torch::full({}, static_cast<double>(host_step - 1), parameter.options().dtype(torch::kFloat));
    return counter;
  }

  bool decoupled_;
  std::unordered_map<const void*, torch::Tensor> device_steps_;
};

using FusedAdamW = FusedAdam<torch::optim::AdamW, torch::optim::AdamWOptions, torch::optim::AdamWParamState>;
using FusedAdamL2 = FusedAdam<torch::optim::Adam, torch::optim::AdamOptions, torch::optim::AdamParamState>;

}  // namespace

bool is_fused(const torch::optim::Optimizer& optimizer) {
  return dynamic_cast<const FusedAdamW*>(&optimizer) != nullptr ||
         dynamic_cast<const FusedAdamL2*>(&optimizer) != nullptr;
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(torch::nn::Module& model,
                                                        const OptimizerOptions& options, FusedKernels fused) {
  std::vector<torch::Tensor> decay, no_decay;
  for (const auto& parameter : model.parameters()) {
    (parameter.dim() >= 2 ? decay : no_decay).push_back(parameter);
  }
  const bool use_fused = fused == FusedKernels::where_available && !model.parameters().empty() &&
                         model::compat::has_fused_adam(model.parameters().front().device().type());
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, group_options(options, options.weight_decay));
  groups.emplace_back(no_decay, group_options(options, 0.0));
  switch (options.kind) {
    case OptimizerKind::adamw:
      if (use_fused)
        return std::make_unique<FusedAdamW>(std::move(groups), torch::optim::AdamWOptions(options.lr), true);
      return std::make_unique<torch::optim::AdamW>(std::move(groups), torch::optim::AdamWOptions(options.lr));
    case OptimizerKind::adam:
      if (use_fused)
        return std::make_unique<FusedAdamL2>(std::move(groups), torch::optim::AdamOptions(options.lr), false);
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

void clear_gradients(const std::vector<torch::Tensor>& parameters) {
  for (torch::Tensor parameter : parameters)
    parameter.mutable_grad() = torch::Tensor();
}

}  // namespace greentune::train
