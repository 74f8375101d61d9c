#include "greentune/train/process_group.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "greentune/core/error.hpp"

// LibTorch built with distributed support defines USE_C10D_GLOO for its users (Debian's libtorch-dev and
// the PyTorch wheels do); Gloo's own headers come with it or, for Debian, with libgloo-dev.
#if defined(USE_C10D_GLOO) && __has_include(<torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>) && \
    __has_include(<gloo/algorithm.h>)
#define GREENTUNE_HAVE_GLOO 1
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#else
#define GREENTUNE_HAVE_GLOO 0
#endif

// NCCL, for tensors on CUDA GPUs: where greentune is built with CUDA (GREENTUNE_CUDA) against a LibTorch
// built with it (USE_C10D_NCCL, as the PyTorch CUDA wheels are).
#if GREENTUNE_HAVE_GLOO && GREENTUNE_CUDA && defined(USE_C10D_NCCL) && \
    __has_include(<torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>)
#define GREENTUNE_HAVE_NCCL 1
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#else
#define GREENTUNE_HAVE_NCCL 0
#endif

namespace greentune::train {

namespace {

class SingleProcessGroup final : public ProcessGroup {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void all_reduce_sum(torch::Tensor&) override {}
  std::unique_ptr<PendingCollective> start_all_reduce_sum(torch::Tensor&) override {
    struct Done final : PendingCollective {
      void wait() override {}
    };
    return std::make_unique<Done>();
  }
  void broadcast(std::vector<torch::Tensor>&, int) override {}
  void broadcast(std::string&, int) override {}
  std::vector<std::string> all_gather(const std::string& bytes) override { return {bytes}; }
  void barrier() override {}
};

#if GREENTUNE_HAVE_GLOO

std::string describe_exception(const std::exception& error) {
  if (const auto* torch_error = dynamic_cast<const c10::Error*>(&error))
    return torch_error->what_without_backtrace();
  return error.what();
}

// A c10d failure as greentune's error: which rank noticed it, in which collective, and what to do.
[[noreturn]] void throw_group_failure(int rank, int size, std::string_view during,
                                      const std::exception& error) {
  throw Error(ErrorCode::distributed, fmt::format("rank {} of {}", rank, size),
              fmt::format("the data-parallel group failed during {}: {}", during, describe_exception(error)),
              "another process of the run stopped or cannot be reached: its own output says why. Fix that "
              "and start the whole group again with --resume (it continues from rank 0's last checkpoint)");
}

// A started collective; during names it in the error when it fails ("an all-reduce").
class GlooWork final : public PendingCollective {
 public:
  GlooWork(c10::intrusive_ptr<c10d::Work> work, int rank, int size, std::string_view during)
      : work_(std::move(work)), rank_(rank), size_(size), during_(during) {}
  void wait() override {
    try {
      work_->wait();
    } catch (const std::exception& error) {
      throw_group_failure(rank_, size_, during_, error);
    }
  }

