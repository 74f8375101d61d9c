#include "greentune/data/tokenized_cache.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "greentune/core/error.hpp"
#include "greentune/core/files.hpp"
#include "greentune/core/log.hpp"
#include "greentune/core/parallel.hpp"
#include "greentune/data/fetch.hpp"
#include "tokenized_cache_file.hpp"

namespace greentune::data {

namespace fs = std::filesystem;

namespace {

using cache_file::section_alignment;
constexpr uint64_t max_label_count = 1 << 20;  // the readers' own limit; beyond it the file is damaged
constexpr size_t examples_per_task = 64;       // tokenizer work unit: small enough to balance threads

// A damaged cache file: open_or_build reports it and rebuilds the file.
class CorruptCache : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

size_t padding_after(size_t bytes) {
  return (section_alignment - bytes % section_alignment) % section_alignment;
}

// Appends the payload to the stream and keeps its size and checksum as it goes.
class PayloadWriter {
 public:
  explicit PayloadWriter(std::ofstream& out) : out_(out) {}

  void write_bytes(const void* data, size_t bytes) {
    const std::string_view view(static_cast<const char*>(data), bytes);
    out_.write(view.data(), static_cast<std::streamsize>(bytes));
    checksum_ = cache_file::payload_checksum(view, checksum_);
    size_ += bytes;
  }
  void pad() {
    constexpr char zeros[section_alignment] = {};
    write_bytes(zeros, padding_after(size_));
  }
  void write_u64(uint64_t value) { write_bytes(&value, sizeof value); }
  void write_string(std::string_view text) {
    write_u64(text.size());
    write_bytes(text.data(), text.size());
    pad();
  }
  template <typename T>
  void write_array(std::span<const T> items) {
    write_bytes(items.data(), items.size_bytes());
    pad();
  }

  uint64_t size() const { return size_; }
  uint64_t checksum() const { return checksum_; }

 private:
  std::ofstream& out_;
  uint64_t size_ = 0;
  uint64_t checksum_ = cache_file::payload_checksum({});
};

// Walks the mapped payload; every read is bounds-checked, so a damaged file cannot be read past its end.
class PayloadCursor {
 public:
  explicit PayloadCursor(std::span<const std::byte> payload) : payload_(payload) {}

  uint64_t read_u64() { return read_array<uint64_t>(1)[0]; }
  std::string read_string() {
    const std::span<const char> chars = read_array<char>(read_u64());
    return std::string(chars.begin(), chars.end());
  }
  template <typename T>
  std::span<const T> read_array(uint64_t count) {
    const size_t remaining = payload_.size() - position_;
    if (count > remaining / sizeof(T)) {
      throw CorruptCache("truncated: a section runs past the end of the file");
    }
    const auto* first = reinterpret_cast<const T*>(payload_.data() + position_);
    const size_t bytes = static_cast<size_t>(count) * sizeof(T);
    position_ += std::min(bytes + padding_after(bytes), remaining);
    return {first, static_cast<size_t>(count)};
  }
  bool at_end() const { return position_ == payload_.size(); }

