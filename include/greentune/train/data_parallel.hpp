#pragma once
// Data parallelism: which batches of an update each rank runs, and the gradients of all ranks summed
// bucket by bucket while the backward pass is still running, as PyTorch's DistributedDataParallel does.

#include <torch/torch.h>

#include <cstddef>
#include <memory>
#include <vector>

#include "greentune/train/process_group.hpp"

namespace greentune::train {

// The batches of one optimizer update that rank runs. The update covers the epoch plan's batches
// [first, end): grad_accum x world of them, fewer at the end of an epoch. Rank r runs first + r,
// first + r + world, ..., so that the ranks together run each batch once, and W ranks with grad_accum A
// make the same updates as one process with grad_accum W x A.
std::vector<size_t> rank_batches(size_t first, size_t end, int rank, int world);

// Sums every parameter's gradient over the ranks of group. Gradients go into buckets of about
// bucket_bytes in the order backward produces them (last layers first), and each bucket's all-reduce
// starts as soon as its last gradient arrives, while backward computes the rest. Buckets start in the
// same order on every rank, which collectives need.
class GradientReducer {
 public:
  GradientReducer(ProcessGroup& group, std::vector<torch::Tensor> parameters,
                  size_t bucket_bytes = 25u << 20);
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  // Call before the backward pass that ends this rank's share of an update: from then on each gradient,
  // added to what earlier micro-batches of the update accumulated, is copied into its bucket.
  void expect_last_backward();
  // After that backward pass, or instead of it on a rank without a batch in this update: starts the
  // buckets backward did not fill (with what the parameters' grads hold, zeros where none), waits for
  // every bucket and leaves the sums over the ranks in the parameters' grads.
  void finish();

 private:
  struct Slot {
    size_t bucket = 0;
    int64_t offset = 0, numel = 0;  // elements, in the bucket's flat buffer
    bool filled = false;
  };
  struct Bucket {
    torch::Tensor flat;   // (numel,) float32
    size_t unfilled = 0;  // slots still waiting for their gradient
    std::unique_ptr<PendingCollective> reduction;
  };
  void on_gradient(size_t index, const torch::Tensor& grad);
  void start_filled_buckets();
  torch::Tensor slot_view(const Slot& slot);

  ProcessGroup& group_;
  std::vector<torch::Tensor> parameters_;
  std::vector<Slot> slots_;  // slots_[i] belongs to parameters_[i]
  std::vector<Bucket> buckets_;
  std::vector<unsigned> hooks_;
  bool expecting_ = false;
  size_t next_to_start_ = 0;  // buckets start in index order
};

}  // namespace greentune::train
