#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "greentune/core/error.hpp"
#include "greentune/model/model_config.hpp"
#include "test_support.hpp"

namespace greentune::model {
namespace {

using ::testing::HasSubstr;

nlohmann::json distilbert_json() {
  return nlohmann::json::parse(
      testing::read_text(testing::test_data_dir() / "model/distilbert_tiny/config.json"));
}

void expect_parse_error(const nlohmann::json& json, const std::string& message) {
  try {
    ModelConfig::from_json(json, "config.json");
    FAIL() << "accepted: " << json.dump();
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::parse);
    EXPECT_THAT(error.what(), HasSubstr(message));
  }
}

TEST(ModelConfig, ReadsHuggingFaceDistilBertAndBertKeys) {
  const ModelConfig distilbert =
      ModelConfig::load(testing::test_data_dir() / "model/distilbert_tiny/config.json");
  EXPECT_EQ(distilbert.model_type, ModelType::distilbert);
  EXPECT_EQ(distilbert.hidden_size, 64);
  EXPECT_EQ(distilbert.num_layers, 2);
  EXPECT_EQ(distilbert.num_heads, 4);
  EXPECT_EQ(distilbert.intermediate_size, 256);
  EXPECT_DOUBLE_EQ(distilbert.classifier_dropout, 0.2);
  EXPECT_EQ(distilbert.num_labels(), 2u);

  const ModelConfig bert = ModelConfig::load(testing::test_data_dir() / "model/bert_tiny/config.json");
  EXPECT_EQ(bert.model_type, ModelType::bert);
  EXPECT_EQ(bert.type_vocab_size, 2);
  // classifier_dropout null -> hidden_dropout_prob, as BertForSequenceClassification does.
  EXPECT_DOUBLE_EQ(bert.classifier_dropout, 0.1);
}

TEST(ModelConfig, SavedJsonKeepsUnknownKeysAndWritesLabels) {
  ModelConfig config = ModelConfig::from_json(distilbert_json(), "config.json");
  config.id2label = {"neg", "pos"};
  const nlohmann::json saved = config.to_json();
  EXPECT_EQ(saved.at("architectures"), nlohmann::json::array({"DistilBertForSequenceClassification"}));
  EXPECT_EQ(saved.at("id2label"), (nlohmann::json{{"0", "neg"}, {"1", "pos"}}));
  EXPECT_EQ(saved.at("label2id"), (nlohmann::json{{"neg", 0}, {"pos", 1}}));
  EXPECT_EQ(saved.at("qa_dropout"), 0.1);  // a key greentune does not use survives
  EXPECT_EQ(saved.at("dim"), 64);
  const ModelConfig reread = ModelConfig::from_json(saved, "saved");
  EXPECT_EQ(reread.id2label, config.id2label);
}

TEST(ModelConfig, BadConfigsNameTheKey) {
  auto missing = distilbert_json();
  missing.erase("dim");
  expect_parse_error(missing, "key \"dim\": is missing");

  auto wrong_type = distilbert_json();
  wrong_type["n_layers"] = "2";
  expect_parse_error(wrong_type, "key \"n_layers\": must be a positive integer");

  auto unknown = distilbert_json();
  unknown["model_type"] = "roberta";
  expect_parse_error(unknown, "\"roberta\" is not supported");

  auto heads = distilbert_json();
  heads["n_heads"] = 5;
  expect_parse_error(heads, "5 heads do not divide the hidden size 64");

  auto labels = distilbert_json();
  labels["id2label"] = {{"0", "neg"}, {"2", "pos"}};
  expect_parse_error(labels, "key \"id2label\"");

  auto dropout = distilbert_json();
  dropout["dropout"] = 1.5;
  expect_parse_error(dropout, "must be a probability");

  expect_parse_error(nlohmann::json::array(), "not a JSON object");

  // Beyond int64_t: nlohmann::json holds it as unsigned, which must not wrap to a negative size.
  auto beyond_int64 = distilbert_json();
  beyond_int64["vocab_size"] = uint64_t{9223372036854775808u};
  expect_parse_error(beyond_int64,
                     "key \"vocab_size\": 9223372036854775808 is larger than the largest integer greentune "
                     "reads, 2^63 - 1");
  auto pad_beyond_int64 = distilbert_json();
  pad_beyond_int64["pad_token_id"] = uint64_t{18446744073709551615u};
  expect_parse_error(pad_beyond_int64, "key \"pad_token_id\": 18446744073709551615 is larger than");

  auto too_many_labels = distilbert_json();
  too_many_labels.erase("id2label");
  too_many_labels["num_labels"] = 1000000000000;
  expect_parse_error(too_many_labels, "1000000000000 labels are more than the 100000 greentune accepts");
}

// config.json is untrusted (a hub repository may hold anything): text a parser or recursive code would
// choke on is one parse error naming the file.
TEST(ModelConfig, OverflowingNumbersAndDeepNestingAreParseErrors) {
  testing::TempDir dir;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{\"model_type\": \"bert\", \"hidden_size\": 1e999}",
       "config.json is not valid JSON: number overflow"},
      {"{\"model_type\": \"bert\", \"x\": " + std::string(100000, '[') + std::string(100000, ']') + "}",
       "config.json nests arrays and objects deeper than 64 levels"},
  };
  for (const auto& [text, message] : cases) {
    SCOPED_TRACE(message);
    testing::write_text(dir / "config.json", text);
    try {
      ModelConfig::load(dir / "config.json");
      ADD_FAILURE() << "accepted";
    } catch (const Error& error) {
      EXPECT_EQ(error.code(), ErrorCode::parse);
      EXPECT_EQ(error.where(), (dir / "config.json").string());
      EXPECT_THAT(error.what(), HasSubstr(message));
    }
  }
}

TEST(ModelConfig, InvalidJsonFileIsAParseError) {
  testing::TempDir dir;
  testing::write_text(dir / "config.json", "{\"model_type\": \"bert\",");
  try {
    ModelConfig::load(dir / "config.json");
    FAIL();
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::parse);
    EXPECT_THAT(error.what(), HasSubstr("config.json is not valid JSON"));
  }
}

}  // namespace
}  // namespace greentune::model
