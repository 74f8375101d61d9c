// Data-parallel `greentune train`: 2 and 4 processes on loopback with Gloo, started here with the
// environment torchrun gives its processes. The loss curve equals one process's with the same global
// batch; a resumed group continues exactly; a killed rank stops the others with a clear error; the run's
// energy is one row with every GPU and the machine's CPU counted once.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#if defined(USE_DISTRIBUTED)
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif

#include "../model/model_test_support.hpp"
#include "test_support.hpp"

namespace greentune::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using Environment = std::vector<std::pair<std::string, std::string>>;

// A tiny DistilBERT, 150 numbered reviews (135 train in 34 batches of 4, the last one of 3) and the train
// flags every run here shares: no dropout unless a test adds it back, one thread per process.
class DataParallel : public ::testing::Test {
 protected:
  void SetUp() override {
#if !(defined(USE_C10D_GLOO) && __has_include(<gloo/algorithm.h>))
    GTEST_SKIP() << "this LibTorch has no Gloo (USE_C10D_GLOO and gloo's headers), so greentune cannot train "
                    "across processes: build against one that has (Debian's libtorch-dev with libgloo-dev)";
#endif
    write_tiny_model_dir(dir_ / "model", "distilbert_tiny");
    write_numbered_reviews(dir_ / "reviews.jsonl", 150);
  }

  std::vector<std::string> train_arguments(const std::string& output,
                                           std::vector<std::string> extra = {}) const {
    std::vector<std::string> arguments = {GREENTUNE_CLI_PATH,
                                          "train",
                                          "--model",
                                          (dir_ / "model").string(),
                                          "--data",
                                          (dir_ / "reviews.jsonl").string(),
                                          "--cache-dir",
                                          (dir_ / "cache").string(),
                                          "--output",
                                          (dir_ / output).string(),
                                          "--max-length",
                                          "16",
                                          "--batch-size",
                                          "4",
                                          "--lr",
                                          "0.002",
                                          "--warmup-ratio",
                                          "0.1",
                                          "--log-every",
                                          "1",
                                          "--eval-every",
                                          "5",
                                          "--threads",
                                          threads_,
                                          "--group-timeout",
                                          "60"};
    arguments.insert(arguments.end(), extra.begin(), extra.end());
    return arguments;
  }

  // Starts world processes as torchrun would (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT);
  // each writes its output to <output>-rank<r>.log. command_prefixes[r], when given, goes before rank r's
  // command (taskset, say).
  std::vector<pid_t> launch(int world, const std::string& output, const std::vector<std::string>& extra,
                            const Environment& environment = {},
                            const std::vector<std::vector<std::string>>& command_prefixes = {}) const {
    const int port = free_tcp_port();
    std::vector<pid_t> ranks;
    for (int rank = 0; rank < world; ++rank) {
      Environment rank_environment = {{"WORLD_SIZE", std::to_string(world)},
                                      {"RANK", std::to_string(rank)},
                                      {"LOCAL_RANK", std::to_string(rank)},
                                      {"MASTER_ADDR", "127.0.0.1"},
                                      {"MASTER_PORT", std::to_string(port)}};
      rank_environment.insert(rank_environment.end(), environment.begin(), environment.end());
      std::vector<std::string> command =
          command_prefixes.empty() ? std::vector<std::string>{} : command_prefixes[static_cast<size_t>(rank)];
      const std::vector<std::string> train = train_arguments(output, extra);
      command.insert(command.end(), train.begin(), train.end());
      ranks.push_back(spawn_process(command, rank_environment, log_of(output, rank)));
    }
    return ranks;
  }

  fs::path log_of(const std::string& output, int rank) const {
    return dir_ / (output + "-rank" + std::to_string(rank) + ".log");
  }

  // Waits for every rank and expects each to exit 0.
  void expect_all_succeed(const std::vector<pid_t>& ranks, const std::string& output) const {
    for (size_t rank = 0; rank < ranks.size(); ++rank) {
      const std::optional<int> status = wait_for_exit_within(ranks[rank], std::chrono::seconds(120));
      ASSERT_TRUE(status.has_value()) << "rank " << rank << " still runs";
      EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
          << "rank " << rank << ": " << read_text(log_of(output, static_cast<int>(rank)));
    }
  }

