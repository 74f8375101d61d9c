#pragma once
// The optimizers the study compares, as torch.optim builds them, with the Hugging Face Trainer's weight
// decay convention: decay on parameters of 2 or more dimensions (embeddings, linear weights), none on
// biases and LayerNorm parameters.

#include <torch/torch.h>

#include <memory>
#include <string_view>
#include <vector>

#include "greentune/train/loss_scaler.hpp"

namespace greentune::train {

enum class OptimizerKind { adamw, adam, sgd };
OptimizerKind parse_optimizer(std::string_view name);  // "adamw", "adam", "sgd"; Error(usage) otherwise
std::string_view to_string(OptimizerKind kind);

struct OptimizerOptions {
  OptimizerKind kind = OptimizerKind::adamw;
  double lr = 5e-5;                               // the base learning rate; a schedule scales it each update
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // Adam, AdamW
  double momentum = 0.9;                          // SGD
  bool nesterov = false;                          // SGD
  double weight_decay = 0.01;  // AdamW: decoupled; Adam and SGD: L2 added to the gradient (torch.optim)
};

// Whether Adam and AdamW step with LibTorch's fused multi-tensor kernels: one kernel per parameter group
// instead of several per parameter, which keeps a GPU busy. The state is the plain optimizer's, in its
// types, so checkpoints load into either.
enum class FusedKernels {
  where_available,  // where this LibTorch has them for the parameters' device (compat::has_fused_adam)
  never,            // always the plain per-parameter loop
};

// Two parameter groups: [0] with weight decay (dim >= 2), [1] without, on the model's parameters (which
// are on the device they train on).
std::unique_ptr<torch::optim::Optimizer> make_optimizer(torch::nn::Module& model,
                                                        const OptimizerOptions& options,
                                                        FusedKernels fused = FusedKernels::where_available);

// True when optimizer steps with the fused kernels.
bool is_fused(const torch::optim::Optimizer& optimizer);

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr);

// The global L2 norm of all gradients; when max_norm > 0, gradients are scaled down to it first
// (torch.nn.utils.clip_grad_norm_: coefficient max_norm / (norm + 1e-6), at most 1). Returns the norm
// before clipping, computed on the gradients' device and read once.
double clip_gradients(const std::vector<torch::Tensor>& parameters, double max_norm);

// How one optimizer update went.
struct UpdateOutcome {
  double grad_norm = 0.0;  // the global gradient norm before clipping (unscaled)
  bool applied = false;    // false: the gradients held inf or NaN, and no weight changed
};

// One optimizer update from the gradients backward accumulated: divided by the loss scale when there is a
// scaler (fp16), their global norm (the one value the host waits for), clipped to max_norm (> 0), then the
// optimizer's step at lr. Gradients that are inf or NaN change no weight: with a scaler the update is
// skipped and counted and the scale backs off; without one the caller reports the failure. The gradients
// are left for the caller to zero.
UpdateOutcome apply_update(torch::optim::Optimizer& optimizer, const std::vector<torch::Tensor>& parameters,
                           double lr, double max_norm, DynamicLossScaler* scaler);

// Drops every parameter's gradient (torch.optim's zero_grad(set_to_none=True)): the next backward writes
// fresh gradients instead of adding to zeroed ones, one pass over the weights fewer and no zeroing.
void clear_gradients(const std::vector<torch::Tensor>& parameters);

}  // namespace greentune::train
