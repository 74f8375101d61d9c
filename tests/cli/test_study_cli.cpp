// `greentune study` end to end on the tiny model: results and report files, errors before any run, and a
// study killed with SIGKILL at several moments that still ends with every run done exactly once.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "../model/model_test_support.hpp"
#include "greentune/train/run_result.hpp"
#include "http_server.hpp"
#include "test_support.hpp"

namespace greentune::testing {
namespace {

using ::testing::HasSubstr;

// A 2 variants x 2 seeds study of the tiny model on a learnable task; epochs make each run last a while.
void write_study(const TempDir& dir, int epochs) {
  write_tiny_model_dir(dir / "model", "distilbert_tiny");
  write_numbered_reviews(dir / "reviews.jsonl", 80);
  write_text(dir / "study.toml", "name = \"tiny\"\nseeds = [1, 2]\nbaseline = \"base\"\n[base]\nmodel = \"" +
                                     (dir / "model").string() + "\"\ndata = \"" +
                                     (dir / "reviews.jsonl").string() + "\"\ncache-dir = \"" +
                                     (dir / "cache").string() +
                                     "\"\nmax-length = 16\nbatch-size = 8\nlr = 0.002\nthreads = 1\n"
                                     "save-every = 3\nepochs = " +
                                     std::to_string(epochs) +
                                     "\n[[variant]]\nname = \"base\"\n[[variant]]\nname = \"sgd\"\n"
                                     "optimizer = \"sgd\"\nlr = 0.05\n");
}

// Each run finished once: one emissions row (written when a run ends), training rows whose steps only go
// up, and the full number of updates.
void expect_each_run_done_once(const std::filesystem::path& study_dir, int updates) {
  const auto results = nlohmann::json::parse(read_text(study_dir / "results.json"));
  ASSERT_EQ(results.at("runs").size(), 4u);
  for (const auto& run : results.at("runs")) {
    EXPECT_EQ(run.at("status"), "done") << run.dump();
    const std::filesystem::path run_dir = study_dir / run.at("run_dir").get<std::string>();
    const std::string emissions = read_text(run_dir / "emissions.csv");
    EXPECT_EQ(std::count(emissions.begin(), emissions.end(), '\n'), 2) << run_dir;
    int64_t last_step = 0;
    for (const auto& row : read_json_lines(run_dir / "metrics.jsonl")) {
      if (!row.contains("loss"))
        continue;
      EXPECT_GT(row.at("step").get<int64_t>(), last_step) << run_dir;
      last_step = row.at("step");
    }
    EXPECT_EQ(last_step, updates) << run_dir;
  }
}

TEST(StudyCli, RunsEveryVariantAndSeedAndWritesResultsAndTheReport) {
  TempDir dir;
  write_study(dir, 2);
  const CommandResult result = run_cli("-q study '" + (dir / "study.toml").string() + "' --output '" +
                                       (dir / "out").string() + "' --report-to tensorboard");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("4 trained now, 0 already done, 0 failed"));
  expect_each_run_done_once(dir / "out", 2 * 9);  // 72 training examples / 8 per batch, 2 epochs
  for (const char* run : {"base-seed1", "base-seed2", "sgd-seed1", "sgd-seed2"}) {
    const auto tensorboard = dir / "out/runs" / run / "tensorboard";
    ASSERT_TRUE(std::filesystem::is_directory(tensorboard)) << run << ": --report-to reached no run";
    EXPECT_EQ(std::distance(std::filesystem::directory_iterator(tensorboard), {}), 1) << run;
  }
  for (const char* file : {"results.csv", "results.json", "report.md", "report.html", "report.tex"})
    EXPECT_TRUE(std::filesystem::exists(dir / "out" / file)) << file;
  const std::string csv = read_text(dir / "out/results.csv");
  EXPECT_THAT(csv, HasSubstr("variant,seed,status,lr,optimizer,accuracy,"));
  EXPECT_THAT(csv, HasSubstr("sgd,2,done,0.05,sgd,"));

