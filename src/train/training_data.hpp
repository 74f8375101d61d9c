#pragma once
// The examples a run trains, evaluates and tests on (private to the trainer): the dataset tokenized with
// the model's vocabulary, the validation share held out of it (or --eval-data), the test split (or
// --test-data), the batch sampler over the training examples, and their collation into tensors.

#include <future>
#include <optional>
#include <vector>

#include "greentune/data/sampler.hpp"
#include "greentune/data/tokenized_cache.hpp"
#include "greentune/model/batch.hpp"
#include "greentune/text/tokenizer.hpp"
#include "greentune/train/process_group.hpp"
#include "greentune/train/train_options.hpp"

namespace greentune::train {

class TrainingData {
 public:
  // Reads and tokenizes options.data (rank 0 first, the other ranks from its caches), draws the
  // --max-train-examples and the validation share with the seed, and plans the batches.
  TrainingData(const TrainOptions& options, ProcessGroup& group, const text::WordPieceTokenizer& tokenizer,
               const data::CacheOptions& cache, torch::Device device);
  TrainingData(const TrainingData&) = delete;  // the splits are referred to by address
  TrainingData& operator=(const TrainingData&) = delete;

  const data::DataSpec& spec() const { return spec_; }  // options.data with "imdb" resolved to its file
  const std::vector<std::string>& label_names() const { return dataset_.label_names(); }
  size_t train_examples() const { return train_indices_.size(); }
  const data::BatchSampler& sampler() const { return *sampler_; }
  // The examples of one planned batch, truncated to max_length and padded to the batch's length, on the
  // run's device.
  model::TensorBatch collate(const data::Batch& batch) const { return to_device(collate_on_host(batch)); }
  // The same batch in host memory (pinned when the run is on a GPU), and such a batch on the run's device.
  model::TensorBatch collate_on_host(const data::Batch& batch) const;
  model::TensorBatch to_device(const model::TensorBatch& batch) const {
    return model::to_device(batch, device_);
  }

  const data::TokenizedSplit& eval_split() const { return *eval_split_; }
  const std::vector<size_t>& eval_indices() const { return eval_indices_; }
  bool evaluates_held_out_data() const { return !eval_dataset_.has_value(); }
  const data::TokenizedSplit* test_split() const { return test_split_; }  // nullptr: no test data
  const std::vector<size_t>& test_indices() const { return test_indices_; }

 private:
  const TrainOptions& options_;
  int32_t pad_id_;
  torch::Device device_;
  data::DataSpec spec_;
  data::TokenizedDataset dataset_;
  std::optional<data::TokenizedDataset> eval_dataset_, test_dataset_;
  const data::TokenizedSplit* train_split_;
  std::vector<size_t> train_indices_;  // of train_split_, in file order
  const data::TokenizedSplit* eval_split_;
  std::vector<size_t> eval_indices_;
  const data::TokenizedSplit* test_split_;
  std::vector<size_t> test_indices_;
  std::optional<data::BatchSampler> sampler_;  // over train_indices_
};

// One epoch's batches of this rank, collated one ahead of the training step on a thread of their own
// (into pinned memory when the run is on a GPU): while the device computes a step, the host pads the next
// batch, and the step finds it ready.
class BatchPrefetcher {
 public:
  // The batches plan.batches[order[0]], plan.batches[order[1]], ... in that order; data and plan must
  // outlive the prefetcher.
  BatchPrefetcher(const TrainingData& data, const data::EpochPlan& plan, std::vector<size_t> order);
  ~BatchPrefetcher();  // waits for the batch in preparation
  BatchPrefetcher(const BatchPrefetcher&) = delete;
  BatchPrefetcher& operator=(const BatchPrefetcher&) = delete;

  // The next batch of the order, on the run's device; batch_index must be its index in the plan (the
  // caller's own count, checked). Error(internal) past the end of the order or out of step with it.
  model::TensorBatch next(size_t batch_index);

 private:
  void prepare(size_t position);

  const TrainingData& data_;
  const data::EpochPlan& plan_;
  std::vector<size_t> order_;
  size_t position_ = 0;                       // of the batch in preparation in order_
  std::future<model::TensorBatch> prepared_;  // plan_.batches[order_[position_]] on the host
};

}  // namespace greentune::train
