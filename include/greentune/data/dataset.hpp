#pragma once
// Labelled text datasets read into memory: the aclImdb layout (a directory, or the .tar.gz read directly),
// JSON lines and CSV/TSV. Every reader yields the same RawDataset: named splits ("train", then "test"
// when the source has one) of texts and int32 labels 0..N-1, plus the label names.
//
// Texts are always valid UTF-8: invalid byte sequences are replaced with U+FFFD while reading (counted in
// RawDataset::invalid_utf8_repairs and reported once with log::warn), never an error.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace greentune::data {

enum class Format {
  automatic,  // from the path: directory or .tar.gz/.tgz -> imdb, .jsonl/.json -> jsonl, .csv, .tsv
  imdb,       // aclImdb: train|test/neg|pos/<id>_<rating>.txt, as a directory or a .tar.gz
  jsonl,      // one JSON object per line with a text and a label field
  csv,        // comma-separated with a header row (RFC 4180 quoting)
  tsv,        // tab-separated with a header row (same quoting)
};

// "auto", "imdb", "jsonl", "csv", "tsv"; Error(usage) listing them for anything else.
Format parse_format(std::string_view name);
std::string_view to_string(Format format);

struct DataSpec {
  std::filesystem::path path;
  Format format = Format::automatic;
  std::string text_column = "text";    // JSONL key or CSV/TSV header name
  std::string label_column = "label";  // JSONL key or CSV/TSV header name
  // Label names in id order. Empty: inferred (ints as they are; strings as their sorted unique set).
  // Given: string labels must be one of them, int labels index them.
  std::vector<std::string> label_names;
};

struct TextSplit {
  std::string name;  // "train" or "test"
  std::vector<std::string> texts;
  std::vector<int32_t> labels;  // same size as texts, each in [0, label_names.size())

  size_t size() const { return texts.size(); }
};

struct RawDataset {
  std::vector<TextSplit> splits;  // "train" first, then "test"; only splits with examples
  std::vector<std::string> label_names;
  std::string origin;                 // the path read, for messages
  Format format = Format::automatic;  // the format actually read (never automatic)
  size_t invalid_utf8_repairs = 0;    // byte sequences replaced with U+FFFD

  // nullptr when the dataset has no split of that name.
  const TextSplit* find_split(std::string_view name) const;
};

// The concrete format read for spec: spec.format, or the one its path implies. Throws Error(not_found)
// for a missing path and Error(usage) for an extension it cannot tell.
Format resolve_format(const DataSpec& spec);

// Reads the whole dataset. Throws Error(not_found / io) for an unreadable path, Error(parse) with
// "file:line" for malformed content (or the file for a broken archive), Error(invalid_data) for an
// unknown label, a missing column or a dataset without examples.
RawDataset load_dataset(const DataSpec& spec);

// Identifies the bytes load_dataset would read without reading them: canonical path, size and
// modification time (ns) of the file, or of every file read from an aclImdb directory.
uint64_t source_fingerprint(const DataSpec& spec);

// Identifies how the source is interpreted: resolved format, column names and given label names.
uint64_t spec_fingerprint(const DataSpec& spec);

}  // namespace greentune::data