 private:
  std::span<const std::byte> payload_;
  size_t position_ = 0;
};

// One tokenizer work unit's result: the examples' full encodings back to back, and their lengths.
struct EncodedTask {
  std::vector<int32_t> ids;
  std::vector<uint64_t> lengths;
  size_t invalid_utf8_sequences = 0;
};

// Encodes every text on `threads` threads (0: one per hardware thread); results are kept by task index,
// so the output order is the input order whatever the scheduling.
std::vector<EncodedTask> encode_in_parallel(const std::vector<std::string>& texts,
                                            const text::WordPieceTokenizer& tokenizer, unsigned threads) {
  std::vector<EncodedTask> tasks((texts.size() + examples_per_task - 1) / examples_per_task);
  parallel_for(tasks.size(), threads, [&](size_t task) {
    EncodedTask& result = tasks[task];
    const size_t end = std::min(texts.size(), (task + 1) * examples_per_task);
    text::EncodeStats stats;
    for (size_t example = task * examples_per_task; example < end; ++example) {
      const size_t before = result.ids.size();
      tokenizer.encode(texts[example], result.ids, &stats);
      result.lengths.push_back(result.ids.size() - before);
    }
    result.invalid_utf8_sequences = stats.invalid_utf8_sequences;
  });
  return tasks;
}

// Tokenizes the dataset and writes the cache file atomically. Returns the tokenizer's invalid UTF-8 count.
size_t write_cache(const fs::path& path, const RawDataset& dataset, const text::WordPieceTokenizer& tokenizer,
                   cache_file::Header header, unsigned threads) {
  AtomicFile file(path);
  std::ofstream& out = file.stream();
  out.write(reinterpret_cast<const char*>(&header), sizeof header);  // rewritten once the checksum is known
  PayloadWriter payload(out);
  payload.write_u64(dataset.label_names.size());
  for (const std::string& name : dataset.label_names) {
    payload.write_string(name);
  }
  payload.write_u64(dataset.splits.size());
  size_t invalid_utf8_sequences = 0;
  for (const TextSplit& split : dataset.splits) {
    const std::vector<EncodedTask> tasks = encode_in_parallel(split.texts, tokenizer, threads);
    std::vector<uint64_t> offsets{0};
    offsets.reserve(split.size() + 1);
    for (const EncodedTask& task : tasks) {
      for (uint64_t length : task.lengths) {
        offsets.push_back(offsets.back() + length);
      }
      invalid_utf8_sequences += task.invalid_utf8_sequences;
    }
    payload.write_string(split.name);
    payload.write_u64(split.size());
    payload.write_u64(offsets.back());
    payload.write_array(std::span<const int32_t>(split.labels));
    payload.write_array(std::span<const uint64_t>(offsets));
    for (const EncodedTask& task : tasks) {
      payload.write_bytes(task.ids.data(), task.ids.size() * sizeof(int32_t));
    }
    payload.pad();
  }
  header.payload_bytes = payload.size();
  header.payload_checksum = payload.checksum();
  out.seekp(0);
  out.write(reinterpret_cast<const char*>(&header), sizeof header);
  file.commit();
  return invalid_utf8_sequences;
}

// Checks what can be checked without reading the payload: magic, version, byte order, size.
cache_file::Header read_header(std::span<const std::byte> file) {
  cache_file::Header header{};
  if (file.size() < sizeof header) {
    throw CorruptCache(fmt::format("truncated: {} bytes, shorter than the header", file.size()));
  }
  std::memcpy(&header, file.data(), sizeof header);
  if (!std::equal(std::begin(cache_file::magic), std::end(cache_file::magic), header.magic)) {
    throw CorruptCache("not a greentune token cache (bad magic bytes)");
  }
  if (header.byte_order != cache_file::byte_order_mark) {
    throw CorruptCache("written on a machine of the other byte order");
  }
  if (header.version != cache_file::version) {
    throw CorruptCache(fmt::format("format version {}, this greentune reads version {}", header.version,
                                   cache_file::version));
  }
  if (header.payload_bytes != file.size() - sizeof header) {
    throw CorruptCache(
        fmt::format("truncated or padded: the header announces {} payload bytes, the file has {}",
                    header.payload_bytes, file.size() - sizeof header));
  }
  return header;
}

// Why a well-formed cache cannot be used for this request; empty when it can.
std::string staleness(const cache_file::Header& found, const cache_file::Header& expected) {
  if (found.source_fingerprint != expected.source_fingerprint) {
    return "the source changed since the cache was built";
  }
  if (found.tokenizer_fingerprint != expected.tokenizer_fingerprint) {
    return "it was built with another vocabulary or tokenizer options";
  }
  if (found.spec_fingerprint != expected.spec_fingerprint) {
    return "it was built with other columns or labels";
  }
  return {};
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

namespace cache_file {

Header expected_header(const DataSpec& spec, const text::WordPieceTokenizer& tokenizer) {
  Header header{};
  std::copy(std::begin(magic), std::end(magic), header.magic);
  header.version = version;
  header.byte_order = byte_order_mark;
  header.tokenizer_fingerprint = tokenizer.fingerprint();
  header.source_fingerprint = source_fingerprint(spec);
  header.spec_fingerprint = spec_fingerprint(spec);
  return header;
}

fs::path path_for(const fs::path& cache_dir, const DataSpec& spec, const Header& header) {
  std::error_code ec;
  fs::path source = fs::canonical(spec.path, ec);
  if (ec) {
    source = fs::absolute(spec.path);
  }
  const std::string key = fmt::format("{}|{:016x}|{:016x}", source.string(), header.spec_fingerprint,
                                      header.tokenizer_fingerprint);
  std::string readable = source.filename().string();
  constexpr size_t max_readable_chars = 64;
  readable.resize(std::min(readable.size(), max_readable_chars));
  for (char& c : readable) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '.' || c == '_' || c == '-';
    c = plain ? c : '_';
  }
  return cache_dir / fmt::format("{}-{:016x}.gttok", readable, fnv1a64(key));
}

std::string sealed_file(Header header, std::string_view payload) {
  header.payload_bytes = payload.size();
  header.payload_checksum = payload_checksum(payload);
  std::string file(reinterpret_cast<const char*>(&header), sizeof header);
  file.append(payload);
  return file;
}

}  // namespace cache_file

// A read-only mapping of a whole cache file; an unreadable or empty file is a damaged cache (rebuilt).
class TokenizedDataset::Mapping {
 public:
  explicit Mapping(const fs::path& path) : file_(open(path)) {
    if (file_.bytes().empty())
      throw CorruptCache("empty file");
  }
  std::span<const std::byte> bytes() const { return file_.bytes(); }

