// The training loop end to end on the tiny reference model and a small, learnable dataset.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "../model/model_test_support.hpp"
#include "greentune/core/error.hpp"
#include "greentune/model/pretrained.hpp"
#include "greentune/train/trainer.hpp"

namespace greentune::train {
namespace {

using ::testing::HasSubstr;

// "great" reviews are positive, "bad" ones negative: a tiny model learns this in a few epochs.
void write_sentiment_jsonl(const std::filesystem::path& path, int examples) {
  std::string text;
  for (int i = 0; i < examples; ++i) {
    const bool positive = i % 2 == 0;
    text += nlohmann::json{{"text", (positive ? "the movie was great w" : "the movie was bad w") +
                                        std::to_string(100 + i % 700)},
                           {"label", positive ? "pos" : "neg"}}
                .dump() +
            "\n";
  }
  testing::write_text(path, text);
}

TrainOptions small_run(const testing::TempDir& dir) {
  testing::write_tiny_model_dir(dir / "model", "distilbert_tiny");
  write_sentiment_jsonl(dir / "reviews.jsonl", 160);
  TrainOptions options;
  options.model = (dir / "model").string();
  options.data.path = dir / "reviews.jsonl";
  options.cache_dir = dir / "cache";
  options.output = dir / "run";
  options.max_length = 32;
  options.batch_size = 8;
  options.epochs = 4;
  options.optimizer.lr = 2e-3;
  options.warmup_ratio = 0.1;
  options.log_every = 5;
  options.threads = 1;
  options.validation_fraction = 0.2;
  return options;
}

std::vector<torch::Tensor> saved_parameters(const std::filesystem::path& model_dir) {
  return model::load_pretrained(model_dir.string()).model->parameters();
}

std::vector<nlohmann::json> read_jsonl(const std::filesystem::path& path) {
  std::vector<nlohmann::json> rows;
  std::istringstream lines(testing::read_text(path));
  std::string line;
  while (std::getline(lines, line))
    rows.push_back(nlohmann::json::parse(line));
  return rows;
}

TEST(Trainer, LearnsASeparableTaskAndWritesMetricsResultAndModel) {
  testing::TempDir dir;
  const TrainOptions options = small_run(dir);
  const RunResult result = train(options);

  // 128 training examples / 8 = 16 updates per epoch, 4 epochs.
  EXPECT_EQ(result.steps, 64);
  EXPECT_EQ(result.n, 32u);
  EXPECT_GE(result.accuracy, 0.95) << "the model did not learn great vs bad";
  EXPECT_GT(result.padding_fraction, 0.0);

  const auto rows = read_jsonl(dir / "run/metrics.jsonl");
  size_t train_rows = 0, eval_rows = 0;
  double first_loss = -1.0, last_loss = -1.0;
  for (const auto& row : rows) {
    if (row.contains("loss")) {
      ++train_rows;
      for (const char* key :
           {"step", "epoch", "lr", "grad_norm", "loss_scale", "samples_per_s", "tokens_per_s"}) {
        EXPECT_TRUE(row.contains(key)) << key;
      }
      if (first_loss < 0)
        first_loss = row.at("loss");
      last_loss = row.at("loss");
    } else {
      ++eval_rows;
      for (const char* key : {"step", "epoch", "eval_loss", "accuracy", "f1"})
        EXPECT_TRUE(row.contains(key)) << key;
    }
  }
  EXPECT_EQ(train_rows, 64u / 5u + 1u);  // every 5 updates, and the last one
  EXPECT_EQ(eval_rows, 4u);              // one per epoch
  EXPECT_LT(last_loss, first_loss);

  const auto summary = nlohmann::json::parse(testing::read_text(dir / "run/result.json"));
  for (const char* key :
       {"accuracy", "f1", "eval_loss", "best", "train_seconds", "steps", "skipped_steps", "peak_memory_mb",
        "peak_tensor_memory_mb", "padding_fraction", "train_samples_per_s", "train_tokens_per_s", "config"}) {
    EXPECT_TRUE(summary.contains(key)) << key;
  }
  EXPECT_GT(result.train_samples_per_s, 0.0);
  EXPECT_GT(result.train_tokens_per_s, result.train_samples_per_s);  // every example has several tokens
  EXPECT_TRUE(summary.at("checkpointing_memory").is_null());         // only measured with checkpointing
  // The tensors alive at the peak include at least the fp32 weights and their gradients.
  size_t parameter_bytes = 0;
  for (const auto& parameter : saved_parameters(dir / "run/model"))
    parameter_bytes += parameter.numel() * sizeof(float);
  EXPECT_GT(result.peak_tensor_memory_mb * 1024 * 1024, 2.0 * static_cast<double>(parameter_bytes));
  EXPECT_EQ(summary.at("config").at("total-steps"), 64);
  EXPECT_TRUE(std::filesystem::exists(dir / "run/config.json"));

  // Energy: the run's totals, per component, with the methods, a forecast after the first of 4 epochs,
  // emissions.csv (header + one row) and energy.json with a window per epoch and per evaluation.
  EXPECT_GT(result.energy_kwh, 0.0);
  // result.json holds what train() returns, every key of RunResult, and reads back whole.
  EXPECT_EQ(summary, nlohmann::json(result));
  EXPECT_EQ(nlohmann::json(read_run_result(dir / "run")), summary);
  EXPECT_NEAR(summary.at("co2_kg").get<double>(), summary.at("energy_kwh").get<double>() * 0.475, 1e-12);
  EXPECT_NEAR(summary.at("energy_kwh").get<double>(),
              summary.at("gpu_kwh").get<double>() + summary.at("cpu_kwh").get<double>() +
                  summary.at("dram_kwh").get<double>() + summary.at("ram_kwh").get<double>(),
              1e-12);  // PUE 1
  EXPECT_GT(summary.at("joules_per_sample").get<double>(), 0.0);
  EXPECT_TRUE(summary.at("energy_methods").contains("cpu"));
  EXPECT_EQ(summary.at("carbon").at("zone"), "WORLD");
  ASSERT_TRUE(result.energy_forecast.has_value());
  EXPECT_EQ(result.energy_forecast->from_steps, 16);
  EXPECT_EQ(result.energy_forecast->total_steps, 64);
  EXPECT_GT(result.energy_forecast->kwh, 0.0);
  EXPECT_EQ(summary.at("energy_forecast").at("from_steps"), 16);
  const std::string emissions = testing::read_text(dir / "run/emissions.csv");
  EXPECT_EQ(std::count(emissions.begin(), emissions.end(), '\n'), 2);
  const auto energy_report = nlohmann::json::parse(testing::read_text(dir / "run/energy.json"));
  std::vector<std::string> window_names;
  for (const auto& window : energy_report.at("ranks").at(0).at("windows"))
    window_names.push_back(window.at("name"));
  EXPECT_EQ(window_names, (std::vector<std::string>{"run", "eval", "epoch-1", "eval", "epoch-2", "eval",
                                                    "epoch-3", "eval", "epoch-4"}));
  for (const auto& row : rows)
    EXPECT_TRUE(row.contains("energy_kwh")) << row.dump();

  // The saved model loads and carries the dataset's label names.
  const auto saved = model::load_pretrained((dir / "run/model").string());
  EXPECT_EQ(saved.model->config().id2label, (std::vector<std::string>{"neg", "pos"}));
}

TEST(Trainer, SameSeedSameLossesOtherSeedOtherLosses) {
  testing::TempDir first_dir, second_dir, third_dir;
  TrainOptions first = small_run(first_dir);
  first.epochs = 1;
  TrainOptions second = small_run(second_dir);
  second.epochs = 1;
  TrainOptions third = small_run(third_dir);
  third.epochs = 1;
  third.seed = 7;
  train(first);
  train(second);
  train(third);
  const auto losses = [](const std::filesystem::path& path) {
    std::vector<double> values;
    for (const auto& row : read_jsonl(path)) {
      if (row.contains("loss"))
        values.push_back(row.at("loss"));
    }
    return values;
  };
  EXPECT_EQ(losses(first_dir / "run/metrics.jsonl"), losses(second_dir / "run/metrics.jsonl"));
  EXPECT_NE(losses(first_dir / "run/metrics.jsonl"), losses(third_dir / "run/metrics.jsonl"));
}

TEST(Trainer, GradientCheckpointingGivesTheSameLossesInFp32) {
  testing::TempDir plain_dir, checkpointed_dir;
  TrainOptions plain = small_run(plain_dir);
  plain.epochs = 1;
  TrainOptions checkpointed = small_run(checkpointed_dir);
  checkpointed.epochs = 1;
  checkpointed.grad_checkpointing = true;
  const RunResult plain_result = train(plain);
  const RunResult checkpointed_result = train(checkpointed);
  const auto losses = [](const std::filesystem::path& path) {
    std::vector<double> values;
    for (const auto& row : read_jsonl(path))
      values.push_back(row.contains("loss") ? row.at("loss") : row.at("eval_loss"));
    return values;
  };
  // The memory probe before training (one plain and one checkpointed pass) leaves no trace in the run.
  EXPECT_EQ(losses(plain_dir / "run/metrics.jsonl"), losses(checkpointed_dir / "run/metrics.jsonl"));
  EXPECT_EQ(plain_result.eval_loss, checkpointed_result.eval_loss);

  ASSERT_TRUE(checkpointed_result.checkpointing_memory.has_value());
  const auto& memory = *checkpointed_result.checkpointing_memory;
  EXPECT_GT(memory.checkpointed_mb, 0.0);
  EXPECT_LT(memory.checkpointed_mb, memory.plain_mb) << "checkpointing kept as many activations";
  EXPECT_FALSE(plain_result.checkpointing_memory.has_value());
  const auto summary = nlohmann::json::parse(testing::read_text(checkpointed_dir / "run/result.json"));
  EXPECT_DOUBLE_EQ(summary.at("checkpointing_memory").at("saved_mb").get<double>(), memory.saved_mb);
}

TEST(Trainer, EvalDataAndTestDataReplaceTheHeldOutShareAndTheTestSplit) {
  testing::TempDir dir;
  TrainOptions options = small_run(dir);
  // Only positive examples to evaluate on: their label must still map to the training id of "pos".
  std::string positives;
  for (int i = 0; i < 24; ++i)
    positives += nlohmann::json{{"text", "the movie was great"}, {"label", "pos"}}.dump() + "\n";
  testing::write_text(dir / "eval.jsonl", positives);
  write_sentiment_jsonl(dir / "test.jsonl", 10);
  options.eval_data = dir / "eval.jsonl";
  options.test_data = dir / "test.jsonl";
  const RunResult result = train(options);

  EXPECT_EQ(result.n, 24u);
  ASSERT_TRUE(result.test.has_value());
  EXPECT_EQ(result.test->n, 10u);
  const auto config = nlohmann::json::parse(testing::read_text(dir / "run/config.json"));
  EXPECT_EQ(config.at("train-examples"), 160);  // nothing held out of the training data
  EXPECT_EQ(config.at("validation-examples"), 24);
  EXPECT_EQ(config.at("eval-data"), (dir / "eval.jsonl").string());
  // All 24 are "pos". Read with the training label names, "pos" is id 1, which the trained model predicts;
  // read on their own, "pos" would be id 0 ("neg" to the model) and the accuracy near 0.
  EXPECT_GE(result.accuracy, 0.9);
}

TEST(Trainer, Bf16GradientAccumulationAndCheckpointingRun) {
  testing::TempDir dir;
  TrainOptions options = small_run(dir);
  options.epochs = 1;
  options.precision = Precision::bf16;
  options.grad_accum = 2;
  options.label_smoothing = 0.1;
  options.optimizer.kind = OptimizerKind::sgd;
  options.optimizer.lr = 0.05;
  options.schedule = Schedule::cosine;
  options.grad_checkpointing = true;
  const RunResult result = train(options);
  EXPECT_EQ(result.steps, 8);  // 16 micro-batches, 2 per update
  EXPECT_TRUE(std::isfinite(result.eval_loss));
}

TEST(Trainer, EarlyStoppingEndsTheRunWhenAccuracyStopsImproving) {
  testing::TempDir dir;
  TrainOptions options = small_run(dir);
  options.epochs = 30;
  options.eval_every = 2;
  options.early_stopping_patience = 3;
  const RunResult result = train(options);
  EXPECT_EQ(result.stop_reason, kStopEarlyStopping);
  EXPECT_LT(result.steps, 30 * 16);
  // The run ended exactly `patience` evaluations after the best one.
  EXPECT_EQ(result.steps, result.best.step + 3 * 2);
  EXPECT_EQ(nlohmann::json::parse(testing::read_text(dir / "run/result.json")).at("stop_reason"),
            "early-stopping");
}

TEST(Trainer, MaxTrainAndTestExamplesDrawSubsetsWithTheSeed) {
  testing::TempDir dir;
  TrainOptions options = small_run(dir);
  options.epochs = 1;
  write_sentiment_jsonl(dir / "test.jsonl", 30);
  options.test_data = dir / "test.jsonl";
  options.max_train_examples = 50;
  options.max_test_examples = 12;
  const RunResult result = train(options);
  const auto config = nlohmann::json::parse(testing::read_text(dir / "run/config.json"));
  EXPECT_EQ(config.at("train-examples"), 40);  // 50 drawn, a 0.2 validation share held out of them
  EXPECT_EQ(config.at("validation-examples"), 10);
  EXPECT_EQ(result.steps, 5);  // 40 / 8
  ASSERT_TRUE(result.test.has_value());
  EXPECT_EQ(result.test->n, 12u);
}

TEST(Trainer, AnEnergyBudgetOrATargetAccuracyEndsTheRunAndSaysWhy) {
  testing::TempDir budget_dir, target_dir;
  TrainOptions budget = small_run(budget_dir);
  budget.energy_budget_kwh = 1e-9;  // 3.6 mJ: passed by the first update
  const RunResult over_budget = train(budget);
  EXPECT_EQ(over_budget.stop_reason, kStopEnergyBudget);
  EXPECT_EQ(over_budget.steps, 1);
  EXPECT_EQ(nlohmann::json::parse(testing::read_text(budget_dir / "run/result.json")).at("stop_reason"),
            "energy-budget");

  TrainOptions target = small_run(target_dir);
  target.eval_every = 4;
  target.target_accuracy = 0.9;
  const RunResult reached = train(target);
  EXPECT_EQ(reached.stop_reason, kStopTargetAccuracy);
  EXPECT_GE(reached.accuracy, 0.9);
  EXPECT_LT(reached.steps, 64);  // stopped before the 4 epochs' 64 updates
  EXPECT_EQ(reached.steps % 4, 0);
}

TEST(Trainer, BadOptionsAreClearErrorsBeforeAnyWork) {
  testing::TempDir dir;
  const auto expect_usage = [&](TrainOptions options, const std::string& flag) {
    try {
      train(options);
      FAIL() << "accepted bad " << flag;
    } catch (const Error& error) {
      EXPECT_EQ(error.code(), ErrorCode::usage) << error.what();
      EXPECT_THAT(error.what(), HasSubstr(flag));
    }
    EXPECT_FALSE(std::filesystem::exists(options.output / "result.json"));
  };
  TrainOptions options = small_run(dir);
  options.batch_size = 0;
  expect_usage(options, "--batch-size");
  options = small_run(dir);
  options.optimizer.lr = -1.0;
  expect_usage(options, "--lr");
  options = small_run(dir);
  options.precision = Precision::fp16;
  expect_usage(options, "--precision");
  options = small_run(dir);
  options.max_length = 100;  // the tiny model has 64 positions
  expect_usage(options, "--max-length");
  EXPECT_THROW(parse_optimizer("lamb"), Error);
  EXPECT_THROW(parse_precision("int8"), Error);
}

}  // namespace
}  // namespace greentune::train
