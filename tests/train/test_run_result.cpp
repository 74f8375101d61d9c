// RUN/result.json's keys, pinned by a hand-written file rather than by RunResult itself: reading it fills
// every field, writing the result gives the same JSON back, and a file with a key missing, renamed or of
// the wrong type is an Error naming the file and the key.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "greentune/core/error.hpp"
#include "greentune/train/run_result.hpp"
#include "test_support.hpp"

namespace greentune::train {
namespace {

using ::testing::HasSubstr;

// A two-rank run with a test split, gradient checkpointing and a forecast: every optional key is set, and
// no two numbers are alike, so that a key read into the wrong field shows.
constexpr const char* kResultJson = R"({
  "accuracy": 0.875, "f1": 0.8611, "eval_loss": 0.3125, "n": 32,
  "best": {"step": 48, "metrics": {"accuracy": 0.90625, "f1": 0.9, "eval_loss": 0.28, "n": 32}},
  "test_accuracy": 0.85,
  "test": {"accuracy": 0.85, "f1": 0.84, "eval_loss": 0.35, "n": 20},
  "steps": 64, "stop_reason": "target-accuracy", "skipped_steps": 3,
  "train_seconds": 12.5, "train_samples": 512, "train_samples_per_s": 45.5, "train_tokens_per_s": 910.25,
  "padding_fraction": 0.125, "peak_memory_mb": 812.5, "peak_tensor_memory_mb": 96.75,
  "checkpointing_memory": {"plain_mb": 40.0, "checkpointed_mb": 12.0, "saved_mb": 28.0},
  "energy_kwh": 0.0021, "gpu_kwh": 0.0011, "cpu_kwh": 0.0006, "dram_kwh": 0.0001, "ram_kwh": 0.0002,
  "eval_kwh": 0.0004, "co2_kg": 0.00095, "average_w": 604.8, "joules_per_sample": 14.765625,
  "energy_methods": {"cpu": "rapl", "gpu": "nvml-energy-counter"},
  "energy_forecast": {"from_steps": 16, "total_steps": 64, "kwh": 0.0024, "co2_kg": 0.0011},
  "carbon": {"gco2_per_kwh": 452.0, "zone": "DE", "reason": "--country DE"},
  "world_size": 2, "threads": 4,
  "ranks": [
    {"rank": 0, "host": "a", "threads": 4, "peak_memory_mb": 812.5, "peak_tensor_memory_mb": 96.75,
     "energy_kwh": 0.0012, "energy_methods": {"cpu": "rapl"}},
    {"rank": 1, "host": "b", "threads": 3, "peak_memory_mb": 790.0, "peak_tensor_memory_mb": 95.5,
     "energy_kwh": 0.0009, "energy_methods": {"gpu": "nvml-energy-counter"}}],
  "config": {"lr": 2e-05, "total-steps": 64}
})";

TEST(RunResult, ReadsEveryKeyOfAHandWrittenResultAndWritesTheSameJsonBack) {
  const nlohmann::json text = nlohmann::json::parse(kResultJson);
  const RunResult result = text.get<RunResult>();
  EXPECT_EQ(result.accuracy, 0.875);
  EXPECT_EQ(result.f1, 0.8611);
  EXPECT_EQ(result.eval_loss, 0.3125);
  EXPECT_EQ(result.n, 32u);
  EXPECT_EQ(result.best.step, 48);
  EXPECT_EQ(result.best.metrics.accuracy, 0.90625);
  EXPECT_EQ(result.best.metrics.macro_f1, 0.9);
  EXPECT_EQ(result.test_accuracy, 0.85);
  ASSERT_TRUE(result.test.has_value());
  EXPECT_EQ(result.test->n, 20u);
  EXPECT_EQ(result.test->eval_loss, 0.35);
  EXPECT_EQ(result.steps, 64);
  EXPECT_EQ(result.stop_reason, kStopTargetAccuracy);
  EXPECT_EQ(result.skipped_steps, 3);
  EXPECT_EQ(result.train_seconds, 12.5);
  EXPECT_EQ(result.train_samples, 512u);
  EXPECT_EQ(result.train_samples_per_s, 45.5);
  EXPECT_EQ(result.train_tokens_per_s, 910.25);
  EXPECT_EQ(result.padding_fraction, 0.125);
  EXPECT_EQ(result.peak_memory_mb, 812.5);
  EXPECT_EQ(result.peak_tensor_memory_mb, 96.75);
  ASSERT_TRUE(result.checkpointing_memory.has_value());
  EXPECT_EQ(result.checkpointing_memory->saved_mb, 28.0);
  EXPECT_EQ(result.energy_kwh, 0.0021);
  EXPECT_EQ(result.gpu_kwh, 0.0011);
  EXPECT_EQ(result.cpu_kwh, 0.0006);
  EXPECT_EQ(result.dram_kwh, 0.0001);
  EXPECT_EQ(result.ram_kwh, 0.0002);
  EXPECT_EQ(result.eval_kwh, 0.0004);
  EXPECT_EQ(result.co2_kg, 0.00095);
  EXPECT_EQ(result.average_w, 604.8);
  EXPECT_EQ(result.joules_per_sample, 14.765625);
  EXPECT_EQ(result.energy_methods.at("gpu"), "nvml-energy-counter");
  ASSERT_TRUE(result.energy_forecast.has_value());
  EXPECT_EQ(result.energy_forecast->total_steps, 64);
  EXPECT_EQ(result.carbon.zone, "DE");
  EXPECT_EQ(result.carbon.gco2_per_kwh, 452.0);
  EXPECT_EQ(result.world_size, 2);
  EXPECT_EQ(result.threads, 4);
  ASSERT_TRUE(result.ranks.has_value());
  ASSERT_EQ(result.ranks->size(), 2u);
  EXPECT_EQ(result.ranks->at(1).host, "b");
  EXPECT_EQ(result.ranks->at(1).threads, 3);
  EXPECT_EQ(result.config.at("total-steps"), 64);

  EXPECT_EQ(nlohmann::json(result), text);  // no key added, dropped or renamed on the way back
}

