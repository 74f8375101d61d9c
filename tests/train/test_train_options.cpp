// The train option table: one declaration per option from which flags, files, config.json and
// validation come. The names and ranges users rely on are written out here by hand.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "greentune/core/error.hpp"
#include "greentune/train/train_options.hpp"
#include "test_support.hpp"

namespace greentune::train {
namespace {

using ::testing::HasSubstr;

using testing::error_of;

void set(TrainOptions& options, const std::string& key, std::vector<std::string> arguments) {
  set_train_option(options, key, arguments);
}

// The options of `greentune train` as the README and users' files name them.
const std::set<std::string> kDocumentedOptions = {"model",
                                                  "device",
                                                  "data",
                                                  "format",
                                                  "text-column",
                                                  "label-column",
                                                  "labels",
                                                  "eval-data",
                                                  "test-data",
                                                  "validation-fraction",
                                                  "seed",
                                                  "cache-dir",
                                                  "vocab",
                                                  "output",
                                                  "max-length",
                                                  "batch-size",
                                                  "epochs",
                                                  "max-steps",
                                                  "optimizer",
                                                  "lr",
                                                  "betas",
                                                  "eps",
                                                  "momentum",
                                                  "nesterov",
                                                  "weight-decay",
                                                  "schedule",
                                                  "warmup-steps",
                                                  "warmup-ratio",
                                                  "label-smoothing",
                                                  "dropout",
                                                  "attention-dropout",
                                                  "classifier-dropout",
                                                  "precision",
                                                  "grad-checkpointing",
                                                  "grad-accum",
                                                  "max-grad-norm",
                                                  "shuffle",
                                                  "bucketing",
                                                  "pad-to-multiple",
                                                  "max-train-examples",
                                                  "max-test-examples",
                                                  "log-every",
                                                  "report-to",
                                                  "eval-every",
                                                  "save-every",
                                                  "early-stopping-patience",
                                                  "energy-budget-kwh",
                                                  "target-accuracy",
                                                  "resume",
                                                  "overwrite",
                                                  "keep-checkpoints",
                                                  "threads",
                                                  "country",
                                                  "region",
                                                  "cloud-provider",
                                                  "cloud-region",
                                                  "carbon-intensity",
                                                  "carbon-source",
                                                  "carbon-zone",
                                                  "carbon-sample-s",
                                                  "pue",
                                                  "interval-ms",
                                                  "prometheus-pushgateway"};

TEST(TrainOptions, ConfigJsonHasOneKeyPerDocumentedOption) {
  const nlohmann::json json = TrainOptions{};
  std::set<std::string> keys;
  for (const auto& [key, value] : json.items())
    keys.insert(key);
  EXPECT_EQ(keys, kDocumentedOptions);
  std::set<std::string> names;
  for (const Option<TrainOptions>& option : train_options())
    EXPECT_TRUE(names.insert(option.name).second) << option.name << " is declared twice";
}

TEST(TrainOptions, EveryOptionReadsBackWhatItWrites) {
  // Each entry's reader and writer agree: the JSON of a default, given back as text, sets the same value.
  const TrainOptions defaults;
  for (const Option<TrainOptions>& option : train_options()) {
    SCOPED_TRACE(option.name);
    const nlohmann::json value = option.get(defaults);
    if (value.is_null() || (value.is_string() && value.get<std::string>().empty()) ||
        (value.is_array() && value.empty()))
      continue;  // unset by default: nothing to give back
    std::vector<std::string> arguments;
    if (value.is_array()) {
      for (const auto& element : value)
        arguments.push_back(element.is_string() ? element.get<std::string>() : element.dump());
    } else if (option.arity != OptionArity::flag || value.is_boolean()) {
      arguments.push_back(value.is_string() ? value.get<std::string>() : value.dump());
    }
    TrainOptions changed;
    option.set(changed, arguments);
    EXPECT_EQ(option.get(changed), value);
  }
}

TEST(TrainOptions, ValuesAreReadAsTheFlagsDocumentThem) {
  TrainOptions options;
  set(options, "lr", {"3e-4"});
  set(options, "betas", {"0.8", "0.99"});
  set(options, "optimizer", {"sgd"});
  set(options, "nesterov", {});
  set(options, "bucketing", {"none"});
  set(options, "no-shuffle", {});
  set(options, "dropout", {"0.2"});
  set(options, "interval-ms", {"250"});
  set(options, "carbon-intensity", {"56"});
  set(options, "labels", {"neg", "pos"});
  set(options, "max-length", {"128"});
  EXPECT_DOUBLE_EQ(options.optimizer.lr, 3e-4);
  EXPECT_DOUBLE_EQ(options.optimizer.beta1, 0.8);
  EXPECT_DOUBLE_EQ(options.optimizer.beta2, 0.99);
  EXPECT_EQ(options.optimizer.kind, OptimizerKind::sgd);
  EXPECT_TRUE(options.optimizer.nesterov);
  EXPECT_FALSE(options.length_bucketing);
  EXPECT_FALSE(options.shuffle);
  ASSERT_TRUE(options.dropout.has_value());
  EXPECT_DOUBLE_EQ(*options.dropout, 0.2);
  EXPECT_EQ(options.metering.interval.count(), 250);
  EXPECT_EQ(options.metering.carbon.gco2_per_kwh, 56.0);
  EXPECT_EQ(options.data.label_names, (std::vector<std::string>{"neg", "pos"}));
  EXPECT_EQ(options.max_length, 128u);
  // A file's booleans: `shuffle = true` and `no-shuffle = false` both mean shuffle.
  set(options, "shuffle", {"true"});
  EXPECT_TRUE(options.shuffle);
  set(options, "no-shuffle", {"true"});
  EXPECT_FALSE(options.shuffle);
  set(options, "no-shuffle", {"false"});
  EXPECT_TRUE(options.shuffle);
  EXPECT_EQ(error_of([&] { set(options, "learning-rate", {"1"}); }).code(), ErrorCode::usage);
  EXPECT_EQ(error_of([&] { set(options, "optimizer", {"lion"}); }).code(), ErrorCode::usage);
  EXPECT_EQ(error_of([&] { set(options, "resume", {"yes"}); }).code(), ErrorCode::usage);
}

// A range is stated once: a value outside it is refused with the same message whether it comes as text
// (a flag, a file) or in a TrainOptions filled in code (validate, the study's pre-flight check).
TEST(TrainOptions, ReadingAndValidationRefuseTheSameValues) {
  struct Case {
    std::string key, inside, outside, range;
    void (*assign)(TrainOptions&, double);
  };
  const std::vector<Case> cases = {
      {"label-smoothing", "0.9995", "1", "a number of at least 0 and below 1",
       [](TrainOptions& o, double v) { o.label_smoothing = v; }},
      {"lr", "1e-9", "0", "a number greater than 0", [](TrainOptions& o, double v) { o.optimizer.lr = v; }},
      {"warmup-ratio", "1", "1.5", "a number from 0 to 1",
       [](TrainOptions& o, double v) { o.warmup_ratio = v; }},
      {"dropout", "0", "1", "a number of at least 0 and below 1",
       [](TrainOptions& o, double v) { o.dropout = v; }},
      {"target-accuracy", "1", "95", "a number from 0 to 1",
       [](TrainOptions& o, double v) { o.target_accuracy = v; }},
      {"batch-size", "65536", "65537", "a whole number from 1 to 65536",
       [](TrainOptions& o, double v) { o.batch_size = static_cast<size_t>(v); }},
      {"grad-accum", "1", "0", "a whole number from 1 to 65536",
       [](TrainOptions& o, double v) { o.grad_accum = static_cast<int64_t>(v); }},
      {"pue", "5", "0.5", "a number from 1 to 5", [](TrainOptions& o, double v) { o.metering.pue = v; }},
      {"validation-fraction", "0", "1", "a number of at least 0 and below 1",
       [](TrainOptions& o, double v) { o.validation_fraction = v; }},
  };
  for (const Case& test : cases) {
    SCOPED_TRACE(test.key);
    TrainOptions options;
    options.data.path = "reviews.jsonl";
    set(options, test.key, {test.inside});
    EXPECT_NO_THROW(validate(options));
    const Error read = error_of([&] { set(options, test.key, {test.outside}); });
    EXPECT_EQ(read.code(), ErrorCode::usage);
    EXPECT_EQ(read.where(), "--" + test.key);
    EXPECT_THAT(read.what(), HasSubstr("must be " + test.range + ", got " + test.outside));
    test.assign(options, std::stod(test.outside));
    const Error validated = error_of([&] { validate(options); });
    EXPECT_EQ(validated.code(), ErrorCode::usage);
    EXPECT_EQ(validated.where(), "--" + test.key);
    EXPECT_THAT(validated.what(), HasSubstr("must be " + test.range));
  }
}

TEST(TrainOptions, AutoPrecisionIsFp32OnACpuAndAChosenPrecisionStays) {
  EXPECT_EQ(parse_precision("auto"), Precision::automatic);
  EXPECT_EQ(to_string(Precision::automatic), "auto");
  const torch::Device cpu(torch::kCPU);
  EXPECT_EQ(resolve_precision(Precision::automatic, cpu), Precision::fp32);
  for (const Precision chosen : {Precision::fp32, Precision::bf16, Precision::fp16})
    EXPECT_EQ(resolve_precision(chosen, cpu), chosen);
}

TEST(TrainOptions, ValidateRefusesContradictionsAndMissingFiles) {
  TrainOptions options;
  EXPECT_EQ(error_of([&] { validate(options); }).where(), "--data");
  options.data.path = "reviews.jsonl";
  options.epochs = 0;
  EXPECT_EQ(error_of([&] { validate(options); }).where(), "--epochs");
  options.max_steps = 10;
  EXPECT_NO_THROW(validate(options));
  options.precision = Precision::fp16;
  EXPECT_EQ(error_of([&] { validate(options); }).where(), "--precision");
  options.precision = Precision::bf16;
  options.eval_data = "/nonexistent/eval.jsonl";
  const Error missing = error_of([&] { validate(options); });
  EXPECT_EQ(missing.code(), ErrorCode::not_found);
  EXPECT_EQ(missing.where(), "--eval-data");
}

}  // namespace
}  // namespace greentune::train
