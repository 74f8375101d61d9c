#pragma once
// The tokenized cache file's header (the layout is described in greentune/data/tokenized_cache.hpp):
// what a file of this greentune's starts with, which file a (source, spec, tokenizer) is cached in, and
// how the header seals the payload (its size and checksum). Internal to greentune_data: the reader and
// writer (tokenized_cache.cpp) use it, and so does the cache's fuzz target, which wraps fuzzed payloads
// in a valid header so that they reach the payload reader instead of failing the checksum.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "greentune/core/files.hpp"
#include "greentune/data/dataset.hpp"
#include "greentune/text/tokenizer.hpp"

namespace greentune::data::cache_file {

inline constexpr char magic[8] = {'G', 'T', 'T', 'O', 'K', 'E', 'N', 'S'};
inline constexpr uint32_t version = 1;
inline constexpr uint32_t byte_order_mark = 0x01020304;  // reads differently on the other byte order
inline constexpr size_t section_alignment = 8;  // bytes; every section starts 8-aligned for uint64 views

struct Header {
  char magic[8];
  uint32_t version;
  uint32_t byte_order;
  uint64_t tokenizer_fingerprint;
  uint64_t source_fingerprint;
  uint64_t spec_fingerprint;
  uint64_t payload_bytes;
  uint64_t payload_checksum;
};
static_assert(sizeof(Header) % section_alignment == 0, "the payload must start aligned");

// The header a cache of (spec, tokenizer) has, payload size and checksum still zero.
Header expected_header(const DataSpec& spec, const text::WordPieceTokenizer& tokenizer);

// "<source file name>-<16 hex digits>.gttok" under cache_dir: readable, and unique per source path, spec
// and tokenizer, so a changed source maps to the same file and replaces it.
std::filesystem::path path_for(const std::filesystem::path& cache_dir, const DataSpec& spec,
                               const Header& header);

// The checksum the header records: FNV-1a 64 of the payload bytes, which a writer may feed in pieces
// (checksum_so_far: the checksum of the pieces before).
inline uint64_t payload_checksum(std::string_view bytes, uint64_t checksum_so_far = fnv1a64({})) {
  return fnv1a64(bytes, checksum_so_far);
}

// A whole cache file: header sealed with payload's size and checksum, then payload.
std::string sealed_file(Header header, std::string_view payload);

}  // namespace greentune::data::cache_file