  void run_alone(const std::string& output, const std::vector<std::string>& extra) const {
    const std::optional<int> status =
        wait_for_exit_within(spawn_process(train_arguments(output, extra), {}, dir_ / (output + ".log")),
                             std::chrono::seconds(120));
    ASSERT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
        << read_text(dir_ / (output + ".log"));
  }

  std::vector<nlohmann::json> metrics(const std::string& output) const {
    std::vector<nlohmann::json> rows;
    std::istringstream lines(read_text(dir_ / output / "metrics.jsonl"));
    for (std::string line; std::getline(lines, line);)
      rows.push_back(nlohmann::json::parse(line));
    return rows;
  }

  nlohmann::json json_file(const std::string& path) const {
    return nlohmann::json::parse(read_text(dir_ / path));
  }

  // Equal to another run and right as well: the reviews are learnable ("great" vs "bad"), so a group
  // that trained from the checkpoint's weights ends near 100% (one that lost them, or two runs that both
  // never trained, would not).
  void expect_learned(const std::string& output) const {
    EXPECT_GE(json_file(output + "/result.json").at("accuracy").get<double>(), 0.95) << output;
  }

  TempDir dir_;
  std::string threads_ = "1";  // per process; "0": as many as its CPUs allow
};

const std::vector<std::string> kNoDropout = {
    "--dropout", "0", "--attention-dropout", "0", "--classifier-dropout", "0"};

std::vector<std::string> with(std::vector<std::string> flags, const std::vector<std::string>& more) {
  flags.insert(flags.end(), more.begin(), more.end());
  return flags;
}

// Equal up to the rounding of sums taken in another order (the all-reduce's).
void expect_close(double actual, double expected, const std::string& what) {
  EXPECT_NEAR(actual, expected, 1e-6 + 1e-4 * std::abs(expected)) << what;
}

TEST_F(DataParallel, TwoAndFourRanksFollowTheOneProcessLossCurveWithTheSameGlobalBatch) {
  for (const int world : {2, 4}) {
    SCOPED_TRACE(world);
    const std::string alone = "alone" + std::to_string(world), group = "group" + std::to_string(world);
    // One process accumulating world micro-batches per update = world ranks of one micro-batch each.
    run_alone(alone, with(kNoDropout, {"--epochs", "2", "--grad-accum", std::to_string(world)}));
    expect_all_succeed(launch(world, group, with(kNoDropout, {"--epochs", "2"})), group);

    const auto expected = metrics(alone), actual = metrics(group);
    ASSERT_EQ(actual.size(), expected.size());
    ASSERT_GT(expected.size(), 10u);
    for (size_t i = 0; i < expected.size(); ++i) {
      ASSERT_EQ(actual[i].at("step"), expected[i].at("step"));
      for (const char* key : {"loss", "grad_norm", "lr", "eval_loss", "accuracy", "epoch"}) {
        if (expected[i].contains(key))
          expect_close(actual[i].at(key), expected[i].at(key), "row " + std::to_string(i) + " " + key);
      }
    }
    const auto alone_result = json_file(alone + "/result.json"),
               group_result = json_file(group + "/result.json");
    EXPECT_EQ(group_result.at("world_size"), world);
    EXPECT_EQ(group_result.at("steps"), alone_result.at("steps"));
    // The updates covered the 135 training examples once per epoch (that the ranks together ran exactly
    // the one process's batches shows in the equal curves above; RankBatches' tests check the split).
    EXPECT_EQ(group_result.at("train_samples"), 270);
    EXPECT_EQ(alone_result.at("train_samples"), 270);
    EXPECT_EQ(group_result.at("ranks").size(), static_cast<size_t>(world));
    // Only rank 0 writes: one emissions row, one model.
    const std::string emissions = read_text(dir_ / group / "emissions.csv");
    EXPECT_EQ(std::count(emissions.begin(), emissions.end(), '\n'), 2);
    EXPECT_TRUE(fs::exists(dir_ / group / "model" / "model.safetensors"));
  }
}

