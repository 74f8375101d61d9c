#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "greentune/core/error.hpp"
#include "greentune/model/evaluate.hpp"
#include "greentune/model/pretrained.hpp"
#include "model_test_support.hpp"

namespace greentune::model {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

torch::Tensor logits_of(SequenceClassifierImpl& model, const text::WordPieceTokenizer& tokenizer) {
  torch::NoGradGuard no_grad;
  model.eval();
  const auto ids = tokenizer.encode("the movie was great", 64);
  const torch::Tensor input_ids = torch::tensor(std::vector<int64_t>(ids.begin(), ids.end())).unsqueeze(0);
  return model.forward(input_ids, torch::ones_like(input_ids)).logits;
}

double max_abs_difference(const torch::Tensor& actual, const torch::Tensor& expected) {
  return (actual.to(torch::kDouble) - expected.to(torch::kDouble)).abs().max().item<double>();
}

// Every parameter of model is bit-identical to the tensor of the same name in the Hugging Face file.
void expect_weights_are_the_files(SequenceClassifierImpl& model, const std::filesystem::path& file) {
  const auto checkpoint = SafetensorsFile::open(file);
  size_t compared = 0;
  for (const auto& parameter : model.named_parameters()) {
    EXPECT_TRUE(torch::equal(parameter.value(), tensor_view(checkpoint.tensor(parameter.key()))))
        << parameter.key() << " differs from " << file;
    ++compared;
  }
  EXPECT_EQ(compared, model.parameters().size());
}

// model computes, on the fixture's reference batch, the logits and loss transformers computed.
void expect_hugging_faces_outputs(SequenceClassifierImpl& model, const std::string& name) {
  const auto reference =
      SafetensorsFile::open(testing::test_data_dir() / "model" / name / "reference.safetensors");
  const auto expected = [&](const std::string& key) { return tensor_view(reference.tensor(key)).clone(); };
  torch::NoGradGuard no_grad;
  model.eval();
  const torch::Tensor logits = model.forward(expected("input_ids"), expected("attention_mask")).logits;
  EXPECT_LT(max_abs_difference(logits, expected("logits")), 1e-5) << name;
  const torch::Tensor loss = torch::cross_entropy_loss(logits, expected("labels"));
  EXPECT_LT(max_abs_difference(loss.reshape({1}), expected("loss")), 1e-5) << name;
}

TEST(Pretrained, ACompleteCheckpointKeepsEveryWeightAndComputesHuggingFacesLogits) {
  for (const std::string name : {"distilbert_tiny", "bert_tiny"}) {
    testing::TempDir dir;
    testing::write_tiny_model_dir(dir / "model", name);
    PretrainedModel loaded = load_pretrained((dir / "model").string());
    EXPECT_FALSE(loaded.random_weights);
    EXPECT_TRUE(loaded.report.missing_keys.empty());
    EXPECT_EQ(loaded.report.loaded, loaded.model->parameters().size());
    expect_weights_are_the_files(*loaded.model, dir / "model/model.safetensors");
    expect_hugging_faces_outputs(*loaded.model, name);
  }
}

TEST(Pretrained, LoadsADirectoryAndSavesItInHuggingFaceLayout) {
  testing::TempDir dir;
  testing::write_tiny_model_dir(dir / "tiny", "distilbert_tiny");
  PretrainedModel loaded = load_pretrained((dir / "tiny").string());
  EXPECT_FALSE(loaded.random_weights);
  EXPECT_TRUE(loaded.report.missing_keys.empty());
  EXPECT_EQ(loaded.tokenizer.vocab().size(), 1000u);

  save_pretrained(dir / "saved", *loaded.model, loaded.tokenizer);
  for (const char* file : {"config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json"}) {
    EXPECT_TRUE(std::filesystem::exists(dir / "saved" / file)) << file;
  }
  const auto tokenizer_config =
      nlohmann::json::parse(testing::read_text(dir / "saved/tokenizer_config.json"));
  EXPECT_EQ(tokenizer_config.at("do_lower_case"), true);
  EXPECT_EQ(tokenizer_config.at("tokenizer_class"), "DistilBertTokenizer");
  EXPECT_EQ(testing::read_text(dir / "saved/vocab.txt"), testing::read_text(dir / "tiny/vocab.txt"));

  // What was saved and loaded again is still the Hugging Face checkpoint, tensor for tensor.
  PretrainedModel reloaded = load_pretrained((dir / "saved").string());
  expect_weights_are_the_files(*reloaded.model, dir / "tiny/model.safetensors");
  expect_hugging_faces_outputs(*reloaded.model, "distilbert_tiny");
  EXPECT_TRUE(torch::equal(logits_of(*loaded.model, loaded.tokenizer),
                           logits_of(*reloaded.model, reloaded.tokenizer)));
}

TEST(Pretrained, MaskedLmCheckpointReportsMissingHeadAndUnexpectedMlmTensors) {
  testing::TempDir dir;
  testing::write_tiny_model_dir(dir / "mlm", "distilbert_tiny");
  // Rewrite the checkpoint as a masked-LM one: no classifier head, an MLM head instead.
  {
    const auto original = SafetensorsFile::open(dir / "mlm/model.safetensors");
    std::vector<SafetensorsTensor> tensors;
    for (const auto& tensor : original.tensors()) {
      if (tensor.name.rfind("distilbert.", 0) == 0)
        tensors.push_back(tensor);
    }
    const std::vector<float> transform(64 * 64, 0.5f), bias(64, 0.0f);
    const auto bytes = [](const std::vector<float>& values) {
      return std::span<const std::byte>(reinterpret_cast<const std::byte*>(values.data()), values.size() * 4);
    };
    tensors.push_back({"vocab_transform.weight", SafetensorsDtype::F32, {64, 64}, bytes(transform)});
    tensors.push_back({"vocab_transform.bias", SafetensorsDtype::F32, {64}, bytes(bias)});
    write_safetensors(dir / "mlm/checkpoint.safetensors", tensors);
  }
  std::filesystem::rename(dir / "mlm/checkpoint.safetensors", dir / "mlm/model.safetensors");
  PretrainedOptions options;
  options.label_names = {"neg", "pos"};
  const PretrainedModel loaded = load_pretrained((dir / "mlm").string(), options);
  EXPECT_THAT(loaded.report.missing_keys,
              UnorderedElementsAre("classifier.bias", "classifier.weight", "pre_classifier.bias",
                                   "pre_classifier.weight"));
  EXPECT_THAT(loaded.report.unexpected_keys,
              UnorderedElementsAre("vocab_transform.weight", "vocab_transform.bias"));
  EXPECT_EQ(loaded.model->config().id2label, (std::vector<std::string>{"neg", "pos"}));
  // The encoder keeps the checkpoint's weights; only the head is drawn.
  const auto checkpoint = SafetensorsFile::open(dir / "mlm/model.safetensors");
  for (const auto& parameter : loaded.model->named_parameters()) {
    if (parameter.key().rfind("distilbert.", 0) == 0) {
      EXPECT_TRUE(torch::equal(parameter.value(), tensor_view(checkpoint.tensor(parameter.key()))))
          << parameter.key();
    }
  }
  // Fresh head initialized like Hugging Face: zero biases, weights with std ≈ initializer_range.
  const auto parameters = loaded.model->named_parameters();
  EXPECT_TRUE(torch::equal(parameters["classifier.bias"], torch::zeros({2})));
  EXPECT_NEAR(parameters["pre_classifier.weight"].std().item<double>(), 0.02, 0.004);
}

TEST(Pretrained, ShapeMismatchIsAClearError) {
  testing::TempDir dir;
  testing::write_tiny_model_dir(dir / "tiny", "bert_tiny");
  PretrainedOptions options;
  options.label_names = {"a", "b", "c"};
  try {
    load_pretrained((dir / "tiny").string(), options);
    FAIL() << "a 2-label head loaded into a 3-label model";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::invalid_data);
    // The first mismatching tensor in the file's order is named with both shapes.
    EXPECT_THAT(error.what(), HasSubstr("tensor \"classifier.bias\": has shape [2]"));
    EXPECT_THAT(error.what(), HasSubstr("parameter classifier.bias has shape [3]"));
  }
}

