#include "training_data.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "collectives.hpp"
#include "greentune/core/error.hpp"
#include "greentune/core/random.hpp"
#include "greentune/data/fetch.hpp"
#include "greentune/data/split.hpp"

namespace greentune::train {

namespace fs = std::filesystem;

namespace {

// Indices 0..n-1: every example of a split.
std::vector<size_t> all_indices(size_t n) {
  std::vector<size_t> indices(n);
  for (size_t i = 0; i < n; ++i)
    indices[i] = i;
  return indices;
}

// Random streams of the seed for drawing example subsets (the split, the sampler and dropout use others).
constexpr uint64_t kTrainSampleStream = 0x7452'4149'4e00;  // "tRAIN"
constexpr uint64_t kTestSampleStream = 0x7445'5354'0000;   // "tEST"

// limit of the n examples, drawn with the seed and kept in file order; all of them when limit is 0 or n or
// more.
std::vector<size_t> sample_indices(size_t n, size_t limit, uint64_t seed, uint64_t stream) {
  std::vector<size_t> indices = all_indices(n);
  if (limit == 0 || limit >= n)
    return indices;
  std::mt19937_64 engine = random::seeded_engine(seed, stream);
  random::fisher_yates_shuffle(indices, engine);
  indices.resize(limit);
  std::sort(indices.begin(), indices.end());
  return indices;
}

// --eval-data / --test-data: read like --data (its format when given, columns and the training label
// names, so label ids agree), from their "test" split when there is one, else their only split.
data::TokenizedDataset open_companion_data(const fs::path& path, const data::DataSpec& training,
                                           const std::vector<std::string>& label_names,
                                           const text::WordPieceTokenizer& tokenizer,
                                           const data::CacheOptions& cache) {
  data::DataSpec spec = training;
  spec.path = path;
  spec.label_names = label_names;
  return data::TokenizedDataset::open_or_build(spec, tokenizer, cache);
}

const data::TokenizedSplit& evaluation_split(const data::TokenizedDataset& dataset) {
  const data::TokenizedSplit* test = dataset.find_split("test");
  return test != nullptr ? *test : dataset.splits().front();
}

// spec with "imdb" as the cached download, fetched by rank 0 when missing.
data::DataSpec resolve_path(data::DataSpec spec, ProcessGroup& group) {
  spec.path = root_first(group, [&] { return data::resolve_data_path(spec.path.string()); });
  return spec;
}

}  // namespace

TrainingData::TrainingData(const TrainOptions& options, ProcessGroup& group,
                           const text::WordPieceTokenizer& tokenizer, const data::CacheOptions& cache,
                           torch::Device device)
    : options_(options),
      pad_id_(tokenizer.pad_id()),
      device_(device),
      spec_(resolve_path(options.data, group)),
      dataset_(
          root_first(group, [&] { return data::TokenizedDataset::open_or_build(spec_, tokenizer, cache); })) {
  const auto open_companion = [&](const fs::path& path) {
    return root_first(group, [&]() -> std::optional<data::TokenizedDataset> {
      if (path.empty())
        return std::nullopt;
      return open_companion_data(path, spec_, dataset_.label_names(), tokenizer, cache);
    });
  };
  eval_dataset_ = open_companion(options.eval_data);
  test_dataset_ = open_companion(options.test_data);
  train_split_ = &dataset_.split("train");
  // --max-train-examples draws the examples used at all; without --eval-data a validation share of them
  // is held out, with it they all train.
  const std::vector<size_t> pool =
      sample_indices(train_split_->size(), options.max_train_examples, options.seed, kTrainSampleStream);
  if (eval_dataset_) {
    train_indices_ = pool;
    eval_split_ = &evaluation_split(*eval_dataset_);
    eval_indices_ = all_indices(eval_split_->size());
  } else {
    const data::TrainValidationSplit positions =
        data::split_train_validation(pool.size(), {options.validation_fraction, options.seed});
    for (const size_t position : positions.train)
      train_indices_.push_back(pool[position]);
    for (const size_t position : positions.validation)
      eval_indices_.push_back(pool[position]);
    eval_split_ = train_split_;
  }
  if (eval_indices_.empty()) {
    throw Error(ErrorCode::usage, "--validation-fraction", "no validation examples to evaluate on",
                "raise --validation-fraction (e.g. 0.1), give more training data, or pass --eval-data");
  }
  test_split_ = test_dataset_ ? &evaluation_split(*test_dataset_) : dataset_.find_split("test");
  if (test_split_ != nullptr) {
    test_indices_ =
        sample_indices(test_split_->size(), options.max_test_examples, options.seed, kTestSampleStream);
  }

  std::vector<size_t> lengths;
  lengths.reserve(train_indices_.size());
  for (const size_t index : train_indices_)
    lengths.push_back(train_split_->length(index));
  data::SamplerOptions sampler_options;
  sampler_options.batch_size = options.batch_size;
  sampler_options.order = !options.shuffle           ? data::BatchOrder::sequential
                          : options.length_bucketing ? data::BatchOrder::length_bucketed
                                                     : data::BatchOrder::shuffled;
  sampler_options.seed = options.seed;
  sampler_options.pad_to_multiple = options.pad_to_multiple;
  sampler_options.max_length = options.max_length;
  sampler_.emplace(std::move(lengths), sampler_options);
}

model::TensorBatch TrainingData::collate_on_host(const data::Batch& batch) const {
  std::vector<size_t> members;
  members.reserve(batch.indices.size());
  for (const size_t local : batch.indices)
    members.push_back(train_indices_[local]);
  model::TensorBatch tensors =
      model::collate(*train_split_, members, options_.max_length, batch.padded_length, pad_id_);
  if (device_.is_cuda())
    tensors = {tensors.input_ids.pin_memory(), tensors.attention_mask.pin_memory(),
               tensors.labels.pin_memory()};
  return tensors;
}

BatchPrefetcher::BatchPrefetcher(const TrainingData& data, const data::EpochPlan& plan,
                                 std::vector<size_t> order)
    : data_(data), plan_(plan), order_(std::move(order)) {
  prepare(0);
}

BatchPrefetcher::~BatchPrefetcher() {
  if (prepared_.valid())
    prepared_.wait();
}

void BatchPrefetcher::prepare(size_t position) {
  position_ = position;
  if (position < order_.size()) {
    const data::Batch& batch = plan_.batches[order_[position]];
    // The producer runs with this thread's LibTorch state, so that the tensor memory tracker counts the
    // batch's tensors as the step's, as when the step collated them itself.
    prepared_ = std::async(std::launch::async, [this, &batch, state = at::ThreadLocalState()] {
      const at::ThreadLocalStateGuard guard(state);
      return data_.collate_on_host(batch);
    });
  }
}

model::TensorBatch BatchPrefetcher::next(size_t batch_index) {
  if (position_ >= order_.size() || order_[position_] != batch_index) {
    throw Error(ErrorCode::internal, "BatchPrefetcher",
                fmt::format("batch {} was asked for, but the prefetcher holds {}", batch_index,
                            position_ < order_.size() ? std::to_string(order_[position_]) : "none"));
  }
  const model::TensorBatch on_host = prepared_.get();  // rethrows what the collation threw
  prepare(position_ + 1);
  return data_.to_device(on_host);
}

}  // namespace greentune::train