TEST_F(DataParallel, TheFirstUpdateOfTwoRanksIsTransformersLossOnTheirBatches) {
  // Each rank's first batch is 4 copies of reference row 0: the update's loss, averaged over the ranks,
  // is the cross-entropy transformers computed for that row, so the ranks start from the checkpoint.
  const ReferenceRow reference = reference_row("distilbert_tiny", 0);
  write_vocab(dir_ / "vocab.txt", reference.vocab);
  std::string data;
  for (int i = 0; i < 12; ++i) {
    const bool row = i < 8;
    data += nlohmann::json{{"text", row ? reference.text : reference.vocab[7] + " " + reference.vocab[8]},
                           {"label", row ? reference.label : 1 - reference.label}}
                .dump() +
            "\n";
  }
  write_text(dir_ / "reviews.jsonl", data);
  const std::vector<std::string> flags = with(
      kNoDropout, {"--vocab", (dir_ / "vocab.txt").string(), "--eval-data", (dir_ / "reviews.jsonl").string(),
                   "--max-steps", "1", "--no-shuffle", "--bucketing", "none"});
  expect_all_succeed(launch(2, "group", flags), "group");
  const auto rows = metrics("group");
  ASSERT_FALSE(rows.empty());
  EXPECT_EQ(rows.front().at("step"), 1);
  EXPECT_NEAR(rows.front().at("loss").get<double>(), reference.loss(), 1e-5);
}

// A group started again onto a finished run without --resume stops on every rank at once, rank 0 saying
// why, instead of leaving the other ranks waiting for it.
TEST_F(DataParallel, ARefusedRunDirectoryStopsEveryRankAtOnce) {
  const std::vector<std::string> flags = {"--epochs", "1"};
  expect_all_succeed(launch(2, "run", flags), "run");
  const std::vector<pid_t> again = launch(2, "run", flags);
  for (size_t rank = 0; rank < again.size(); ++rank) {
    const std::optional<int> status = wait_for_exit_within(again[rank], std::chrono::seconds(60));
    ASSERT_TRUE(status.has_value()) << "rank " << rank << " still waits";
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 2) << "rank " << rank;
  }
  EXPECT_THAT(read_text(log_of("run", 0)), HasSubstr("holds a finished run already"));
  EXPECT_THAT(read_text(log_of("run", 1)), HasSubstr("rank 0: "));
}

TEST_F(DataParallel, AResumedGroupEndsWithTheMetricsOfAnUninterruptedOne) {
  // Dropout on: each rank's generator state must come back from the checkpoint too.
  const std::vector<std::string> flags = {"--epochs", "6", "--save-every", "4"};
  expect_all_succeed(launch(2, "whole", flags), "whole");

  const std::vector<pid_t> victims = launch(2, "killed", flags);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!fs::exists(dir_ / "killed/checkpoint.json") && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  for (const pid_t victim : victims)
    ASSERT_EQ(kill(victim, SIGKILL), 0);
  for (const pid_t victim : victims)
    ASSERT_TRUE(WIFSIGNALED(wait_for_exit(victim))) << "the run finished before it could be killed";
  ASSERT_FALSE(fs::exists(dir_ / "killed/result.json"));

  expect_all_succeed(launch(2, "killed", with(flags, {"--resume"})), "killed");
  const auto strip = [](std::vector<nlohmann::json> rows) {
    for (auto& row : rows) {
      for (const char* measured : {"samples_per_s", "tokens_per_s", "energy_kwh", "co2_kg", "power_w"})
        row.erase(measured);
    }
    return rows;
  };
  const auto whole = strip(metrics("whole"));
  EXPECT_GT(whole.size(), 30u);
  EXPECT_EQ(strip(metrics("killed")), whole);
  EXPECT_THAT(read_text(log_of("killed", 0)), HasSubstr("resumed from the checkpoint"));
  for (const char* key : {"accuracy", "eval_loss", "steps", "best", "train_samples"})
    EXPECT_EQ(json_file("killed/result.json").at(key), json_file("whole/result.json").at(key)) << key;
  expect_learned("whole");
}

TEST_F(DataParallel, CtrlCOnOneRankStopsTheGroupWithACheckpointAndTheResumedGroupEndsTheSame) {
  const std::vector<std::string> flags = {"--epochs", "6"};
  expect_all_succeed(launch(2, "whole", flags), "whole");

  const std::vector<pid_t> ranks = launch(2, "stopped", flags);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!fs::exists(dir_ / "stopped/metrics.jsonl") && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  ASSERT_EQ(kill(ranks[1], SIGINT), 0);  // only rank 1 hears it: the group agrees at the next update
  for (int rank = 0; rank < 2; ++rank) {
    const std::optional<int> status =
        wait_for_exit_within(ranks[static_cast<size_t>(rank)], std::chrono::seconds(60));
    ASSERT_TRUE(status && WIFEXITED(*status)) << "rank " << rank;
    ASSERT_EQ(WEXITSTATUS(*status), 130)
        << "the run finished before it could be interrupted: " << read_text(log_of("stopped", rank));
  }
  EXPECT_TRUE(fs::exists(dir_ / "stopped/checkpoint.json"));
  EXPECT_FALSE(fs::exists(dir_ / "stopped/result.json"));

  expect_all_succeed(launch(2, "stopped", with(flags, {"--resume"})), "stopped");
  for (const char* key : {"accuracy", "eval_loss", "steps", "best", "train_samples"})
    EXPECT_EQ(json_file("stopped/result.json").at(key), json_file("whole/result.json").at(key)) << key;
  expect_learned("whole");
}