  const CommandResult again =
      run_cli("-q study '" + (dir / "study.toml").string() + "' --output '" + (dir / "out").string() + "'");
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_THAT(again.out, HasSubstr("0 trained now, 4 already done, 0 failed"));
}

// A study with a command of the user's beside greentune's own runs: the command's accuracy and eval loss
// come from the all_results.json it writes, its energy as `greentune measure` measures it (the fake NVML's
// 70 W GPU), and a finished run is not run again.
TEST(StudyCli, AnExternalCommandIsMeasuredBesideGreentunesRunsAndNotRunAgain) {
  TempDir dir;
  write_study(dir, 1);
  std::string study = read_text(dir / "study.toml");
  study.replace(study.find("[base]\n"), 7, "[base]\ncarbon-intensity = 100\n");
  study += "[[variant]]\nname = \"script\"\ncommand = [\"sh\", \"-c\", \"echo ran {seed} >> '" +
           (dir / "ran.log").string() +
           "'; sleep 0.5; printf '{{\\\"eval_accuracy\\\": 0.{seed}5, \\\"eval_loss\\\": 0.625, "
           "\\\"train_samples\\\": 72}}' > {run_dir}/all_results.json\"]\n";
  write_text(dir / "study.toml", study);
  write_powercap(dir / "powercap");
  const std::string environment = "GREENTUNE_NVML_LIB='" + std::string(GREENTUNE_FAKE_NVML_PATH) +
                                  "' GREENTUNE_POWERCAP_ROOT='" + (dir / "powercap").string() + "' ";
  const std::string command =
      "-q study '" + (dir / "study.toml").string() + "' --output '" + (dir / "out").string() + "'";
  const CommandResult result = run_cli(command, {}, environment);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("6 trained now, 0 already done, 0 failed"));
  EXPECT_EQ(read_text(dir / "ran.log"), "ran 1\nran 2\n");

  const auto results = nlohmann::json::parse(read_text(dir / "out/results.json"));
  ASSERT_EQ(results.at("runs").size(), 6u);
  for (const uint64_t seed : {1, 2}) {
    const auto& run = results.at("runs").at(3 + seed);
    EXPECT_EQ(run.at("variant"), "script");
    EXPECT_EQ(run.at("status"), "done") << run.dump();
    const auto& metrics = run.at("result");
    EXPECT_DOUBLE_EQ(metrics.at("accuracy").get<double>(), seed == 1 ? 0.15 : 0.25);
    EXPECT_EQ(metrics.at("eval_loss"), 0.625);
    EXPECT_TRUE(metrics.at("f1").is_null());
    const std::filesystem::path run_dir = dir / "out" / run.at("run_dir").get<std::string>();
    const auto energy = nlohmann::json::parse(read_text(run_dir / "energy.json"));
    const auto& window = energy.at("windows").at(0);
    EXPECT_EQ(metrics.at("train_seconds"), window.at("duration_s"));
    EXPECT_GE(window.at("duration_s").get<double>(), 0.5);
    // The power-only fake GPU draws 70 W through the command's run, within the last 100 ms sample.
    const auto& gpu = window.at("components").at(1);
    EXPECT_EQ(gpu.at("method"), "nvml-power-integrated");
    EXPECT_NEAR(gpu.at("joules").get<double>(), 70.0 * window.at("duration_s").get<double>(),
                70.0 * 0.1 + 1e-9);
    EXPECT_EQ(metrics.at("energy_kwh"), window.at("kwh"));
    EXPECT_DOUBLE_EQ(metrics.at("joules_per_sample").get<double>(),
                     window.at("total_j").get<double>() / 72.0);
    EXPECT_DOUBLE_EQ(metrics.at("co2_kg").get<double>(), window.at("kwh").get<double>() * 0.1);  // 100 g/kWh
    EXPECT_EQ(metrics.at("energy_methods").at("gpu"), "nvml-energy-counter + nvml-power-integrated");
  }
  const std::string csv = read_text(dir / "out/results.csv");
  EXPECT_THAT(csv, HasSubstr("variant,seed,status,command,lr,optimizer,accuracy,"));
  EXPECT_THAT(csv, HasSubstr("script,1,done,\"sh -c echo ran"));
  EXPECT_THAT(read_text(dir / "out/report.md"), HasSubstr("script"));

  const CommandResult again = run_cli(command, {}, environment);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_THAT(again.out, HasSubstr("0 trained now, 6 already done, 0 failed"));
  EXPECT_EQ(read_text(dir / "ran.log"), "ran 1\nran 2\n");

