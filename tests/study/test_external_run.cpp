// A study's external variants: the command's placeholders, result.json from a Hugging Face Trainer-style
// results file and the measured energy (numbers worked out by hand), and a real command run to its end.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "greentune/core/error.hpp"
#include "greentune/study/external_run.hpp"
#include "test_support.hpp"

namespace greentune::study {
namespace {

using ::testing::HasSubstr;

StudyPlan external_plan(const testing::TempDir& dir, const std::string& variant_keys) {
  testing::write_text(dir / "study.toml",
                      "[base]\ndata = \"reviews.jsonl\"\nmax-length = 64\n"
                      "carbon-intensity = 500\n[[variant]]\nname = \"hf\"\n" +
                          variant_keys);
  return read_study_file(dir / "study.toml");
}

TEST(ExternalRun, TheCommandGetsTheSeedTheRunDirectoryAndBaseOptions) {
  testing::TempDir dir;
  const StudyPlan plan = external_plan(
      dir,
      R"(command = ["train", "--data={data}", "{max-length}", "{seed}", "{run_dir}/out", "{{seed}}", "awk {{print}}", "{ x }"])");
  const Variant& variant = plan.variants.front();
  const std::vector<Setting> settings = {{"data", {"imdb"}, "imdb", 0}, {"max-length", {"64"}, "64", 2}};
  EXPECT_EQ(external_command_line(plan, variant, settings, 7, "/studies/s/runs/hf-seed7"),
            (std::vector<std::string>{"train", "--data=imdb", "64", "7", "/studies/s/runs/hf-seed7/out",
                                      "{seed}", "awk {print}", "{ x }"}));
}

TEST(ExternalRun, AnUnknownPlaceholderNamesTheVariantsLine) {
  testing::TempDir dir;
  const StudyPlan plan = external_plan(dir, R"(command = ["train", "--data", "{dta}"])");
  try {
    external_command_line(plan, plan.variants.front(), plan.variants.front().settings, 1, "run");
    ADD_FAILURE() << "accepted {dta}";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::usage);
    EXPECT_THAT(error.what(), HasSubstr("study.toml:5: variant \"hf\""));
    EXPECT_THAT(error.what(), HasSubstr("{dta}"));
  }
}

// 3,600 J in 12 s (300 W) at 500 g/kWh, over a results file of 80 training examples.
energy::MeasuredCommand measured_run() {
  energy::MeasuredCommand measured;
  measured.exit.started = true;
  measured.exit.exit_status = 0;
  measured.exit.peak_memory_mb = 812.5;
  measured.run.duration_s = 12.0;
  measured.run.components = {{energy::Component::gpu, energy::Method::nvml_counter, "GPU 0", 2400.0},
                             {energy::Component::cpu, energy::Method::rapl, "package-0", 900.0},
                             {energy::Component::ram, energy::Method::dimm_model, "RAM", 300.0}};
  measured.run.gpu_j = {2400.0};
  measured.run.cpu_j = 900.0;
  measured.run.ram_j = 300.0;
  measured.run.total_j = 3600.0;
  measured.run.kwh = 0.001;
  measured.run.co2_kg = 0.0005;
  measured.carbon.gco2_per_kwh = 500.0;
  measured.carbon.zone = "given";
  return measured;
}

TEST(ExternalRun, TheResultHoldsTheFilesMetricsAndTheMeasuredEnergy) {
  ExternalCommand external;
  const nlohmann::json results = {{"epoch", 1.0},        {"eval_accuracy", 0.8125}, {"eval_loss", 0.4375},
                                  {"eval_samples", 160}, {"train_samples", 80},     {"train_runtime", 10.5}};
  const train::RunResult result = external_run_result(external, measured_run(), results, "all_results.json");
  EXPECT_EQ(result.accuracy, 0.8125);
  EXPECT_EQ(result.eval_loss, 0.4375);
  EXPECT_FALSE(result.f1.has_value());             // the file has no eval_f1: no F1 is made up
  EXPECT_FALSE(result.test_accuracy.has_value());  // nor a test accuracy
  EXPECT_EQ(result.n, 160u);
  EXPECT_EQ(result.train_samples, 80u);
  EXPECT_EQ(result.train_seconds, 12.0);
  EXPECT_EQ(result.peak_memory_mb, 812.5);
  EXPECT_DOUBLE_EQ(result.energy_kwh, 0.001);
  EXPECT_DOUBLE_EQ(result.gpu_kwh, 2400.0 / 3.6e6);
  EXPECT_DOUBLE_EQ(result.cpu_kwh, 900.0 / 3.6e6);
  EXPECT_DOUBLE_EQ(result.ram_kwh, 300.0 / 3.6e6);
  EXPECT_EQ(result.dram_kwh, 0.0);
  EXPECT_DOUBLE_EQ(result.average_w, 300.0);
  ASSERT_TRUE(result.joules_per_sample.has_value());
  EXPECT_DOUBLE_EQ(*result.joules_per_sample, 45.0);  // 3,600 J / 80 examples
  EXPECT_EQ(result.energy_methods,
            (nlohmann::json{{"gpu", "nvml-energy-counter"}, {"cpu", "rapl"}, {"ram", "dimm-count-model"}}));
  EXPECT_EQ(result.carbon.gco2_per_kwh, 500.0);

  external.f1_key = "eval_macro_f1";
  nlohmann::json with_f1 = results;
  with_f1["eval_macro_f1"] = 0.75;
  with_f1["test_accuracy"] = 0.796875;
  with_f1.erase("train_samples");
  const train::RunResult named = external_run_result(external, measured_run(), with_f1, "all_results.json");
  EXPECT_EQ(named.f1, 0.75);
  EXPECT_EQ(named.test_accuracy, 0.796875);
  EXPECT_FALSE(named.joules_per_sample.has_value());  // how many it trained on is unknown
}

TEST(ExternalRun, AMissingOrOutOfRangeMetricNamesTheFileAndKey) {
  const ExternalCommand external;
  const auto error_for = [&](const nlohmann::json& results) -> std::string {
    try {
      external_run_result(external, measured_run(), results, "runs/hf-seed1/all_results.json");
    } catch (const Error& error) {
      EXPECT_EQ(error.code(), ErrorCode::invalid_data);
      return error.what();
    }
    ADD_FAILURE() << "accepted " << results.dump();
    return "";
  };
  const std::string missing = error_for({{"accuracy", 0.9}, {"eval_loss", 0.3}});
  EXPECT_THAT(missing, HasSubstr("runs/hf-seed1/all_results.json: key \"eval_accuracy\": no such key"));
  EXPECT_THAT(missing, HasSubstr("set accuracy-key"));
  EXPECT_THAT(missing, HasSubstr("the file has: accuracy, eval_loss"));
  EXPECT_THAT(error_for({{"eval_accuracy", 91.0}, {"eval_loss", 0.3}}),
              HasSubstr("91 is not a fraction in [0, 1]"));
  EXPECT_THAT(error_for({{"eval_accuracy", 0.9}, {"eval_loss", 0.3}, {"test_accuracy", 1.5}}),
              HasSubstr("key \"test_accuracy\": 1.5 is not a fraction in [0, 1]"));
  EXPECT_THAT(error_for({{"eval_accuracy", "0.9"}, {"eval_loss", 0.3}}),
              HasSubstr("\"0.9\" where a number belongs"));
  EXPECT_THAT(error_for({{"eval_accuracy", 0.9}}), HasSubstr("key \"eval_loss\": no such key"));
  EXPECT_THAT(error_for({{"eval_accuracy", 0.9}, {"eval_loss", 0.3}, {"train_samples", 2.5}}),
              HasSubstr("2.5 is not a count of examples"));
  EXPECT_THAT(error_for(nlohmann::json::array()), HasSubstr("expected a JSON object of metrics"));
}

TEST(ExternalRun, RunsTheCommandIntoItsRunDirectoryAndFailsOnABadExitWithItsOutput) {
  testing::TempDir dir;
  const StudyPlan plan = external_plan(
      dir,
      R"(command = ["sh", "-c", "echo training seed {seed}; printf '{{\"eval_accuracy\": 0.75, \"eval_loss\": 0.5}}' > {run_dir}/all_results.json"])");
  energy::MeteringOptions metering;
  metering.carbon.gco2_per_kwh = 500.0;
  const std::filesystem::path run_dir = dir / "runs/hf-seed3";
  run_external(plan, plan.variants.front(), plan.variants.front().settings, metering, 3, run_dir);
  EXPECT_EQ(testing::read_text(run_dir / "command.log"), "training seed 3\n");
  const train::RunResult result = train::read_run_result(run_dir);
  EXPECT_EQ(result.accuracy, 0.75);
  EXPECT_EQ(result.eval_loss, 0.5);
  EXPECT_GT(result.train_seconds, 0.0);
  EXPECT_EQ(result.config.at("command").at(2).get<std::string>().substr(0, 18), "echo training seed");
  const auto energy = nlohmann::json::parse(testing::read_text(run_dir / "energy.json"));
  EXPECT_EQ(energy.at("exit_status"), 0);
  EXPECT_EQ(energy.at("carbon").at("gco2_per_kwh"), 500.0);
  EXPECT_EQ(testing::read_text(run_dir / "emissions.csv").find("timestamp,project_name,run_id"), 0u);

  const auto error_running = [&](const std::string& command, const std::string& run) {
    const StudyPlan failing = external_plan(dir, "command = " + command + "\n");
    return testing::error_of([&] {
      run_external(failing, failing.variants.front(), failing.variants.front().settings, metering, 1,
                   dir / run);
    });
  };
  const Error exited =
      error_running(R"(["sh", "-c", "echo loading; echo CUDA out of memory >&2; exit 3"])", "runs/hf-seed1");
  EXPECT_EQ(exited.code(), ErrorCode::invalid_data);
  EXPECT_THAT(exited.what(), HasSubstr("variant \"hf\""));
  EXPECT_THAT(exited.what(),
              HasSubstr("exited with status 3; its output ended with:\n    loading\n    CUDA out of memory"));
  const Error silent = error_running(R"(["true"])", "runs/s");
  EXPECT_THAT(silent.what(), HasSubstr("wrote no"));
  EXPECT_THAT(silent.what(), HasSubstr("all_results.json"));
  EXPECT_THAT(error_running(R"(["/no/such/program"])", "runs/m").what(),
              HasSubstr("cannot run \"/no/such/program\""));
}

}  // namespace
}  // namespace greentune::study