TEST_F(DataParallel, AKilledRankMakesTheOthersExitWithAClearErrorInsteadOfWaiting) {
  const std::vector<pid_t> ranks = launch(4, "run", with(kNoDropout, {"--epochs", "500"}));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!fs::exists(dir_ / "run/metrics.jsonl") && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_TRUE(fs::exists(dir_ / "run/metrics.jsonl")) << read_text(log_of("run", 0));
  ASSERT_EQ(kill(ranks[2], SIGKILL), 0);
  ASSERT_TRUE(WIFSIGNALED(wait_for_exit(ranks[2])));
  // Well within --group-timeout (60 s): the others see the closed connections at once.
  for (const int rank : {0, 1, 3}) {
    const std::optional<int> status =
        wait_for_exit_within(ranks[static_cast<size_t>(rank)], std::chrono::seconds(30));
    ASSERT_TRUE(status.has_value()) << "rank " << rank << " still waits";
    ASSERT_TRUE(WIFEXITED(*status));
    EXPECT_EQ(WEXITSTATUS(*status), 9) << read_text(log_of("run", rank));  // ErrorCode::distributed
    const std::string log = read_text(log_of("run", rank));
    EXPECT_THAT(log, HasSubstr("error [distributed]"));
    EXPECT_THAT(log, HasSubstr("the data-parallel group failed"));
    EXPECT_THAT(log, HasSubstr("--resume"));
  }
  EXPECT_FALSE(fs::exists(dir_ / "run/result.json"));
}