TEST(Pretrained, ConfigOnlyDirectoryStartsFromSeededRandomWeights) {
  testing::TempDir dir;
  testing::write_tiny_model_dir(dir / "config_only", "distilbert_tiny");
  std::filesystem::remove(dir / "config_only/model.safetensors");
  PretrainedOptions options;
  options.seed = 7;
  PretrainedModel first = load_pretrained((dir / "config_only").string(), options);
  PretrainedModel second = load_pretrained((dir / "config_only").string(), options);
  EXPECT_TRUE(first.random_weights);
  EXPECT_TRUE(
      torch::equal(logits_of(*first.model, first.tokenizer), logits_of(*second.model, second.tokenizer)));
  options.seed = 8;
  PretrainedModel other = load_pretrained((dir / "config_only").string(), options);
  EXPECT_FALSE(
      torch::equal(logits_of(*first.model, first.tokenizer), logits_of(*other.model, other.tokenizer)));
  // Drawn as Hugging Face's _init_weights draws them (initializer_range 0.02 in the fixture's config).
  auto parameters = first.model->named_parameters();
  EXPECT_TRUE(torch::equal(parameters["classifier.bias"], torch::zeros({2})));
  EXPECT_TRUE(
      torch::equal(parameters["distilbert.transformer.layer.0.sa_layer_norm.weight"], torch::ones({64})));
  EXPECT_TRUE(
      torch::equal(parameters["distilbert.transformer.layer.0.sa_layer_norm.bias"], torch::zeros({64})));
  EXPECT_NEAR(parameters["distilbert.transformer.layer.0.attention.q_lin.weight"].std().item<double>(), 0.02,
              0.002);
  const torch::Tensor word_embeddings = parameters["distilbert.embeddings.word_embeddings.weight"];
  EXPECT_TRUE(torch::equal(word_embeddings[first.model->config().pad_token_id], torch::zeros({64})));
  EXPECT_NEAR(word_embeddings.std().item<double>(), 0.02, 0.001);
}

