#include <gtest/gtest.h>

#include <vector>

#include "greentune/core/error.hpp"
#include "greentune/model/batch.hpp"
#include "greentune/model/evaluate.hpp"
#include "greentune/model/pretrained.hpp"
#include "model_test_support.hpp"

namespace greentune::model {
namespace {

TEST(Batch, PadSequencesPadsWithThePadIdAndMasksThePadding) {
  const std::vector<int32_t> head = {2, 7, 8}, tail = {3}, short_one = {2, 3};
  const std::vector<data::TruncatedTokens> sequences = {{head, tail}, {short_one, {}}};
  const TensorBatch batch = pad_sequences(sequences, 5, 0);
  EXPECT_TRUE(torch::equal(batch.input_ids, torch::tensor({{2, 7, 8, 3, 0}, {2, 3, 0, 0, 0}}, torch::kLong)));
  EXPECT_TRUE(
      torch::equal(batch.attention_mask, torch::tensor({{1, 1, 1, 1, 0}, {1, 1, 0, 0, 0}}, torch::kLong)));
  EXPECT_FALSE(batch.labels.defined());
  try {
    pad_sequences(sequences, 3, 0);
    FAIL() << "a sequence longer than the batch was cut";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::internal);
  }
}

// classify on the fixture's reference rows (16, 10 and 5 tokens), given out of order and one of them
// twice, gives each row the logits transformers computed for it, whatever the batch size.
TEST(Classify, GivesHuggingFacesLogitsInInputOrderWhateverTheBatching) {
  for (const std::string name : {"distilbert_tiny", "bert_tiny"}) {
    testing::TempDir dir;
    testing::write_tiny_model_dir(dir / "model", name);
    PretrainedModel loaded = load_pretrained((dir / "model").string());
    loaded.model->train();  // classify switches to eval mode: dropout would change the logits
    const std::vector<size_t> rows = {0, 2, 1, 0};
    std::vector<testing::ReferenceRow> references;
    std::vector<std::vector<int32_t>> ids;
    for (const size_t row : rows) {
      references.push_back(testing::reference_row(name, row));
      ids.emplace_back(references.back().input_ids.begin(), references.back().input_ids.end());
    }
    std::vector<data::TruncatedTokens> sequences;
    for (const auto& row_ids : ids)
      sequences.push_back({row_ids, {}});
    for (const size_t batch_size : {1, 2, 64}) {
      SCOPED_TRACE(name + ", batches of " + std::to_string(batch_size));
      EvaluateOptions options;
      options.batch_size = batch_size;
      const torch::Tensor logits = classify(*loaded.model, sequences, 0, options);
      ASSERT_EQ(logits.sizes(), (std::vector<int64_t>{4, 2}));
      ASSERT_EQ(logits.scalar_type(), torch::kFloat);
      EXPECT_FALSE(logits.requires_grad());
      const auto values = logits.accessor<float, 2>();
      for (size_t i = 0; i < rows.size(); ++i) {
        for (size_t label = 0; label < 2; ++label) {
          EXPECT_NEAR(values[static_cast<int64_t>(i)][static_cast<int64_t>(label)],
                      references[i].logits[label], 1e-5)
              << "input " << i << " (reference row " << rows[i] << "), label " << label;
        }
      }
    }
    EXPECT_FALSE(loaded.model->is_training());
  }
}

}  // namespace
}  // namespace greentune::model
