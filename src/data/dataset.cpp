#include "greentune/data/dataset.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <compare>
#include <cstring>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <unordered_map>

#include "greentune/core/error.hpp"
#include "greentune/core/files.hpp"
#include "greentune/core/json.hpp"
#include "greentune/core/log.hpp"
#include "greentune/core/parse.hpp"
#include "greentune/core/strings.hpp"
#include "greentune/text/tokenizer.hpp"

namespace greentune::data {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view utf8_bom = "\xEF\xBB\xBF";
constexpr std::string_view refetch_fix = "re-download it: greentune data fetch imdb --force";

// aclImdb folder names; a review's label id is its folder's index here.
constexpr std::array<std::string_view, 2> imdb_split_names = {"train", "test"};
constexpr std::array<std::string_view, 2> imdb_label_folders = {"neg", "pos"};

std::string_view strip_bom(std::string_view content) {
  return content.starts_with(utf8_bom) ? content.substr(utf8_bom.size()) : content;
}

// Turns raw labels, ints or strings as each line or row has them, into ids 0..N-1 and fixes the names.
class LabelCollector {
 public:
  LabelCollector(const std::vector<std::string>& given_names, std::string origin)
      : given_names_(given_names), origin_(std::move(origin)) {
    for (size_t id = 0; id < given_names_.size(); ++id) {
      if (!name_to_id_.emplace(given_names_[id], static_cast<int32_t>(id)).second) {
        throw Error(ErrorCode::usage, "--labels",
                    fmt::format("label \"{}\" is given twice", given_names_[id]),
                    "name each label once, in id order");
      }
    }
  }

  void add_int(int64_t value, size_t line) {
    if (!given_names_.empty()) {
      if (value < 0 || value >= static_cast<int64_t>(given_names_.size())) {
        throw Error(ErrorCode::invalid_data, location(origin_, line),
                    fmt::format("label {} is not an id of the {} given labels ({}: ids 0..{})", value,
                                given_names_.size(), join(given_names_, ", "), given_names_.size() - 1),
                    "fix the label, or pass every label name with --labels");
      }
      ids_.push_back(static_cast<int32_t>(value));
      return;
    }
    require_kind(Kind::integer, line);
    if (value < 0 || value >= max_label_count) {
      throw Error(ErrorCode::invalid_data, location(origin_, line),
                  fmt::format("label {} is not an id 0..{}", value, max_label_count - 1),
                  "use labels 0..N-1, or name the labels with --labels and use those names");
    }
    ids_.push_back(static_cast<int32_t>(value));
  }

  void add_name(std::string_view name, size_t line) {
    if (!given_names_.empty()) {
      if (const auto found = name_to_id_.find(std::string(name)); found != name_to_id_.end()) {
        ids_.push_back(found->second);
        return;
      }
      // A CSV field is always text, so "1" in a label column may be an id into the given names.
      if (const auto id = parse_whole<int64_t>(name)) {
        add_int(*id, line);
        return;
      }
      throw Error(
          ErrorCode::invalid_data, location(origin_, line),
          fmt::format("label \"{}\" is not one of the given labels: {}", name, join(given_names_, ", ")),
          "fix the label, or add it to --labels");
    }
    require_kind(Kind::name, line);
    const auto [entry, inserted] =
        name_to_id_.emplace(std::string(name), static_cast<int32_t>(name_to_id_.size()));
    ids_.push_back(entry->second);
  }

  // The label id of every added example; names receives the label names in id order.
  std::vector<int32_t> finish(std::vector<std::string>& names) {
    if (!given_names_.empty()) {
      names = given_names_;
    } else if (kind_ == Kind::name) {
      names_from_sorted_strings(names);
    } else {
      names_from_ints(names);
    }
    return std::move(ids_);
  }

 private:
  enum class Kind { unknown, integer, name };
  static constexpr int64_t max_label_count = 1 << 20;  // far beyond any classifier; keeps ids in int32

  void require_kind(Kind kind, size_t line) {
    if (kind_ == Kind::unknown) {
      kind_ = kind;
      first_kind_line_ = line;
    } else if (kind_ != kind) {
      throw Error(ErrorCode::invalid_data, location(origin_, line),
                  fmt::format("label is {} but the label on line {} is {}",
                              kind == Kind::integer ? "an int" : "a string", first_kind_line_,
                              kind_ == Kind::integer ? "an int" : "a string"),
                  "use one kind of label throughout, or pass the label names with --labels");
    }
  }