TEST(RunResult, AnUnsetOptionalIsWrittenAsNullAndReadBackUnset) {
  nlohmann::json text = nlohmann::json::parse(kResultJson);
  for (const char* key : {"test_accuracy", "test", "checkpointing_memory", "energy_forecast", "ranks"})
    text[key] = nullptr;
  const RunResult result = text.get<RunResult>();
  EXPECT_FALSE(result.test_accuracy || result.test || result.checkpointing_memory || result.energy_forecast ||
               result.ranks);
  EXPECT_EQ(nlohmann::json(result), text);
}

// The Error that reading dir's result.json throws; an internal one, with a test failure, when it reads.
Error read_error(const testing::TempDir& dir) {
  try {
    read_run_result(dir.path());
  } catch (const Error& error) {
    return error;
  }
  ADD_FAILURE() << "read a damaged or missing result.json";
  return Error(ErrorCode::internal, "", "no error");
}

TEST(RunResult, AFileWithAKeyMissingRenamedOrMistypedIsAnErrorNamingTheFileAndKey) {
  testing::TempDir dir;
  const std::filesystem::path file = dir / kRunResultFile;
  const auto expect_error = [&](const nlohmann::json& text, const std::string& key,
                                const std::string& problem) {
    testing::write_text(file, text.dump());
    const Error error = read_error(dir);
    EXPECT_EQ(error.code(), ErrorCode::parse) << key;
    EXPECT_EQ(error.where(), file.string() + ": key \"" + key + "\"");
    EXPECT_THAT(error.what(), HasSubstr("damaged run result: " + problem));
    EXPECT_THAT(error.what(), HasSubstr("delete this result.json to train the run again"));
  };
  const nlohmann::json whole = nlohmann::json::parse(kResultJson);
  nlohmann::json renamed = whole;
  renamed["acc"] = renamed.at("accuracy");
  renamed.erase("accuracy");
  expect_error(renamed, "accuracy", "no such key");
  nlohmann::json nested = whole;
  nested["best"]["metrics"].erase("eval_loss");
  expect_error(nested, "best.metrics.eval_loss", "no such key");
  nlohmann::json mistyped = whole;
  mistyped["energy_kwh"] = "0.0021";
  expect_error(mistyped, "energy_kwh", "a string where a number belongs");
  nlohmann::json not_an_object = whole;
  not_an_object["carbon"] = 452.0;
  expect_error(not_an_object, "carbon", "a number where an object belongs");

  testing::write_text(file, "{\"accuracy\": 0.9,");  // cut short
  const Error truncated = read_error(dir);
  EXPECT_EQ(truncated.code(), ErrorCode::parse);
  EXPECT_EQ(truncated.where(), file.string());
  EXPECT_THAT(truncated.what(), HasSubstr("damaged run result: is not valid JSON: parse error"));
  // A value nested deeper than kMaxJsonNesting is refused, not copied level by level down the stack.
  testing::write_text(file, std::string(100'000, '[') + std::string(100'000, ']'));
  EXPECT_THAT(read_error(dir).what(),
              HasSubstr("damaged run result: nests arrays and objects deeper than 64 levels"));
  std::filesystem::remove(file);
  const Error missing = read_error(dir);
  EXPECT_EQ(missing.code(), ErrorCode::not_found);
  EXPECT_EQ(missing.where(), file.string());
}

}  // namespace
}  // namespace greentune::train
