// Which process of a data-parallel run meters what: every GPU a rank computes on and every machine's CPU
// and memory exactly once; and the run's machines described as one.
#include <gtest/gtest.h>

#include "greentune/core/error.hpp"
#include "greentune/energy/ranks.hpp"

namespace greentune::energy {
namespace {

std::vector<std::string> gpus_of(const MeteringScope& scope) {
  return scope.gpu_uuids.value_or(std::vector<std::string>{"every visible GPU"});
}

TEST(AssignMetering, TwoRanksOnAMachineWithTwoGpusEachMeterTheirGpuAndRankZeroTheHost) {
  const std::vector<RankDevices> ranks = {{"node-a", {"GPU-0"}}, {"node-a", {"GPU-1"}}};
  const std::vector<MeteringScope> scopes = assign_metering(ranks);
  ASSERT_EQ(scopes.size(), 2u);
  EXPECT_TRUE(scopes[0].host);
  EXPECT_FALSE(scopes[1].host);
  EXPECT_EQ(gpus_of(scopes[0]), std::vector<std::string>{"GPU-0"});
  EXPECT_EQ(gpus_of(scopes[1]), std::vector<std::string>{"GPU-1"});
}

TEST(AssignMetering, RanksSharingAGpuMeterItOnceAndGpusNoRankUsesAreNotMetered) {
  const std::vector<RankDevices> ranks = {{"node-a", {"GPU-0"}}, {"node-a", {"GPU-0"}}};
  const std::vector<MeteringScope> scopes = assign_metering(ranks);
  EXPECT_EQ(gpus_of(scopes[0]), std::vector<std::string>{"GPU-0"});
  EXPECT_EQ(gpus_of(scopes[1]), std::vector<std::string>{});  // metered by rank 0, and not "all visible"
}

TEST(AssignMetering, EachMachineOfAMultiNodeRunIsMeteredByItsLowestRank) {
  // Two machines with two ranks each; the same GPU UUID string on two machines are two GPUs.
  const std::vector<RankDevices> ranks = {
      {"node-a", {"GPU-0"}}, {"node-a", {"GPU-1"}}, {"node-b", {"GPU-0"}}, {"node-b", {"GPU-1"}}};
  const std::vector<MeteringScope> scopes = assign_metering(ranks);
  EXPECT_EQ((std::vector<bool>{scopes[0].host, scopes[1].host, scopes[2].host, scopes[3].host}),
            (std::vector<bool>{true, false, true, false}));
  for (size_t rank = 0; rank < 4; ++rank)
    EXPECT_EQ(gpus_of(scopes[rank]).size(), 1u) << rank;
}

TEST(AssignMetering, CpuOnlyRanksMeterOnlyTheirMachinesOnce) {
  const std::vector<RankDevices> ranks = {{"node-a", {}}, {"node-a", {}}, {"node-a", {}}};
  const std::vector<MeteringScope> scopes = assign_metering(ranks);
  EXPECT_TRUE(scopes[0].host);
  EXPECT_FALSE(scopes[1].host);
  EXPECT_FALSE(scopes[2].host);
  for (const MeteringScope& scope : scopes)
    EXPECT_TRUE(gpus_of(scope).empty());
}

TEST(GpusOfLocalRank, TorchrunsConventionWithFewerGpusThanProcessesWrappingAround) {
  std::vector<GpuDevice> visible(2);
  visible[0].uuid = "GPU-0";
  visible[1].uuid = "GPU-1";
  EXPECT_EQ(gpus_of_local_rank(visible, 0), std::vector<std::string>{"GPU-0"});
  EXPECT_EQ(gpus_of_local_rank(visible, 1), std::vector<std::string>{"GPU-1"});
  EXPECT_EQ(gpus_of_local_rank(visible, 3), std::vector<std::string>{"GPU-1"});
  // SLURM giving each task its own GPU: every task sees one, at index 0.
  EXPECT_EQ(gpus_of_local_rank(std::span(visible).first(1), 5), std::vector<std::string>{"GPU-0"});
  EXPECT_TRUE(gpus_of_local_rank({}, 0).empty());
}

TEST(CombineMachines, CountsEachNodeOnceAndListsEveryMeteredGpu) {
  MachineInfo a;
  a.os = "Linux-6.1";
  a.cpu_model = "AMD EPYC 7742";
  a.cpu_count = 64;
  a.ram_total_gb = 512.0;
  a.gpus.resize(1);
  a.gpus[0].name = "NVIDIA A100";
  MachineInfo a_second_rank = a;
  a_second_rank.gpus[0].uuid = "GPU-other";
  MachineInfo b = a;
  b.cpu_model = "Intel Xeon Gold 6338";
  b.gpus.clear();
  const std::vector<NodeMachine> machines = {{"node-a", a}, {"node-a", a_second_rank}, {"node-b", b}};
  const MachineInfo combined = combine_machines(machines);
  EXPECT_EQ(combined.cpu_count, 128);  // node-a once, node-b once
  EXPECT_DOUBLE_EQ(combined.ram_total_gb, 1024.0);
  EXPECT_EQ(combined.os, "Linux-6.1");
  EXPECT_EQ(combined.cpu_model, "AMD EPYC 7742 + Intel Xeon Gold 6338");
  EXPECT_EQ(combined.gpus.size(), 2u);
}

TEST(CombineMachines, MachineInfoTravelsAsJsonUnchanged) {
  MachineInfo machine;
  machine.os = "Linux";
  machine.cpu_model = "cpu";
  machine.cpu_count = 8;
  machine.ram_total_gb = 32.5;
  machine.gpus.resize(1);
  machine.gpus[0] = {3, "NVIDIA T4", "GPU-abc", Method::nvml_power, true};
  const MachineInfo back = nlohmann::json(machine).get<MachineInfo>();
  EXPECT_EQ(back.cpu_count, 8);
  EXPECT_DOUBLE_EQ(back.ram_total_gb, 32.5);
  ASSERT_EQ(back.gpus.size(), 1u);
  EXPECT_EQ(back.gpus[0].nvml_index, 3u);
  EXPECT_EQ(back.gpus[0].uuid, "GPU-abc");
  EXPECT_EQ(back.gpus[0].method, Method::nvml_power);
  EXPECT_TRUE(back.gpus[0].mig_enabled);
  nlohmann::json bad = machine;
  bad["gpus"][0]["method"] = "guess";
  EXPECT_THROW(bad.get<MachineInfo>(), greentune::Error);
}

}  // namespace
}  // namespace greentune::energy