  // String labels without given names: their sorted unique set, so the ids do not depend on file order.
  void names_from_sorted_strings(std::vector<std::string>& names) {
    std::vector<std::string> first_seen_order(name_to_id_.size());
    for (const auto& [name, id] : name_to_id_) {
      first_seen_order[static_cast<size_t>(id)] = name;
    }
    names = first_seen_order;
    std::sort(names.begin(), names.end());
    std::vector<int32_t> sorted_id(first_seen_order.size());
    for (size_t id = 0; id < names.size(); ++id) {
      const size_t seen = static_cast<size_t>(name_to_id_.at(names[id]));
      sorted_id[seen] = static_cast<int32_t>(id);
    }
    for (int32_t& id : ids_) {
      id = sorted_id[static_cast<size_t>(id)];
    }
    log::info(fmt::format("{}: labels inferred from the data (sorted): {}; pass --labels to choose the order",
                          origin_, join(names, ", ")));
  }

  // Int labels without given names are ids as they are: names "0".."max".
  void names_from_ints(std::vector<std::string>& names) {
    const int32_t max_id = ids_.empty() ? -1 : *std::max_element(ids_.begin(), ids_.end());
    std::vector<bool> seen(static_cast<size_t>(max_id + 1), false);
    for (int32_t id : ids_) {
      seen[static_cast<size_t>(id)] = true;
    }
    names.clear();
    std::vector<std::string> unused;
    for (size_t id = 0; id < seen.size(); ++id) {
      names.push_back(std::to_string(id));
      if (!seen[id]) {
        unused.push_back(names.back());
      }
    }
    if (!unused.empty()) {
      constexpr size_t listed = 10;  // ids named in the warning; the rest are counted
      const std::string more =
          unused.size() > listed ? fmt::format(" and {} more", unused.size() - listed) : "";
      unused.resize(std::min(unused.size(), listed));
      log::warn(
          fmt::format("{}: no example has label {}{}; int labels are ids as they are, so the classifier "
                      "gets {} classes (renumber the labels from 0 if that is not intended)",
                      origin_, join(unused, ", "), more, seen.size()));
    }
  }

