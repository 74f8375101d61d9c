#pragma once
// Seeded randomness that is identical on every platform and compiler. std::shuffle and the standard
// distributions are implementation-defined, so splits and batch orders would differ between libstdc++
// and libc++; std::mt19937_64's output sequence is fixed by the standard, and everything here is
// written out on top of it.

#include <cstdint>
#include <random>
#include <utility>
#include <vector>

namespace greentune::random {

// Vigna's splitmix64 finalizer: a bijection on 64 bits that spreads nearby inputs (seed 42 and 43,
// epoch 0 and 1) into unrelated engine seeds.
inline uint64_t splitmix64(uint64_t value) {
  value += 0x9e3779b97f4a7c15ULL;
  value = (value ^ (value >> 30)) * 0xbf58476d1ce4e5b9ULL;
  value = (value ^ (value >> 27)) * 0x94d049bb133111ebULL;
  return value ^ (value >> 31);
}

// An engine for one (seed, stream) pair, e.g. (user seed, epoch).
inline std::mt19937_64 seeded_engine(uint64_t seed, uint64_t stream) {
  return std::mt19937_64(splitmix64(splitmix64(seed) ^ stream));
}

// Uniform in [0, bound), bound > 0. Draws below 2^64 mod bound are rejected, so the accepted range holds
// each residue equally often; a plain draw % bound would favour small residues.
inline uint64_t uniform_below(std::mt19937_64& engine, uint64_t bound) {
  const uint64_t rejected_below = (0 - bound) % bound;  // 2^64 mod bound, in unsigned arithmetic
  uint64_t draw = engine();
  while (draw < rejected_below) {
    draw = engine();
  }
  return draw % bound;
}

template <typename T>
void fisher_yates_shuffle(std::vector<T>& items, std::mt19937_64& engine) {
  for (size_t last = items.size(); last > 1; --last) {
    const size_t pick = uniform_below(engine, last);
    std::swap(items[last - 1], items[pick]);
  }
}

}  // namespace greentune::random
