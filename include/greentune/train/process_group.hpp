#pragma once
// The processes of a data-parallel run as one group: LibTorch's c10d process groups (Gloo for CPU
// tensors and the host's bytes, NCCL for tensors on CUDA GPUs) behind the few collectives training needs, so
// that nothing else sees c10d's C++ API, which changed between LibTorch 1.13 and 2.x. A one-process group
// does every collective as a no-op, so that training has a single path. Collectives must be called by every
// rank in the same order; when a rank dies or cannot be reached, the others get Error(distributed) instead of
// waiting for ever.

#include <torch/torch.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "greentune/train/launch.hpp"

namespace greentune::train {

// A collective started and still running.
class PendingCollective {
 public:
  virtual ~PendingCollective() = default;
  virtual void wait() = 0;  // blocks until it is done; Error(distributed) when it failed
};

class ProcessGroup {
 public:
  virtual ~ProcessGroup() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  bool is_root() const { return rank() == 0; }

  // Element-wise sum over the ranks, in place, into every rank's tensor (contiguous; on the CPU, or on the
  // rank's GPU in a group connected for CUDA).
  virtual void all_reduce_sum(torch::Tensor& tensor) = 0;
  // The same, started now and finished by wait(); tensor must stay alive and untouched until then.
  virtual std::unique_ptr<PendingCollective> start_all_reduce_sum(torch::Tensor& tensor) = 0;
  // Every rank's tensors become root's, in place (same shapes and dtypes on every rank).
  virtual void broadcast(std::vector<torch::Tensor>& tensors, int root) = 0;
  // Every rank's bytes become root's (the sizes may differ before).
  virtual void broadcast(std::string& bytes, int root) = 0;
  // Every rank's bytes, indexed by rank, on every rank.
  virtual std::vector<std::string> all_gather(const std::string& bytes) = 0;
  // Returns once every rank has called it.
  virtual void barrier() = 0;
};

// The group of one process.
std::unique_ptr<ProcessGroup> single_process_group();

// Joins the run that launch describes: rank 0 listens at MASTER_ADDR:MASTER_PORT and the others connect,
// then every rank connects to every other with Gloo over TCP (GLOO_SOCKET_IFNAME picks the network
// interface, as in PyTorch). timeout bounds the wait for the other ranks at start-up and in each
// collective. device: where the run's tensors are; for a CUDA device (each rank its own GPU) the tensor
// collectives go through NCCL as well. A one-process launch gives single_process_group().
// Error(distributed) when the group cannot be formed (a rank never comes, the port is taken, this LibTorch
// has no Gloo, or no NCCL for a CUDA device).
std::unique_ptr<ProcessGroup> connect_process_group(const LaunchEnvironment& launch,
                                                    std::chrono::seconds timeout,
                                                    torch::Device device = torch::kCPU);

}  // namespace greentune::train
