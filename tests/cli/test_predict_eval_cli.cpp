// `greentune predict` and `greentune eval` end to end on the tiny reference model.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "../model/model_test_support.hpp"
#include "test_support.hpp"

namespace greentune::testing {
namespace {

using ::testing::HasSubstr;

std::vector<nlohmann::json> json_lines(const std::string& text) {
  std::vector<nlohmann::json> lines;
  std::istringstream stream(text);
  std::string line;
  while (std::getline(stream, line))
    lines.push_back(nlohmann::json::parse(line));
  return lines;
}

TEST(PredictCli, PrintsProbabilitiesPerTextInInputOrder) {
  TempDir dir;
  write_tiny_model_dir(dir / "model", "distilbert_tiny");
  write_text(dir / "texts.jsonl",
             "{\"text\": \"the movie was great\"}\n\n{\"text\": \"bad\"}\n{\"text\": \"the\"}\n");
  const CommandResult from_file =
      run_cli("predict --threads 1 --batch-size 2 --model '" + (dir / "model").string() + "' --input '" +
              (dir / "texts.jsonl").string() + "'");
  ASSERT_EQ(from_file.exit_code, 0) << from_file.err;
  const auto lines = json_lines(from_file.out);
  ASSERT_EQ(lines.size(), 3u);
  for (const auto& line : lines) {
    const double total = line.at("probabilities").at("LABEL_0").get<double>() +
                         line.at("probabilities").at("LABEL_1").get<double>();
    EXPECT_NEAR(total, 1.0, 1e-9);
    const std::string best = line.at("probabilities").at("LABEL_0") > line.at("probabilities").at("LABEL_1")
                                 ? "LABEL_0"
                                 : "LABEL_1";
    EXPECT_EQ(line.at("label"), best);
  }
  // The same text alone gives the same probabilities as in a batch: padding is masked.
  const CommandResult single =
      run_cli("predict --threads 1 --model '" + (dir / "model").string() + "' --text 'bad'");
  ASSERT_EQ(single.exit_code, 0) << single.err;
  const auto alone = json_lines(single.out);
  ASSERT_EQ(alone.size(), 1u);
  EXPECT_NEAR(alone[0].at("probabilities").at("LABEL_1").get<double>(),
              lines[1].at("probabilities").at("LABEL_1").get<double>(), 1e-6);
}

// predict and eval on each row of the fixtures' reference batch give what transformers computed for it:
// the probabilities softmax(logits) and the cross-entropy, within 1e-5.
TEST(PredictCli, GivesHuggingFacesProbabilitiesAndEvalItsLossOnTheReferenceRows) {
  for (const std::string name : {"distilbert_tiny", "bert_tiny"}) {
    TempDir dir;
    write_tiny_model_dir(dir / "model", name);
    double loss_sum = 0.0;
    for (size_t row = 0; row < 3; ++row) {
      SCOPED_TRACE(name + " row " + std::to_string(row));
      const ReferenceRow reference = reference_row(name, row);
      const std::string vocab = (dir / ("vocab" + std::to_string(row) + ".txt")).string();
      write_vocab(vocab, reference.vocab);
      const std::string model =
          "--threads 1 --model '" + (dir / "model").string() + "' --vocab '" + vocab + "'";
      const CommandResult predicted = run_cli("predict " + model + " --text '" + reference.text + "'");
      ASSERT_EQ(predicted.exit_code, 0) << predicted.err;
      const auto probabilities = json_lines(predicted.out).at(0).at("probabilities");
      EXPECT_NEAR(probabilities.at("LABEL_0").get<double>(), reference.probability(0), 1e-5);
      EXPECT_NEAR(probabilities.at("LABEL_1").get<double>(), reference.probability(1), 1e-5);

      const std::string data = (dir / ("row" + std::to_string(row) + ".jsonl")).string();
      write_text(data, nlohmann::json{{"text", reference.text},
                                      {"label", "LABEL_" + std::to_string(reference.label)}}
                               .dump() +
                           "\n");
      const std::string output = (dir / ("eval" + std::to_string(row))).string();
      const CommandResult evaluated =
          run_cli("eval " + model + " --labels LABEL_0,LABEL_1 --data '" + data + "' --cache-dir '" +
                  (dir / "cache").string() + "' --output '" + output + "'");
      ASSERT_EQ(evaluated.exit_code, 0) << evaluated.err;
      const auto result = nlohmann::json::parse(read_text(output + "/result.json"));
      EXPECT_EQ(result.at("n"), 1);
      EXPECT_NEAR(result.at("eval_loss").get<double>(), reference.loss(), 1e-5);
      const bool correct = reference.probability(static_cast<size_t>(reference.label)) > 0.5;
      EXPECT_EQ(result.at("accuracy").get<double>(), correct ? 1.0 : 0.0);
      loss_sum += result.at("eval_loss").get<double>();
    }
    // The mean over the three rows is the batch loss transformers computed.
    const auto reference =
        model::SafetensorsFile::open(test_data_dir() / "model" / name / "reference.safetensors");
    EXPECT_NEAR(loss_sum / 3.0, model::to_floats(reference.tensor("loss")).at(0), 1e-5) << name;
  }
}

TEST(PredictCli, BadInputIsOneClearError) {
  TempDir dir;
  write_tiny_model_dir(dir / "model", "distilbert_tiny");
  write_text(dir / "bad.jsonl", "{\"text\": \"fine\"}\n{\"txt\": \"oops\"}\n");
  const CommandResult bad_line = run_cli("predict --model '" + (dir / "model").string() + "' --input '" +
                                         (dir / "bad.jsonl").string() + "'");
  EXPECT_EQ(bad_line.exit_code, 5);
  EXPECT_THAT(bad_line.err, HasSubstr("bad.jsonl:2: line has no \"text\" field"));
  EXPECT_TRUE(bad_line.out.empty());

  const CommandResult neither = run_cli("predict --model '" + (dir / "model").string() + "'");
  EXPECT_EQ(neither.exit_code, 2);
  EXPECT_THAT(neither.err, HasSubstr("give either --text or --input"));

  const CommandResult missing = run_cli("predict --model '" + (dir / "nowhere").string() + "' --text x");
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_THAT(missing.err, HasSubstr("nowhere"));

  const CommandResult too_long =
      run_cli("predict --model '" + (dir / "model").string() + "' --text x --max-length 100");
  EXPECT_EQ(too_long.exit_code, 2);
  EXPECT_THAT(too_long.err, HasSubstr("64 positions"));
}

TEST(EvalCli, WritesResultJsonWithAccuracyF1LossAndN) {
  TempDir dir;
  write_tiny_model_dir(dir / "model", "bert_tiny");
  std::string data;
  for (int i = 0; i < 30; ++i) {
    data += i % 3 == 0 ? "{\"text\": \"the movie was great\", \"label\": 1}\n"
                       : "{\"text\": \"bad movie w" + std::to_string(100 + i) + "\", \"label\": 0}\n";
  }
  write_text(dir / "reviews.jsonl", data);
  const CommandResult result =
      run_cli("eval --threads 1 --model '" + (dir / "model").string() + "' --data '" +
              (dir / "reviews.jsonl").string() + "' --cache-dir '" + (dir / "cache").string() +
              "' --output '" + (dir / "out").string() + "'");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("accuracy"));
  const auto written = nlohmann::json::parse(read_text(dir / "out/result.json"));
  EXPECT_EQ(written.at("n"), 30);
  EXPECT_EQ(written.at("split"), "all");
  const double accuracy = written.at("accuracy");
  // The untrained model predicts one class for these texts or mixes them; accuracy is a multiple of 1/30.
  EXPECT_NEAR(accuracy * 30.0, std::round(accuracy * 30.0), 1e-9);
  EXPECT_GT(written.at("eval_loss").get<double>(), 0.0);
  EXPECT_GE(written.at("f1").get<double>(), 0.0);
  EXPECT_LE(written.at("f1").get<double>(), 1.0);

  const CommandResult validation =
      run_cli("eval --threads 1 --split validation --validation-fraction 0.2 --model '" +
              (dir / "model").string() + "' --data '" + (dir / "reviews.jsonl").string() + "' --cache-dir '" +
              (dir / "cache").string() + "' --output '" + (dir / "val").string() + "'");
  ASSERT_EQ(validation.exit_code, 0) << validation.err;
  EXPECT_EQ(nlohmann::json::parse(read_text(dir / "val/result.json")).at("n"), 6);
}

}  // namespace
}  // namespace greentune::testing
