#include "greentune/train/data_parallel.hpp"

#include "greentune/core/error.hpp"

namespace greentune::train {

std::vector<size_t> rank_batches(size_t first, size_t end, int rank, int world) {
  std::vector<size_t> batches;
  for (size_t batch = first + static_cast<size_t>(rank); batch < end; batch += static_cast<size_t>(world))
    batches.push_back(batch);
  return batches;
}

GradientReducer::GradientReducer(ProcessGroup& group, std::vector<torch::Tensor> parameters,
                                 size_t bucket_bytes)
    : group_(group), parameters_(std::move(parameters)), slots_(parameters_.size()) {
  // Backward reaches the parameters roughly in reverse order of their registration (the classifier head
  // first, the embeddings last): buckets follow that order so the first ones fill early.
  std::vector<int64_t> bucket_sizes;
  int64_t bucket_numel = 0;
  for (size_t i = parameters_.size(); i-- > 0;) {
    if (bucket_sizes.empty() || static_cast<size_t>(bucket_numel) * sizeof(float) >= bucket_bytes) {
      bucket_sizes.push_back(0);
      bucket_numel = 0;
    }
    slots_[i] = {bucket_sizes.size() - 1, bucket_numel, parameters_[i].numel(), false};
    bucket_numel += parameters_[i].numel();
    bucket_sizes.back() = bucket_numel;
  }
  buckets_.resize(bucket_sizes.size());
  // On the gradients' device: a GPU's buckets are reduced there (NCCL), a CPU's through Gloo.
  const torch::Device device =
      parameters_.empty() ? torch::Device(torch::kCPU) : parameters_.front().device();
  for (size_t b = 0; b < buckets_.size(); ++b)
    buckets_[b].flat =
        torch::zeros({bucket_sizes[b]}, torch::TensorOptions().dtype(torch::kFloat).device(device));
  for (size_t i = 0; i < parameters_.size(); ++i)
    ++buckets_[slots_[i].bucket].unfilled;
  for (size_t i = 0; i < parameters_.size(); ++i)
    hooks_.push_back(
        parameters_[i].register_hook([this, i](const torch::Tensor& grad) { on_gradient(i, grad); }));
}

GradientReducer::~GradientReducer() {
  for (size_t i = 0; i < hooks_.size(); ++i)
    parameters_[i].remove_hook(hooks_[i]);
}

torch::Tensor GradientReducer::slot_view(const Slot& slot) {
  return buckets_[slot.bucket].flat.narrow(0, slot.offset, slot.numel);
}

void GradientReducer::expect_last_backward() {
  expecting_ = true;
}

void GradientReducer::on_gradient(size_t index, const torch::Tensor& grad) {
  if (!expecting_)
    return;  // an earlier micro-batch of the update: its gradient accumulates locally
  Slot& slot = slots_[index];
  Bucket& bucket = buckets_[slot.bucket];
  if (bucket.reduction) {
    throw Error(ErrorCode::internal, "gradient reducer",
                "a gradient arrived after its bucket's all-reduce started (a parameter used twice?)",
                "report this with the model's config.json");
  }
  torch::NoGradGuard no_grad;
  torch::Tensor view = slot_view(slot);
  const torch::Tensor& accumulated = slot.filled ? view : parameters_[index].grad();
  if (accumulated.defined()) {
    torch::add_out(view, accumulated.reshape({-1}),
                   grad.reshape({-1}));  // no temporary: this runs in backward
  } else {
    view.copy_(grad.reshape({-1}));
  }
  if (!slot.filled) {
    slot.filled = true;
    --bucket.unfilled;
    start_filled_buckets();
  }
}

void GradientReducer::start_filled_buckets() {
  while (next_to_start_ < buckets_.size() && buckets_[next_to_start_].unfilled == 0) {
    Bucket& bucket = buckets_[next_to_start_];
    bucket.reduction = group_.start_all_reduce_sum(bucket.flat);
    ++next_to_start_;
  }
}

void GradientReducer::finish() {
  expecting_ = false;
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < parameters_.size(); ++i) {
    Slot& slot = slots_[i];
    if (slot.filled)
      continue;
    const torch::Tensor& grad = parameters_[i].grad();
    torch::Tensor view = slot_view(slot);
    if (grad.defined()) {
      view.copy_(grad.reshape({-1}));
    } else {
      view.zero_();
    }
    slot.filled = true;
    --buckets_[slot.bucket].unfilled;
  }
  start_filled_buckets();
  for (Bucket& bucket : buckets_) {
    bucket.reduction->wait();
    bucket.reduction.reset();
  }
  for (size_t i = 0; i < parameters_.size(); ++i) {
    Slot& slot = slots_[i];
    const torch::Tensor sum = slot_view(slot).view(parameters_[i].sizes());
    torch::Tensor& grad = parameters_[i].mutable_grad();
    if (grad.defined()) {
      grad.copy_(sum);
    } else {
      grad = sum.clone();
    }
    slot.filled = false;
    ++buckets_[slot.bucket].unfilled;
  }
  next_to_start_ = 0;
}

}  // namespace greentune::train