  const std::vector<std::string>& given_names_;
  std::string origin_;
  std::unordered_map<std::string, int32_t> name_to_id_;
  std::vector<int32_t> ids_;
  Kind kind_ = Kind::unknown;
  size_t first_kind_line_ = 0;
};

std::string_view json_type_name(const nlohmann::json& value) {
  if (value.is_number_float()) {
    return "a float";
  }
  if (value.is_boolean()) {
    return "a boolean";
  }
  if (value.is_null()) {
    return "null";
  }
  if (value.is_array()) {
    return "an array";
  }
  if (value.is_object()) {
    return "an object";
  }
  return value.is_string() ? "a string" : "a number";
}

std::string object_keys(const nlohmann::json& object) {
  std::vector<std::string> keys;
  for (const auto& item : object.items()) {
    keys.push_back("\"" + item.key() + "\"");
  }
  return keys.empty() ? "none" : join(keys, ", ");
}

void read_jsonl(const DataSpec& spec, RawDataset& dataset) {
  std::string content = read_file(spec.path);
  // Invalid UTF-8 cannot straddle a '\n' (an ASCII byte ends any partial sequence), so repairing the
  // whole file is the same as repairing each line, and nlohmann then accepts every string.
  dataset.invalid_utf8_repairs += text::sanitize_utf8(content);
  const std::string_view body = strip_bom(content);
  LabelCollector labels(spec.label_names, dataset.origin);
  TextSplit train{"train", {}, {}};
  size_t line_number = 0;
  for (size_t start = 0; start < body.size();) {
    const size_t end = std::min(body.find('\n', start), body.size());
    std::string_view line = body.substr(start, end - start);
    start = end + 1;
    ++line_number;
    if (is_blank(line, kJsonWhitespace)) {
      continue;
    }
    const std::string where = location(dataset.origin, line_number);
    UntrustedJson record = parse_untrusted_json(line);
    if (!record.problem.empty()) {
      throw Error(ErrorCode::parse, where, "the line " + record.problem,
                  "write one JSON object per line, e.g. {\"text\": \"...\", \"label\": 1}");
    }
    nlohmann::json object = std::move(record.value);
    if (!object.is_object()) {
      throw Error(ErrorCode::parse, where,
                  fmt::format("expected a JSON object, got {}", json_type_name(object)),
                  "write one JSON object per line, e.g. {\"text\": \"...\", \"label\": 1}");
    }
    const auto text = object.find(spec.text_column);
    if (text == object.end()) {
      throw Error(ErrorCode::invalid_data, where,
                  fmt::format("no \"{}\" field (the object has {})", spec.text_column, object_keys(object)),
                  "add the field, or name the text field with --text-column");
    }
    if (!text->is_string()) {
      throw Error(ErrorCode::invalid_data, where,
                  fmt::format("\"{}\" is {}, expected a string", spec.text_column, json_type_name(*text)),
                  "store the text as a JSON string");
    }
    const auto label = object.find(spec.label_column);
    if (label == object.end()) {
      throw Error(ErrorCode::invalid_data, where,
                  fmt::format("no \"{}\" field (the object has {})", spec.label_column, object_keys(object)),
                  "add the field, or name the label field with --label-column");
    }
    if (label->is_string()) {
      labels.add_name(label->get_ref<const std::string&>(), line_number);
    } else if (label->is_number_unsigned()) {
      // Clamped so a huge unsigned value cannot wrap to a negative int64; add_int rejects it either way.
      const uint64_t value = label->get<uint64_t>();
      labels.add_int(static_cast<int64_t>(std::min<uint64_t>(value, std::numeric_limits<int64_t>::max())),
                     line_number);
    } else if (label->is_number_integer()) {
      labels.add_int(label->get<int64_t>(), line_number);
    } else {
      throw Error(
          ErrorCode::invalid_data, where,
          fmt::format("\"{}\" is {}, expected an int or a string", spec.label_column, json_type_name(*label)),
          "store labels as ints 0..N-1 or as strings");
    }
    train.texts.push_back(std::move(text->get_ref<std::string&>()));
  }
  train.labels = labels.finish(dataset.label_names);
  dataset.splits.push_back(std::move(train));
}

// RFC 4180 records: fields separated by the delimiter, records by \n or \r\n; a field in double quotes
// may hold delimiters, line breaks and doubled quotes (""). Blank lines are skipped.
class DelimitedReader {
 public:
  DelimitedReader(std::string_view content, char delimiter, std::string origin)
      : content_(content), delimiter_(delimiter), origin_(std::move(origin)) {}

  // The next record's fields; false at the end. record_line() is the line it starts on (1-based).
  bool next(std::vector<std::string>& fields) {
    skip_blank_lines();
    if (position_ >= content_.size()) {
      return false;
    }
    record_line_ = line_;
    fields.clear();
    while (true) {
      fields.push_back(read_field());
      if (position_ >= content_.size()) {
        return true;
      }
      const char separator = content_[position_++];
      if (separator == delimiter_) {
        continue;
      }
      if (separator == '\r' && position_ < content_.size() && content_[position_] == '\n') {
        ++position_;
      }
      ++line_;
      return true;
    }
  }

  size_t record_line() const { return record_line_; }

 private:
  void skip_blank_lines() {
    while (position_ < content_.size()) {
      if (content_[position_] == '\n') {
        ++position_;
      } else if (content_.substr(position_, 2) == "\r\n") {
        position_ += 2;
      } else {
        return;
      }
      ++line_;
    }
  }

  // Leaves position_ on the delimiter or line break after the field, or at the end.
  std::string read_field() {
    if (position_ < content_.size() && content_[position_] == '"') {
      return read_quoted_field();
    }
    const size_t end = std::min(content_.find_first_of(stop_characters(), position_), content_.size());
    std::string field(content_.substr(position_, end - position_));
    position_ = end;
    return field;
  }

  std::string read_quoted_field() {
    const size_t opened_on_line = line_;
    ++position_;  // the opening quote
    std::string field;
    while (true) {
      const size_t quote = content_.find('"', position_);
      if (quote == std::string_view::npos) {
        throw Error(ErrorCode::parse, location(origin_, opened_on_line),
                    "a quoted field opened on this line is never closed",
                    "close the quote; a quote inside a quoted field is written twice (\"\")");
      }
      const std::string_view chunk = content_.substr(position_, quote - position_);
      line_ += static_cast<size_t>(std::count(chunk.begin(), chunk.end(), '\n'));
      field.append(chunk);
      position_ = quote + 1;
      if (position_ < content_.size() && content_[position_] == '"') {
        field.push_back('"');
        ++position_;
        continue;
      }
      break;
    }
    if (position_ < content_.size() && content_[position_] != delimiter_ && content_[position_] != '\n' &&
        content_[position_] != '\r') {
      throw Error(ErrorCode::parse, location(origin_, line_), "text follows the closing quote of a field",
                  "quote the whole field, and write quotes inside it twice (\"\")");
    }
    return field;
  }

