// The encoders against Hugging Face transformers: logits, loss, every hidden state and every parameter
// gradient of the tiny reference models (tests/data_files/model, made with transformers 5.17) within 1e-5.
// The comparisons with Hugging Face and the checkpointing ones run on GREENTUNE_TEST_DEVICE (default cpu;
// bench/gpu/check.sh sets cuda) and compare on the CPU.
#include <gtest/gtest.h>

#include <map>

#include "greentune/model/classifier.hpp"
#include "greentune/model/torch_compat.hpp"
#include "greentune/model/weights.hpp"
#include "test_device_support.hpp"
#include "test_support.hpp"

namespace greentune::model {
namespace {

constexpr double tolerance = 1e-5;  // absolute, fp32

// On the CPU (a no-op for CPU tensors), in double.
double max_abs_difference(const torch::Tensor& actual, const torch::Tensor& expected) {
  return (actual.to(torch::kCPU).to(torch::kDouble) - expected.to(torch::kCPU).to(torch::kDouble))
      .abs()
      .max()
      .item<double>();
}

SequenceClassifier load_fixture(const std::string& name) {
  const auto dir = testing::test_data_dir() / "model" / name;
  const ModelConfig config = ModelConfig::load(dir / "config.json");
  SequenceClassifier model = make_classifier(config);
  const LoadReport report = load_weights(*model, SafetensorsFile::open(dir / "model.safetensors"));
  EXPECT_TRUE(report.missing_keys.empty()) << report.missing_keys.front();
  EXPECT_TRUE(report.unexpected_keys.empty()) << report.unexpected_keys.front();
  EXPECT_EQ(report.loaded, model->parameters().size());
  return model;
}

// checkpointed: the same through gradient checkpointing, which recomputes each layer in backward.
void expect_matches_reference(const std::string& name, bool checkpointed) {
  const torch::Device device = testing::test_device();
  SequenceClassifier model = load_fixture(name);
  model->to(device);
  model->eval();  // the reference ran model.eval(): dropout off
  model->set_gradient_checkpointing(checkpointed);
  const auto reference =
      SafetensorsFile::open(testing::test_data_dir() / "model" / name / "reference.safetensors");
  const auto expected = [&](const std::string& key) { return tensor_view(reference.tensor(key)).clone(); };

  const torch::Tensor input_ids = expected("input_ids").to(device);            // (3, 16)
  const torch::Tensor attention_mask = expected("attention_mask").to(device);  // (3, 16): 16, 10 and 5 ones
  const ClassifierOutput output = model->forward(input_ids, attention_mask, /*keep_hidden_states=*/true);
  EXPECT_LT(max_abs_difference(output.logits, expected("logits")), tolerance);

  ASSERT_EQ(output.hidden_states.size(), static_cast<size_t>(model->config().num_layers + 1));
  for (size_t i = 0; i < output.hidden_states.size(); ++i) {
    // transformers computes padded query rows too; compare every position.
    EXPECT_LT(max_abs_difference(output.hidden_states[i], expected("hidden_states." + std::to_string(i))),
              tolerance)
        << "hidden state " << i;
  }

  const torch::Tensor loss = torch::cross_entropy_loss(output.logits, expected("labels").to(device));
  EXPECT_LT(max_abs_difference(loss.reshape({1}), expected("loss")), tolerance);
  loss.backward();
  size_t compared = 0;
  for (const auto& parameter : model->named_parameters()) {
    ASSERT_TRUE(parameter.value().grad().defined()) << parameter.key();
    EXPECT_LT(max_abs_difference(parameter.value().grad(), expected("grad." + parameter.key())), tolerance)
        << "gradient of " << parameter.key();
    ++compared;
  }
  EXPECT_EQ(compared, model->parameters().size());
}

TEST(Encoders, DistilBertMatchesHuggingFace) {
  expect_matches_reference("distilbert_tiny", false);
}

TEST(Encoders, BertMatchesHuggingFace) {
  expect_matches_reference("bert_tiny", false);
}

TEST(Encoders, CheckpointedLayersGiveHuggingFacesGradients) {
  for (const std::string name : {"distilbert_tiny", "bert_tiny"}) {
    SCOPED_TRACE(name);
    expect_matches_reference(name, true);
  }
}

TEST(Encoders, ParameterNamesAreHuggingFaces) {
  SequenceClassifier model = load_fixture("distilbert_tiny");
  std::vector<std::string> names;
  for (const auto& parameter : model->named_parameters())
    names.push_back(parameter.key());
  EXPECT_NE(std::find(names.begin(), names.end(), "distilbert.transformer.layer.1.attention.q_lin.weight"),
            names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "pre_classifier.bias"), names.end());
}

TEST(Encoders, LibraryAttentionKernelAgreesWithExplicitSoftmax) {
  torch::manual_seed(3);
  const int64_t batch = 2, length = 12, width = 32, heads = 4;
  const torch::Tensor q = torch::randn({batch, length, width});
  const torch::Tensor k = torch::randn({batch, length, width});
  const torch::Tensor v = torch::randn({batch, length, width});
  torch::Tensor attention_mask = torch::ones({batch, length}, torch::kLong);
  attention_mask.index_put_({1, torch::indexing::Slice(7, torch::indexing::None)}, 0);
  const torch::Tensor key_mask = key_mask_from(attention_mask);
  const torch::Tensor explicit_path = self_attention(q, k, v, key_mask, heads, 0.0, false, false);
  // The library kernel directly (on 1.13 the private at::_scaled_dot_product_attention).
  const auto split = [&](const torch::Tensor& x) {
    return x.view({batch, length, heads, width / heads}).transpose(1, 2);
  };
  const torch::Tensor library = compat::library_attention(split(q), split(k), split(v), key_mask, 0.0)
                                    .transpose(1, 2)
                                    .reshape({batch, length, width});
  EXPECT_LT(max_abs_difference(explicit_path, library), 1e-5);
  // Padded keys get no weight: changing their values changes nothing.
  torch::Tensor v_changed = v.clone();
  v_changed.index_put_({1, torch::indexing::Slice(7, torch::indexing::None)}, 100.0);
  EXPECT_LT(
      max_abs_difference(self_attention(q, k, v_changed, key_mask, heads, 0.0, false, false), explicit_path),
      1e-6);
}

TEST(Encoders, SaveAndLoadRoundTripIsBitExact) {
  testing::TempDir dir;
  SequenceClassifier model = load_fixture("bert_tiny");
  save_weights(*model, dir / "model.safetensors");
  SequenceClassifier reloaded = make_classifier(model->config());
  const LoadReport report = load_weights(*reloaded, SafetensorsFile::open(dir / "model.safetensors"));
  EXPECT_TRUE(report.missing_keys.empty());
  // Equal to the Hugging Face file the first model was loaded from, tensor for tensor.
  const auto original = SafetensorsFile::open(testing::test_data_dir() / "model/bert_tiny/model.safetensors");
  for (const auto& parameter : reloaded->named_parameters()) {
    EXPECT_TRUE(torch::equal(parameter.value(), tensor_view(original.tensor(parameter.key()))))
        << parameter.key();
  }
}

}  // namespace
}  // namespace greentune::model

