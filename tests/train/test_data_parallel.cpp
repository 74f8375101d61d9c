// Which batches of an update each rank runs: together every batch once, and W ranks with grad_accum A
// cover exactly the batches one process with grad_accum W x A does.
#include <gtest/gtest.h>

#include <algorithm>

#include "greentune/train/data_parallel.hpp"

namespace greentune::train {
namespace {

TEST(RankBatches, RanksTakeTurnsSoEveryBatchOfTheUpdateRunsOnce) {
  EXPECT_EQ(rank_batches(8, 16, 0, 4), (std::vector<size_t>{8, 12}));
  EXPECT_EQ(rank_batches(8, 16, 3, 4), (std::vector<size_t>{11, 15}));
  EXPECT_EQ(rank_batches(8, 16, 0, 1), (std::vector<size_t>{8, 9, 10, 11, 12, 13, 14, 15}));
}

TEST(RankBatches, AtTheEndOfAnEpochSomeRanksHaveFewerOrNoBatches) {
  // 34 batches, 4 ranks x grad_accum 2: the last update has batches 32 and 33 only.
  EXPECT_EQ(rank_batches(32, 34, 0, 4), (std::vector<size_t>{32}));
  EXPECT_EQ(rank_batches(32, 34, 1, 4), (std::vector<size_t>{33}));
  EXPECT_TRUE(rank_batches(32, 34, 2, 4).empty());
  EXPECT_TRUE(rank_batches(32, 34, 3, 4).empty());
}

TEST(RankBatches, AnEpochOfUpdatesCoversEachBatchExactlyOnceForAnyWorldSize) {
  const size_t batches = 37;
  for (const int world : {1, 2, 3, 4, 8}) {
    for (const size_t accum : {size_t{1}, size_t{3}}) {
      std::vector<int> runs(batches, 0);
      const size_t per_update = accum * static_cast<size_t>(world);
      for (size_t first = 0; first < batches; first += per_update) {
        for (int rank = 0; rank < world; ++rank) {
          const auto mine = rank_batches(first, std::min(first + per_update, batches), rank, world);
          EXPECT_LE(mine.size(), accum);
          for (const size_t batch : mine)
            ++runs[batch];
        }
      }
      EXPECT_TRUE(std::all_of(runs.begin(), runs.end(), [](int count) { return count == 1; }))
          << world << " ranks, grad_accum " << accum;
    }
  }
}

TEST(ProcessGroup, OneProcessIsAGroupWhoseCollectivesChangeNothing) {
  const std::unique_ptr<ProcessGroup> group =
      connect_process_group(LaunchEnvironment{}, std::chrono::seconds(1));
  EXPECT_EQ(group->rank(), 0);
  EXPECT_EQ(group->size(), 1);
  EXPECT_TRUE(group->is_root());
  torch::Tensor values = torch::tensor({1.0, 2.0});
  group->all_reduce_sum(values);
  EXPECT_TRUE(torch::equal(values, torch::tensor({1.0, 2.0})));
  std::string bytes = "abc";
  group->broadcast(bytes, 0);
  EXPECT_EQ(bytes, "abc");
  EXPECT_EQ(group->all_gather("xyz"), std::vector<std::string>{"xyz"});
}

}  // namespace
}  // namespace greentune::train