TEST(Pretrained, VocabularyLargerThanTheEmbeddingIsRejected) {
  testing::TempDir dir;
  testing::write_tiny_model_dir(dir / "tiny", "distilbert_tiny");
  std::string big = testing::read_text(dir / "tiny/vocab.txt");
  for (int extra = 0; extra < 5; ++extra)
    big += "extra" + std::to_string(extra) + "\n";
  testing::write_text(dir / "tiny/vocab.txt", big);
  EXPECT_THROW(load_pretrained((dir / "tiny").string()), Error);
}

TEST(Metrics, AccuracyMacroF1AndLossFromKnownPredictions) {
  MetricsAccumulator metrics(2);
  // gold 0 0 1 1 1, predicted 0 1 1 1 0: label 0 tp 1 fp 1 fn 1 -> F1 0.5; label 1 tp 2 fp 1 fn 1 -> 2/3.
  const std::vector<int64_t> gold = {0, 0, 1, 1, 1}, predicted = {0, 1, 1, 1, 0};
  metrics.add(predicted, gold, 2.5);
  const EvalMetrics result = metrics.result();
  EXPECT_EQ(result.n, 5u);
  EXPECT_DOUBLE_EQ(result.accuracy, 0.6);
  EXPECT_NEAR(result.macro_f1, (0.5 + 2.0 / 3.0) / 2.0, 1e-12);
  EXPECT_DOUBLE_EQ(result.eval_loss, 0.5);
}

TEST(Metrics, LogitsPathComputesMeanCrossEntropy) {
  MetricsAccumulator metrics(2);
  const torch::Tensor logits = torch::tensor({{2.0f, 0.0f}, {0.0f, 1.0f}});
  const torch::Tensor labels = torch::tensor({0, 0}, torch::kLong);
  metrics.add(logits, labels);
  const EvalMetrics result = metrics.result();
  const double expected = (std::log(1.0 + std::exp(-2.0)) + std::log(1.0 + std::exp(1.0))) / 2.0;
  EXPECT_NEAR(result.eval_loss, expected, 1e-6);
  EXPECT_DOUBLE_EQ(result.accuracy, 0.5);
}

}  // namespace
}  // namespace greentune::model
