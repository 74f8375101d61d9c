// The JSON files of a checkpoint, as --resume reads them: the pointer may only name a checkpoint directory
// of the run, and a damaged state.json is one parse error naming the file and the key.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "checkpoint_state.hpp"
#include "greentune/core/error.hpp"
#include "test_support.hpp"

namespace greentune::train {
namespace {

using ::testing::HasSubstr;

using testing::error_of;

TEST(CheckpointState, ThePointerNamesADirectoryOfTheRunAndNothingElse) {
  EXPECT_EQ(checkpoint_dir_of(R"({"dir": "checkpoint-12", "step": 12})", "/runs/a/checkpoint.json"),
            std::filesystem::path("/runs/a/checkpoint-12"));
  EXPECT_EQ(checkpoint_dir_name(12), "checkpoint-12");
  for (const std::string pointer :
       {R"({"dir": "../../home/user"})", R"({"dir": "/etc"})", R"({"dir": "checkpoint-1/../../x"})",
        R"({"dir": "checkpoint-"})", R"({"dir": 12})", R"({"step": 12})", R"([1])"}) {
    const Error error = error_of([&] { checkpoint_dir_of(pointer, "/runs/a/checkpoint.json"); });
    EXPECT_EQ(error.code(), ErrorCode::parse) << pointer;
    EXPECT_THAT(error.what(), HasSubstr("/runs/a/checkpoint.json: key \"dir\"")) << pointer;
    EXPECT_THAT(error.what(), HasSubstr("the name of a checkpoint directory")) << pointer;
  }
  const Error deep = error_of([] {
    checkpoint_dir_of(std::string(100'000, '[') + std::string(100'000, ']'), "/runs/a/checkpoint.json");
  });
  EXPECT_THAT(deep.what(), HasSubstr("damaged checkpoint: the file nests arrays and objects deeper than 64"));
}

TEST(CheckpointState, TheLoopStateReadsItsFieldsAndDefaultsTheMissingOnes) {
  const LoopState state = parse_loop_state(
      R"({"step": 40, "epoch": 1, "best": {"accuracy": 0.71, "f1": 0.7, "eval_loss": 0.58, "n": 200},
          "loss_scaler": {"scale": 1024.0, "good_steps": 3, "skipped_steps": 2}, "metrics_bytes": 5123})",
      "state.json");
  EXPECT_EQ(state.step, 40);
  EXPECT_EQ(state.epoch, 1);
  EXPECT_EQ(state.best.n, 200u);
  EXPECT_DOUBLE_EQ(state.best.macro_f1, 0.7);
  EXPECT_DOUBLE_EQ(state.loss_scaler.scale, 1024.0);
  EXPECT_EQ(state.loss_scaler.skipped_steps, 2);
  EXPECT_EQ(state.metrics_bytes, 5123u);
  EXPECT_EQ(state.rng_device, "cpu");  // absent from checkpoints of older greentunes
  EXPECT_EQ(state.last_eval_step, -1);
}

TEST(CheckpointState, ADamagedLoopStateIsAParseErrorNamingTheFileAndKey) {
  nlohmann::json mistyped = LoopState{};
  mistyped["step"] = "forty";
  Error error = error_of([&] { parse_loop_state(mistyped.dump(), "run/checkpoint-40/state.json"); });
  EXPECT_EQ(error.code(), ErrorCode::parse);
  EXPECT_THAT(error.what(), HasSubstr("run/checkpoint-40/state.json: key \"step\": damaged checkpoint"));
  error = error_of([] { parse_loop_state(R"({"window_loss": 1e999})", "state.json"); });
  EXPECT_THAT(error.what(), HasSubstr("state.json: damaged checkpoint: the file is not valid JSON"));
  error = error_of([] { parse_loop_state(R"({"best": {"n": 1e300}})", "state.json"); });
  EXPECT_THAT(error.what(), HasSubstr("state.json: key \"best.n\": damaged checkpoint: 1e+300 where a"));
  error = error_of([] { parse_loop_state(R"({"next_batch": -1})", "state.json"); });
  EXPECT_THAT(error.what(), HasSubstr("key \"next_batch\": damaged checkpoint: -1 where a non-negative"));
  error = error_of([] { parse_loop_state(R"({"step": 4)", "state.json"); });
  EXPECT_EQ(error.code(), ErrorCode::parse);
}

}  // namespace
}  // namespace greentune::train
