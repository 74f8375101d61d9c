// `greentune train` end to end: a TOML config, flags overriding it, config errors, resume after SIGKILL.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "../model/model_test_support.hpp"
#include "test_support.hpp"

namespace greentune::testing {
namespace {

using ::testing::HasSubstr;

void write_reviews(const std::filesystem::path& path) {
  std::string text;
  for (int i = 0; i < 40; ++i) {
    text += i % 2 ? "{\"text\": \"the movie was great\", \"label\": 1}\n"
                  : "{\"text\": \"bad movie\", \"label\": 0}\n";
  }
  write_text(path, text);
}

TEST(TrainCli, ConfigFileWithFlagOverridesTrainsAndWritesTheRun) {
  TempDir dir;
  write_tiny_model_dir(dir / "model", "bert_tiny");
  write_reviews(dir / "reviews.jsonl");
  write_text(dir / "train.toml", "model = \"" + (dir / "model").string() +
                                     "\"\nmax-length = 16\nbatch-size = 4\n"
                                     "epochs = 3\nlr = 0.001\noptimizer = \"sgd\"\nlog-every = 2\n");
  const CommandResult result =
      run_cli("-q train --config '" + (dir / "train.toml").string() + "' --data '" +
              (dir / "reviews.jsonl").string() + "' --epochs 1 --threads 1 --cache-dir '" +
              (dir / "cache").string() + "' --output '" + (dir / "run").string() + "'");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("accuracy"));
  const auto config = nlohmann::json::parse(read_text(dir / "run/config.json"));
  EXPECT_EQ(config.at("epochs"), 1);         // the flag won over the file
  EXPECT_EQ(config.at("optimizer"), "sgd");  // from the file
  EXPECT_EQ(config.at("batch-size"), 4);     // from the file
  EXPECT_EQ(config.at("total-steps"), 9);    // 36 training examples (10% held out) / 4
  for (const char* file : {"metrics.jsonl", "result.json", "model/config.json", "model/model.safetensors",
                           "model/vocab.txt", "model/tokenizer_config.json"}) {
    EXPECT_TRUE(std::filesystem::exists(dir / "run" / file)) << file;
  }
}

TEST(TrainCli, OnATerminalAProgressBarIsRedrawnWithTheLogLinesAboveIt) {
  if (std::system("command -v script >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "util-linux's script (a pseudo-terminal for the command) is not installed";
  TempDir dir;
  write_tiny_model_dir(dir / "model", "bert_tiny");
  write_reviews(dir / "reviews.jsonl");
  // script gives the command a pseudo-terminal and copies what it draws to its own stdout. 40 epochs of
  // tiny steps last a few seconds: long enough for redraws every 250 ms.
  const std::string train = std::string(GREENTUNE_CLI_PATH) + " train --model " + (dir / "model").string() +
                            " --data " + (dir / "reviews.jsonl").string() +
                            " --max-length 16 --batch-size 4 --epochs 40 --log-every 100 --threads 1" +
                            " --cache-dir " + (dir / "cache").string() + " --output " +
                            (dir / "run").string();
  const std::string command =
      "script -qec '" + train + "' /dev/null </dev/null >'" + (dir / "terminal").string() + "' 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0) << read_text(dir / "terminal");
  const std::string terminal = read_text(dir / "terminal");
  EXPECT_THAT(terminal, ::testing::ContainsRegex("\r\\[#*\\.*\\] [0-9]+/360 loss [0-9.]+ [0-9.]+ samples/s "
                                                 "[0-9]+ W [0-9]+ J [0-9.]+ gCO2 ETA [0-9]+s"));
  // A log line clears the bar ("\r" ESC "[K") and takes a line of its own.
  EXPECT_THAT(terminal, HasSubstr("\r\x1b[Kstep 100/360: loss"));

  // Not on a terminal: the log lines alone.
  const CommandResult plain =
      run_cli("train --model '" + (dir / "model").string() + "' --data '" + (dir / "reviews.jsonl").string() +
              "' --max-length 16 --batch-size 4 --epochs 2 --log-every 5 --threads 1" + " --cache-dir '" +
              (dir / "cache").string() + "' --output '" + (dir / "plain").string() + "'");
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_THAT(plain.err, HasSubstr("step 5/18: loss"));
  EXPECT_THAT(plain.err, ::testing::Not(HasSubstr("\r")));
}

TEST(TrainCli, ConfigErrorsAreClear) {
  TempDir dir;
  write_tiny_model_dir(dir / "model", "bert_tiny");
  write_reviews(dir / "reviews.jsonl");
  const std::string base = "train --model '" + (dir / "model").string() + "' --data '" +
                           (dir / "reviews.jsonl").string() + "' --output '" + (dir / "run").string() + "' ";
  write_text(dir / "unknown.toml", "batch-size = 4\nlearning-rate = 0.1\n");
  const CommandResult unknown = run_cli(base + "--config '" + (dir / "unknown.toml").string() + "'");
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_THAT(unknown.err, HasSubstr("learning-rate"));

  const CommandResult zero_batch = run_cli(base + "--batch-size 0");
  EXPECT_EQ(zero_batch.exit_code, 2);
  EXPECT_THAT(zero_batch.err, HasSubstr("--batch-size"));

  const CommandResult negative_lr = run_cli(base + "--lr -0.1");
  EXPECT_EQ(negative_lr.exit_code, 2);
  EXPECT_THAT(negative_lr.err, HasSubstr("--lr"));

  const CommandResult optimizer = run_cli(base + "--optimizer lamb");
  EXPECT_EQ(optimizer.exit_code, 2);
  EXPECT_THAT(optimizer.err, HasSubstr("unknown optimizer \"lamb\""));

  const CommandResult precision = run_cli(base + "--precision int8");
  EXPECT_EQ(precision.exit_code, 2);
  EXPECT_THAT(precision.err, HasSubstr("unknown precision \"int8\""));
  EXPECT_FALSE(std::filesystem::exists(dir / "run/result.json"));
}

}  // namespace
}  // namespace greentune::testing

namespace greentune::testing {
namespace {

// metrics.jsonl without the timing and energy fields, which no two runs share.
std::vector<nlohmann::json> metrics_without_timing(const std::filesystem::path& path) {
  std::vector<nlohmann::json> rows;
  std::istringstream lines(read_text(path));
  std::string line;
  while (std::getline(lines, line)) {
    auto row = nlohmann::json::parse(line);
    for (const char* measured : {"samples_per_s", "tokens_per_s", "energy_kwh", "co2_kg", "power_w"})
      row.erase(measured);
    rows.push_back(row);
  }
  return rows;
}

// Trains once uninterrupted and once stopped by `signal` right after its first checkpoint, then resumed:
// both runs must end with the same metrics.
void expect_resumed_run_matches(int signal) {
  TempDir dir;
  write_tiny_model_dir(dir / "model", "distilbert_tiny");
  write_numbered_reviews(dir / "reviews.jsonl", 160);
  const auto arguments = [&](const std::string& output) {
    return std::vector<std::string>{GREENTUNE_CLI_PATH,
                                    "-q",
                                    "train",
                                    "--model",
                                    (dir / "model").string(),
                                    "--data",
                                    (dir / "reviews.jsonl").string(),
                                    "--cache-dir",
                                    (dir / "cache").string(),
                                    "--output",
                                    (dir / output).string(),
                                    "--max-length",
                                    "16",
                                    "--batch-size",
                                    "8",
                                    "--epochs",
                                    "8",
                                    "--lr",
                                    "0.002",
                                    "--warmup-ratio",
                                    "0.1",
                                    "--save-every",
                                    "5",
                                    "--log-every",
                                    "3",
                                    "--eval-every",
                                    "7",
                                    "--threads",
                                    "1"};
  };
  const auto spawn = spawn_quietly;
  const auto wait_for = wait_for_exit;

  const int uninterrupted = wait_for(spawn(arguments("whole")));
  ASSERT_TRUE(WIFEXITED(uninterrupted) && WEXITSTATUS(uninterrupted) == 0);

  // Kill the second run with SIGKILL as soon as its first checkpoint exists, mid-training.
  const pid_t victim = spawn(arguments("killed"));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!std::filesystem::exists(dir / "killed/checkpoint.json") &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  ASSERT_EQ(kill(victim, signal), 0);
  const int killed = wait_for(victim);
  if (signal == SIGKILL) {
    ASSERT_TRUE(WIFSIGNALED(killed)) << "the run finished before it could be killed";
  } else {  // Ctrl-C: a checkpoint, then a clean exit with status 130
    ASSERT_TRUE(WIFEXITED(killed));
    ASSERT_EQ(WEXITSTATUS(killed), 130) << "the run finished before it could be interrupted";
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "killed/result.json"));

  std::vector<std::string> resume = arguments("killed");
  resume.push_back("--resume");
  const int resumed = wait_for(spawn(resume));
  ASSERT_TRUE(WIFEXITED(resumed) && WEXITSTATUS(resumed) == 0);

  const auto whole_rows = metrics_without_timing(dir / "whole/metrics.jsonl");
  EXPECT_GT(whole_rows.size(), 20u);
  EXPECT_EQ(metrics_without_timing(dir / "killed/metrics.jsonl"), whole_rows);
  const auto whole = nlohmann::json::parse(read_text(dir / "whole/result.json"));
  const auto killed_result = nlohmann::json::parse(read_text(dir / "killed/result.json"));
  for (const char* key : {"accuracy", "f1", "eval_loss", "steps", "best", "padding_fraction"}) {
    EXPECT_EQ(killed_result.at(key), whole.at(key)) << key;
  }
}

TEST(TrainCli, ResumeAfterARealSigkillEndsWithTheSameMetrics) {
  expect_resumed_run_matches(SIGKILL);
}

TEST(TrainCli, CtrlCWritesACheckpointExits130AndResumesToTheSameMetrics) {
  expect_resumed_run_matches(SIGINT);
}

}  // namespace
}  // namespace greentune::testing
