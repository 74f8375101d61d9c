// The study runner with a stand-in for training: skipping finished runs, retrying failed ones, stopping on
// Ctrl-C, and the results files.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <sstream>
#include <thread>

#include "greentune/core/error.hpp"
#include "greentune/core/files.hpp"
#include "greentune/study/runner.hpp"
#include "test_support.hpp"

namespace greentune::study {
namespace {

using ::testing::HasSubstr;

StudyPlan two_by_two(const testing::TempDir& dir) {
  testing::write_text(dir / "study.toml", R"(name = "t"
seeds = [1, 2]
[[variant]]
name = "base"
[[variant]]
name = "cheap,fast"
precision = "bf16"
)");
  return read_study_file(dir / "study.toml");
}

// Writes what a finished training run leaves: a complete result.json whose numbers tell the run apart.
void finish_run(const Variant& variant, uint64_t seed, const std::filesystem::path& run_dir,
                const std::string& stop_reason = "") {
  std::filesystem::create_directories(run_dir);
  const double energy = (variant.name == "base" ? 2.0 : 1.0) + 0.1 * static_cast<double>(seed);
  train::RunResult result;
  result.accuracy = 0.9;
  result.f1 = 0.89;
  result.eval_loss = 0.3;
  result.test_accuracy = 0.88;
  result.train_seconds = 10.0;
  result.cpu_kwh = energy / 2;
  result.ram_kwh = energy / 2;
  result.energy_kwh = energy;
  result.co2_kg = energy * 0.4;
  result.stop_reason = stop_reason;
  testing::write_text(run_dir / train::kRunResultFile, nlohmann::json(result).dump());
}

std::vector<std::string> lines_of(const std::filesystem::path& path) {
  std::vector<std::string> lines;
  std::istringstream stream(testing::read_text(path));
  std::string line;
  while (std::getline(stream, line))
    lines.push_back(line);
  return lines;
}

TEST(StudyRunner, RunsEachVariantAndSeedOnceAndWritesTheResults) {
  testing::TempDir dir;
  const StudyPlan plan = two_by_two(dir);
  std::vector<std::string> ran;
  const StudyOutcome outcome = run_study(
      plan, dir / "out", [&](const Variant& variant, uint64_t seed, const std::filesystem::path& run_dir) {
        ran.push_back(run_name(variant.name, seed));
        EXPECT_EQ(run_dir, dir / "out/runs" / run_name(variant.name, seed));
        finish_run(variant, seed, run_dir, variant.name == "base" && seed == 2 ? "energy-budget" : "");
      });
  EXPECT_EQ(ran,
            (std::vector<std::string>{"base-seed1", "base-seed2", "cheap,fast-seed1", "cheap,fast-seed2"}));
  EXPECT_EQ(outcome.ran, 4u);
  ASSERT_EQ(outcome.results.runs.size(), 4u);
  EXPECT_EQ(outcome.results.runs[0].status, kStatusDone);
  EXPECT_EQ(outcome.results.runs[1].status, kStatusEnergyBudget);
  ASSERT_TRUE(outcome.results.runs[3].result.has_value());
  EXPECT_DOUBLE_EQ(outcome.results.runs[3].result->energy_kwh, 1.2);
  EXPECT_EQ(outcome.results.runs[3].result->test_accuracy, 0.88);

  const StudyResults read_back = read_results(dir / "out");
  EXPECT_EQ(read_back.study, "t");
  EXPECT_EQ(read_back.baseline, "base");
  EXPECT_EQ(read_back.runs.size(), 4u);
  EXPECT_EQ(read_back.runs[2].overrides, (std::map<std::string, std::string>{{"precision", "bf16"}}));
  // Each row holds the run's whole result.json.
  EXPECT_EQ(nlohmann::json(read_back.runs[3].result),
            nlohmann::json::parse(testing::read_text(dir / "out/runs/cheap,fast-seed2/result.json")));

  const auto csv = lines_of(dir / "out/results.csv");
  ASSERT_EQ(csv.size(), 5u);
  EXPECT_EQ(csv[0],
            "variant,seed,status,precision,accuracy,f1,eval_loss,test_accuracy,train_seconds,gpu_kwh,cpu_kwh,"
            "dram_kwh,ram_kwh,energy_kwh,co2_kg,joules_per_sample,peak_memory_mb,skipped_steps");
  EXPECT_THAT(csv[1], ::testing::StartsWith("base,1,done,,0.9,0.89,0.3,0.88,10,0,1.05,0,1.05,2.1,"));
  EXPECT_THAT(csv[3], ::testing::StartsWith("\"cheap,fast\",1,done,bf16,"));  // quoted: the name has a comma

  // Started again: everything is done, nothing runs.
  const StudyOutcome again =
      run_study(plan, dir / "out", [&](const Variant&, uint64_t, const std::filesystem::path&) {
        ADD_FAILURE() << "a finished run ran again";
      });
  EXPECT_EQ(again.skipped, 4u);
  EXPECT_EQ(again.ran, 0u);
}

// A result.json that is not what the trainer writes (an older or hand-edited one) stops the study with
// an error naming the file and the key; no metric of it is ever read as 0.
TEST(StudyRunner, ARunResultWithAKeyRenamedMissingOrMistypedIsAnErrorNamingTheFileAndKey) {
  struct Damage {
    std::string key;  // the key the error names
    std::function<void(nlohmann::json&)> apply;
  };
  const std::vector<Damage> damages = {
      {"energy_kwh",
       [](nlohmann::json& result) {
         result["energy_kWh"] = result.at("energy_kwh");
         result.erase("energy_kwh");
       }},
      {"f1", [](nlohmann::json& result) { result.erase("f1"); }},
      {"accuracy", [](nlohmann::json& result) { result["accuracy"] = "0.9"; }},
      {"best.metrics.accuracy", [](nlohmann::json& result) { result["best"]["metrics"].erase("accuracy"); }},
  };
  for (const Damage& damage : damages) {
    testing::TempDir dir;
    const StudyPlan plan = two_by_two(dir);
    const std::filesystem::path damaged = dir / "out/runs/base-seed1" / train::kRunResultFile;
    try {
      run_study(plan, dir / "out",
                [&](const Variant& variant, uint64_t seed, const std::filesystem::path& run_dir) {
                  finish_run(variant, seed, run_dir);
                  if (run_dir / train::kRunResultFile == damaged) {
                    nlohmann::json result = nlohmann::json::parse(testing::read_text(damaged));
                    damage.apply(result);
                    testing::write_text(damaged, result.dump());
                  }
                });
      ADD_FAILURE() << damage.key << ": the study read the damaged result.json";
    } catch (const Error& error) {
      EXPECT_EQ(error.code(), ErrorCode::parse) << error.what();
      EXPECT_THAT(error.what(),
                  HasSubstr(damaged.string() + ": key \"" + damage.key + "\": damaged run result"));
      EXPECT_THAT(error.what(), HasSubstr("delete this result.json"));
    }
    EXPECT_FALSE(std::filesystem::exists(dir / "out/results.csv")) << damage.key;
  }
}

TEST(StudyRunner, AFailedRunIsRecordedTheOthersGoOnAndTheNextStartRetriesIt) {
  testing::TempDir dir;
  const StudyPlan plan = two_by_two(dir);
  const StudyOutcome first = run_study(
      plan, dir / "out", [&](const Variant& variant, uint64_t seed, const std::filesystem::path& run_dir) {
        if (seed == 1 && variant.name == "base")
          throw Error(ErrorCode::invalid_data, "step 3", "the training loss became nan", "lower --lr");
        finish_run(variant, seed, run_dir);
      });
  EXPECT_EQ(first.failed, 1u);
  EXPECT_EQ(first.ran, 3u);
  EXPECT_EQ(first.results.runs[0].status, kStatusFailed);
  EXPECT_THAT(first.results.runs[0].error, HasSubstr("the training loss became nan"));
  const std::string failed_row = lines_of(dir / "out/results.csv")[1];
  EXPECT_THAT(failed_row, ::testing::StartsWith("base,1,failed,,,,"));
  EXPECT_EQ(std::count(failed_row.begin(), failed_row.end(), ','), 17);  // 18 columns, metrics empty

  std::vector<std::string> retried;
  const StudyOutcome second = run_study(
      plan, dir / "out", [&](const Variant& variant, uint64_t seed, const std::filesystem::path& run_dir) {
        retried.push_back(run_name(variant.name, seed));
        finish_run(variant, seed, run_dir);
      });
  EXPECT_EQ(retried, (std::vector<std::string>{"base-seed1"}));
  EXPECT_EQ(second.results.runs[0].status, kStatusDone);
  EXPECT_FALSE(std::filesystem::exists(dir / "out/runs/base-seed1/failure.json"));
}

TEST(StudyRunner, CtrlCStopsTheStudyAtOnceWithTheResultsSoFar) {
  testing::TempDir dir;
  const StudyPlan plan = two_by_two(dir);
  int calls = 0;
  EXPECT_THROW(run_study(plan, dir / "out",
                         [&](const Variant& variant, uint64_t seed, const std::filesystem::path& run_dir) {
                           if (++calls == 2)
                             throw Error(ErrorCode::interrupted, "", "interrupted", "resume");
                           finish_run(variant, seed, run_dir);
                         }),
               Error);
  EXPECT_EQ(calls, 2);
  const StudyResults results = read_results(dir / "out");
  EXPECT_EQ(results.runs[0].status, kStatusDone);
  EXPECT_EQ(results.runs[1].status, kStatusPending);  // interrupted runs are not failures
}

TEST(StudyRunner, ShardsSplitTheRunsAndTheRefreshMergesThem) {
  testing::TempDir dir;
  const StudyPlan plan = two_by_two(dir);
  EXPECT_THROW(parse_shard("2/2"), Error);
  EXPECT_THROW(parse_shard("1"), Error);
  EXPECT_THROW(parse_shard("0/0"), Error);
  std::vector<std::string> ran_by_first, ran_by_second;
  const auto runner = [](std::vector<std::string>& ran) {
    return [&ran](const Variant& variant, uint64_t seed, const std::filesystem::path& run_dir) {
      ran.push_back(run_name(variant.name, seed));
      finish_run(variant, seed, run_dir);
    };
  };
  const StudyOutcome first = run_study(plan, dir / "out", runner(ran_by_first), parse_shard("0/2"));
  EXPECT_EQ(ran_by_first, (std::vector<std::string>{"base-seed1", "cheap,fast-seed1"}));
  EXPECT_EQ(first.results.runs[1].status, kStatusPending);  // the other shard's
  run_study(plan, dir / "out", runner(ran_by_second), parse_shard("1/2"));
  EXPECT_EQ(ran_by_second, (std::vector<std::string>{"base-seed2", "cheap,fast-seed2"}));

  // Whichever shard wrote results.json last, a refresh reads every run directory again.
  testing::write_text(dir / "out/results.json",
                      nlohmann::json(collect_results(plan, dir / "out")).dump());  // as written by any shard
  std::filesystem::remove_all(dir / "out/runs/base-seed2");  // a run that is gone is pending again
  const StudyResults merged = refresh_results(dir / "out");
  ASSERT_EQ(merged.runs.size(), 4u);
  EXPECT_EQ(merged.runs[0].status, kStatusDone);
  EXPECT_EQ(merged.runs[1].status, kStatusPending);
  EXPECT_FALSE(merged.runs[1].result.has_value());
  EXPECT_EQ(merged.runs[3].status, kStatusDone);
  EXPECT_EQ(read_results(dir / "out").runs[1].status, kStatusPending);  // written back
}

// Before each run the study says where it is as a whole: the run's place, variant and seed, and from the
// second run on the time elapsed and what is left at the rate of the runs done so far.
TEST(StudyRunner, EachRunStartsWithTheStudysPlaceElapsedTimeAndEta) {
  testing::TempDir dir;
  const StudyPlan plan = two_by_two(dir);
  std::filesystem::create_directories(dir / "out/runs");
  finish_run(plan.variants[0], 1, dir / "out/runs/base-seed1");  // done before: not counted
  ::testing::internal::CaptureStderr();
  run_study(plan, dir / "out",
            [&](const Variant& variant, uint64_t seed, const std::filesystem::path& run_dir) {
              std::this_thread::sleep_for(std::chrono::milliseconds(1100));
              finish_run(variant, seed, run_dir);
            });
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(log, HasSubstr("study t: run 2/4: variant base, seed 2; 3 runs to go\n"));
  EXPECT_THAT(log, ::testing::ContainsRegex("study t: run 3/4: variant cheap,fast, seed 1; [12]s elapsed, "
                                            "about [23]s left \\(from the 1 run done so far\\)"));
  EXPECT_THAT(log, ::testing::ContainsRegex("study t: run 4/4: variant cheap,fast, seed 2; [23]s elapsed, "
                                            "about [12]s left \\(from the 2 runs done so far\\)"));
  EXPECT_THAT(log, ::testing::Not(HasSubstr("run 1/4")));
}

// A variant the skip function gives a reason for is not run on this machine: its runs are "skipped" with
// the reason, and run where the function gives none.
TEST(StudyRunner, SkippedVariantsAreRecordedWithTheReasonAndRunLaterElsewhere) {
  testing::TempDir dir;
  const StudyPlan plan = two_by_two(dir);
  std::vector<std::string> ran;
  const RunFunction run = [&](const Variant& variant, uint64_t seed, const std::filesystem::path& run_dir) {
    ran.push_back(run_name(variant.name, seed));
    finish_run(variant, seed, run_dir);
  };
  const StudyOutcome here = run_study(plan, dir / "out", run, {}, [](const Variant& variant) {
    return variant.name == "cheap,fast" ? std::optional<std::string>("bf16 is emulated here") : std::nullopt;
  });
  EXPECT_EQ(ran, (std::vector<std::string>{"base-seed1", "base-seed2"}));
  EXPECT_EQ(here.left_out, 2u);
  EXPECT_EQ(here.results.runs[2].status, kStatusSkipped);
  EXPECT_EQ(here.results.runs[2].error, "bf16 is emulated here");
  EXPECT_EQ(read_results(dir / "out").runs[3].status, kStatusSkipped);

  ran.clear();
  const StudyOutcome elsewhere = run_study(plan, dir / "out", run);
  EXPECT_EQ(ran, (std::vector<std::string>{"cheap,fast-seed1", "cheap,fast-seed2"}));
  EXPECT_EQ(elsewhere.results.runs[2].status, kStatusDone);
  EXPECT_EQ(elsewhere.results.runs[2].error, "");
}

// A run that finds the disk full (its checkpoint does not fit) stops the study: the runs after it would
// fail the same way. It is not marked failed, and the same study started again with room continues it.
TEST(StudyRunner, AFullDiskStopsTheStudyAndTheSameCommandContinuesIt) {
  testing::TempDir dir;
  const StudyPlan plan = two_by_two(dir);
  testing::SmallDisk disk(1024 * 1024);
  if (!disk.mounted())
    GTEST_SKIP() << disk.why_not();
  std::vector<std::string> ran;
  bool disk_is_full = true;
  const RunFunction run = [&](const Variant& variant, uint64_t seed, const std::filesystem::path& run_dir) {
    ran.push_back(run_name(variant.name, seed));
    if (ran.size() == 2 && disk_is_full) {
      std::filesystem::create_directories(run_dir);
      write_file_atomically(run_dir / "checkpoint.bin", std::string(2 * 1024 * 1024, 'w'));
    }
    finish_run(variant, seed, run_dir);
  };
  const Error error = testing::error_of([&] { run_study(plan, disk / "out", run); });
  EXPECT_EQ(error.code(), ErrorCode::io);
  EXPECT_THAT(error.what(), HasSubstr("checkpoint.bin: writing failed: No space left on device"));
  EXPECT_EQ(ran, (std::vector<std::string>{"base-seed1", "base-seed2"}));
  EXPECT_FALSE(std::filesystem::exists(disk / "out/runs/base-seed2/failure.json"));
  const StudyResults stopped = read_results(disk / "out");
  EXPECT_EQ(stopped.runs[0].status, kStatusDone);
  EXPECT_EQ(stopped.runs[1].status, kStatusPending);

  disk_is_full = false;
  ran.clear();
  const StudyOutcome continued = run_study(plan, disk / "out", run);
  EXPECT_EQ(ran, (std::vector<std::string>{"base-seed2", "cheap,fast-seed1", "cheap,fast-seed2"}));
  EXPECT_EQ(continued.skipped, 1u);
  for (const RunRecord& record : read_results(disk / "out").runs)
    EXPECT_EQ(record.status, kStatusDone) << record.run_dir;
}

TEST(StudyResults, MissingOrDamagedResultsAreClearErrors) {
  testing::TempDir dir;
  EXPECT_THROW(read_results(dir.path()), Error);
  testing::write_text(dir / "results.json", "{\"study\": ");
  try {
    read_results(dir.path());
    FAIL();
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::parse);
    EXPECT_THAT(error.what(), HasSubstr("results.json"));
  }
  // A finished run's result is checked field by field, its optional parts and each rank included.
  nlohmann::json results =
      StudyResults{.study = "t", .baseline = "base", .seeds = {1}, .variants = {}, .runs = {}};
  RunRecord record;
  record.variant = "base";
  record.seed = 1;
  record.status = kStatusDone;
  record.run_dir = "runs/base-seed1";
  nlohmann::json run = record;
  run["result"] = train::RunResult{};
  run["result"]["test"] = model::EvalMetrics{};
  run["result"]["test"]["n"] = -200;
  results["runs"] = nlohmann::json::array({run});
  testing::write_text(dir / "results.json", results.dump());
  const Error error = testing::error_of([&] { read_results(dir.path()); });
  EXPECT_EQ(error.code(), ErrorCode::parse);
  EXPECT_THAT(error.what(), HasSubstr("results.json: key \"runs[0].result.test.n\": damaged study results: "
                                      "-200 where a non-negative integer belongs"));
  run["result"]["test"]["n"] = 200;
  run["result"]["ranks"] = {train::RankSummary{}, train::RankSummary{}};
  run["result"]["ranks"][1]["threads"] = 1e30;
  results["runs"] = nlohmann::json::array({run});
  testing::write_text(dir / "results.json", results.dump());
  EXPECT_THAT(testing::error_of([&] { read_results(dir.path()); }).what(),
              HasSubstr("key \"runs[0].result.ranks[1].threads\": damaged study results: 1e+30 where an"));
}

TEST(StudyResults, ADamagedFailureFileIsTheRunsErrorNotACrash) {
  testing::TempDir dir;
  const StudyPlan plan = two_by_two(dir);
  std::filesystem::create_directories(dir / "out/runs/base-seed1");
  std::filesystem::create_directories(dir / "out/runs/base-seed2");
  testing::write_text(dir / "out/runs/base-seed1/failure.json", R"({"error": 1e999})");
  testing::write_text(dir / "out/runs/base-seed2/failure.json", R"({"error": "out of memory"})");
  const StudyResults results = collect_results(plan, dir / "out");
  EXPECT_EQ(results.runs[0].status, kStatusFailed);
  EXPECT_THAT(results.runs[0].error, HasSubstr("failure.json: damaged: is not valid JSON: number overflow"));
  EXPECT_EQ(results.runs[1].error, "out of memory");
}

}  // namespace
}  // namespace greentune::study
