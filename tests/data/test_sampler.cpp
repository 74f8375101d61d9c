#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <random>
#include <vector>

#include "greentune/core/error.hpp"
#include "greentune/data/sampler.hpp"

namespace greentune::data {
namespace {

constexpr BatchOrder kAllOrders[] = {BatchOrder::sequential, BatchOrder::shuffled,
                                     BatchOrder::length_bucketed};
constexpr BatchOrder kRandomOrders[] = {BatchOrder::shuffled, BatchOrder::length_bucketed};

// Lengths shaped like tokenized movie reviews: lognormal around 200 tokens with a long tail, kept in
// [20, 512]. Box-Muller over raw mt19937_64 output, so the data are the same wherever the test runs.
std::vector<size_t> skewed_lengths(size_t count, uint64_t seed) {
  std::mt19937_64 engine(seed);
  const auto unit_interval = [&engine] { return static_cast<double>(engine() >> 11) * 0x1.0p-53; };
  std::vector<size_t> lengths;
  lengths.reserve(count);
  while (lengths.size() < count) {
    const double open_unit = 1.0 - unit_interval();  // (0, 1]: safe under log
    const double normal =
        std::sqrt(-2.0 * std::log(open_unit)) * std::cos(2.0 * std::numbers::pi * unit_interval());
    const double length = std::exp(5.3 + 0.6 * normal);
    lengths.push_back(static_cast<size_t>(std::clamp(std::lround(length), 20L, 512L)));
  }
  return lengths;
}

std::vector<std::vector<size_t>> batch_indices(const EpochPlan& plan) {
  std::vector<std::vector<size_t>> indices;
  for (const Batch& batch : plan.batches) {
    indices.push_back(batch.indices);
  }
  return indices;
}

// How often each example appears in the plan.
std::vector<size_t> occurrences(const EpochPlan& plan, size_t example_count) {
  std::vector<size_t> counts(example_count, 0);
  for (const Batch& batch : plan.batches) {
    for (const size_t index : batch.indices) {
      ++counts.at(index);
    }
  }
  return counts;
}

SamplerOptions options_with(BatchOrder order, size_t batch_size) {
  SamplerOptions options;
  options.order = order;
  options.batch_size = batch_size;
  return options;
}

TEST(BatchSampler, EveryExampleExactlyOncePerEpochInEveryOrder) {
  const std::vector<size_t> lengths = skewed_lengths(1003, 1);
  for (const BatchOrder order : kAllOrders) {
    SamplerOptions options = options_with(order, 16);
    options.bucket_chunk_batches = 4;  // many chunks, the last one partial
    const BatchSampler sampler(lengths, options);
    for (uint64_t epoch = 0; epoch < 3; ++epoch) {
      const EpochPlan plan = sampler.epoch(epoch);
      const std::vector<size_t> counts = occurrences(plan, lengths.size());
      EXPECT_TRUE(std::all_of(counts.begin(), counts.end(), [](size_t count) { return count == 1; }))
          << "order " << static_cast<int>(order) << " epoch " << epoch;
      ASSERT_EQ(plan.batches.size(), sampler.batches_per_epoch());
      ASSERT_EQ(plan.batches.size(), 63u);  // ceil(1003 / 16)
      // 1003 = 62 * 16 + 11: one partial batch of 11 somewhere, all others full.
      const auto partial = std::count_if(plan.batches.begin(), plan.batches.end(),
                                         [](const Batch& batch) { return batch.indices.size() != 16; });
      EXPECT_EQ(partial, 1);
      EXPECT_EQ(std::count_if(plan.batches.begin(), plan.batches.end(),
                              [](const Batch& batch) { return batch.indices.size() == 11; }),
                1);
    }
  }
}

TEST(BatchSampler, DropLastLeavesOutExactlyTheRemainder) {
  const std::vector<size_t> lengths = skewed_lengths(1003, 2);
  for (const BatchOrder order : kAllOrders) {
    SamplerOptions options = options_with(order, 16);
    options.bucket_chunk_batches = 4;
    options.drop_last = true;
    const BatchSampler sampler(lengths, options);
    const EpochPlan plan = sampler.epoch(0);
    ASSERT_EQ(plan.batches.size(), 62u);
    ASSERT_EQ(plan.batches.size(), sampler.batches_per_epoch());
    for (const Batch& batch : plan.batches) {
      EXPECT_EQ(batch.indices.size(), 16u);
    }
    const std::vector<size_t> counts = occurrences(plan, lengths.size());
    EXPECT_EQ(std::count(counts.begin(), counts.end(), 0u), 11);
    EXPECT_EQ(std::count(counts.begin(), counts.end(), 1u), 1003 - 11);
    if (order == BatchOrder::sequential) {
      EXPECT_TRUE(std::all_of(counts.end() - 11, counts.end(), [](size_t count) { return count == 0; }));
    }
  }
}

TEST(BatchSampler, SequentialKeepsDatasetOrderEveryEpoch) {
  const std::vector<size_t> lengths = {5, 9, 3, 7, 2, 8, 6, 4, 10, 1};
  SamplerOptions options = options_with(BatchOrder::sequential, 3);
  options.seed = 7;  // ignored by the sequential order
  const BatchSampler sampler(lengths, options);
  const std::vector<std::vector<size_t>> expected = {{0, 1, 2}, {3, 4, 5}, {6, 7, 8}, {9}};
  EXPECT_EQ(batch_indices(sampler.epoch(0)), expected);
  EXPECT_EQ(batch_indices(sampler.epoch(5)), expected);
}

TEST(BatchSampler, RandomOrdersArePureFunctionsOfSeedAndEpoch) {
  const std::vector<size_t> lengths = skewed_lengths(1000, 3);
  for (const BatchOrder order : kRandomOrders) {
    SamplerOptions options = options_with(order, 16);
    options.bucket_chunk_batches = 8;
    const BatchSampler sampler(lengths, options);
    const auto epoch0 = batch_indices(sampler.epoch(0));
    const auto epoch1 = batch_indices(sampler.epoch(1));

    // A fresh sampler (a resumed run) and a repeated call both give the same plan.
    EXPECT_EQ(batch_indices(BatchSampler(lengths, options).epoch(1)), epoch1);
    EXPECT_EQ(batch_indices(sampler.epoch(0)), epoch0);
    EXPECT_NE(epoch0, epoch1);

    options.seed = 43;
    EXPECT_NE(batch_indices(BatchSampler(lengths, options).epoch(0)), epoch0);
  }
}

TEST(BatchSampler, PaddedLengthIsTheNextMultipleCappedAtMaxLength) {
  std::vector<size_t> lengths = skewed_lengths(700, 4);
  lengths[0] = 900;  // longer than max_length: counts as max_length
  for (const size_t pad_to_multiple : {1u, 8u, 64u}) {
    SamplerOptions options = options_with(BatchOrder::shuffled, 8);
    options.pad_to_multiple = pad_to_multiple;
    options.max_length = 200;  // not a multiple of 8 or 64, so the cap shows
    const EpochPlan plan = BatchSampler(lengths, options).epoch(0);
    for (const Batch& batch : plan.batches) {
      size_t longest = 0;
      for (const size_t index : batch.indices) {
        longest = std::max(longest, std::min(lengths[index], options.max_length));
      }
      EXPECT_GE(batch.padded_length, longest);
      EXPECT_LE(batch.padded_length, options.max_length);
      EXPECT_TRUE(batch.padded_length % pad_to_multiple == 0 || batch.padded_length == options.max_length)
          << batch.padded_length;
      EXPECT_LT(batch.padded_length, longest + pad_to_multiple) << "rounded past the next multiple";
    }
  }
}

TEST(BatchSampler, ReportedTokenCountsMatchARecount) {
  std::vector<size_t> lengths = skewed_lengths(1500, 5);
  lengths[10] = 700;  // capped at max_length in both counts
  for (const BatchOrder order : kAllOrders) {
    const EpochPlan plan = BatchSampler(lengths, options_with(order, 32)).epoch(2);
    size_t real_tokens = 0;
    size_t padded_tokens = 0;
    for (const Batch& batch : plan.batches) {
      size_t batch_real_tokens = 0;
      for (const size_t index : batch.indices) {
        batch_real_tokens += std::min<size_t>(lengths[index], 512);
      }
      EXPECT_EQ(batch.real_tokens, batch_real_tokens);
      real_tokens += batch_real_tokens;
      padded_tokens += batch.indices.size() * batch.padded_length;
    }
    EXPECT_EQ(plan.real_tokens, real_tokens);
    EXPECT_EQ(plan.padded_tokens, padded_tokens);
    EXPECT_DOUBLE_EQ(plan.padding_fraction(),
                     1.0 - static_cast<double>(real_tokens) / static_cast<double>(padded_tokens));
  }
}

TEST(BatchSampler, BucketingPadsFarLessThanShufflingOnSkewedLengths) {
  const std::vector<size_t> lengths = skewed_lengths(5000, 6);
  const double shuffled =
      BatchSampler(lengths, options_with(BatchOrder::shuffled, 16)).epoch(0).padding_fraction();
  const double bucketed =
      BatchSampler(lengths, options_with(BatchOrder::length_bucketed, 16)).epoch(0).padding_fraction();
  RecordProperty("shuffled_padding_fraction", std::to_string(shuffled));
  RecordProperty("bucketed_padding_fraction", std::to_string(bucketed));
  EXPECT_GT(shuffled, 0.2) << "the skewed lengths should make random batches pad a lot";
  EXPECT_LT(bucketed, 0.5 * shuffled) << "bucketed " << bucketed << " vs shuffled " << shuffled;
}

TEST(BatchSampler, BucketedBatchesOfOneChunkDoNotOverlapInLength) {
  const std::vector<size_t> lengths = skewed_lengths(640, 7);
  SamplerOptions options = options_with(BatchOrder::length_bucketed, 16);
  options.bucket_chunk_batches = 40;  // exactly one chunk: the whole epoch is sorted before cutting
  const EpochPlan plan = BatchSampler(lengths, options).epoch(0);
  // Far beyond the epoch, and times 16 it wraps to 16 in 64 bits: still one chunk.
  options.bucket_chunk_batches = std::numeric_limits<size_t>::max() / 16 + 2;
  EXPECT_EQ(batch_indices(BatchSampler(lengths, options).epoch(0)), batch_indices(plan));
  std::vector<std::pair<size_t, size_t>> ranges;  // (shortest, longest) of each batch
  for (const Batch& batch : plan.batches) {
    const auto [shortest, longest] =
        std::minmax_element(batch.indices.begin(), batch.indices.end(),
                            [&](size_t a, size_t b) { return lengths[a] < lengths[b]; });
    ranges.emplace_back(lengths[*shortest], lengths[*longest]);
  }
  EXPECT_FALSE(std::is_sorted(ranges.begin(), ranges.end())) << "batch order should be shuffled";
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i) {
    EXPECT_LE(ranges[i - 1].second, ranges[i].first) << "batches " << i - 1 << " and " << i << " overlap";
  }
}

// Golden plans, checked once against an independent Python implementation of the draws described in
// sampler.hpp: a change in the engine, seeding, shuffle or bounded draw, or a platform difference, shows
// up here.
TEST(BatchSampler, ShuffledEpochZeroGolden) {
  const std::vector<size_t> lengths = {5, 9, 3, 7, 2, 8, 6, 4, 10, 1};
  SamplerOptions options = options_with(BatchOrder::shuffled, 3);
  options.pad_to_multiple = 4;
  const EpochPlan plan = BatchSampler(lengths, options).epoch(0);
  const std::vector<std::vector<size_t>> expected = {{2, 0, 4}, {7, 8, 3}, {5, 1, 9}, {6}};
  EXPECT_EQ(batch_indices(plan), expected);
  std::vector<size_t> padded_lengths;
  for (const Batch& batch : plan.batches) {
    padded_lengths.push_back(batch.padded_length);
  }
  // Longest members 5, 10, 9 and 6 tokens, rounded up to multiples of 4.
  EXPECT_EQ(padded_lengths, (std::vector<size_t>{8, 12, 12, 8}));
}

TEST(BatchSampler, BucketedEpochZeroGolden) {
  const std::vector<size_t> lengths = {5, 9, 3, 7, 2, 8, 6, 4, 10, 1};
  SamplerOptions options = options_with(BatchOrder::length_bucketed, 2);
  options.pad_to_multiple = 4;
  options.bucket_chunk_batches = 2;
  const EpochPlan plan = BatchSampler(lengths, options).epoch(0);
  // Same permutation as the shuffled golden, [2 0 4 7 | 8 3 5 1 | 9 6], each chunk of 4 sorted by length
  // ([4 2 7 0 | 3 5 1 8 | 9 6]), cut into pairs, and the pairs shuffled by the same engine.
  const std::vector<std::vector<size_t>> expected = {{9, 6}, {3, 5}, {1, 8}, {4, 2}, {7, 0}};
  EXPECT_EQ(batch_indices(plan), expected);
}

void expect_error(const std::vector<size_t>& lengths, const SamplerOptions& options, ErrorCode code,
                  const std::string& mentioned) {
  try {
    BatchSampler sampler(lengths, options);
    ADD_FAILURE() << "no error; expected one mentioning " << mentioned;
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), code) << error.what();
    EXPECT_NE(std::string(error.what()).find(mentioned), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("fix:"), std::string::npos) << error.what();
  }
}

TEST(BatchSampler, RejectsUnusableOptionsAndLengths) {
  const std::vector<size_t> lengths = {5, 9, 3};
  SamplerOptions options;
  options.batch_size = 0;
  expect_error(lengths, options, ErrorCode::usage, "batch size");
  options = {};
  options.pad_to_multiple = 0;
  expect_error(lengths, options, ErrorCode::usage, "pad-to-multiple");
  options = {};
  options.max_length = 0;
  expect_error(lengths, options, ErrorCode::usage, "max length");
  options = {};
  options.bucket_chunk_batches = 0;
  expect_error(lengths, options, ErrorCode::usage, "chunk");
  expect_error({}, {}, ErrorCode::invalid_data, "no examples");
  expect_error({5, 0, 3}, {}, ErrorCode::invalid_data, "example 1 has 0 tokens");
  options = {};
  options.drop_last = true;  // 3 examples, batch size 16
  expect_error(lengths, options, ErrorCode::invalid_data, "leaves no batch");
}

}  // namespace
}  // namespace greentune::data