 private:
  c10::intrusive_ptr<c10d::Work> work_;
  int rank_, size_;
  std::string during_;
};

// Gloo binds to one network interface: GLOO_SOCKET_IFNAME when the user names one (PyTorch's variable);
// loopback when the whole run is on this machine's loopback; else the address this host name resolves to.
std::shared_ptr<::gloo::transport::Device> gloo_device(const std::string& master_addr) {
  if (const char* interface = std::getenv("GLOO_SOCKET_IFNAME"); interface != nullptr && *interface != '\0')
    return c10d::ProcessGroupGloo::createDeviceForInterface(interface);
  if (master_addr == "localhost" || master_addr.rfind("127.", 0) == 0)
    return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

class GlooProcessGroup final : public ProcessGroup {
 public:
  // device: a CUDA device adds an NCCL group (over the same store) for the tensors on it.
  GlooProcessGroup(const LaunchEnvironment& launch, std::chrono::seconds timeout, torch::Device device)
      : rank_(launch.rank), size_(launch.world_size) {
    try {
      c10d::TCPStoreOptions store_options;
      store_options.port = launch.master_port;
      const bool launcher_serves_store = !launch.store_prefix.empty();
      store_options.isServer = launch.rank == 0 && !launcher_serves_store;
      store_options.numWorkers = static_cast<size_t>(launch.world_size);
      store_options.waitWorkers = !launcher_serves_store;
      store_options.timeout = timeout;
      c10::intrusive_ptr<c10d::Store> store =
          c10::make_intrusive<c10d::TCPStore>(launch.master_addr, store_options);
      if (launcher_serves_store)
        store = c10::make_intrusive<c10d::PrefixStore>(launch.store_prefix, store);
      auto options = c10d::ProcessGroupGloo::Options::create(timeout);
      options->devices.push_back(gloo_device(launch.master_addr));
      group_ = c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank_, size_, options);
      if (device.is_cuda())
        connect_nccl(store, timeout);
    } catch (const Error&) {
      throw;
    } catch (const std::exception& error) {
      throw Error(ErrorCode::distributed,
                  fmt::format("rank {} of {} ({}:{})", rank_, size_, launch.master_addr, launch.master_port),
                  fmt::format("cannot form the data-parallel group: {}", describe_exception(error)),
                  "start every rank with the same MASTER_ADDR and MASTER_PORT (a free port on rank 0's "
                  "machine), check that the machines reach each other on it (GLOO_SOCKET_IFNAME names "
                  "the network interface), and that all ranks start within the timeout");
    }
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }

  void all_reduce_sum(torch::Tensor& tensor) override { start_all_reduce_sum(tensor)->wait(); }

  std::unique_ptr<PendingCollective> start_all_reduce_sum(torch::Tensor& tensor) override {
    std::vector<at::Tensor> tensors{tensor};
#if GREENTUNE_HAVE_NCCL
    if (tensor.is_cuda()) {
      return std::make_unique<GlooWork>(
          guarded("an all-reduce", [&] { return nccl_for(tensor)->allreduce(tensors); }), rank_, size_,
          "an all-reduce");
    }
#endif
    return std::make_unique<GlooWork>(guarded("an all-reduce", [&] { return group_->allreduce(tensors); }),
                                      rank_, size_, "an all-reduce");
  }

  void broadcast(std::vector<torch::Tensor>& tensors, int root) override {
    if (tensors.empty())
      return;
    // Gloo broadcasts one tensor per call: the tensors travel as one flat buffer.
    std::vector<torch::Tensor> flat_parts;
    flat_parts.reserve(tensors.size());
    for (const torch::Tensor& tensor : tensors)
      flat_parts.push_back(tensor.detach().reshape({-1}).to(tensors.front().scalar_type()));
    std::vector<at::Tensor> buffer{torch::cat(flat_parts)};
    run("a broadcast", [&] {
      c10d::BroadcastOptions options;
      options.rootRank = root;
#if GREENTUNE_HAVE_NCCL
      if (buffer.front().is_cuda())
        return nccl_for(buffer.front())->broadcast(buffer, options);
#endif
      return group_->broadcast(buffer, options);
    });
    int64_t offset = 0;
    torch::NoGradGuard no_grad;
    for (torch::Tensor& tensor : tensors) {
      const int64_t count = tensor.numel();
      tensor.copy_(buffer.front().narrow(0, offset, count).view(tensor.sizes()));
      offset += count;
    }
  }

  void broadcast(std::string& bytes, int root) override {
    std::vector<at::Tensor> size{torch::tensor({static_cast<int64_t>(bytes.size())}, torch::kInt64)};
    run("a broadcast", [&] {
      c10d::BroadcastOptions options;
      options.rootRank = root;
      return group_->broadcast(size, options);
    });
    std::vector<at::Tensor> data{torch::empty({size.front().item<int64_t>()}, torch::kUInt8)};
    if (rank_ == root)
      std::memcpy(data.front().data_ptr(), bytes.data(), bytes.size());
    run("a broadcast", [&] {
      c10d::BroadcastOptions options;
      options.rootRank = root;
      return group_->broadcast(data, options);
    });
    bytes.assign(static_cast<const char*>(data.front().data_ptr()),
                 static_cast<size_t>(data.front().numel()));
  }

  std::vector<std::string> all_gather(const std::string& bytes) override {
    const torch::Tensor size_column =
        gather_tensors(torch::tensor({static_cast<int64_t>(bytes.size())}, torch::kInt64))
            .reshape({-1})
            .contiguous();
    const std::vector<int64_t> sizes(size_column.data_ptr<int64_t>(),
                                     size_column.data_ptr<int64_t>() + size_column.numel());
    const int64_t longest = *std::max_element(sizes.begin(), sizes.end());
    torch::Tensor padded = torch::zeros({std::max<int64_t>(longest, 1)}, torch::kUInt8);
    std::memcpy(padded.data_ptr(), bytes.data(), bytes.size());
    const torch::Tensor gathered = gather_tensors(padded).contiguous();  // (size, longest)
    std::vector<std::string> result;
    for (int rank = 0; rank < size_; ++rank) {
      const auto* row = static_cast<const char*>(gathered[rank].data_ptr());
      result.emplace_back(row, static_cast<size_t>(sizes[static_cast<size_t>(rank)]));
    }
    return result;
  }

  void barrier() override {
    run("a barrier", [&] { return group_->barrier(); });
  }

 private:
  template <typename Start>
  c10::intrusive_ptr<c10d::Work> guarded(std::string_view during, Start start) {
    try {
      return start();
    } catch (const std::exception& error) {
      throw_group_failure(rank_, size_, during, error);
    }
  }

  template <typename Start>
  void run(std::string_view during, Start start) {
    GlooWork(guarded(during, start), rank_, size_, during).wait();
  }

  // Every rank's tensor (same shape on all), stacked by rank: (size, ...).
  torch::Tensor gather_tensors(const torch::Tensor& tensor) {
    std::vector<at::Tensor> input{tensor.contiguous()};
    std::vector<std::vector<at::Tensor>> output(1);
    for (int rank = 0; rank < size_; ++rank)
      output.front().push_back(torch::empty_like(input.front()));
    run("an all-gather", [&] { return group_->allgather(output, input); });
    return torch::stack(output.front());
  }

#if GREENTUNE_HAVE_NCCL
  // One NCCL communicator over the ranks' GPUs, made from the same store under a prefix of its own.
  void connect_nccl(const c10::intrusive_ptr<c10d::Store>& store, std::chrono::seconds timeout) {
    auto options = c10d::ProcessGroupNCCL::Options::create();
    options->timeout = timeout;
    nccl_ = c10::make_intrusive<c10d::ProcessGroupNCCL>(c10::make_intrusive<c10d::PrefixStore>("nccl", store),
                                                        rank_, size_, options);
  }

  // The NCCL group, for a tensor on a CUDA device.
  c10::intrusive_ptr<c10d::ProcessGroupNCCL>& nccl_for(const torch::Tensor& tensor) {
    if (!nccl_) {
      throw Error(ErrorCode::internal, fmt::format("rank {} of {}", rank_, size_),
                  fmt::format("a collective on {} in a group connected for the CPU", tensor.device().str()));
    }
    return nccl_;
  }

  c10::intrusive_ptr<c10d::ProcessGroupNCCL> nccl_;
#else
  void connect_nccl(const c10::intrusive_ptr<c10d::Store>&, std::chrono::seconds) {
    throw Error(ErrorCode::distributed, fmt::format("rank {} of {}", rank_, size_),
                "this greentune has no NCCL, so it cannot train across processes on CUDA GPUs",
                "build greentune with CUDA (GREENTUNE_CUDA) against a LibTorch with NCCL (the PyTorch CUDA "
                "wheels), or run data-parallel jobs with --device cpu");
  }
#endif

  int rank_, size_;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group_;
};

#endif  // GREENTUNE_HAVE_GLOO

}  // namespace

std::unique_ptr<ProcessGroup> single_process_group() {
  return std::make_unique<SingleProcessGroup>();
}

std::unique_ptr<ProcessGroup> connect_process_group(const LaunchEnvironment& launch,
                                                    std::chrono::seconds timeout, torch::Device device) {
  if (!launch.distributed())
    return single_process_group();
#if GREENTUNE_HAVE_GLOO
  return std::make_unique<GlooProcessGroup>(launch, timeout, device);
#else
  (void)timeout, (void)device;
  throw Error(ErrorCode::distributed, launch.launcher,
              "this greentune was built against a LibTorch without Gloo, so it cannot train across processes",
              "build it against a LibTorch with distributed support (Debian's libtorch-dev with "
              "libgloo-dev, or the PyTorch wheels), or run a single process");
#endif
}

}  // namespace greentune::train
