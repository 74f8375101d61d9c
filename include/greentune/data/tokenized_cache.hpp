#pragma once
// Tokenized datasets cached on disk. The first open of a (source, data spec, tokenizer) tokenizes every
// example and writes a binary cache file; later opens memory-map it (POSIX mmap), so nothing is parsed or
// tokenized again. The cache holds the FULL encodings ([CLS] pieces... [SEP], untruncated), so one cache
// serves every max_length: truncation happens at read time.
//
// File layout, native byte order (the header records it), every section padded to 8 bytes:
//   header   magic "GTTOKENS", format version, byte-order mark, tokenizer fingerprint (vocab + options),
//            source fingerprint, data spec fingerprint, payload size (bytes), payload checksum (FNV-1a 64)
//   payload  label count, each label name (length + bytes); split count, then per split:
//            name, example count n, token count t, labels int32[n], offsets uint64[n+1], token ids int32[t]
// A cache whose source or spec no longer matches is rebuilt (log::info says why); a corrupt one (bad
// magic, truncated, wrong version, checksum mismatch, a label or token id out of range) is reported with
// log::warn and rebuilt. Files are replaced atomically, so a process that has the old file mapped keeps a
// consistent view.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "greentune/data/dataset.hpp"
#include "greentune/text/tokenizer.hpp"

namespace greentune::data {

struct CacheOptions {
  std::filesystem::path cache_dir;  // empty: default_cache_dir()
  unsigned threads = 0;             // tokenizer threads when building; 0: one per hardware thread
};

// What open_or_build did, for logs and tests.
struct CacheReport {
  std::filesystem::path path;       // the cache file
  bool built = false;               // true: tokenized now; false: an existing file was memory-mapped
  std::string reason;               // why it was built ("no cache yet", "the source changed", ...)
  size_t invalid_utf8_repairs = 0;  // sequences replaced while building (reading and tokenizing)
  double seconds = 0;               // wall time of the open or of the build, in seconds
};

// $GREENTUNE_DATA_DIR/cache (see data_dir() in fetch.hpp).
std::filesystem::path default_cache_dir();

// One example's tokens cut to max_length exactly as text::truncate_encoding cuts them: the first
// max_length-1 tokens ([CLS] and max_length-2 pieces) then the final [SEP]. In the cache those are not
// contiguous, so the view has two parts; tail is empty when the encoding fits.
struct TruncatedTokens {
  std::span<const int32_t> head;
  std::span<const int32_t> tail;

  size_t size() const { return head.size() + tail.size(); }
  int32_t operator[](size_t position) const {
    return position < head.size() ? head[position] : tail[position - head.size()];
  }
  // Writes size() ids to out, which must have room for them.
  void copy_to(int32_t* out) const;
  std::vector<int32_t> to_vector() const;
};

// One split of a mapped cache. Valid while its TokenizedDataset (or a copy of it) exists.
class TokenizedSplit {
 public:
  const std::string& name() const { return name_; }
  size_t size() const { return labels_.size(); }
  size_t token_count() const { return tokens_.size(); }  // all examples' full encodings together

  // Each throws Error(usage) for an index >= size().
  int32_t label(size_t index) const;
  size_t length(size_t index) const;                    // full encoding, [CLS] and [SEP] included
  std::span<const int32_t> tokens(size_t index) const;  // full encoding
  // max_length >= 2 (Error(usage) otherwise): room for [CLS] and [SEP].
  TruncatedTokens tokens(size_t index, size_t max_length) const;

  std::span<const int32_t> labels() const { return labels_; }
  std::vector<size_t> lengths() const;  // length(i) for every example

 private:
  friend class TokenizedDataset;
  void require_index(size_t index) const;

  std::string name_;
  std::span<const int32_t> labels_;
  std::span<const uint64_t> offsets_;  // size() + 1 entries into tokens_
  std::span<const int32_t> tokens_;
};

class TokenizedDataset {
 public:
  // Memory-maps the cache of (spec, tokenizer) from options.cache_dir, building it first when it is
  // missing, stale or corrupt. Throws what load_dataset throws while building, and Error(io) when the
  // cache cannot be written. report, when given, says what happened.
  static TokenizedDataset open_or_build(const DataSpec& spec, const text::WordPieceTokenizer& tokenizer,
                                        const CacheOptions& options = {}, CacheReport* report = nullptr);

  const std::vector<std::string>& label_names() const { return label_names_; }
  const std::vector<TokenizedSplit>& splits() const { return splits_; }
  std::vector<std::string> split_names() const;
  const TokenizedSplit* find_split(std::string_view name) const;  // nullptr when absent
  const TokenizedSplit& split(std::string_view name) const;       // Error(usage) naming the splits there are
  const std::filesystem::path& path() const { return path_; }

 private:
  class Mapping;
  TokenizedDataset() = default;
  // Reads the payload of a mapped, checksum-verified cache file into views; every token id must be below
  // vocab_size.
  static TokenizedDataset from_mapping(std::shared_ptr<const Mapping> mapping, std::filesystem::path path,
                                       size_t vocab_size);

  std::shared_ptr<const Mapping> mapping_;  // keeps the spans below valid
  std::filesystem::path path_;
  std::vector<std::string> label_names_;
  std::vector<TokenizedSplit> splits_;
};

}  // namespace greentune::data