// With --prometheus-pushgateway each rank also pushes its own share to a real Pushgateway (where one is
// installed), and the ranks' groups sum to the run's energy.
TEST_F(DataParallel, EnergyIsOneRowWithEveryGpuAndTheMachinesCpuCountedOnce) {
  fs::create_directories(dir_ / "powercap");  // no RAPL: the CPU's TDP x utilization model, never zero
  const Environment fake_machine = {{"GREENTUNE_NVML_LIB", GREENTUNE_FAKE_NVML_PATH},
                                    {"GREENTUNE_POWERCAP_ROOT", (dir_ / "powercap").string()}};
  const PushgatewayServer pushgateway;
  std::vector<std::string> flags = with(kNoDropout, {"--epochs", "1"});
  if (pushgateway.running())
    flags = with(flags, {"--prometheus-pushgateway", pushgateway.url()});
  expect_all_succeed(launch(2, "two-gpus", flags, fake_machine), "two-gpus");

  // One emissions row for the run, with both GPUs.
  const std::string emissions = read_text(dir_ / "two-gpus/emissions.csv");
  ASSERT_EQ(std::count(emissions.begin(), emissions.end(), '\n'), 2);
  EXPECT_THAT(emissions, HasSubstr("1 x Fake A100 + 1 x Fake T4 (Turing)"));
  const auto energy = json_file("two-gpus/energy.json");
  // Rank r meters GPU r (its LOCAL_RANK); rank 0 alone meters the machine's CPU and memory.
  ASSERT_EQ(energy.at("gpus").size(), 2u);
  EXPECT_EQ(energy.at("gpus")[0].at("rank"), 0);
  EXPECT_EQ(energy.at("gpus")[0].at("uuid"), "GPU-8f3a1c2e-5b6d-4e7f-8091-a2b3c4d5e6f7");
  EXPECT_EQ(energy.at("gpus")[1].at("rank"), 1);
  EXPECT_EQ(energy.at("gpus")[1].at("uuid"), "GPU-8f3b9d10-1a2b-4c3d-9e4f-5a6b7c8d9e0f");
  EXPECT_GT(energy.at("gpus")[1].at("joules").get<double>(), 0.0);  // 70 W, integrated
  const auto& ranks = energy.at("ranks");
  ASSERT_EQ(ranks.size(), 2u);
  EXPECT_TRUE(ranks[0].at("metered_host").get<bool>());
  EXPECT_FALSE(ranks[1].at("metered_host").get<bool>());
  const double rank0_cpu_j = ranks[0].at("totals").at("cpu_j");
  EXPECT_GT(rank0_cpu_j, 0.0);
  EXPECT_EQ(ranks[1].at("totals").at("cpu_j").get<double>(), 0.0);
  EXPECT_EQ(ranks[1].at("totals").at("ram_j").get<double>(), 0.0);
  ASSERT_EQ(energy.at("nodes").size(), 1u);
  EXPECT_EQ(energy.at("nodes")[0].at("ranks"), nlohmann::json({0, 1}));
  // The run's totals are the ranks' sums, and result.json agrees.
  const auto& totals = energy.at("totals");
  EXPECT_DOUBLE_EQ(totals.at("cpu_j").get<double>(), rank0_cpu_j);
  EXPECT_NEAR(
      totals.at("gpu_j").get<double>(),
      energy.at("gpus")[0].at("joules").get<double>() + energy.at("gpus")[1].at("joules").get<double>(),
      1e-9);
  EXPECT_NEAR(json_file("two-gpus/result.json").at("energy_kwh").get<double>(),
              totals.at("total_j").get<double>() / 3.6e6, 1e-15);
  if (pushgateway.running()) {
    double pushed_total_j = 0.0;
    std::set<std::string> pushed_ranks;
    for (const auto& [labels, joules] : pushgateway.samples("greentune_energy_joules")) {
      if (labels.find("component=\"total\"") == std::string::npos)
        continue;
      EXPECT_THAT(labels, HasSubstr("job=\"greentune\""));
      EXPECT_THAT(labels, HasSubstr("run=\"two-gpus\""));
      pushed_ranks.insert(labels.substr(labels.find("rank=")));
      pushed_total_j += joules;
    }
    EXPECT_EQ(pushed_ranks.size(), 2u);
    EXPECT_NEAR(pushed_total_j, totals.at("total_j").get<double>(), 1e-9 * pushed_total_j);
    const auto gpu = pushgateway.samples("greentune_energy_joules");
    const auto rank1_gpu = std::find_if(gpu.begin(), gpu.end(), [](const auto& sample) {
      return sample.first.find("component=\"gpu\"") != std::string::npos &&
             sample.first.find("rank=\"1\"") != std::string::npos;
    });
    ASSERT_NE(rank1_gpu, gpu.end());
    EXPECT_NEAR(rank1_gpu->second, energy.at("gpus")[1].at("joules").get<double>(), 1e-9 * rank1_gpu->second);
    // Progress: both ranks pushed the run's last update.
    for (const auto& [labels, step] : pushgateway.samples("greentune_progress_ratio"))
      EXPECT_EQ(step, 1.0) << labels;
  }

  // Two ranks sharing one GPU: it is metered once, by rank 0.
  Environment one_gpu = fake_machine;
  one_gpu.push_back({"CUDA_VISIBLE_DEVICES", "1"});
  expect_all_succeed(launch(2, "one-gpu", with(kNoDropout, {"--epochs", "1"}), one_gpu), "one-gpu");
  const auto shared = json_file("one-gpu/energy.json");
  ASSERT_EQ(shared.at("gpus").size(), 1u);
  EXPECT_EQ(shared.at("gpus")[0].at("rank"), 0);
  EXPECT_EQ(shared.at("ranks")[1].at("machine").at("gpus").size(), 0u);
  EXPECT_THAT(read_text(dir_ / "one-gpu/emissions.csv"), HasSubstr(",1,1 x Fake T4 (Turing),"));
}

