// `greentune train` end to end: a TOML config, flags overriding it, and config errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

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
