#pragma once
// Bytes of live tensors as LibTorch's allocators report them: what torch.cuda.max_memory_allocated gives on
// a GPU, here on the CPU too, where the process's resident set hides tensor memory behind malloc's caching.

#include <torch/torch.h>

#include <cstdint>
#include <memory>

namespace greentune::model {

// While it exists, counts the tensor bytes allocated and freed on device_type by this thread and by the
// threads LibTorch hands its work to (autograd's device threads). Counts start at 0 when tracking starts:
// memory allocated before is not seen, so create the tracker before the tensors of interest exist.
// Trackers nest: an enclosing tracker (or LibTorch's memory profiler) goes on counting inside an inner one.
class TensorMemoryTracker {
 public:
  explicit TensorMemoryTracker(c10::DeviceType device_type = c10::DeviceType::CPU);
  ~TensorMemoryTracker();
  TensorMemoryTracker(const TensorMemoryTracker&) = delete;
  TensorMemoryTracker& operator=(const TensorMemoryTracker&) = delete;

  int64_t current_bytes() const;
  int64_t peak_bytes() const;  // since construction or the last reset_peak()
  void reset_peak();           // peak := current

 private:
  class Reporter;
  std::shared_ptr<Reporter> reporter_;
  std::unique_ptr<c10::DebugInfoGuard> guard_;
};

}  // namespace greentune::model