namespace greentune::model {
namespace {

TEST(Encoders, Bf16AutocastStaysCloseToFp32AndRestoresTheMode) {
  SequenceClassifier model = load_fixture("distilbert_tiny");
  model->eval();
  const auto reference =
      SafetensorsFile::open(testing::test_data_dir() / "model/distilbert_tiny/reference.safetensors");
  const torch::Tensor input_ids = tensor_view(reference.tensor("input_ids")).clone();
  const torch::Tensor attention_mask = tensor_view(reference.tensor("attention_mask")).clone();
  const torch::Tensor fp32 = model->forward(input_ids, attention_mask).logits;
  torch::Tensor bf16;
  {
    compat::AutocastGuard autocast(c10::DeviceType::CPU, torch::kBFloat16);
    bf16 = model->forward(input_ids, attention_mask).logits;
    EXPECT_EQ(bf16.scalar_type(), torch::kBFloat16);  // the classifier's linear ran in bf16
  }
  EXPECT_LT(max_abs_difference(bf16, fp32), 0.05);  // bf16 keeps 8 bits of mantissa
  EXPECT_GT(max_abs_difference(bf16, fp32), 0.0);   // and it really ran in reduced precision
  EXPECT_EQ(model->forward(input_ids, attention_mask).logits.scalar_type(), torch::kFloat);  // mode restored
}

}  // namespace
}  // namespace greentune::model