 private:
  static MappedFile open(const fs::path& path) {
    try {
      return MappedFile(path);
    } catch (const Error& error) {
      throw CorruptCache(error.what());
    }
  }

  MappedFile file_;
};

fs::path default_cache_dir() {
  return data_dir() / "cache";
}

void TruncatedTokens::copy_to(int32_t* out) const {
  out = std::copy(head.begin(), head.end(), out);
  std::copy(tail.begin(), tail.end(), out);
}

std::vector<int32_t> TruncatedTokens::to_vector() const {
  std::vector<int32_t> ids(size());
  copy_to(ids.data());
  return ids;
}

void TokenizedSplit::require_index(size_t index) const {
  if (index >= size()) {
    throw Error(ErrorCode::usage, "",
                fmt::format("example {} is out of range: split \"{}\" has {} examples", index, name_, size()),
                "use an index below the split's size()");
  }
}

int32_t TokenizedSplit::label(size_t index) const {
  require_index(index);
  return labels_[index];
}

size_t TokenizedSplit::length(size_t index) const {
  require_index(index);
  return offsets_[index + 1] - offsets_[index];
}

std::span<const int32_t> TokenizedSplit::tokens(size_t index) const {
  require_index(index);
  return tokens_.subspan(offsets_[index], offsets_[index + 1] - offsets_[index]);
}

TruncatedTokens TokenizedSplit::tokens(size_t index, size_t max_length) const {
  if (max_length < 2) {
    throw Error(ErrorCode::usage, "",
                fmt::format("max length {} leaves no room for [CLS] and [SEP]", max_length),
                "use a max length of at least 2");
  }
  const std::span<const int32_t> full = tokens(index);
  if (full.size() <= max_length) {
    return {full, {}};
  }
  return {full.first(max_length - 1), full.last(1)};
}

std::vector<size_t> TokenizedSplit::lengths() const {
  std::vector<size_t> result(size());
  for (size_t index = 0; index < result.size(); ++index) {
    result[index] = offsets_[index + 1] - offsets_[index];
  }
  return result;
}

std::vector<std::string> TokenizedDataset::split_names() const {
  std::vector<std::string> names;
  for (const TokenizedSplit& split : splits_) {
    names.push_back(split.name());
  }
  return names;
}

const TokenizedSplit* TokenizedDataset::find_split(std::string_view name) const {
  const auto found = std::find_if(splits_.begin(), splits_.end(),
                                  [&](const TokenizedSplit& split) { return split.name() == name; });
  return found == splits_.end() ? nullptr : &*found;
}

const TokenizedSplit& TokenizedDataset::split(std::string_view name) const {
  if (const TokenizedSplit* found = find_split(name)) {
    return *found;
  }
  throw Error(
      ErrorCode::usage, path_.string(),
      fmt::format("the dataset has no split \"{}\"; it has: {}", name, fmt::join(split_names(), ", ")),
      "use one of the dataset's splits");
}

TokenizedDataset TokenizedDataset::from_mapping(std::shared_ptr<const Mapping> mapping, fs::path path,
                                                size_t vocab_size) {
  const std::span<const std::byte> file = mapping->bytes();
  PayloadCursor cursor(file.subspan(sizeof(cache_file::Header)));
  TokenizedDataset dataset;
  const uint64_t label_count = cursor.read_u64();
  if (label_count == 0 || label_count > max_label_count) {
    throw CorruptCache(fmt::format("implausible label count {}", label_count));
  }
  for (uint64_t label = 0; label < label_count; ++label) {
    dataset.label_names_.push_back(cursor.read_string());
  }
  const uint64_t split_count = cursor.read_u64();
  for (uint64_t split_index = 0; split_index < split_count; ++split_index) {
    TokenizedSplit split;
    split.name_ = cursor.read_string();
    const uint64_t example_count = cursor.read_u64();
    const uint64_t token_count = cursor.read_u64();
    split.labels_ = cursor.read_array<int32_t>(example_count);
    split.offsets_ = cursor.read_array<uint64_t>(example_count + 1);
    split.tokens_ = cursor.read_array<int32_t>(token_count);
    if (split.offsets_.front() != 0 || split.offsets_.back() != token_count ||
        !std::is_sorted(split.offsets_.begin(), split.offsets_.end())) {
      throw CorruptCache(fmt::format("split \"{}\": token offsets out of order", split.name_));
    }
    if (std::any_of(split.labels_.begin(), split.labels_.end(), [&](int32_t label) {
          return label < 0 || static_cast<uint64_t>(label) >= label_count;
        })) {
      throw CorruptCache(fmt::format("split \"{}\": a label outside 0..{}", split.name_, label_count - 1));
    }
    // Training looks every id up in the model's embedding table, so an id outside the vocabulary would
    // index past it: the file is damaged whatever its checksum says.
    if (std::any_of(split.tokens_.begin(), split.tokens_.end(),
                    [&](int32_t id) { return id < 0 || static_cast<uint64_t>(id) >= vocab_size; })) {
      throw CorruptCache(fmt::format("split \"{}\": a token id outside the vocabulary's 0..{}", split.name_,
                                     vocab_size - 1));
    }
    dataset.splits_.push_back(std::move(split));
  }
  if (!cursor.at_end()) {
    throw CorruptCache("bytes after the last split");
  }
  dataset.mapping_ = std::move(mapping);
  dataset.path_ = std::move(path);
  return dataset;
}

TokenizedDataset TokenizedDataset::open_or_build(const DataSpec& spec,
                                                 const text::WordPieceTokenizer& tokenizer,
                                                 const CacheOptions& options, CacheReport* report) {
  const auto start = std::chrono::steady_clock::now();
  const cache_file::Header expected = cache_file::expected_header(spec, tokenizer);
  const fs::path cache_dir = options.cache_dir.empty() ? default_cache_dir() : options.cache_dir;
  const fs::path path = cache_file::path_for(cache_dir, spec, expected);
  CacheReport outcome;
  outcome.path = path;
  outcome.reason = "no cache yet";
  std::error_code ec;
  if (fs::exists(path, ec)) {
    try {
      auto mapping = std::make_shared<const Mapping>(path);
      const cache_file::Header found = read_header(mapping->bytes());
      outcome.reason = staleness(found, expected);
      if (outcome.reason.empty()) {
        const std::span<const std::byte> payload = mapping->bytes().subspan(sizeof(cache_file::Header));
        const std::string_view payload_bytes(reinterpret_cast<const char*>(payload.data()), payload.size());
        if (cache_file::payload_checksum(payload_bytes) != found.payload_checksum) {
          throw CorruptCache("checksum mismatch: the contents were damaged");
        }
        TokenizedDataset dataset = from_mapping(std::move(mapping), path, tokenizer.vocab().size());
        outcome.seconds = seconds_since(start);
        if (report != nullptr) {
          *report = outcome;
        }
        return dataset;
      }
      log::info(fmt::format("{}: {}; rebuilding it", path.string(), outcome.reason));
    } catch (const CorruptCache& damage) {
      outcome.reason = fmt::format("the cache file was corrupt ({})", damage.what());
      log::warn(fmt::format("{}: corrupt token cache ({}); rebuilding it", path.string(), damage.what()));
    }
  }

  fs::create_directories(cache_dir, ec);
  if (ec) {
    throw Error(ErrorCode::io, cache_dir.string(), "cannot create the cache directory: " + ec.message(),
                "pass a writable --cache-dir, or set GREENTUNE_DATA_DIR");
  }
  if (const uint64_t freed = remove_stale_temporaries(cache_dir); freed > 0) {
    log::info(fmt::format("removed {:.1f} MB of cache files an interrupted tokenization left in {}",
                          freed / 1e6, cache_dir.string()));
  }
  const RawDataset dataset = load_dataset(spec);
  log::info(fmt::format("tokenizing {} into {}", dataset.origin, path.string()));
  const size_t tokenizer_repairs = write_cache(path, dataset, tokenizer, expected, options.threads);
  if (tokenizer_repairs > 0) {
    log::warn(fmt::format("{}: the tokenizer replaced {} invalid UTF-8 byte sequence(s)", dataset.origin,
                          tokenizer_repairs));
  }
  outcome.built = true;
  outcome.invalid_utf8_repairs = dataset.invalid_utf8_repairs + tokenizer_repairs;
  TokenizedDataset tokenized;
  try {
    tokenized = from_mapping(std::make_shared<const Mapping>(path), path, tokenizer.vocab().size());
  } catch (const CorruptCache& damage) {
    throw Error(ErrorCode::io, path.string(),
                fmt::format("the cache just written cannot be read back ({})", damage.what()),
                "check the disk and free space, then run again");
  }
  outcome.seconds = seconds_since(start);
  log::info(fmt::format("tokenized cache built in {:.1f} s", outcome.seconds));
  if (report != nullptr) {
    *report = outcome;
  }
  return tokenized;
}

}  // namespace greentune::data