  std::string_view stop_characters() const {
    return delimiter_ == '\t' ? std::string_view("\t\r\n") : std::string_view(",\r\n");
  }

  std::string_view content_;
  char delimiter_;
  std::string origin_;
  size_t position_ = 0;
  size_t line_ = 1;
  size_t record_line_ = 1;
};

size_t find_column(const std::vector<std::string>& header, const std::string& name, std::string_view flag,
                   const std::string& origin) {
  const auto found = std::find(header.begin(), header.end(), name);
  if (found == header.end()) {
    throw Error(ErrorCode::invalid_data, location(origin, 1),
                fmt::format("no column \"{}\" in the header; the columns are: {}", name, join(header, ", ")),
                fmt::format("name the column with {}", flag));
  }
  return static_cast<size_t>(found - header.begin());
}

void read_delimited(const DataSpec& spec, char delimiter, RawDataset& dataset) {
  std::string content = read_file(spec.path);
  dataset.invalid_utf8_repairs += text::sanitize_utf8(content);
  DelimitedReader reader(strip_bom(content), delimiter, dataset.origin);
  std::vector<std::string> header;
  if (!reader.next(header)) {
    throw Error(ErrorCode::invalid_data, dataset.origin, "the file is empty: no header row",
                fmt::format("start the file with a header row naming the columns, e.g. {}{}{}",
                            spec.text_column, delimiter, spec.label_column));
  }
  const size_t text_index = find_column(header, spec.text_column, "--text-column", dataset.origin);
  const size_t label_index = find_column(header, spec.label_column, "--label-column", dataset.origin);
  LabelCollector labels(spec.label_names, dataset.origin);
  TextSplit train{"train", {}, {}};
  std::vector<std::string> fields;
  while (reader.next(fields)) {
    const size_t line = reader.record_line();
    if (fields.size() != header.size()) {
      throw Error(ErrorCode::parse, location(dataset.origin, line),
                  fmt::format("the row has {} fields but the header has {}", fields.size(), header.size()),
                  "put fields that contain the delimiter or line breaks in double quotes");
    }
    const std::string& label = fields[label_index];
    if (label.empty()) {
      throw Error(ErrorCode::invalid_data, location(dataset.origin, line),
                  fmt::format("the \"{}\" field is empty", spec.label_column), "give every row a label");
    }
    // Without given names, an all-digits label is an int id; with them, add_name handles both.
    if (const auto id = spec.label_names.empty() ? parse_whole<int64_t>(label) : std::nullopt) {
      labels.add_int(*id, line);
    } else {
      labels.add_name(label, line);
    }
    train.texts.push_back(std::move(fields[text_index]));
  }
  train.labels = labels.finish(dataset.label_names);
  dataset.splits.push_back(std::move(train));
}

// A review's place in the deterministic order: split, label, then the numeric id of <id>_<rating>.txt
// (files not named that way after those, by name).
struct ImdbKey {
  size_t split = 0;
  int32_t label = 0;
  bool lacks_id = false;
  uint64_t id = 0;
  std::string name;