namespace greentune::model {
namespace {

// Gradients of one training step (dropout on) of the fixture, with and without checkpointing.
// device: where the step runs (bf16: CPU autocast, so the CPU); the gradients come back on the CPU.
std::map<std::string, torch::Tensor> training_gradients(const std::string& name, bool checkpoint, bool bf16,
                                                        torch::Device device = torch::kCPU) {
  SequenceClassifier model = load_fixture(name);
  model->to(device);
  model->train();
  model->set_gradient_checkpointing(checkpoint);
  const auto reference =
      SafetensorsFile::open(testing::test_data_dir() / "model" / name / "reference.safetensors");
  const torch::Tensor input_ids = tensor_view(reference.tensor("input_ids")).clone().to(device);
  const torch::Tensor attention_mask = tensor_view(reference.tensor("attention_mask")).clone().to(device);
  const torch::Tensor labels = tensor_view(reference.tensor("labels")).clone().to(device);
  torch::manual_seed(11);  // CUDA's generators too
  torch::Tensor logits;
  if (bf16) {
    compat::AutocastGuard autocast(c10::DeviceType::CPU, torch::kBFloat16);
    logits = model->forward(input_ids, attention_mask).logits;
  } else {
    logits = model->forward(input_ids, attention_mask).logits;
  }
  torch::cross_entropy_loss(logits.to(torch::kFloat), labels).backward();
  std::map<std::string, torch::Tensor> gradients;
  for (const auto& parameter : model->named_parameters())
    gradients[parameter.key()] = parameter.value().grad().to(torch::kCPU);
  return gradients;
}

TEST(Encoders, CheckpointedGradientsEqualPlainOnesBitForBit) {
  for (const std::string name : {"distilbert_tiny", "bert_tiny"}) {
    const auto plain = training_gradients(name, false, false, testing::test_device());
    const auto checkpointed = training_gradients(name, true, false, testing::test_device());
    ASSERT_EQ(plain.size(), checkpointed.size());
    for (const auto& [parameter, gradient] : plain) {
      ASSERT_TRUE(checkpointed.at(parameter).defined()) << parameter;
      EXPECT_TRUE(torch::equal(gradient, checkpointed.at(parameter))) << name << " " << parameter;
    }
  }
}

TEST(Encoders, CheckpointingUnderBf16AutocastRecomputesInBf16) {
  // bf16 kernels may sum in another order when recomputed: equal to bf16 rounding, not bit for bit.
  const auto plain = training_gradients("distilbert_tiny", false, true);
  const auto checkpointed = training_gradients("distilbert_tiny", true, true);
  const auto fp32 = training_gradients("distilbert_tiny", false, false);
  for (const auto& [parameter, gradient] : plain) {
    const double scale = 1e-3 + gradient.abs().max().item<double>();
    EXPECT_LT(max_abs_difference(gradient, checkpointed.at(parameter)), 2e-2 * scale) << parameter;
  }
  // ...and the recomputation really ran in bf16: its gradients differ from fp32 ones.
  double largest_bf16_effect = 0.0;
  for (const auto& [parameter, gradient] : checkpointed) {
    largest_bf16_effect = std::max(largest_bf16_effect, max_abs_difference(gradient, fp32.at(parameter)));
  }
  EXPECT_GT(largest_bf16_effect, 0.0);
}

}  // namespace
}  // namespace greentune::model