  // A changed command makes its finished runs stale: the study says so instead of keeping them.
  study = read_text(dir / "study.toml");
  study.replace(study.find("sleep 0.5"), 9, "sleep 0.6");
  write_text(dir / "study.toml", study);
  const CommandResult changed = run_cli(command, {}, environment);
  EXPECT_EQ(changed.exit_code, 2);
  EXPECT_THAT(changed.err, HasSubstr("variant \"script\" seed 1: command: "));
  EXPECT_THAT(changed.err, ::testing::Not(HasSubstr("variant \"base\"")));
}

// The same study with paths relative to the study file (model, data, cache), run from another directory.
void write_relative_study(const TempDir& dir, const std::string& base_lr) {
  write_tiny_model_dir(dir / "model", "distilbert_tiny");
  write_numbered_reviews(dir / "reviews.jsonl", 80);
  write_text(dir / "study.toml",
             "name = \"tiny\"\nseeds = [1, 2]\nbaseline = \"base\"\n[base]\n"
             "model = \"model\"\ndata = \"reviews.jsonl\"\ncache-dir = \"cache\"\n"
             "max-length = 16\nbatch-size = 8\nthreads = 1\nepochs = 1\nlr = " +
                 base_lr +
                 "\n[[variant]]\nname = \"base\"\n[[variant]]\nname = \"sgd\"\n"
                 "optimizer = \"sgd\"\nlr = 0.05\n");
}

// Started again after [base] changed, a study stops before any run and names the runs and the keys that
// changed (the sgd variant overrides lr, so its runs did not change); --redo-changed trains those runs
// again, their old results gone (one emissions row, the new lr in config.json), and keeps the others.
TEST(StudyCli, AChangedStudyEntryStopsTheStudyUnlessItsRunsAreRedone) {
  TempDir dir;
  write_relative_study(dir, "0.002");
  const std::string command =
      "-q study '" + (dir / "study.toml").string() + "' --output '" + (dir / "out").string() + "'";
  ASSERT_EQ(run_cli(command).exit_code, 0);
  const std::string sgd_result = read_text(dir / "out/runs/sgd-seed1/result.json");
  // A study keeps a finished run's model and results, not its checkpoints; the report says what it takes.
  EXPECT_FALSE(std::filesystem::exists(dir / "out/runs/base-seed1/checkpoint.json"));
  EXPECT_TRUE(std::filesystem::exists(dir / "out/runs/base-seed1/model/model.safetensors"));
  uint64_t bytes = 0;  // what the directory held before the report's own three files were written
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir / "out")) {
    const bool report_file =
        entry.path().parent_path() == dir / "out" && entry.path().filename().string().starts_with("report.");
    if (entry.is_regular_file() && !report_file)
      bytes += entry.file_size();
  }
  EXPECT_THAT(read_text(dir / "out/report.md"),
              HasSubstr(fmt::format("On disk the study takes {:.1f} MB, 0.0 MB of it in checkpoints",
                                    static_cast<double>(bytes) / 1e6)));

  write_relative_study(dir, "0.01");
  const CommandResult changed = run_cli(command);
  EXPECT_EQ(changed.exit_code, 2) << changed.err;
  EXPECT_THAT(changed.err, HasSubstr("2 runs here were made with other options"));
  EXPECT_THAT(changed.err, HasSubstr("variant \"base\" seed 1: lr: 0.002 -> 0.01"));
  EXPECT_THAT(changed.err, HasSubstr("variant \"base\" seed 2: lr: 0.002 -> 0.01"));
  EXPECT_THAT(changed.err, ::testing::Not(HasSubstr("variant \"sgd\"")));
  EXPECT_THAT(changed.err, HasSubstr("--redo-changed"));
  EXPECT_EQ(nlohmann::json::parse(read_text(dir / "out/runs/base-seed1/config.json")).at("lr"), 0.002);

  const CommandResult redone = run_cli(command + " --redo-changed");
  ASSERT_EQ(redone.exit_code, 0) << redone.err;
  EXPECT_THAT(redone.out, HasSubstr("2 trained now, 2 already done, 0 failed"));
  for (const char* run : {"base-seed1", "base-seed2"}) {
    const std::filesystem::path run_dir = dir / "out/runs" / run;
    EXPECT_EQ(nlohmann::json::parse(read_text(run_dir / "config.json")).at("lr"), 0.01) << run;
    EXPECT_EQ(nlohmann::json::parse(read_text(run_dir / "result.json")).at("config").at("lr"), 0.01) << run;
    const std::string emissions = read_text(run_dir / "emissions.csv");
    EXPECT_EQ(std::count(emissions.begin(), emissions.end(), '\n'), 2) << run;  // header + the new run's row
  }
  EXPECT_EQ(read_text(dir / "out/runs/sgd-seed1/result.json"), sgd_result);
  const auto results = nlohmann::json::parse(read_text(dir / "out/results.json"));
  EXPECT_EQ(results.at("runs").at(0).at("result").at("config").at("lr"), 0.01);
  ASSERT_EQ(run_cli(command).exit_code, 0);  // the study now matches its file
}