#if defined(USE_DISTRIBUTED)
// torchrun's agent serves the rendezvous store itself and tells its workers so
// (TORCHELASTIC_USE_AGENT_STORE): here this test plays the agent.
TEST_F(DataParallel, UnderTorchrunsAgentStoreTheRanksMeetThere) {
  const int port = free_tcp_port();
  c10d::TCPStoreOptions options;
  options.port = static_cast<uint16_t>(port);
  options.isServer = true;
  options.waitWorkers = false;
  const auto agent_store = c10::make_intrusive<c10d::TCPStore>("127.0.0.1", options);
  const int port_in_use = agent_store->getPort();
  std::vector<pid_t> ranks;
  for (int rank = 0; rank < 2; ++rank) {
    const Environment environment = {{"WORLD_SIZE", "2"},
                                     {"RANK", std::to_string(rank)},
                                     {"LOCAL_RANK", std::to_string(rank)},
                                     {"MASTER_ADDR", "127.0.0.1"},
                                     {"MASTER_PORT", std::to_string(port_in_use)},
                                     {"TORCHELASTIC_USE_AGENT_STORE", "True"},
                                     {"TORCHELASTIC_RESTART_COUNT", "0"}};
    ranks.push_back(spawn_process(train_arguments("agent", with(kNoDropout, {"--epochs", "1"})), environment,
                                  log_of("agent", rank)));
  }
  expect_all_succeed(ranks, "agent");
  EXPECT_EQ(json_file("agent/result.json").at("world_size"), 2);
}
#endif

// Without --threads, processes allowed on the same CPUs (as torchrun starts them) split those CPUs, and a
// process pinned to CPUs of its own (SLURM's --cpus-per-task) keeps them all.
TEST_F(DataParallel, RanksSplitTheCpusTheyShareAndKeepTheCpusTheyAreGivenAlone) {
  cpu_set_t mask;
  CPU_ZERO(&mask);
  ASSERT_EQ(sched_getaffinity(0, sizeof(mask), &mask), 0);
  std::vector<int> cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &mask))
      cpus.push_back(cpu);
  }
  if (cpus.size() < 2 || !fs::exists("/usr/bin/taskset"))
    GTEST_SKIP() << "needs 2 CPUs and util-linux's taskset";
  const std::vector<std::string> train_flags = with(kNoDropout, {"--epochs", "1"});
  threads_ = "0";
  const auto threads_of_ranks = [&](const std::string& output) {
    std::vector<int> threads;
    const nlohmann::json result = json_file(output + "/result.json");
    for (const auto& rank : result.at("ranks"))
      threads.push_back(rank.at("threads"));
    return threads;
  };
  const int shared_share = std::max(1, static_cast<int>(cpus.size()) / 2);
  expect_all_succeed(launch(2, "shared", train_flags, {}, {}), "shared");
  EXPECT_EQ(threads_of_ranks("shared"), (std::vector<int>{shared_share, shared_share}));

  const std::string both = std::to_string(cpus[0]) + "," + std::to_string(cpus[1]);
  expect_all_succeed(
      launch(2, "pinned", train_flags, {},
             {{"/usr/bin/taskset", "-c", both}, {"/usr/bin/taskset", "-c", std::to_string(cpus[0])}}),
      "pinned");
  EXPECT_EQ(threads_of_ranks("pinned"), (std::vector<int>{2, 1}));
}

// Open MPI's own launcher, rather than its variables set by hand.
TEST_F(DataParallel, MpirunStartsARunOfTwoRanks) {
  if (std::system("mpirun --version > /dev/null 2>&1") != 0)
    GTEST_SKIP() << "mpirun is not installed (scripts/setup.sh installs Debian's openmpi-bin)";
  std::string command = "mpirun --allow-run-as-root --oversubscribe -np 2";
  for (const std::string& argument : train_arguments("mpi", with(kNoDropout, {"--epochs", "1"})))
    command += " '" + argument + "'";
  command += " > '" + (dir_ / "mpi.log").string() + "' 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0) << read_text(dir_ / "mpi.log");
  const auto result = json_file("mpi/result.json");
  EXPECT_EQ(result.at("world_size"), 2);
  EXPECT_EQ(result.at("train_samples"), 135);
}

TEST(DataParallelStudy, AStudyRefusesToRunAsARankAndSaysHowToSpreadIt) {
  TempDir dir;
  write_text(dir / "study.toml", "name = \"tiny\"\nseeds = [1]\n[base]\nepochs = 1\n");
  const CommandResult result =
      run_cli("study '" + (dir / "study.toml").string() + "'", "",
              "WORLD_SIZE=2 RANK=1 LOCAL_RANK=1 MASTER_ADDR=127.0.0.1 MASTER_PORT=29500");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("greentune study runs as one process"));
  EXPECT_THAT(result.err, HasSubstr("--shard"));
}

}  // namespace
}  // namespace greentune::testing
