#include <gtest/gtest.h>

#include <map>
#include <string>

#include "greentune/core/error.hpp"
#include "greentune/train/launch.hpp"

namespace greentune::train {
namespace {

// A lookup over a fixed map, so no test reads or changes the real environment.
EnvironmentLookup lookup_in(std::map<std::string, std::string> variables) {
  return [variables = std::move(variables)](const std::string& name) -> std::optional<std::string> {
    const auto found = variables.find(name);
    if (found == variables.end()) {
      return std::nullopt;
    }
    return found->second;
  };
}

// The Error that reading the variables throws; fails the test when nothing is thrown.
Error launch_error(std::map<std::string, std::string> variables) {
  try {
    read_launch_environment(lookup_in(std::move(variables)));
  } catch (const Error& error) {
    return error;
  }
  ADD_FAILURE() << "read_launch_environment did not throw";
  return Error(ErrorCode::internal, "", "no error");
}

void expect_parse_error(std::string_view nodelist) {
  try {
    first_slurm_host(nodelist);
    ADD_FAILURE() << "\"" << nodelist << "\" was accepted";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::parse) << nodelist;
  }
}

TEST(Launch, NoLauncherIsOneProcess) {
  const LaunchEnvironment launch = read_launch_environment(lookup_in({{"HOME", "/root"}}));
  EXPECT_EQ(launch.launcher, "");
  EXPECT_EQ(launch.rank, 0);
  EXPECT_EQ(launch.world_size, 1);
  EXPECT_EQ(launch.local_rank, 0);
  EXPECT_EQ(launch.master_addr, "");
  EXPECT_EQ(launch.master_port, 0);
  EXPECT_EQ(launch.note, "");
  EXPECT_FALSE(launch.distributed());
}

TEST(Launch, TorchrunTwoProcesses) {
  const LaunchEnvironment launch = read_launch_environment(lookup_in({{"WORLD_SIZE", "2"},
                                                                      {"RANK", "1"},
                                                                      {"LOCAL_RANK", "1"},
                                                                      {"MASTER_ADDR", "10.0.0.5"},
                                                                      {"MASTER_PORT", "29400"}}));
  EXPECT_EQ(launch.launcher, "torchrun");
  EXPECT_EQ(launch.world_size, 2);
  EXPECT_EQ(launch.rank, 1);
  EXPECT_EQ(launch.local_rank, 1);
  EXPECT_EQ(launch.master_addr, "10.0.0.5");
  EXPECT_EQ(launch.master_port, 29400);
  EXPECT_EQ(launch.store_prefix, "");  // rank 0 serves the rendezvous store
  EXPECT_TRUE(launch.distributed());
}

TEST(Launch, UnderTorchrunsAgentTheRanksUseItsStoreUnderTheAttemptsPrefix) {
  const LaunchEnvironment launch =
      read_launch_environment(lookup_in({{"WORLD_SIZE", "2"},
                                         {"RANK", "0"},
                                         {"LOCAL_RANK", "0"},
                                         {"MASTER_ADDR", "127.0.0.1"},
                                         {"MASTER_PORT", "29500"},
                                         {"TORCHELASTIC_USE_AGENT_STORE", "True"},
                                         {"TORCHELASTIC_RESTART_COUNT", "2"}}));
  EXPECT_EQ(launch.store_prefix, "/worker/attempt_2");
}

TEST(Launch, TorchrunSingleProcessNeedsOnlyWorldSizeAndRank) {
  const LaunchEnvironment launch = read_launch_environment(lookup_in({{"WORLD_SIZE", "1"}, {"RANK", "0"}}));
  EXPECT_EQ(launch.launcher, "torchrun");
  EXPECT_EQ(launch.world_size, 1);
  EXPECT_EQ(launch.rank, 0);
  EXPECT_EQ(launch.local_rank, 0);
  EXPECT_EQ(launch.master_addr, "");
  EXPECT_EQ(launch.master_port, 0);
  EXPECT_FALSE(launch.distributed());
}

TEST(Launch, TorchrunMissingMasterPortIsNamed) {
  const Error error =
      launch_error({{"WORLD_SIZE", "2"}, {"RANK", "0"}, {"LOCAL_RANK", "0"}, {"MASTER_ADDR", "10.0.0.5"}});
  EXPECT_EQ(error.code(), ErrorCode::usage);
  EXPECT_EQ(error.where(), "environment variable MASTER_PORT");
  EXPECT_NE(std::string(error.what()).find("torchrun sets MASTER_PORT"), std::string::npos) << error.what();
  EXPECT_NE(std::string(error.what()).find("29500"), std::string::npos) << error.what();
}

TEST(Launch, EmptyValueCountsAsUnset) {
  const Error error = launch_error({{"WORLD_SIZE", "2"},
                                    {"RANK", "0"},
                                    {"LOCAL_RANK", "0"},
                                    {"MASTER_ADDR", ""},
                                    {"MASTER_PORT", "29500"}});
  EXPECT_EQ(error.where(), "environment variable MASTER_ADDR");
  EXPECT_NE(std::string(error.what()).find("MASTER_ADDR is not set"), std::string::npos) << error.what();
}

TEST(Launch, RankAtOrAboveWorldSizeIsAnError) {
  const Error error = launch_error({{"WORLD_SIZE", "2"},
                                    {"RANK", "2"},
                                    {"LOCAL_RANK", "0"},
                                    {"MASTER_ADDR", "10.0.0.5"},
                                    {"MASTER_PORT", "29500"}});
  EXPECT_EQ(error.code(), ErrorCode::usage);
  EXPECT_EQ(error.where(), "environment variable RANK");
  EXPECT_NE(std::string(error.what()).find("from 0 to 1"), std::string::npos) << error.what();
}

TEST(Launch, NonNumericValuesNameTheirVariable) {
  const Error world = launch_error({{"WORLD_SIZE", "2x"}, {"RANK", "0"}});
  EXPECT_EQ(world.code(), ErrorCode::usage);
  EXPECT_EQ(world.where(), "environment variable WORLD_SIZE");
  EXPECT_NE(std::string(world.what()).find("\"2x\""), std::string::npos) << world.what();

  const Error port = launch_error({{"WORLD_SIZE", "2"},
                                   {"RANK", "0"},
                                   {"LOCAL_RANK", "0"},
                                   {"MASTER_ADDR", "h"},
                                   {"MASTER_PORT", "70000"}});
  EXPECT_EQ(port.where(), "environment variable MASTER_PORT");
  EXPECT_EQ(launch_error({{"WORLD_SIZE", "0"}, {"RANK", "0"}}).where(), "environment variable WORLD_SIZE");
  EXPECT_EQ(launch_error({{"OMPI_COMM_WORLD_SIZE", "2"},
                          {"OMPI_COMM_WORLD_RANK", "0"},
                          {"OMPI_COMM_WORLD_LOCAL_RANK", "-1"},
                          {"OMPI_COMM_WORLD_LOCAL_SIZE", "2"}})
                .where(),
            "environment variable OMPI_COMM_WORLD_LOCAL_RANK");
}

TEST(Launch, MpirunOnOneMachineDefaultsToLoopback) {
  const LaunchEnvironment launch = read_launch_environment(lookup_in({{"OMPI_COMM_WORLD_SIZE", "4"},
                                                                      {"OMPI_COMM_WORLD_RANK", "3"},
                                                                      {"OMPI_COMM_WORLD_LOCAL_RANK", "3"},
                                                                      {"OMPI_COMM_WORLD_LOCAL_SIZE", "4"}}));
  EXPECT_EQ(launch.launcher, "mpirun");
  EXPECT_EQ(launch.world_size, 4);
  EXPECT_EQ(launch.rank, 3);
  EXPECT_EQ(launch.local_rank, 3);
  EXPECT_EQ(launch.master_addr, "127.0.0.1");
  EXPECT_EQ(launch.master_port, 29500);
  EXPECT_TRUE(launch.distributed());
}

TEST(Launch, MpirunAcrossMachinesUsesGivenMasterAddr) {
  const LaunchEnvironment launch = read_launch_environment(lookup_in({{"OMPI_COMM_WORLD_SIZE", "8"},
                                                                      {"OMPI_COMM_WORLD_RANK", "5"},
                                                                      {"OMPI_COMM_WORLD_LOCAL_RANK", "1"},
                                                                      {"OMPI_COMM_WORLD_LOCAL_SIZE", "4"},
                                                                      {"MASTER_ADDR", "node01"},
                                                                      {"MASTER_PORT", "23456"}}));
  EXPECT_EQ(launch.launcher, "mpirun");
  EXPECT_EQ(launch.world_size, 8);
  EXPECT_EQ(launch.rank, 5);
  EXPECT_EQ(launch.local_rank, 1);
  EXPECT_EQ(launch.master_addr, "node01");
  EXPECT_EQ(launch.master_port, 23456);
}

TEST(Launch, MpirunAcrossMachinesWithoutMasterAddrSaysHowToPassIt) {
  const Error error = launch_error({{"OMPI_COMM_WORLD_SIZE", "8"},
                                    {"OMPI_COMM_WORLD_RANK", "0"},
                                    {"OMPI_COMM_WORLD_LOCAL_RANK", "0"},
                                    {"OMPI_COMM_WORLD_LOCAL_SIZE", "4"}});
  EXPECT_EQ(error.code(), ErrorCode::usage);
  EXPECT_EQ(error.where(), "environment variable MASTER_ADDR");
  EXPECT_NE(std::string(error.what()).find("mpirun -x MASTER_ADDR=<first host> -x MASTER_PORT=29500"),
            std::string::npos)
      << error.what();
}

TEST(Launch, SrunTaskReadsStepTasksAndNodelist) {
  const LaunchEnvironment launch =
      read_launch_environment(lookup_in({{"SLURM_PROCID", "5"},
                                         {"SLURM_STEP_ID", "0"},
                                         {"SLURM_LOCALID", "1"},
                                         {"SLURM_NTASKS", "16"},
                                         {"SLURM_STEP_NUM_TASKS", "8"},
                                         {"SLURM_JOB_NODELIST", "big[01-08]"},
                                         {"SLURM_STEP_NODELIST", "gpu[03-06]"}}));
  EXPECT_EQ(launch.launcher, "srun");
  EXPECT_EQ(launch.world_size, 8);
  EXPECT_EQ(launch.rank, 5);
  EXPECT_EQ(launch.local_rank, 1);
  EXPECT_EQ(launch.master_addr, "gpu03");
  EXPECT_EQ(launch.master_port, 29500);  // no SLURM_JOB_ID
  EXPECT_TRUE(launch.distributed());
}

TEST(Launch, SrunPortComesFromTheJobId) {
  const LaunchEnvironment launch = read_launch_environment(lookup_in({{"SLURM_PROCID", "0"},
                                                                      {"SLURM_STEPID", "2"},
                                                                      {"SLURM_LOCALID", "0"},
                                                                      {"SLURM_NTASKS", "4"},
                                                                      {"SLURM_JOB_NODELIST", "node7,node9"},
                                                                      {"SLURM_JOB_ID", "1234567"}}));
  EXPECT_EQ(launch.launcher, "srun");
  EXPECT_EQ(launch.world_size, 4);
  EXPECT_EQ(launch.master_addr, "node7");
  EXPECT_EQ(launch.master_port, 15000 + 4567);
}

TEST(Launch, SrunWithoutNodelistOrMasterAddrIsAnError) {
  const Error error = launch_error(
      {{"SLURM_PROCID", "0"}, {"SLURM_STEP_ID", "0"}, {"SLURM_LOCALID", "0"}, {"SLURM_NTASKS", "2"}});
  EXPECT_EQ(error.code(), ErrorCode::usage);
  EXPECT_EQ(error.where(), "environment variable SLURM_JOB_NODELIST");
}

TEST(Launch, SlurmBatchShellRunsAloneWithANote) {
  const LaunchEnvironment launch = read_launch_environment(lookup_in({{"SLURM_PROCID", "0"},
                                                                      {"SLURM_LOCALID", "0"},
                                                                      {"SLURM_NTASKS", "4"},
                                                                      {"SLURM_JOB_ID", "42"},
                                                                      {"SLURM_JOB_NODELIST", "node[1-2]"}}));
  EXPECT_EQ(launch.launcher, "");
  EXPECT_EQ(launch.world_size, 1);
  EXPECT_EQ(launch.rank, 0);
  EXPECT_FALSE(launch.distributed());
  EXPECT_NE(launch.note.find("SLURM_NTASKS=4"), std::string::npos) << launch.note;
  EXPECT_NE(launch.note.find("srun greentune train"), std::string::npos) << launch.note;
}

TEST(Launch, TorchrunWinsOverSlurmVariables) {
  const LaunchEnvironment launch = read_launch_environment(lookup_in({{"WORLD_SIZE", "2"},
                                                                      {"RANK", "1"},
                                                                      {"LOCAL_RANK", "1"},
                                                                      {"MASTER_ADDR", "10.0.0.5"},
                                                                      {"MASTER_PORT", "29400"},
                                                                      {"SLURM_PROCID", "0"},
                                                                      {"SLURM_STEP_ID", "0"},
                                                                      {"SLURM_LOCALID", "0"},
                                                                      {"SLURM_NTASKS", "1"},
                                                                      {"SLURM_JOB_NODELIST", "node1"}}));
  EXPECT_EQ(launch.launcher, "torchrun");
  EXPECT_EQ(launch.world_size, 2);
  EXPECT_EQ(launch.rank, 1);
  EXPECT_EQ(launch.master_addr, "10.0.0.5");
  EXPECT_EQ(launch.note, "");
}

TEST(SlurmHostlist, FirstHost) {
  EXPECT_EQ(first_slurm_host("node[01-04,07],gpu5"), "node01");
  EXPECT_EQ(first_slurm_host("gpu5"), "gpu5");
  EXPECT_EQ(first_slurm_host("rack[1-2]-n[5-6]"), "rack1-n5");
  EXPECT_EQ(first_slurm_host("a-b-c"), "a-b-c");
  EXPECT_EQ(first_slurm_host("n[3]"), "n3");
  EXPECT_EQ(first_slurm_host("x[007-009]"), "x007");
  EXPECT_EQ(first_slurm_host("gpu5,node[01-02]"), "gpu5");
}

TEST(SlurmHostlist, MalformedListsAreParseErrors) {
  expect_parse_error("node[01-");
  expect_parse_error("");
  expect_parse_error("node[]");
  expect_parse_error("node01]");
  expect_parse_error("node[1-[2]]");
  expect_parse_error("node[1-]");
  expect_parse_error("node[4-2]");
  expect_parse_error("node[1,,2]");
  expect_parse_error("a,,b");
  expect_parse_error("a,");
  expect_parse_error("gpu5,node[01-");  // a fault after the first host is still a fault
}

TEST(SlurmHostlist, MalformedNodelistInTheEnvironmentIsAUsageErrorNamingIt) {
  const Error error = launch_error({{"SLURM_PROCID", "0"},
                                    {"SLURM_STEP_ID", "0"},
                                    {"SLURM_LOCALID", "0"},
                                    {"SLURM_NTASKS", "2"},
                                    {"SLURM_STEP_NODELIST", "node[01-"}});
  EXPECT_EQ(error.code(), ErrorCode::usage);
  EXPECT_EQ(error.where(), "environment variable SLURM_STEP_NODELIST");
}

}  // namespace
}  // namespace greentune::train
