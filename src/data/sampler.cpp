#include "greentune/data/sampler.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <utility>

#include "greentune/core/error.hpp"
#include "greentune/core/random.hpp"

namespace greentune::data {

namespace {

void require_positive(size_t value, const char* what, const char* fix) {
  if (value == 0) {
    throw Error(ErrorCode::usage, "", fmt::format("{} is 0", what), fix);
  }
}

}  // namespace

double EpochPlan::padding_fraction() const {
  if (padded_tokens == 0) {
    return 0.0;
  }
  return 1.0 - static_cast<double>(real_tokens) / static_cast<double>(padded_tokens);
}

BatchSampler::BatchSampler(std::vector<size_t> lengths, SamplerOptions options)
    : lengths_(std::move(lengths)), options_(options) {
  require_positive(options_.batch_size, "batch size", "use a batch size of at least 1");
  require_positive(options_.pad_to_multiple, "pad-to-multiple",
                   "use 1 to pad each batch to its longest example, or a multiple such as 8 or 64");
  require_positive(options_.max_length, "max length", "use a max length of at least 2 ([CLS] and [SEP])");
  require_positive(options_.bucket_chunk_batches, "bucket chunk size (batches per chunk)",
                   "use at least 1 batch per chunk; 100 is the default");
  if (lengths_.empty()) {
    throw Error(ErrorCode::invalid_data, "", "the dataset has no examples to batch",
                "check that the split was loaded and is not filtered down to nothing");
  }
  for (size_t index = 0; index < lengths_.size(); ++index) {
    if (lengths_[index] == 0) {
      throw Error(ErrorCode::invalid_data, "", fmt::format("example {} has 0 tokens", index),
                  "every encoded example holds at least [CLS] and [SEP]; re-tokenize the dataset");
    }
    lengths_[index] = std::min(lengths_[index], options_.max_length);
  }
  if (options_.drop_last && lengths_.size() < options_.batch_size) {
    throw Error(ErrorCode::invalid_data, "",
                fmt::format("drop_last with {} examples and batch size {} leaves no batch", lengths_.size(),
                            options_.batch_size),
                "lower the batch size or keep the last partial batch");
  }
}

size_t BatchSampler::batches_per_epoch() const {
  const size_t full_batches = lengths_.size() / options_.batch_size;
  const bool has_partial = lengths_.size() % options_.batch_size != 0;
  return full_batches + (has_partial && !options_.drop_last ? 1 : 0);
}

Batch BatchSampler::make_batch(std::span<const size_t> members) const {
  Batch batch;
  batch.indices.assign(members.begin(), members.end());
  size_t longest = 0;
  for (const size_t index : members) {
    batch.real_tokens += lengths_[index];
    longest = std::max(longest, lengths_[index]);
  }
  // Round up without overflow: longest <= max_length, so compare the step up with the room left.
  const size_t step_up =
      (options_.pad_to_multiple - longest % options_.pad_to_multiple) % options_.pad_to_multiple;
  const size_t room = options_.max_length - longest;
  batch.padded_length = step_up > room ? options_.max_length : longest + step_up;
  return batch;
}

EpochPlan BatchSampler::epoch(uint64_t epoch_index) const {
  const size_t batch_size = options_.batch_size;
  std::vector<size_t> order(lengths_.size());
  std::iota(order.begin(), order.end(), size_t{0});

  std::mt19937_64 engine = random::seeded_engine(options_.seed, epoch_index);
  if (options_.order != BatchOrder::sequential) {
    random::fisher_yates_shuffle(order, engine);
  }
  if (options_.drop_last) {
    order.resize(order.size() - order.size() % batch_size);
  }
  if (options_.order == BatchOrder::length_bucketed) {
    // Chunks hold a whole number of batches, so cutting the sorted order below never mixes two chunks.
    // A chunk count beyond the epoch is one chunk of everything (and keeps the product from overflowing).
    const bool one_chunk = options_.bucket_chunk_batches > order.size() / batch_size;
    const size_t chunk_size = one_chunk ? order.size() : options_.bucket_chunk_batches * batch_size;
    for (size_t begin = 0; begin < order.size(); begin += chunk_size) {
      const auto chunk_end =
          order.begin() + static_cast<std::ptrdiff_t>(std::min(begin + chunk_size, order.size()));
      std::stable_sort(order.begin() + static_cast<std::ptrdiff_t>(begin), chunk_end,
                       [this](size_t left, size_t right) { return lengths_[left] < lengths_[right]; });
    }
  }

  EpochPlan plan;
  plan.batches.reserve(batches_per_epoch());
  const std::span<const size_t> ordered(order);
  for (size_t begin = 0; begin < ordered.size(); begin += batch_size) {
    plan.batches.push_back(make_batch(ordered.subspan(begin, std::min(batch_size, ordered.size() - begin))));
  }
  if (options_.order == BatchOrder::length_bucketed) {
    // Without this, every chunk would run from its shortest batch to its longest.
    random::fisher_yates_shuffle(plan.batches, engine);
  }
  for (const Batch& batch : plan.batches) {
    plan.real_tokens += batch.real_tokens;
    plan.padded_tokens += batch.padded_tokens();
  }
  return plan;
}

}  // namespace greentune::data