// A model that is neither a directory beside the study file nor on the hub (a local server answering 404
// here) stops the study before its first run, saying both.
TEST(StudyCli, AModelThatIsNeitherADirectoryNorOnTheHubStopsTheStudyFirst) {
  TempDir dir;
  write_relative_study(dir, "0.002");
  std::string study = read_text(dir / "study.toml");
  study.replace(study.find("model = \"model\""), 15, "model = \"mdl\"");
  write_text(dir / "study.toml", study);
  HttpServerOptions options;
  options.status = 404;
  HttpServer hub(options);
  const CommandResult result =
      run_cli("-q study '" + (dir / "study.toml").string() + "' --output '" + (dir / "out").string() + "'",
              {}, "HF_ENDPOINT=" + hub.url("") + " HF_HUB_CACHE='" + (dir / "hub").string() + "' ");
  EXPECT_NE(result.exit_code, 0);
  EXPECT_THAT(result.err, HasSubstr("variant \"base\": model: mdl: is not a directory relative to"));
  EXPECT_THAT(result.err, HasSubstr("and the hub answered"));
  EXPECT_FALSE(std::filesystem::exists(dir / "out/runs/base-seed1"));
}

// Ctrl-C in a study: its hint names the study command that continues it, not train's --resume (which
// `greentune study` does not take).
TEST(StudyCli, CtrlCSaysWhichCommandContinuesTheStudy) {
  TempDir dir;
  write_study(dir, 200);
  const pid_t study = spawn_process({std::string(GREENTUNE_CLI_PATH), "study", (dir / "study.toml").string(),
                                     "--output", (dir / "out").string()},
                                    {}, dir / "output.log");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!std::filesystem::exists(dir / "out/runs/base-seed1/checkpoint.json") &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(kill(study, SIGINT), 0);
  const int status = wait_for_exit(study);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 130) << read_text(dir / "output.log");
  const std::string output = read_text(dir / "output.log");
  EXPECT_THAT(output, HasSubstr("run `greentune study " + (dir / "study.toml").string() + " --output " +
                                (dir / "out").string() + "` again"));
  EXPECT_THAT(output, ::testing::Not(HasSubstr("--resume")));
}

// Runs of a study share one process, yet each reports its own peak memory: a run of small batches after
// one of very large batches (about 0.5 GB of activations) peaks far lower, where the process's peak would
// make it at least as large.
TEST(StudyCli, EachRunsPeakMemoryIsItsOwn) {
  TempDir dir;
  write_tiny_model_dir(dir / "model", "distilbert_tiny");
  write_numbered_reviews(dir / "reviews.jsonl", 2200);
  write_text(dir / "study.toml",
             "name = \"memory\"\nseeds = [1]\n[base]\nmodel = \"model\"\n"
             "data = \"reviews.jsonl\"\ncache-dir = \"cache\"\nthreads = 1\nmax-steps = 1\n"
             "max-length = 64\nbucketing = \"none\"\n"
             "[[variant]]\nname = \"big\"\nbatch-size = 1980\npad-to-multiple = 64\n"
             "[[variant]]\nname = \"small\"\nbatch-size = 2\npad-to-multiple = 1\n"
             "max-train-examples = 40\n");
  const CommandResult result =
      run_cli("-q study '" + (dir / "study.toml").string() + "' --output '" + (dir / "out").string() + "'");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const double big =
      nlohmann::json::parse(read_text(dir / "out/runs/big-seed1/result.json")).at("peak_memory_mb");
  const double small =
      nlohmann::json::parse(read_text(dir / "out/runs/small-seed1/result.json")).at("peak_memory_mb");
  EXPECT_LT(small, big - 200.0) << "big " << big << " MiB, small " << small << " MiB";
}

