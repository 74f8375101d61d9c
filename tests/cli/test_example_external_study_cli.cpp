// The shipped example study with an external variant (configs/demo-external.toml), shrunk by --set: the
// PyTorch-Python script bench/python/finetune.py runs beside greentune's own runs on the real IMDB tarball,
// with Python's PyTorch (Debian's python3-torch, which scripts/setup.sh installs).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "test_support.hpp"

namespace greentune::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// A python3 that imports torch: the one on PATH, else Debian's; nullopt when neither does.
std::optional<std::string> python_with_torch() {
  for (const std::string candidate : {"python3", "/usr/bin/python3"}) {
    const std::string probe = candidate + " -c 'import torch' >/dev/null 2>&1";
    if (std::system(probe.c_str()) == 0)
      return candidate;
  }
  return std::nullopt;
}

TEST(ExampleExternalStudy, ThePythonScriptsAllResultsSitBesideGreentunesRunsOnTheSameReviews) {
  GREENTUNE_REQUIRE_SHARED(shared);
  const fs::path imdb = shared / "data/imdb/aclImdb_v1_labeled.tar.gz";
  const fs::path vocab = shared / "data/vocab/bert-base-uncased-vocab.txt";
  if (!fs::exists(imdb) || !fs::exists(vocab))
    GTEST_SKIP() << "needs " << imdb << " and " << vocab;
  const std::optional<std::string> python = python_with_torch();
  if (!python)
    GTEST_SKIP() << "no python3 imports torch: run scripts/setup.sh (it installs Debian's python3-torch)";

  TempDir dir;
  // The study's command says "python3": the one with torch comes first on PATH.
  fs::create_directories(dir / "bin");
  const std::string resolved = python->front() == '/' ? *python : "$(command -v " + *python + ")";
  ASSERT_EQ(std::system(("ln -s \"" + resolved + "\" '" + (dir / "bin/python3").string() + "'").c_str()), 0);
  const fs::path root = test_data_dir().parent_path().parent_path();
  // Its paths (the script, configs/demo-model) are relative to the checkout's root, where the study starts.
  const std::string in_root = "cd '" + root.string() + "' && PATH='" + (dir / "bin").string() + "':\"$PATH\"";
  const std::string command = "-q study configs/demo-external.toml --output '" + (dir / "out").string() +
                              "' --set data='" + imdb.string() + "' --set vocab='" + vocab.string() +
                              "' --set cache-dir='" + (dir / "cache").string() +
                              "' --set max-train-examples=80 --set max-test-examples=40 --set max-length=32"
                              " --set batch-size=8 --set threads=1";
  const CommandResult result = run_cli(command, {}, in_root);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("6 trained now, 0 already done, 0 failed"));

  const auto results = nlohmann::json::parse(read_text(dir / "out/results.json"));
  ASSERT_EQ(results.at("runs").size(), 6u);
  size_t scripts = 0;
  for (const auto& run : results.at("runs")) {
    ASSERT_EQ(run.at("status"), "done") << run.dump();
    const auto& metrics = run.at("result");
    // Both trained on the 72 of the 80 drawn reviews that a 0.1 validation fraction leaves, and validated
    // on the other 8.
    EXPECT_EQ(metrics.at("train_samples"), 72) << run.at("variant");
    EXPECT_EQ(metrics.at("n"), 8) << run.at("variant");
    EXPECT_TRUE(metrics.at("test_accuracy").is_number()) << run.at("variant");
    if (run.at("variant") != "pytorch-python")
      continue;
    ++scripts;
    const fs::path run_dir = dir / "out" / run.at("run_dir").get<std::string>();
    const auto written = nlohmann::json::parse(read_text(run_dir / "all_results.json"));
    EXPECT_EQ(metrics.at("accuracy"), written.at("eval_accuracy"));
    EXPECT_EQ(metrics.at("eval_loss"), written.at("eval_loss"));
    EXPECT_EQ(metrics.at("f1"), written.at("eval_f1"));
    EXPECT_EQ(metrics.at("test_accuracy"), written.at("test_accuracy"));
    EXPECT_EQ(written.at("eval_samples"), 8);
    EXPECT_EQ(written.at("test_samples"), 40);
    // 40 test reviews: the accuracy is a whole number of them.
    const double correct = written.at("test_accuracy").get<double>() * 40.0;
    EXPECT_NEAR(correct, std::round(correct), 1e-9);
    EXPECT_GT(written.at("eval_loss").get<double>(), 0.0);
    EXPECT_THAT(read_text(run_dir / "command.log"), HasSubstr("epoch 1/1: mean train loss"));
    const std::string emissions = read_text(run_dir / "emissions.csv");
    EXPECT_EQ(std::count(emissions.begin(), emissions.end(), '\n'), 2) << emissions;
    EXPECT_GT(metrics.at("energy_kwh").get<double>(), 0.0);
    const auto ran = nlohmann::json::parse(read_text(run_dir / "result.json")).at("config").at("command");
    const auto seed_flag = std::find(ran.begin(), ran.end(), "--seed");
    ASSERT_NE(seed_flag, ran.end()) << ran.dump();
    EXPECT_EQ(*std::next(seed_flag), std::to_string(run.at("seed").get<int>()));
  }
  EXPECT_EQ(scripts, 2u);
  EXPECT_THAT(read_text(dir / "out/results.csv"),
              HasSubstr("pytorch-python,1,done,,python3 ../bench/python/finetune.py --data {data}"));
  EXPECT_THAT(read_text(dir / "out/report.md"), HasSubstr("pytorch-python"));
}

}  // namespace
}  // namespace greentune::testing
