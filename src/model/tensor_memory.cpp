#include "greentune/model/tensor_memory.hpp"

#include <c10/core/Allocator.h>
#include <c10/util/ThreadLocalDebugInfo.h>

#include <atomic>

#include "greentune/model/torch_compat.hpp"

namespace greentune::model {

// LibTorch's allocators call the memory reporter installed as the thread's profiler debug info on every
// allocation (positive size) and free (negative size) when it says profiling is on: the hook its own
// profiler uses for profile_memory=True.
class TensorMemoryTracker::Reporter final : public c10::MemoryReportingInfoBase {
 public:
  // enclosing: the reporter installed before this one (an outer tracker, LibTorch's profiler), which keeps
  // receiving every report; it outlives this one because trackers live in nested scopes.
  Reporter(c10::DeviceType device_type, c10::MemoryReportingInfoBase* enclosing)
      : device_type_(device_type), enclosing_(enclosing) {}

  void reportMemoryUsage(void* pointer, int64_t size_bytes, compat::AllocatorTotal total_allocated,
                         compat::AllocatorTotal total_reserved, c10::Device device) override {
    if (enclosing_ != nullptr && enclosing_->memoryProfilingEnabled())
      enclosing_->reportMemoryUsage(pointer, size_bytes, total_allocated, total_reserved, device);
    if (device.type() != device_type_)
      return;
    const int64_t now = current_.fetch_add(size_bytes) + size_bytes;
    int64_t peak = peak_.load();
    while (now > peak && !peak_.compare_exchange_weak(peak, now)) {
    }
  }
  bool memoryProfilingEnabled() const override { return true; }

  int64_t current() const { return current_.load(); }
  int64_t peak() const { return peak_.load(); }
  void reset_peak() { peak_.store(current_.load()); }

 private:
  c10::DeviceType device_type_;
  c10::MemoryReportingInfoBase* enclosing_;
  std::atomic<int64_t> current_{0};
  std::atomic<int64_t> peak_{0};
};

TensorMemoryTracker::TensorMemoryTracker(c10::DeviceType device_type)
    : reporter_(std::make_shared<Reporter>(
          device_type, dynamic_cast<c10::MemoryReportingInfoBase*>(
                           c10::ThreadLocalDebugInfo::get(c10::DebugInfoKind::PROFILER_STATE)))),
      guard_(std::make_unique<c10::DebugInfoGuard>(c10::DebugInfoKind::PROFILER_STATE, reporter_)) {}

TensorMemoryTracker::~TensorMemoryTracker() = default;

int64_t TensorMemoryTracker::current_bytes() const {
  return reporter_->current();
}

int64_t TensorMemoryTracker::peak_bytes() const {
  return reporter_->peak();
}

void TensorMemoryTracker::reset_peak() {
  reporter_->reset_peak();
}

}  // namespace greentune::model