  auto operator<=>(const ImdbKey&) const = default;
};

template <size_t N>
std::optional<size_t> index_of(const std::array<std::string_view, N>& names, std::string_view name) {
  const auto found = std::find(names.begin(), names.end(), name);
  return found == names.end() ? std::nullopt : std::optional<size_t>(found - names.begin());
}

// nullopt for anything that is not a labelled review (train/unsup, README, imdb.vocab, urls_*.txt).
std::optional<ImdbKey> imdb_key(std::string_view split, std::string_view label_folder,
                                std::string_view file_name) {
  const auto split_index = index_of(imdb_split_names, split);
  const auto label = index_of(imdb_label_folders, label_folder);
  if (!split_index || !label || !file_name.ends_with(".txt")) {
    return std::nullopt;
  }
  ImdbKey key{*split_index, static_cast<int32_t>(*label), true, 0, std::string(file_name)};
  const auto [end, error] = std::from_chars(file_name.data(), file_name.data() + file_name.size(), key.id);
  key.lacks_id = error != std::errc() || end == file_name.data() + file_name.size() || *end != '_';
  if (key.lacks_id) {
    key.id = 0;
  }
  return key;
}

struct ImdbReview {
  ImdbKey key;
  std::string text;
};

void add_imdb_reviews(std::vector<ImdbReview>& reviews, RawDataset& dataset) {
  std::sort(reviews.begin(), reviews.end(),
            [](const ImdbReview& a, const ImdbReview& b) { return a.key < b.key; });
  for (size_t split = 0; split < imdb_split_names.size(); ++split) {
    dataset.splits.push_back(TextSplit{std::string(imdb_split_names[split]), {}, {}});
  }
  for (ImdbReview& review : reviews) {
    dataset.invalid_utf8_repairs += text::sanitize_utf8(review.text);
    TextSplit& split = dataset.splits[review.key.split];
    split.texts.push_back(std::move(review.text));
    split.labels.push_back(review.key.label);
  }
  dataset.label_names.assign(imdb_label_folders.begin(), imdb_label_folders.end());
}

bool has_split_folder(const fs::path& dir) {
  std::error_code ec;
  return std::any_of(imdb_split_names.begin(), imdb_split_names.end(),
                     [&](std::string_view split) { return fs::is_directory(dir / split, ec); });
}

// The folder holding train/ and test/: dir itself, or its only subfolder that does (aclImdb/).
fs::path imdb_root(const fs::path& dir) {
  if (has_split_folder(dir)) {
    return dir;
  }
  std::vector<fs::path> candidates;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_directory(ec) && has_split_folder(entry.path())) {
      candidates.push_back(entry.path());
    }
  }
  if (ec) {
    throw Error(ErrorCode::io, dir.string(), "cannot list the directory: " + ec.message(),
                "check the directory's permissions");
  }
  if (candidates.size() != 1) {
    throw Error(ErrorCode::invalid_data, dir.string(),
                "not an aclImdb folder: expected train/ or test/ with neg/ and pos/ folders of .txt reviews",
                "point --data at the aclImdb folder, or pass --format for a JSONL/CSV/TSV file");
  }
  return candidates.front();
}

struct ImdbFile {
  ImdbKey key;
  fs::path path;
};

// Every review file of an aclImdb directory, in the deterministic order.
std::vector<ImdbFile> list_imdb_directory(const fs::path& dir) {
  const fs::path root = imdb_root(dir);
  std::vector<ImdbFile> files;
  for (std::string_view split : imdb_split_names) {
    for (std::string_view label : imdb_label_folders) {
      const fs::path folder = root / split / label;
      std::error_code ec;
      if (!fs::is_directory(folder, ec)) {
        continue;
      }
      for (const auto& entry : fs::directory_iterator(folder, ec)) {
        if (auto key = imdb_key(split, label, entry.path().filename().string());
            key && entry.is_regular_file(ec)) {
          files.push_back({std::move(*key), entry.path()});
        }
      }
      if (ec) {
        throw Error(ErrorCode::io, folder.string(), "cannot list the directory: " + ec.message(),
                    "check the directory's permissions");
      }
    }
  }
  std::sort(files.begin(), files.end(), [](const ImdbFile& a, const ImdbFile& b) { return a.key < b.key; });
  return files;
}

void read_imdb_directory(const fs::path& dir, RawDataset& dataset) {
  std::vector<ImdbReview> reviews;
  for (ImdbFile& file : list_imdb_directory(dir)) {
    reviews.push_back({std::move(file.key), read_file(file.path)});
  }
  add_imdb_reviews(reviews, dataset);
}

// "[top/]split/label/name" inside the archive; nullopt for any other member.
std::optional<ImdbKey> imdb_member_key(std::string_view member) {
  while (member.starts_with("./")) {
    member.remove_prefix(2);
  }
  std::vector<std::string_view> parts;
  for (size_t start = 0; start <= member.size();) {
    const size_t slash = std::min(member.find('/', start), member.size());
    parts.push_back(member.substr(start, slash - start));
    start = slash + 1;
  }
  if (parts.size() == 4) {
    parts.erase(parts.begin());
  }
  return parts.size() == 3 ? imdb_key(parts[0], parts[1], parts[2]) : std::nullopt;
}

struct ArchiveCloser {
  void operator()(archive* handle) const { archive_read_free(handle); }
};

