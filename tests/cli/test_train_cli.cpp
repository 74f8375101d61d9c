// `greentune train` end to end: a TOML config, flags overriding it, config errors, resume after SIGKILL.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "../model/model_test_support.hpp"
#include "greentune/core/error.hpp"
#include "http_server.hpp"
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

// --carbon-source electricitymaps in a training run: the zone is asked of a local server answering as the
// API does, and result.json, energy.json and emissions.csv hold CO2 at its figure (123 gCO2e/kWh), not at
// the world average the run would otherwise use (475).
TEST(TrainCli, LiveCarbonIntensityGivesTheRunsCo2) {
  TempDir dir;
  write_tiny_model_dir(dir / "model", "bert_tiny");
  write_reviews(dir / "reviews.jsonl");
  HttpServerOptions options;
  options.routes["/v3/carbon-intensity/latest?zone=US-CAL-CISO"] = HttpRoute{
      200, {}, R"({"zone": "US-CAL-CISO", "carbonIntensity": 123, "datetime": "2026-12-07T10:00:00Z"})"};
  HttpServer server(options);
  const std::string environment =
      "ELECTRICITYMAPS_API_TOKEN=t GREENTUNE_ELECTRICITYMAPS_URL=" + server.url("/v3") + " XDG_CACHE_HOME='" +
      (dir / "xdg").string() + "' ";
  const CommandResult result =
      run_cli("train --model '" + (dir / "model").string() + "' --data '" + (dir / "reviews.jsonl").string() +
                  "' --max-length 16 --batch-size 4 --epochs 1 --threads 1 --cache-dir '" +
                  (dir / "cache").string() + "' --output '" + (dir / "run").string() +
                  "' --carbon-source electricitymaps --carbon-zone US-CAL-CISO --carbon-sample-s 60",
              {}, environment);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(server.requests().size(), 1u);
  const auto run = nlohmann::json::parse(read_text(dir / "run/result.json"));
  EXPECT_DOUBLE_EQ(run.at("carbon").at("gco2_per_kwh").get<double>(), 123.0);
  const double kwh = run.at("energy_kwh");
  ASSERT_GT(kwh, 0.0);
  EXPECT_NEAR(run.at("co2_kg").get<double>(), kwh * 0.123, kwh * 1e-9);
  const auto energy = nlohmann::json::parse(read_text(dir / "run/energy.json"));
  EXPECT_EQ(energy.at("carbon").at("electricitymaps").at("zone"), "US-CAL-CISO");
  EXPECT_EQ(energy.at("carbon").at("electricitymaps").at("samples").size(), 1u);
  const auto config = nlohmann::json::parse(read_text(dir / "run/config.json"));
  EXPECT_EQ(config.at("carbon-source"), "electricitymaps");
  EXPECT_EQ(config.at("carbon-sample-s"), 60);
}

// An output that holds a run is continued only with --resume and the run's own options, and started again
// only with --overwrite: never silently replaced, never resumed with a changed computation.
TEST(TrainCli, AnExistingRunIsResumedOnlyWithItsOptionsAndReplacedOnlyWithOverwrite) {
  TempDir dir;
  write_tiny_model_dir(dir / "model", "bert_tiny");
  write_reviews(dir / "reviews.jsonl");
  const std::string train = "-q train --model '" + (dir / "model").string() + "' --data '" +
                            (dir / "reviews.jsonl").string() + "' --max-length 16 --max-steps 3 " +
                            "--cache-dir '" + (dir / "cache").string() + "' --output '" +
                            (dir / "run").string() + "' ";
  ASSERT_EQ(run_cli(train + "--lr 0.001 --batch-size 4 --threads 1").exit_code, 0);
  const std::string result = read_text(dir / "run/result.json");

  const CommandResult again = run_cli(train + "--lr 0.001 --batch-size 4 --threads 1");
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_THAT(again.err, HasSubstr("holds a finished run already"));
  EXPECT_THAT(again.err, HasSubstr("--resume"));
  EXPECT_THAT(again.err, HasSubstr("--overwrite"));

  const CommandResult changed = run_cli(train + "--lr 0.01 --batch-size 2 --threads 1 --resume");
  EXPECT_EQ(changed.exit_code, 2);
  EXPECT_THAT(changed.err, HasSubstr("lr: 0.001 -> 0.01"));
  EXPECT_THAT(changed.err, HasSubstr("batch-size: 4 -> 2"));
  EXPECT_EQ(read_text(dir / "run/result.json"), result);  // nothing rewritten
  EXPECT_EQ(nlohmann::json::parse(read_text(dir / "run/config.json")).at("lr"), 0.001);

  // Options that do not change the result may differ, and --help says which.
  EXPECT_EQ(run_cli(train + "--lr 0.001 --batch-size 4 --threads 2 --log-every 1 --resume").exit_code, 0);
  EXPECT_THAT(run_cli("train --help").out, HasSubstr("only --cache-dir, --output, --log-every"));

  const CommandResult overwritten = run_cli(train + "--lr 0.01 --batch-size 4 --threads 1 --overwrite");
  ASSERT_EQ(overwritten.exit_code, 0) << overwritten.err;
  EXPECT_EQ(nlohmann::json::parse(read_text(dir / "run/config.json")).at("lr"), 0.01);
  const std::string emissions = read_text(dir / "run/emissions.csv");
  EXPECT_EQ(std::count(emissions.begin(), emissions.end(), '\n'), 2);  // the old run's row is gone
}

