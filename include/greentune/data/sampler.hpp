#pragma once
// Cuts a dataset into training batches, epoch by epoch. The sampler sees only each example's token
// count (including [CLS] and [SEP]); it decides which examples go together and how long each batch is
// padded, so the trainer pads every batch to its own length instead of to max_length.
//
// Reproducibility and resume: the batches of epoch e are a pure function of (lengths, options, e).
// No state carries over from one epoch() call to the next, so a trainer resuming at (epoch e, batch k)
// calls epoch(e) and skips its first k batches. The random draws are defined here, not by the standard
// library (std::shuffle and std::uniform_int_distribution differ between implementations), so a plan is
// the same on every platform and compiler:
//   engine for epoch e = std::mt19937_64 seeded with splitmix64(splitmix64(seed) ^ e)
//   shuffle            = Fisher-Yates from the back, j uniform in [0, i] by rejection sampling
// where splitmix64 is Vigna's finalizer (x += 0x9e3779b97f4a7c15, then xor-shift-multiply by
// 0xbf58476d1ce4e5b9 and 0x94d049bb133111eb).

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace greentune::data {

enum class BatchOrder {
  sequential,       // batch i holds examples i*B ... i*B+B-1, the same every epoch
  shuffled,         // a fresh random permutation every epoch, cut into batches in that order
  length_bucketed,  // shuffle, sort chunks of bucket_chunk_batches*B examples by length, cut, shuffle batches
};

struct SamplerOptions {
  size_t batch_size = 16;  // examples per batch
  BatchOrder order = BatchOrder::length_bucketed;
  uint64_t seed = 42;
  // Padded lengths are rounded up to a multiple of this many tokens (tensor cores and kernels like
  // aligned shapes; fewer distinct shapes also means fewer allocator sizes). 1 pads to the longest exactly.
  size_t pad_to_multiple = 64;
  size_t max_length = 512;  // tokens; longer examples count as max_length (the trainer truncates them)
  // length_bucketed only: examples are sorted by length within chunks of this many batches. Larger
  // chunks pad less; smaller ones keep batches more random. At least batches_per_epoch() sorts the whole
  // epoch.
  size_t bucket_chunk_batches = 100;
  // Leave out the last epoch_size % batch_size examples of each epoch's permutation, so every batch is
  // full. They are cut before sorting, so which examples are left out is random and not biased by length.
  bool drop_last = false;
};

struct Batch {
  std::vector<size_t> indices;  // positions in the lengths given to the sampler
  size_t padded_length = 0;     // tokens per row: the longest member rounded up to pad_to_multiple,
                                // capped at max_length
  size_t real_tokens = 0;       // sum of the members' lengths (each capped at max_length)

  size_t padded_tokens() const { return indices.size() * padded_length; }
};

struct EpochPlan {
  std::vector<Batch> batches;
  size_t real_tokens = 0;    // summed over batches
  size_t padded_tokens = 0;  // summed over batches: what the model computes on

  // Share of computed tokens that are padding: 1 - real_tokens / padded_tokens (0 for an empty plan).
  double padding_fraction() const;
};

class BatchSampler {
 public:
  // lengths[i]: token count of example i. Throws Error(usage) for an option of 0, Error(invalid_data)
  // for no examples, an example of 0 tokens, or drop_last with fewer examples than one batch.
  BatchSampler(std::vector<size_t> lengths, SamplerOptions options = {});

  EpochPlan epoch(uint64_t epoch_index) const;

  size_t example_count() const { return lengths_.size(); }
  // The same for every epoch and every order: ceil(N / B), or floor(N / B) with drop_last.
  size_t batches_per_epoch() const;
  const SamplerOptions& options() const { return options_; }

 private:
  Batch make_batch(std::span<const size_t> members) const;

  std::vector<size_t> lengths_;  // capped at max_length
  SamplerOptions options_;
};

}  // namespace greentune::data