[[noreturn]] void archive_failure(archive* handle, const std::string& origin) {
  const char* detail = archive_error_string(handle);
  throw Error(ErrorCode::parse, origin,
              fmt::format("not a complete .tar.gz archive ({})", detail != nullptr ? detail : "unreadable"),
              refetch_fix);
}

// Streams the archive once: no extraction to disk.
void read_imdb_tarball(const fs::path& path, RawDataset& dataset) {
  std::unique_ptr<archive, ArchiveCloser> handle(archive_read_new());
  archive* reader = handle.get();
  archive_read_support_filter_gzip(reader);
  archive_read_support_format_tar(reader);
  constexpr size_t block_bytes = 1 << 20;
  if (archive_read_open_filename(reader, path.c_str(), block_bytes) != ARCHIVE_OK) {
    if (archive_errno(reader) == EACCES) {
      throw Error(ErrorCode::io, dataset.origin, "permission denied", "check the file's permissions");
    }
    archive_failure(reader, dataset.origin);
  }
  std::vector<ImdbReview> reviews;
  archive_entry* entry = nullptr;
  while (true) {
    const int status = archive_read_next_header(reader, &entry);
    if (status == ARCHIVE_EOF) {
      break;
    }
    if (status != ARCHIVE_OK && status != ARCHIVE_WARN) {
      archive_failure(reader, dataset.origin);
    }
    const char* member = archive_entry_pathname(entry);
    if (archive_entry_filetype(entry) != AE_IFREG || member == nullptr) {
      continue;
    }
    auto key = imdb_member_key(member);
    if (!key) {
      continue;
    }
    // The member header's size is only a hint: a damaged archive may announce terabytes it does not
    // hold, so the buffer starts at most one chunk long and grows with the bytes actually read.
    constexpr size_t read_chunk_bytes = 1 << 16;
    const auto announced_bytes = static_cast<uint64_t>(std::max<la_int64_t>(archive_entry_size(entry), 0));
    std::string text(static_cast<size_t>(std::min<uint64_t>(announced_bytes, read_chunk_bytes)), '\0');
    size_t filled = 0;
    while (true) {
      if (filled == text.size()) {
        text.resize(text.size() + read_chunk_bytes);
      }
      const la_ssize_t read = archive_read_data(reader, text.data() + filled, text.size() - filled);
      if (read < 0) {
        archive_failure(reader, dataset.origin);
      }
      if (read == 0) {
        break;
      }
      filled += static_cast<size_t>(read);
    }
    text.resize(filled);
    reviews.push_back({std::move(*key), std::move(text)});
  }
  if (reviews.empty()) {
    throw Error(ErrorCode::invalid_data, dataset.origin,
                "the archive has no reviews: expected [aclImdb/]train|test/neg|pos/*.txt members",
                "pass the aclImdb_v1 archive, or --format for a JSONL/CSV/TSV file");
  }
  add_imdb_reviews(reviews, dataset);
}

struct FileStamp {
  uint64_t size = 0;
  int64_t modified_ns = 0;
};

FileStamp stamp(const fs::path& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    throw Error(ErrorCode::io, path.string(),
                std::string("cannot read file information: ") + std::strerror(errno),
                "check that the path exists and is readable");
  }
  constexpr int64_t ns_per_second = 1'000'000'000;
  return {static_cast<uint64_t>(info.st_size),
          static_cast<int64_t>(info.st_mtim.tv_sec) * ns_per_second + info.st_mtim.tv_nsec};
}

// Length-prefixed, so no two different field lists serialize alike.
void append_field(std::string& record, std::string_view field) {
  record.append(std::to_string(field.size())).append(":").append(field);
}

void append_stamp(std::string& record, std::string_view name, const FileStamp& file) {
  append_field(record, name);
  append_field(record, std::to_string(file.size));
  append_field(record, std::to_string(file.modified_ns));
}

fs::path canonical_or_absolute(const fs::path& path) {
  std::error_code ec;
  const fs::path canonical = fs::canonical(path, ec);
  return ec ? fs::absolute(path) : canonical;
}

}  // namespace

Format parse_format(std::string_view name) {
  for (Format format : {Format::automatic, Format::imdb, Format::jsonl, Format::csv, Format::tsv}) {
    if (to_string(format) == name) {
      return format;
    }
  }
  throw Error(ErrorCode::usage, "", fmt::format("unknown dataset format \"{}\"", name),
              "use one of auto, imdb, jsonl, csv, tsv");
}

