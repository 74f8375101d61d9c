#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "greentune/core/error.hpp"
#include "greentune/core/parallel.hpp"

namespace greentune {
namespace {

using namespace std::chrono_literals;

// Blocks until `expected` calls are inside at once, or a deadline passes: whether that many ran together.
class Rendezvous {
 public:
  explicit Rendezvous(size_t expected) : expected_(expected) {}
  bool arrive_and_wait() {
    ++arrived_;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (arrived_ < expected_) {
      if (std::chrono::steady_clock::now() > deadline)
        return false;
      std::this_thread::sleep_for(1ms);
    }
    return true;
  }

 private:
  size_t expected_;
  std::atomic<size_t> arrived_{0};
};

TEST(ParallelFor, CallsEveryIndexExactlyOnce) {
  for (const unsigned threads : {1u, 3u, 8u}) {
    std::vector<std::atomic<int>> calls(100'000);
    parallel_for(calls.size(), threads, [&](size_t index) { ++calls[index]; });
    EXPECT_TRUE(std::all_of(calls.begin(), calls.end(), [](const std::atomic<int>& n) { return n == 1; }))
        << threads << " threads";
  }
}

TEST(ParallelFor, NoIndicesNoCalls) {
  bool called = false;
  parallel_for(0, 4, [&](size_t) { called = true; });
  EXPECT_FALSE(called);
}

TEST(ParallelFor, RunsThatManyThreadsAtOnceTheCallerIncluded) {
  Rendezvous all_four(4);
  std::mutex mutex;
  std::set<std::thread::id> ids;
  std::atomic<bool> together{true};
  parallel_for(4, 4, [&](size_t) {
    {
      const std::lock_guard lock(mutex);
      ids.insert(std::this_thread::get_id());
    }
    together = together && all_four.arrive_and_wait();
  });
  EXPECT_TRUE(together);
  EXPECT_EQ(ids.size(), 4u);
  EXPECT_EQ(ids.count(std::this_thread::get_id()), 1u);
}

TEST(ParallelFor, NoMoreThreadsThanIndices) {
  std::set<std::thread::id> ids;
  parallel_for(1, 8, [&](size_t) { ids.insert(std::this_thread::get_id()); });
  EXPECT_EQ(ids, std::set<std::thread::id>{std::this_thread::get_id()});
}

TEST(ParallelFor, ZeroThreadsMeansOnePerHardwareThread) {
  const unsigned hardware = std::max(1u, std::thread::hardware_concurrency());
  EXPECT_EQ(resolve_thread_count(0), hardware);
  EXPECT_EQ(resolve_thread_count(3), 3u);
  Rendezvous all(hardware);
  std::atomic<bool> together{true};
  parallel_for(hardware, 0, [&](size_t) { together = together && all.arrive_and_wait(); });
  EXPECT_TRUE(together);
}

TEST(ParallelFor, RethrowsTheErrorOfTheLowestFailingIndex) {
  // Index 1 fails late, index 2 at once: a plain loop would have stopped at index 1.
  try {
    parallel_for(100, 2, [](size_t index) {
      if (index == 1) {
        std::this_thread::sleep_for(100ms);
        throw Error(ErrorCode::parse, "input.jsonl:2", "line is not valid JSON", "fix line 2");
      }
      if (index == 2)
        throw Error(ErrorCode::io, "input.jsonl:3", "unreadable", "fix line 3");
    });
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::parse);
    EXPECT_STREQ(error.what(),
                 Error(ErrorCode::parse, "input.jsonl:2", "line is not valid JSON", "fix line 2").what());
  }
}

TEST(ParallelFor, StartsNoIndexAfterAFailure) {
  std::vector<size_t> called;
  EXPECT_THROW(parallel_for(1000, 1,
                            [&](size_t index) {
                              called.push_back(index);
                              if (index == 3)
                                throw Error(ErrorCode::internal, "test", "index 3 fails");
                            }),
               Error);
  EXPECT_EQ(called, (std::vector<size_t>{0, 1, 2, 3}));
}

}  // namespace
}  // namespace greentune