// Paths in a --config file are relative to the file, whatever the current directory.
TEST(TrainCli, PathsInAConfigFileAreRelativeToIt) {
  TempDir dir;
  write_tiny_model_dir(dir / "model", "bert_tiny");
  write_reviews(dir / "reviews.jsonl");
  std::filesystem::create_directories(dir / "configs");
  write_text(dir / "configs/train.toml",
             "model = \"../model\"\ndata = \"../reviews.jsonl\"\n"
             "cache-dir = \"../cache\"\noutput = \"../run\"\nmax-length = 16\n"
             "batch-size = 4\nmax-steps = 2\nthreads = 1\n");
  const CommandResult result = run_cli("-q train --config '" + (dir / "configs/train.toml").string() + "'");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(std::filesystem::exists(dir / "run/result.json"));
  EXPECT_EQ(nlohmann::json::parse(read_text(dir / "run/config.json")).at("model"), (dir / "model").string());
}

std::vector<std::string> checkpoint_dirs(const std::filesystem::path& run) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(run)) {
    if (entry.path().filename().string().starts_with("checkpoint-"))
      names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// --keep-checkpoints: the newest checkpoint (last), every one (all), or none once the run has finished, its
// model and results kept. And what interrupted writes left (a process that is gone) is removed at the next
// start, in the run directory and the token cache, while a running process's temporary file is left alone.
TEST(TrainCli, KeepCheckpointsAndTheLeftoversOfInterruptedWrites) {
  TempDir dir;
  write_tiny_model_dir(dir / "model", "bert_tiny");
  write_reviews(dir / "reviews.jsonl");
  const auto train = [&](const std::string& run, const std::string& keep) {
    return run_cli("-q train --model '" + (dir / "model").string() + "' --data '" +
                   (dir / "reviews.jsonl").string() +
                   "' --max-length 16 --batch-size 4 --max-steps 3 --save-every 1 --threads 1 --cache-dir '" +
                   (dir / "cache").string() + "' --output '" + (dir / run).string() + "'" + keep);
  };
  // Temporary files of a process that does not run (2^22 + 1 is beyond the largest pid Linux gives), and
  // one of this test's own process, which runs.
  const pid_t gone = 4194305;
  ASSERT_NE(kill(gone, 0), 0);
  std::filesystem::create_directories(dir / "cache");
  std::filesystem::create_directories(dir / "last");
  const std::string stale_cache = "reviews.gttok.tmp-" + std::to_string(gone);
  const std::string live_cache = "other.gttok.tmp-" + std::to_string(getpid());
  write_text(dir / "cache" / stale_cache, std::string(1000, 'x'));
  write_text(dir / "cache" / live_cache, "y");
  write_text(dir / "last" / ("result.json.tmp-" + std::to_string(gone)), "{");
  std::filesystem::create_directories(dir / "last/checkpoint-9.tmp");

  ASSERT_EQ(train("last", "").exit_code, 0);
  EXPECT_EQ(checkpoint_dirs(dir / "last"), std::vector<std::string>{"checkpoint-3"});
  EXPECT_FALSE(std::filesystem::exists(dir / "cache" / stale_cache));
  EXPECT_TRUE(std::filesystem::exists(dir / "cache" / live_cache));
  EXPECT_FALSE(std::filesystem::exists(dir / "last" / ("result.json.tmp-" + std::to_string(gone))));

  ASSERT_EQ(train("all", " --keep-checkpoints all").exit_code, 0);
  EXPECT_EQ(checkpoint_dirs(dir / "all"),
            (std::vector<std::string>{"checkpoint-1", "checkpoint-2", "checkpoint-3"}));

  ASSERT_EQ(train("none", " --keep-checkpoints none").exit_code, 0);
  EXPECT_TRUE(checkpoint_dirs(dir / "none").empty());
  EXPECT_FALSE(std::filesystem::exists(dir / "none/checkpoint.json"));
  EXPECT_TRUE(std::filesystem::exists(dir / "none/model/model.safetensors"));
  EXPECT_TRUE(std::filesystem::exists(dir / "none/result.json"));
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
  // Before the first training row the bar has no loss to show yet.
  EXPECT_THAT(terminal, HasSubstr("/360 loss ? "));
  EXPECT_THAT(terminal, ::testing::Not(HasSubstr("loss nan")));
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

// Training starts from the weights it is given and ends with a model that eval, predict and further
// training load unchanged: each checked against figures transformers computed or that the model's own
// evaluation gives, never only against another greentune run.
namespace greentune::testing {
namespace {

// The first training row of a run's metrics.jsonl.
nlohmann::json first_training_row(const std::filesystem::path& run) {
  for (const auto& row : read_json_lines(run / "metrics.jsonl")) {
    if (row.contains("loss"))
      return row;
  }
  ADD_FAILURE() << "no training row in " << (run / "metrics.jsonl");
  return {};
}

// Each tensor of a safetensors file as its name, dtype, shape and bytes.
std::map<std::string, std::string> tensor_bytes(const std::filesystem::path& path) {
  std::map<std::string, std::string> tensors;
  const auto file = model::SafetensorsFile::open(path);
  for (const auto& tensor : file.tensors()) {
    tensors[tensor.name] =
        std::string(model::to_string(tensor.dtype)) + nlohmann::json(tensor.shape).dump() +
        std::string(reinterpret_cast<const char*>(tensor.bytes.data()), tensor.bytes.size());
  }
  return tensors;
}

// One update, dropout off, batches in file order and no held-out share: the first logged loss is the
// model's cross-entropy on the first batch as it was loaded.
const std::string kFirstUpdateFlags =
    " --max-length 16 --max-steps 1 --log-every 1 --no-shuffle --bucketing none --dropout 0 "
    "--attention-dropout 0 --classifier-dropout 0 --threads 1";

TEST(TrainCli, TheFirstUpdateOfEveryStrategyStartsFromTheCheckpointsWeights) {
  // Its first batch is reference row 0 twice (as one batch of 2 or as 2 micro-batches of 1): its loss
  // must be the cross-entropy transformers computed for that row.
  const std::vector<std::string> strategies = {"--batch-size 2", "--batch-size 2 --grad-checkpointing",
                                               "--batch-size 1 --grad-accum 2",
                                               "--batch-size 2 --optimizer sgd"};
  for (const std::string name : {"distilbert_tiny", "bert_tiny"}) {
    TempDir dir;
    write_tiny_model_dir(dir / "model", name);
    const ReferenceRow reference = reference_row(name, 0);
    write_vocab(dir / "vocab.txt", reference.vocab);
    const nlohmann::json row = {{"text", reference.text}, {"label", reference.label}};
    const nlohmann::json other = {{"text", reference.vocab[7] + " " + reference.vocab[8]},
                                  {"label", 1 - reference.label}};
    write_text(dir / "data.jsonl",
               row.dump() + "\n" + row.dump() + "\n" + other.dump() + "\n" + other.dump() + "\n");
    for (size_t i = 0; i < strategies.size(); ++i) {
      SCOPED_TRACE(name + ": " + strategies[i]);
      const std::filesystem::path run = dir / ("run" + std::to_string(i));
      const CommandResult result = run_cli(
          "-q train --model '" + (dir / "model").string() + "' --vocab '" + (dir / "vocab.txt").string() +
          "' --data '" + (dir / "data.jsonl").string() + "' --eval-data '" + (dir / "data.jsonl").string() +
          "' --cache-dir '" + (dir / "cache").string() + "' --output '" + run.string() + "' " +
          strategies[i] + kFirstUpdateFlags);
      ASSERT_EQ(result.exit_code, 0) << result.err;
      const nlohmann::json first = first_training_row(run);
      EXPECT_EQ(first.at("step"), 1);
      EXPECT_NEAR(first.at("loss").get<double>(), reference.loss(), 1e-5);
    }
  }
}

TEST(TrainCli, ATrainedModelIsWhatEvalPredictAndFurtherTrainingLoad) {
  TempDir dir;
  write_tiny_model_dir(dir / "model", "distilbert_tiny");
  write_numbered_reviews(dir / "reviews.jsonl", 160);
  const std::string data = " --data '" + (dir / "reviews.jsonl").string() + "' --eval-data '" +
                           (dir / "reviews.jsonl").string() + "' --cache-dir '" + (dir / "cache").string() +
                           "'";
  const CommandResult trained =
      run_cli("-q train --model '" + (dir / "model").string() + "'" + data +
              " --max-length 16 --batch-size 8 --epochs 4 --lr 0.002 --warmup-ratio 0.1"
              " --threads 1 --output '" +
              (dir / "run").string() + "'");
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  const auto result = nlohmann::json::parse(read_text(dir / "run/result.json"));
  const double accuracy = result.at("accuracy");
  ASSERT_GE(accuracy, 0.95) << "the model did not learn great vs bad";

  // eval of the saved model on the same examples: the run's own final evaluation.
  const std::string saved = (dir / "run/model").string();
  const auto evaluate_saved = [&](const std::string& data_file) {
    const std::filesystem::path output = dir / ("eval-" + data_file);
    const CommandResult evaluated =
        run_cli("eval --threads 1 --model '" + saved + "' --data '" + (dir / data_file).string() +
                "' --cache-dir '" + (dir / "cache").string() + "' --output '" + output.string() + "'");
    EXPECT_EQ(evaluated.exit_code, 0) << evaluated.err;
    return nlohmann::json::parse(read_text(output / "result.json"));
  };
  const auto evaluation = evaluate_saved("reviews.jsonl");
  EXPECT_EQ(evaluation.at("n"), 160);
  EXPECT_EQ(evaluation.at("accuracy").get<double>(), accuracy);
  EXPECT_NEAR(evaluation.at("eval_loss").get<double>(), result.at("eval_loss").get<double>(), 1e-6);

  // predict is confident on a training example (review 1 is "the movie was great w101", label 1).
  const CommandResult predicted =
      run_cli("predict --threads 1 --model '" + saved + "' --text 'the movie was great w101'");
  ASSERT_EQ(predicted.exit_code, 0) << predicted.err;
  const auto prediction = nlohmann::json::parse(predicted.out);
  EXPECT_EQ(prediction.at("label"), "1");
  EXPECT_GE(prediction.at("probabilities").at("1").get<double>(), 0.9);

  // Training the saved model further starts from its weights: the first update's loss is the saved
  // model's eval_loss on that batch (the first 8 reviews), far below the ln 2 of an untrained head.
  std::istringstream lines(read_text(dir / "reviews.jsonl"));
  std::string first_batch;
  for (int i = 0; i < 8; ++i) {
    std::string line;
    std::getline(lines, line);
    first_batch += line + "\n";
  }
  write_text(dir / "first-batch.jsonl", first_batch);
  const double batch_loss = evaluate_saved("first-batch.jsonl").at("eval_loss");
  const CommandResult continued =
      run_cli("-q train --model '" + saved + "'" + data + " --batch-size 8" + kFirstUpdateFlags +
              " --output '" + (dir / "continued").string() + "'");
  ASSERT_EQ(continued.exit_code, 0) << continued.err;
  const double first_loss = first_training_row(dir / "continued").at("loss");
  EXPECT_NEAR(first_loss, batch_loss, 1e-5);
  EXPECT_LT(first_loss, std::log(2.0) - 0.3);
}

// A two-epoch run of the tiny model on 48 reviews into dir/run (the model and data written into dir), as
// `greentune train` arguments.
std::string two_epoch_run(const TempDir& dir) {
  write_tiny_model_dir(dir / "model", "distilbert_tiny");
  write_numbered_reviews(dir / "reviews.jsonl", 48);
  return "train --model '" + (dir / "model").string() + "' --data '" + (dir / "reviews.jsonl").string() +
         "' --cache-dir '" + (dir / "cache").string() + "' --output '" + (dir / "run").string() +
         "' --max-length 16 --batch-size 8 --epochs 2 --lr 0.002 --threads 1";
}

TEST(TrainCli, AResumedRunRestoresItsCheckpointsWeightsExactly) {
  TempDir dir;
  const std::string train = "-q " + two_epoch_run(dir);
  const CommandResult first = run_cli(train);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  // The run's last checkpoint (after its final update) and the weights it started from.
  const auto pointer = nlohmann::json::parse(read_text(dir / "run/checkpoint.json"));
  const auto checkpoint =
      tensor_bytes(dir / "run" / pointer.at("dir").get<std::string>() / "model.safetensors");
  const auto initial = tensor_bytes(dir / "model/model.safetensors");
  ASSERT_EQ(checkpoint.size(), initial.size());
  EXPECT_NE(checkpoint.at("classifier.weight"), initial.at("classifier.weight"))
      << "training changed nothing";

  std::filesystem::remove_all(dir / "run/model");
  const CommandResult resumed = run_cli(train + " --resume");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(tensor_bytes(dir / "run/model/model.safetensors"), checkpoint);
}

// An event file's events as protoc reads them: step -> tag -> value, and the steps of its session restarts.
struct DecodedEvents {
  std::map<int64_t, std::map<std::string, double>> scalars;
  std::vector<int64_t> restarts;
  size_t file_versions = 0;
};

DecodedEvents decode_event_file(const std::filesystem::path& file) {
  DecodedEvents decoded;
  for (const std::string& payload : tfrecord_payloads(file)) {
    const std::string text = decode_event(payload);
    std::smatch found;
    const int64_t step =
        std::regex_search(text, found, std::regex("(^|\n)step: (\\d+)\n")) ? std::stoll(found[2]) : 0;
    if (text.find("file_version: \"brain.Event:2\"") != std::string::npos)
      ++decoded.file_versions;
    if (text.find("session_log {\n  status: START\n}") != std::string::npos)
      decoded.restarts.push_back(step);
    const std::regex value("tag: \"([^\"]+)\"\n    simple_value: ([-+0-9.eE]+|inf|nan)\n");
    for (std::sregex_iterator it(text.begin(), text.end(), value), end; it != end; ++it)
      decoded.scalars[step][(*it)[1]] = std::stod((*it)[2]);
  }
  return decoded;
}

std::vector<std::filesystem::path> event_files(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

// --report-to tensorboard: every row of metrics.jsonl as scalars at its step, under the Hugging Face
// Trainer's tags, CO2 in grams; a resumed run's file restarts at the step after its checkpoint.
TEST(TrainCli, ReportToTensorBoardWritesEachMetricsRowAsScalarsThatProtocReads) {
  GREENTUNE_REQUIRE_PROTOC();
  TempDir dir;
  const std::string train =
      "-q " + two_epoch_run(dir) + " --report-to tensorboard --log-every 2 --carbon-intensity 200";
  const CommandResult first = run_cli(train);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const std::vector<std::filesystem::path> files = event_files(dir / "run/tensorboard");
  ASSERT_EQ(files.size(), 1u);
  const DecodedEvents events = decode_event_file(files.front());
  EXPECT_EQ(events.file_versions, 1u);
  EXPECT_TRUE(events.restarts.empty());
  size_t training_rows = 0, eval_rows = 0;
  for (const auto& row : read_json_lines(dir / "run/metrics.jsonl")) {
    const int64_t step = row.at("step");
    ASSERT_TRUE(events.scalars.count(step)) << "no event at step " << step;
    const std::map<std::string, double>& at = events.scalars.at(step);
    const auto expect_scalar = [&](const std::string& tag, double value) {
      ASSERT_TRUE(at.count(tag)) << tag << " at step " << step;
      EXPECT_FLOAT_EQ(static_cast<float>(at.at(tag)), static_cast<float>(value))
          << tag << " at step " << step;
    };
    if (row.contains("loss")) {
      ++training_rows;
      expect_scalar("train/loss", row.at("loss"));
      expect_scalar("train/learning_rate", row.at("lr"));
      expect_scalar("train/grad_norm", row.at("grad_norm"));
      expect_scalar("train/samples_per_second", row.at("samples_per_s"));
      expect_scalar("energy/power_w", row.at("power_w"));
      expect_scalar("energy/energy_kwh", row.at("energy_kwh"));
      expect_scalar("energy/co2_g", row.at("co2_kg").get<double>() * 1000.0);
      // 200 g/kWh: the grams are the energy's, not a made-up figure.
      EXPECT_NEAR(at.at("energy/co2_g"), at.at("energy/energy_kwh") * 200.0,
                  1e-6 * at.at("energy/co2_g") + 1e-12);
    } else {
      ++eval_rows;
      expect_scalar("eval/accuracy", row.at("accuracy"));
      expect_scalar("eval/loss", row.at("eval_loss"));
      expect_scalar("eval/f1", row.at("f1"));
    }
  }
  EXPECT_EQ(training_rows, 6u);  // 12 updates (43 training reviews in batches of 8, 2 epochs), a row per 2
  EXPECT_EQ(eval_rows, 2u);      // one per epoch

  // Resumed from the checkpoint after update 12: its own file, restarting at 13.
  const CommandResult resumed = run_cli(train + " --resume");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  const std::vector<std::filesystem::path> both = event_files(dir / "run/tensorboard");
  ASSERT_EQ(both.size(), 2u);
  const std::filesystem::path second = both.front() == files.front() ? both.back() : both.front();
  EXPECT_EQ(decode_event_file(second).restarts, std::vector<int64_t>{13});
}

// bf16 on a CPU whose cpuinfo lists no native bf16 flag is said to be emulated, once, with the slowdown
// measured on this machine; on one that lists avx512_bf16 nothing is said. (A fake /proc with the real
// stat and meminfo, which the energy meter reads.)
TEST(TrainCli, Bf16OnACpuWithoutNativeBf16WarnsOnceWithTheMeasuredSlowdown) {
  TempDir dir;
  const std::string train = two_epoch_run(dir) + " --precision bf16";
  std::filesystem::create_directories(dir / "proc");
  for (const char* live : {"stat", "meminfo"})
    std::filesystem::create_symlink(std::filesystem::path("/proc") / live, dir / "proc" / live);
  const std::string fake_proc = "GREENTUNE_PROC_ROOT='" + (dir / "proc").string() + "'";
  const std::string warning =
      "has no native bf16 (cpuinfo lists none of amx_bf16, avx512_bf16, bf16): bf16 "
      "autocast is emulated, and a matrix product took ";

  write_text(dir / "proc/cpuinfo", "processor\t: 0\nmodel name\t: Old CPU\nflags\t\t: fpu sse2 avx2\n\n");
  const CommandResult emulated = run_cli(train, "", fake_proc);
  ASSERT_EQ(emulated.exit_code, 0) << emulated.err;
  EXPECT_THAT(emulated.err, HasSubstr("this CPU (Old CPU) " + warning));
  EXPECT_THAT(emulated.err, ::testing::ContainsRegex("took [0-9]+\\.[0-9]x as long in bf16 as in fp32 here"));
  const size_t first = emulated.err.find(warning);
  EXPECT_EQ(emulated.err.find(warning, first + 1), std::string::npos) << "warned twice";

  std::filesystem::remove_all(dir / "run");
  write_text(dir / "proc/cpuinfo",
             "processor\t: 0\nmodel name\t: New CPU\nflags\t\t: avx512f avx512_bf16\n\n");
  const CommandResult native = run_cli(train, "", fake_proc);
  ASSERT_EQ(native.exit_code, 0) << native.err;
  EXPECT_THAT(native.err, ::testing::Not(HasSubstr("native bf16")));
}

// A checkpoint records the device whose generator it saved and the fp16 loss scaler's state. One written
// on a GPU (rng_device "cuda") resumes on a CPU, saying its dropout masks differ; one written before those
// fields existed resumes with their defaults.
TEST(TrainCli, ACheckpointFromAnotherDeviceOrAnOlderGreentuneResumes) {
  TempDir dir;
  const std::string train = two_epoch_run(dir);
  const CommandResult first = run_cli("-q " + train);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const auto pointer = nlohmann::json::parse(read_text(dir / "run/checkpoint.json"));
  const std::filesystem::path state_path = dir / "run" / pointer.at("dir").get<std::string>() / "state.json";
  auto state = nlohmann::json::parse(read_text(state_path));
  EXPECT_EQ(state.at("rng_device"), "cpu");
  EXPECT_EQ(state.at("loss_scaler"),
            nlohmann::json::parse(R"({"scale": 65536.0, "good_steps": 0, "skipped_steps": 0})"));

  state["rng_device"] = "cuda";
  state.erase("loss_scaler");
  write_text(state_path, state.dump());
  std::filesystem::remove_all(dir / "run/model");
  const CommandResult resumed = run_cli(train + " --resume");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_THAT(resumed.err, HasSubstr("written on cuda and is resumed on cpu: dropout masks will differ"));
  EXPECT_TRUE(std::filesystem::exists(dir / "run/model/model.safetensors"));
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

// `greentune train` of a tiny model on 160 reviews into output for 8 epochs: a checkpoint every 5 updates,
// a training row every 3 and an evaluation every 7, so that resuming at any checkpoint has rows of each
// kind to write again.
std::vector<std::string> resumable_run(const std::filesystem::path& dir,
                                       const std::filesystem::path& output) {
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
                                  output.string(),
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
}

// A resumed run (resumed) ended as the uninterrupted one (whole) did: the same metrics rows, results and
// weights. And both right: the task is learnable, so a run that trained from its checkpoint's weights ends
// near 100% (one that lost them would not, nor would two runs that both never trained).
void expect_same_run(const std::filesystem::path& whole, const std::filesystem::path& resumed,
                     const std::filesystem::path& initial) {
  const auto whole_rows = metrics_without_timing(whole / "metrics.jsonl");
  EXPECT_GT(whole_rows.size(), 20u);
  EXPECT_EQ(metrics_without_timing(resumed / "metrics.jsonl"), whole_rows);
  const auto whole_result = nlohmann::json::parse(read_text(whole / "result.json"));
  const auto resumed_result = nlohmann::json::parse(read_text(resumed / "result.json"));
  for (const char* key : {"accuracy", "f1", "eval_loss", "steps", "best", "padding_fraction"}) {
    EXPECT_EQ(resumed_result.at(key), whole_result.at(key)) << key;
  }
  EXPECT_EQ(tensor_bytes(resumed / "model/model.safetensors"),
            tensor_bytes(whole / "model/model.safetensors"));
  EXPECT_GE(whole_result.at("accuracy").get<double>(), 0.95);
  EXPECT_NE(tensor_bytes(whole / "model/model.safetensors").at("classifier.weight"),
            tensor_bytes(initial / "model.safetensors").at("classifier.weight"));
}

// Trains once uninterrupted and once stopped by `signal` right after its first checkpoint, then resumed:
// both runs must end with the same metrics.
void expect_resumed_run_matches(int signal) {
  TempDir dir;
  write_tiny_model_dir(dir / "model", "distilbert_tiny");
  write_numbered_reviews(dir / "reviews.jsonl", 160);
  const auto arguments = [&](const std::string& output) { return resumable_run(dir.path(), dir / output); };
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
  // metrics.jsonl grows a line at a time, so a kill can leave a torn last line: the resumed run cuts
  // the file back to the checkpoint's length.
  {
    std::ofstream torn(dir / "killed/metrics.jsonl", std::ios::app);
    torn << "{\"step\": 99, \"lo";
  }

  std::vector<std::string> resume = arguments("killed");
  resume.push_back("--resume");
  const int resumed = wait_for(spawn(resume));
  ASSERT_TRUE(WIFEXITED(resumed) && WEXITSTATUS(resumed) == 0);

  expect_same_run(dir / "whole", dir / "killed", dir / "model");
}

// The disk of a run's output fills up while the run writes its second checkpoint (a tmpfs that holds one
// checkpoint and a half): the run stops with the cause, the first checkpoint and the metrics up to it stay
// as they were, and the run resumed once the disk has room ends as an uninterrupted run does.
TEST(TrainCli, AFullDiskMidCheckpointKeepsThePreviousOneAndResumesToTheSameResult) {
  namespace fs = std::filesystem;
  TempDir dir;
  write_tiny_model_dir(dir / "model", "distilbert_tiny");
  write_numbered_reviews(dir / "reviews.jsonl", 160);
  const int uninterrupted = wait_for_exit(spawn_quietly(resumable_run(dir.path(), dir / "whole")));
  ASSERT_TRUE(WIFEXITED(uninterrupted) && WEXITSTATUS(uninterrupted) == 0);
  // What a checkpoint takes on a disk of 4 KiB pages, and the run's other files at most.
  const auto in_pages = [](uintmax_t bytes) { return (bytes + 4095) / 4096 * 4096; };
  const std::string last = nlohmann::json::parse(read_text(dir / "whole/checkpoint.json")).at("dir");
  uintmax_t checkpoint_bytes = 0;
  for (const auto& file : fs::directory_iterator(dir / "whole" / last))
    checkpoint_bytes += in_pages(file.file_size());
  const uintmax_t other_bytes = in_pages(fs::file_size(dir / "whole/config.json")) +
                                in_pages(fs::file_size(dir / "whole/metrics.jsonl"));
  SmallDisk disk(checkpoint_bytes * 3 / 2 + other_bytes + 4 * 4096);
  if (!disk.mounted())
    GTEST_SKIP() << disk.why_not();

  const fs::path output = disk / "run";
  const int full = wait_for_exit(spawn_process(resumable_run(dir.path(), output), {}, dir / "full.log"));
  const std::string log = read_text(dir / "full.log");
  ASSERT_TRUE(WIFEXITED(full)) << log;
  EXPECT_EQ(WEXITSTATUS(full), static_cast<int>(ErrorCode::io)) << log;
  EXPECT_THAT(log, HasSubstr("checkpoint-10.tmp/optimizer.pt: writing failed: No space left on device"));
  EXPECT_FALSE(fs::exists(output / "result.json"));
  for (const auto& entry : fs::directory_iterator(output))
    EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << entry.path() << " is left";
  // The previous checkpoint, whole, and the metrics up to it.
  EXPECT_EQ(nlohmann::json::parse(read_text(output / "checkpoint.json")).at("dir"), "checkpoint-5");
  EXPECT_EQ(fs::file_size(output / "checkpoint-5/model.safetensors"),
            fs::file_size(dir / "whole" / last / "model.safetensors"));
  for (const char* file : {"optimizer.pt", "rng.pt"})
    EXPECT_GT(fs::file_size(output / "checkpoint-5" / file), 0u) << file;
  const auto state = nlohmann::json::parse(read_text(output / "checkpoint-5/state.json"));
  EXPECT_EQ(state.at("step"), 5);
  const std::string metrics = read_text(output / "metrics.jsonl");
  const size_t metrics_bytes = state.at("metrics_bytes").get<size_t>();
  ASSERT_GE(metrics.size(), metrics_bytes);
  write_text(dir / "metrics-at-checkpoint.jsonl", metrics.substr(0, metrics_bytes));
  const auto rows_at_checkpoint = metrics_without_timing(dir / "metrics-at-checkpoint.jsonl");
  const auto whole_rows = metrics_without_timing(dir / "whole/metrics.jsonl");
  ASSERT_GE(rows_at_checkpoint.size(), 1u);  // the training row of step 3
  EXPECT_EQ(rows_at_checkpoint,
            std::vector<nlohmann::json>(whole_rows.begin(), whole_rows.begin() + rows_at_checkpoint.size()));

  disk.resize(8 * checkpoint_bytes + 64 * other_bytes);
  std::vector<std::string> resume = resumable_run(dir.path(), output);
  resume.push_back("--resume");
  const int resumed = wait_for_exit(spawn_quietly(resume));
  ASSERT_TRUE(WIFEXITED(resumed) && WEXITSTATUS(resumed) == 0);
  expect_same_run(dir / "whole", output, dir / "model");
}

TEST(TrainCli, ResumeAfterARealSigkillEndsWithTheSameMetrics) {
  expect_resumed_run_matches(SIGKILL);
}

TEST(TrainCli, CtrlCWritesACheckpointExits130AndResumesToTheSameMetrics) {
  expect_resumed_run_matches(SIGINT);
}

}  // namespace
}  // namespace greentune::testing