std::string_view to_string(Format format) {
  switch (format) {
    case Format::automatic:
      return "auto";
    case Format::imdb:
      return "imdb";
    case Format::jsonl:
      return "jsonl";
    case Format::csv:
      return "csv";
    case Format::tsv:
      return "tsv";
  }
  return "unknown";
}

const TextSplit* RawDataset::find_split(std::string_view name) const {
  const auto found =
      std::find_if(splits.begin(), splits.end(), [&](const TextSplit& split) { return split.name == name; });
  return found == splits.end() ? nullptr : &*found;
}

Format resolve_format(const DataSpec& spec) {
  std::error_code ec;
  const fs::file_status status = fs::status(spec.path, ec);
  if (!fs::exists(status)) {
    throw Error(ErrorCode::not_found, spec.path.string(), "no such file or directory",
                "check the path, or download a known dataset with: greentune data fetch imdb");
  }
  if (spec.format != Format::automatic) {
    return spec.format;
  }
  if (fs::is_directory(status)) {
    return Format::imdb;
  }
  const std::string name = ascii_lowercase(spec.path.filename().string());
  if (name.ends_with(".tar.gz") || name.ends_with(".tgz")) {
    return Format::imdb;
  }
  if (name.ends_with(".jsonl") || name.ends_with(".json")) {
    return Format::jsonl;
  }
  if (name.ends_with(".csv")) {
    return Format::csv;
  }
  if (name.ends_with(".tsv")) {
    return Format::tsv;
  }
  throw Error(ErrorCode::usage, spec.path.string(), "cannot tell the dataset format from the file name",
              "pass --format imdb, jsonl, csv or tsv");
}

RawDataset load_dataset(const DataSpec& spec) {
  RawDataset dataset;
  dataset.origin = spec.path.string();
  dataset.format = resolve_format(spec);
  switch (dataset.format) {
    case Format::imdb:
      if (!spec.label_names.empty() && !std::equal(spec.label_names.begin(), spec.label_names.end(),
                                                   imdb_label_folders.begin(), imdb_label_folders.end())) {
        log::warn(fmt::format("{}: the aclImdb layout always has the labels neg, pos; ignoring --labels {}",
                              dataset.origin, join(spec.label_names, ", ")));
      }
      if (fs::is_directory(spec.path)) {
        read_imdb_directory(spec.path, dataset);
      } else {
        read_imdb_tarball(spec.path, dataset);
      }
      break;
    case Format::jsonl:
      read_jsonl(spec, dataset);
      break;
    case Format::csv:
      read_delimited(spec, ',', dataset);
      break;
    case Format::tsv:
      read_delimited(spec, '\t', dataset);
      break;
    case Format::automatic:
      throw Error(ErrorCode::internal, dataset.origin, "format left unresolved");
  }
  std::erase_if(dataset.splits, [](const TextSplit& split) { return split.size() == 0; });
  if (dataset.splits.empty()) {
    throw Error(ErrorCode::invalid_data, dataset.origin, "the dataset has no examples",
                "check that the file has rows (or the folder has reviews) and that --format matches it");
  }
  if (dataset.invalid_utf8_repairs > 0) {
    log::warn(fmt::format("{}: replaced {} invalid UTF-8 byte sequence(s) with U+FFFD", dataset.origin,
                          dataset.invalid_utf8_repairs));
  }
  return dataset;
}

uint64_t source_fingerprint(const DataSpec& spec) {
  const Format format = resolve_format(spec);
  const fs::path source = canonical_or_absolute(spec.path);
  std::string record;
  append_field(record, source.string());
  if (format == Format::imdb && fs::is_directory(source)) {
    for (const ImdbFile& file : list_imdb_directory(source)) {
      append_stamp(record, file.path.lexically_relative(source).string(), stamp(file.path));
    }
  } else {
    append_stamp(record, "", stamp(source));
  }
  return fnv1a64(record);
}

uint64_t spec_fingerprint(const DataSpec& spec) {
  const Format format = resolve_format(spec);
  std::string record;
  append_field(record, to_string(format));
  if (format != Format::imdb) {  // the aclImdb layout ignores columns and given labels
    append_field(record, spec.text_column);
    append_field(record, spec.label_column);
    append_field(record, std::to_string(spec.label_names.size()));
    for (const std::string& name : spec.label_names) {
      append_field(record, name);
    }
  }
  return fnv1a64(record);
}

}  // namespace greentune::data
