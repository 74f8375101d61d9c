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

// A group of two whose other rank always holds what this one does: a sum doubles every tensor. Records
// when each all-reduce starts, so tests can tell whether a bucket started during backward.
class MirroredPairGroup final : public ProcessGroup {
 public:
  int rank() const override { return 0; }
  int size() const override { return 2; }
  void all_reduce_sum(torch::Tensor& tensor) override { tensor.mul_(2); }
  std::unique_ptr<PendingCollective> start_all_reduce_sum(torch::Tensor& tensor) override {
    ++started;
    struct Doubling final : PendingCollective {
      explicit Doubling(torch::Tensor tensor) : tensor_(std::move(tensor)) {}
      void wait() override { tensor_.mul_(2); }
      torch::Tensor tensor_;
    };
    return std::make_unique<Doubling>(tensor);
  }
  void broadcast(std::vector<torch::Tensor>&, int) override {}
  void broadcast(std::string&, int) override {}
  std::vector<std::string> all_gather(const std::string& bytes) override { return {bytes, bytes}; }
  void barrier() override {}
  int started = 0;
};

// Three linear layers, 4 -> 64 -> 64 -> 2: weights of 1 KiB, 16 KiB and 512 B. In buckets of 2 KiB filled
// from the last layer backwards there are two: the last layer's parameters with the 16 KiB weight (a bucket
// closes once it holds 2 KiB or more), then the first layer's.
torch::nn::Sequential small_network() {
  torch::manual_seed(7);
  return torch::nn::Sequential(torch::nn::Linear(4, 64), torch::nn::Tanh(), torch::nn::Linear(64, 64),
                               torch::nn::Tanh(), torch::nn::Linear(64, 2));
}

torch::Tensor loss_of(torch::nn::Sequential& network, int64_t seed) {
  torch::manual_seed(seed);
  return network->forward(torch::randn({8, 4})).pow(2).mean();
}

std::vector<torch::Tensor> gradients(torch::nn::Sequential& network) {
  std::vector<torch::Tensor> grads;
  for (const torch::Tensor& parameter : network->parameters())
    grads.push_back(parameter.grad().clone());
  return grads;
}

TEST(GradientReducer, BucketsStartDuringBackwardAndTheGradientsBecomeTheSumsOverRanks) {
  torch::nn::Sequential plain = small_network(), reduced = small_network();
  loss_of(plain, 1).backward();
  loss_of(plain, 2).backward();  // two micro-batches accumulated
  const std::vector<torch::Tensor> local = gradients(plain);

  MirroredPairGroup group;
  // When backward reaches the first layer, the bucket of the later layers is already on its way.
  int started_when_backward_reached_the_first_layer = -1;
  reduced->parameters()[1].register_hook(  // the first layer's bias; runs before the reducer's own hook
      [&](const torch::Tensor&) { started_when_backward_reached_the_first_layer = group.started; });
  GradientReducer reducer(group, reduced->parameters(), /*bucket_bytes=*/2048);
  loss_of(reduced, 1).backward();  // not the last micro-batch: accumulates locally, nothing starts
  EXPECT_EQ(group.started, 0);
  reducer.expect_last_backward();
  loss_of(reduced, 2).backward();
  EXPECT_EQ(started_when_backward_reached_the_first_layer, 1);
  EXPECT_EQ(group.started, 2);  // both buckets started while backward ran, none left for finish()
  const int started_in_backward = group.started;
  reducer.finish();
  EXPECT_EQ(group.started, started_in_backward);
  const std::vector<torch::Tensor> summed = gradients(reduced);
  for (size_t i = 0; i < local.size(); ++i)
    EXPECT_TRUE(torch::allclose(summed[i], 2 * local[i], 1e-6, 1e-7)) << "parameter " << i;
}

TEST(GradientReducer, ARankWithoutABatchContributesWhatItHoldsOrZeros) {
  torch::nn::Sequential network = small_network();
  MirroredPairGroup group;
  GradientReducer reducer(group, network->parameters(), 2048);
  reducer.finish();  // no backward at all in this update: zeros, still every bucket reduced
  EXPECT_EQ(group.started, 2);
  for (const torch::Tensor& grad : gradients(network))
    EXPECT_EQ(grad.abs().sum().item<double>(), 0.0);
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