TEST(StudyCli, AFailingExternalCommandIsAFailedRunAndAnUnknownPlaceholderStopsTheStudyFirst) {
  TempDir dir;
  write_study(dir, 1);
  const std::string study = read_text(dir / "study.toml");
  write_text(dir / "failing.toml", study +
                                       "[[variant]]\nname = \"script\"\n"
                                       "command = [\"sh\", \"-c\", \"echo Traceback; exit 1\"]\n");
  const CommandResult failing = run_cli("-q study '" + (dir / "failing.toml").string() + "' --output '" +
                                            (dir / "failing").string() + "' --set carbon-intensity=100",
                                        {}, "");
  EXPECT_NE(failing.exit_code, 0);
  const auto results = nlohmann::json::parse(read_text(dir / "failing/results.json"));
  const auto& script = results.at("runs").at(4);
  EXPECT_EQ(script.at("status"), "failed");
  EXPECT_THAT(script.at("error").get<std::string>(),
              HasSubstr("exited with status 1; its output ended with:\n    Traceback"));
  EXPECT_EQ(results.at("runs").at(0).at("status"), "done");  // greentune's runs went on

  write_text(dir / "typo.toml",
             study + "[[variant]]\nname = \"script\"\ncommand = [\"train.py\", \"{dta}\"]\n");
  const CommandResult typo =
      run_cli("-q study '" + (dir / "typo.toml").string() + "' --output '" + (dir / "typo").string() + "'");
  EXPECT_EQ(typo.exit_code, 2);
  EXPECT_THAT(typo.err, HasSubstr("typo.toml:20: variant \"script\""));
  EXPECT_THAT(typo.err, HasSubstr("{dta}"));
  EXPECT_FALSE(std::filesystem::exists(dir / "typo/runs/base-seed1/result.json"));
}

TEST(StudyCli, BadOptionsAreReportedWithTheStudyFileLineBeforeAnyRun) {
  TempDir dir;
  write_study(dir, 1);
  write_text(dir / "bad.toml",
             read_text(dir / "study.toml") + "[[variant]]\nname = \"typo\"\nlearning-rate = 1\n");
  const CommandResult unknown =
      run_cli("study '" + (dir / "bad.toml").string() + "' --output '" + (dir / "bad").string() + "'");
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_THAT(unknown.err, HasSubstr("bad.toml:22: key \"learning-rate\""));
  EXPECT_THAT(unknown.err, HasSubstr("unknown option"));
  EXPECT_FALSE(std::filesystem::exists(dir / "bad/runs"));  // nothing ran

  write_text(dir / "wrong.toml",
             read_text(dir / "study.toml") + "[[variant]]\nname = \"x\"\nbatch-size = \"many\"\n");
  const CommandResult wrong_type =
      run_cli("study '" + (dir / "wrong.toml").string() + "' --output '" + (dir / "wrong").string() + "'");
  EXPECT_EQ(wrong_type.exit_code, 2);
  EXPECT_THAT(wrong_type.err, HasSubstr("wrong.toml:22: key \"batch-size\""));
  EXPECT_FALSE(std::filesystem::exists(dir / "wrong/runs"));

  const CommandResult bad_set = run_cli("study '" + (dir / "study.toml").string() + "' --set output=x");
  EXPECT_EQ(bad_set.exit_code, 2);
  EXPECT_THAT(bad_set.err, HasSubstr("set by the study"));
}

// results.csv without the measured columns (time, energy, memory), which no two runs share.
std::vector<std::vector<std::string>> deterministic_columns(const std::filesystem::path& csv) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream lines(read_text(csv));
  std::string line;
  while (std::getline(lines, line)) {
    std::vector<std::string> fields;
    std::istringstream cells(line);
    std::string cell;
    while (std::getline(cells, cell, ','))
      fields.push_back(cell);
    fields.resize(9);  // variant, seed, status, lr, optimizer, accuracy, f1, eval_loss, test_accuracy
    rows.push_back(fields);
  }
  return rows;
}

