#include "greentune/core/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace greentune {

unsigned resolve_thread_count(unsigned threads) {
  return threads != 0 ? threads : std::max(1u, std::thread::hardware_concurrency());
}

void parallel_for(size_t count, unsigned threads, const std::function<void(size_t index)>& work) {
  std::atomic<size_t> next_index{0};
  std::atomic<bool> failed{false};
  std::mutex failure_mutex;
  size_t failed_index = count;  // the lowest index that threw so far
  std::exception_ptr failure;
  const auto run = [&] {
    // An index taken after a failure is above every index taken before it, the failed one included, so
    // skipping it cannot hide a lower failure.
    for (size_t index = next_index++; index < count && !failed; index = next_index++) {
      try {
        work(index);
      } catch (...) {
        const std::lock_guard lock(failure_mutex);
        if (index < failed_index) {
          failed_index = index;
          failure = std::current_exception();
        }
        failed = true;
      }
    }
  };
  const size_t thread_count = std::min<size_t>(resolve_thread_count(threads), std::max<size_t>(count, 1));
  std::vector<std::jthread> helpers;
  helpers.reserve(thread_count - 1);
  for (size_t helper = 1; helper < thread_count; ++helper)
    helpers.emplace_back(run);
  run();
  helpers.clear();  // joins them
  if (failure)
    std::rethrow_exception(failure);
}

}  // namespace greentune