TEST(StudyCli, TwoShardsAndTheReportMergeGiveTheUnshardedResults) {
  TempDir dir;
  write_study(dir, 2);
  const std::string study = "-q study '" + (dir / "study.toml").string() + "' --output '";
  ASSERT_EQ(run_cli(study + (dir / "whole").string() + "'").exit_code, 0);
  const CommandResult first = run_cli(study + (dir / "sharded").string() + "' --shard 0/2");
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_THAT(first.out, HasSubstr("2 trained now, 0 already done, 0 failed"));
  const CommandResult second = run_cli(study + (dir / "sharded").string() + "' --shard 1/2");
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_THAT(second.out, HasSubstr("2 trained now, 0 already done, 0 failed"));
  const CommandResult report = run_cli("-q report '" + (dir / "sharded").string() + "'");
  ASSERT_EQ(report.exit_code, 0) << report.err;
  const auto whole = deterministic_columns(dir / "whole/results.csv");
  EXPECT_EQ(deterministic_columns(dir / "sharded/results.csv"), whole);
  // Both hold every run of the study, done, with an accuracy: a header and 4 rows.
  ASSERT_EQ(whole.size(), 5u);
  for (size_t row = 1; row < whole.size(); ++row) {
    EXPECT_EQ(whole[row][2], "done") << row;
    const double accuracy = std::stod(whole[row][5]);
    EXPECT_TRUE(accuracy >= 0.0 && accuracy <= 1.0) << whole[row][5];
  }
  EXPECT_THAT(run_cli(study + (dir / "x").string() + "' --shard 3/2").err, HasSubstr("--shard"));
}

// `greentune report` reads every run's result.json again: one with a key renamed (from an older greentune
// or edited by hand) fails with the file and the key, and no report shows that run's metric as 0.
TEST(StudyCli, ReportOnARunResultWithARenamedKeyNamesTheFileAndKey) {
  TempDir dir;
  std::filesystem::create_directories(dir / "out/runs/base-seed1");
  write_text(dir / "out/results.json", R"({"study": "t", "baseline": "base", "seeds": [1],
    "variants": [{"name": "base", "overrides": {}}],
    "runs": [{"variant": "base", "seed": 1, "status": "pending", "error": "", "run_dir": "runs/base-seed1",
              "overrides": {}, "result": null}]})");
  train::RunResult finished;
  finished.accuracy = 0.9;
  finished.energy_kwh = 0.002;
  nlohmann::json result = finished;
  result["energy_kWh"] = result.at("energy_kwh");
  result.erase("energy_kwh");
  const std::filesystem::path result_file = dir / "out/runs/base-seed1/result.json";
  write_text(result_file, result.dump());
  const CommandResult report = run_cli("report '" + (dir / "out").string() + "'");
  EXPECT_EQ(report.exit_code, 5) << report.err;  // ErrorCode::parse
  EXPECT_THAT(report.err, HasSubstr(result_file.string() + ": key \"energy_kwh\""));
  EXPECT_FALSE(std::filesystem::exists(dir / "out/report.md"));
}

TEST(StudyCli, KilledWithSigkillAtAnyMomentAndStartedAgainEveryRunEndsDoneExactlyOnce) {
  TempDir dir;
  write_study(dir, 12);
  const std::vector<std::string> study = {
      GREENTUNE_CLI_PATH, "-q", "study", (dir / "study.toml").string(), "--output", (dir / "out").string()};
  // Kill at a few moments spread over the study: early in a run, after some runs, mid-checkpoint or not.
  int kills = 0;
  for (const int milliseconds : {700, 1300, 900, 1600}) {
    const pid_t pid = spawn_quietly(study);
    std::this_thread::sleep_for(std::chrono::milliseconds(milliseconds));
    if (kill(pid, SIGKILL) == 0)
      ++kills;
    const int status = wait_for_exit(pid);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
      break;  // finished before the kill
  }
  EXPECT_GE(kills, 2);
  const int final_status = wait_for_exit(spawn_quietly(study));
  ASSERT_TRUE(WIFEXITED(final_status) && WEXITSTATUS(final_status) == 0);
  expect_each_run_done_once(dir / "out", 12 * 9);
}

}  // namespace
}  // namespace greentune::testing
