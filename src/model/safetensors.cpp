#include "greentune/model/safetensors.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <tuple>
#include <unordered_set>
#include <utility>

#include "greentune/core/error.hpp"
#include "greentune/core/json.hpp"

namespace greentune::model {

namespace fs = std::filesystem;
using nlohmann::json;

// The views hand out the file's little-endian bytes as they are, and the conversions read them natively.
static_assert(std::endian::native == std::endian::little, "greentune's safetensors support is little-endian");

namespace {

constexpr std::string_view metadata_key = "__metadata__";
constexpr size_t header_size_field_bytes = 8;  // the little-endian u64 before the JSON
constexpr size_t header_alignment = 8;         // bytes; the data starts aligned for the widest dtype
constexpr std::string_view damaged_file_fix =
    "the file is damaged or not a safetensors file: download or export it again";

struct DtypeInfo {
  SafetensorsDtype dtype;
  std::string_view name;
  size_t size;  // bytes per element
};

// Indexed by the enum's value.
constexpr std::array<DtypeInfo, 10> dtype_table = {{
    {SafetensorsDtype::BOOL, "BOOL", 1},
    {SafetensorsDtype::U8, "U8", 1},
    {SafetensorsDtype::I8, "I8", 1},
    {SafetensorsDtype::I16, "I16", 2},
    {SafetensorsDtype::F16, "F16", 2},
    {SafetensorsDtype::BF16, "BF16", 2},
    {SafetensorsDtype::I32, "I32", 4},
    {SafetensorsDtype::F32, "F32", 4},
    {SafetensorsDtype::F64, "F64", 8},
    {SafetensorsDtype::I64, "I64", 8},
}};

const DtypeInfo& info_of(SafetensorsDtype dtype) {
  return dtype_table.at(static_cast<size_t>(dtype));
}

std::optional<SafetensorsDtype> parse_dtype(std::string_view name) {
  const auto found = std::find_if(dtype_table.begin(), dtype_table.end(),
                                  [&](const DtypeInfo& info) { return info.name == name; });
  return found == dtype_table.end() ? std::nullopt : std::optional(found->dtype);
}

std::string supported_dtypes() {
  std::vector<std::string_view> names;
  for (const DtypeInfo& info : dtype_table) {
    names.push_back(info.name);
  }
  return fmt::format("{}", fmt::join(names, ", "));
}

std::string format_shape(std::span<const int64_t> shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

// product(shape); nullopt for a negative dimension or a product beyond 64 bits.
std::optional<uint64_t> checked_element_count(std::span<const int64_t> shape) {
  uint64_t count = 1;
  for (const int64_t dimension : shape) {
    if (dimension < 0) {
      return std::nullopt;
    }
    const auto factor = static_cast<uint64_t>(dimension);
    if (factor != 0 && count > std::numeric_limits<uint64_t>::max() / factor) {
      return std::nullopt;
    }
    count *= factor;
  }
  return count;
}

// element count * dtype size; nullopt as above or when the bytes go beyond 64 bits.
std::optional<uint64_t> checked_byte_count(SafetensorsDtype dtype, std::span<const int64_t> shape) {
  const std::optional<uint64_t> count = checked_element_count(shape);
  const size_t element_bytes = dtype_size(dtype);
  if (!count || *count > std::numeric_limits<uint64_t>::max() / element_bytes) {
    return std::nullopt;
  }
  return *count * element_bytes;
}

// Error(invalid_data) unless the tensor's bytes are exactly what its dtype and shape call for, so reading
// element_count() elements from them stays in bounds.
void require_consistent(const SafetensorsTensor& tensor, std::string_view where) {
  const std::optional<uint64_t> expected = checked_byte_count(tensor.dtype, tensor.shape);
  if (!expected) {
    throw Error(ErrorCode::invalid_data, where,
                fmt::format("tensor \"{}\": shape {} has a negative dimension or more than 2^64 bytes",
                            tensor.name, format_shape(tensor.shape)),
                "give every dimension as a size >= 0");
  }
  if (*expected != tensor.bytes.size()) {
    throw Error(
        ErrorCode::invalid_data, where,
        fmt::format("tensor \"{}\": shape {} of {} needs {} bytes, {} were given", tensor.name,
                    format_shape(tensor.shape), to_string(tensor.dtype), *expected, tensor.bytes.size()),
        "pass the tensor's contiguous data with the shape it has");
  }
}

// ---- reading --------------------------------------------------------------------------------------------

// A header entry, checked on its own; its place among the others is checked by check_layout.
struct HeaderEntry {
  std::string name;
  SafetensorsDtype dtype;
  std::vector<int64_t> shape;
  uint64_t begin;  // byte offsets into the data buffer, end exclusive
  uint64_t end;
};

[[noreturn]] void malformed(const std::string& where, const std::string& what) {
  throw Error(ErrorCode::parse, where, what, damaged_file_fix);
}

[[noreturn]] void malformed_entry(const std::string& where, std::string_view name, const std::string& what) {
  malformed(where, fmt::format("tensor \"{}\": {}", name, what));
}

// A JSON value for a message, cut short: hostile headers can hold huge values.
std::string excerpt(const json& value) {
  constexpr size_t max_chars = 80;
  std::string text = value.dump();
  if (text.size() > max_chars) {
    text.resize(max_chars);
    text += "...";
  }
  return text;
}

// The first 8 bytes as the header size, checked against the reference's limit and the file's size.
uint64_t read_header_size(std::span<const std::byte> file, const std::string& where) {
  if (file.size() < header_size_field_bytes) {
    malformed(where, fmt::format("the file has {} bytes, fewer than the 8-byte header size that starts every "
                                 "safetensors file",
                                 file.size()));
  }
  uint64_t header_bytes = 0;
  for (size_t position = 0; position < header_size_field_bytes; ++position) {
    header_bytes |= static_cast<uint64_t>(file[position]) << (8 * position);
  }
  if (header_bytes > SafetensorsFile::max_header_bytes) {
    malformed(where, fmt::format("the header size is {} bytes, more than the {} bytes safetensors allows",
                                 header_bytes, SafetensorsFile::max_header_bytes));
  }
  if (header_bytes > file.size() - header_size_field_bytes) {
    malformed(where,
              fmt::format("the header size is {} bytes but only {} bytes follow it (the file is truncated)",
                          header_bytes, file.size() - header_size_field_bytes));
  }
  return header_bytes;
}

// A top-level header key as messages name it.
std::string describe_key(std::string_view key) {
  return key == metadata_key ? fmt::format("\"{}\"", key) : fmt::format("tensor \"{}\"", key);
}

// Parses the header JSON. nlohmann keeps the last of duplicate keys silently; a duplicate tensor name (or
// a key given twice inside an entry) would make the file mean two things, so it is rejected here.
json parse_header_json(std::string_view text, const std::string& where) {
  // nlohmann stops at a NUL byte as at the end of the input and ignores whatever follows it.
  if (const size_t nul = text.find('\0'); nul != std::string_view::npos) {
    malformed(where, fmt::format("the header has a NUL byte at position {}; safetensors headers are JSON "
                                 "padded with spaces",
                                 nul));
  }
  std::vector<std::unordered_set<std::string>> keys_of_open_objects;
  std::string top_level_key;  // the tensor (or "__metadata__") being parsed
  const json::parser_callback_t reject_duplicates = [&](int /*depth*/, json::parse_event_t event,
                                                        json& parsed) {
    if (event == json::parse_event_t::object_start) {
      keys_of_open_objects.emplace_back();
    } else if (event == json::parse_event_t::object_end) {
      keys_of_open_objects.pop_back();
    } else if (event == json::parse_event_t::key) {
      std::string key = parsed.get<std::string>();
      const bool top_level = keys_of_open_objects.size() == 1;
      if (top_level) {
        top_level_key = key;
      }
      if (!keys_of_open_objects.back().insert(key).second) {
        malformed(where, top_level
                             ? fmt::format("{} appears twice in the header", describe_key(key))
                             : fmt::format("{}: key \"{}\" appears twice", describe_key(top_level_key), key));
      }
    }
    return true;
  };
  UntrustedJson header = parse_untrusted_json(text, reject_duplicates);
  if (!header.problem.empty())
    malformed(where, "the header " + header.problem);
  return std::move(header.value);
}

std::map<std::string, std::string> read_metadata(const json& value, const std::string& where) {
  if (!value.is_object()) {
    malformed(where,
              fmt::format("\"__metadata__\" is a JSON {}, expected an object of strings", value.type_name()));
  }
  std::map<std::string, std::string> metadata;
  for (const auto& [key, item] : value.items()) {
    if (!item.is_string()) {
      malformed(where, fmt::format("\"__metadata__\" key \"{}\" is a JSON {}, expected a string", key,
                                   item.type_name()));
    }
    metadata.emplace(key, item.get<std::string>());
  }
  return metadata;
}

// A non-negative JSON integer; nlohmann parses those as unsigned, negatives as signed, the rest as floats.
std::optional<uint64_t> as_size(const json& value) {
  return value.is_number_unsigned() ? std::optional(value.get<uint64_t>()) : std::nullopt;
}

HeaderEntry read_entry(const std::string& name, const json& value, uint64_t buffer_bytes,
                       const std::string& where) {
  if (!value.is_object()) {
    malformed_entry(
        where, name,
        fmt::format(
            "the entry is a JSON {}, expected an object with \"dtype\", \"shape\" and \"data_offsets\"",
            value.type_name()));
  }
  const auto field = [&](const char* key) -> const json& {
    const auto found = value.find(key);
    if (found == value.end()) {
      malformed_entry(where, name, fmt::format("\"{}\" is missing", key));
    }
    return *found;
  };
  HeaderEntry entry{name, SafetensorsDtype::F32, {}, 0, 0};

  const json& dtype = field("dtype");
  if (!dtype.is_string()) {
    malformed_entry(
        where, name,
        fmt::format("\"dtype\" is a JSON {}, expected a string such as \"F32\"", dtype.type_name()));
  }
  const std::optional<SafetensorsDtype> parsed_dtype = parse_dtype(dtype.get<std::string>());
  if (!parsed_dtype) {
    malformed_entry(
        where, name,
        fmt::format("dtype {} is not supported (supported: {})", excerpt(dtype), supported_dtypes()));
  }
  entry.dtype = *parsed_dtype;

  const json& shape = field("shape");
  if (!shape.is_array()) {
    malformed_entry(where, name,
                    fmt::format("\"shape\" is a JSON {}, expected a list of sizes", shape.type_name()));
  }
  for (const json& dimension : shape) {
    const std::optional<uint64_t> size = as_size(dimension);
    if (!size || *size > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      malformed_entry(where, name,
                      fmt::format("shape {} has the dimension {}, expected an integer >= 0", excerpt(shape),
                                  excerpt(dimension)));
    }
    entry.shape.push_back(static_cast<int64_t>(*size));
  }

  const json& offsets = field("data_offsets");
  const bool two_sizes =
      offsets.is_array() && offsets.size() == 2 && as_size(offsets[0]) && as_size(offsets[1]);
  if (!two_sizes) {
    malformed_entry(
        where, name,
        fmt::format("\"data_offsets\" is {}, expected two integers >= 0: [begin, end]", excerpt(offsets)));
  }
  entry.begin = offsets[0].get<uint64_t>();
  entry.end = offsets[1].get<uint64_t>();
  if (entry.begin > entry.end) {
    malformed_entry(where, name,
                    fmt::format("data_offsets [{}, {}] end before they begin", entry.begin, entry.end));
  }
  if (entry.end > buffer_bytes) {
    malformed_entry(
        where, name,
        fmt::format("data_offsets [{}, {}] run past the end of the data, which has {} bytes (the file is "
                    "truncated or the offsets are wrong)",
                    entry.begin, entry.end, buffer_bytes));
  }
  const std::optional<uint64_t> expected_bytes = checked_byte_count(entry.dtype, entry.shape);
  if (!expected_bytes) {
    malformed_entry(where, name,
                    fmt::format("shape {} of {} has more than 2^64 bytes", format_shape(entry.shape),
                                to_string(entry.dtype)));
  }
  if (*expected_bytes != entry.end - entry.begin) {
    malformed_entry(where, name,
                    fmt::format("shape {} of {} needs {} bytes, data_offsets [{}, {}] hold {}",
                                format_shape(entry.shape), to_string(entry.dtype), *expected_bytes,
                                entry.begin, entry.end, entry.end - entry.begin));
  }
  return entry;
}

// Sorts the entries by offset and checks that they tile the data buffer: no holes, no overlaps, no bytes
// after the last one.
void check_layout(std::vector<HeaderEntry>& entries, uint64_t buffer_bytes, const std::string& where) {
  std::sort(entries.begin(), entries.end(), [](const HeaderEntry& left, const HeaderEntry& right) {
    return std::tie(left.begin, left.end, left.name) < std::tie(right.begin, right.end, right.name);
  });
  uint64_t covered_until = 0;  // bytes of the buffer the entries so far cover
  const HeaderEntry* previous = nullptr;
  for (const HeaderEntry& entry : entries) {
    if (entry.begin < covered_until) {
      malformed(
          where,
          fmt::format("tensor \"{}\": data_offsets [{}, {}] overlap those of tensor \"{}\" [{}, {}]",
                      entry.name, entry.begin, entry.end, previous->name, previous->begin, previous->end));
    }
    if (entry.begin > covered_until) {
      malformed(where,
                fmt::format("tensor \"{}\": data_offsets [{}, {}] leave bytes [{}, {}) before them to no "
                            "tensor (a hole in the data)",
                            entry.name, entry.begin, entry.end, covered_until, entry.begin));
    }
    covered_until = entry.end;
    previous = &entry;
  }
  if (covered_until != buffer_bytes) {
    malformed(
        where,
        previous == nullptr
            ? fmt::format("{} bytes of data follow a header that lists no tensor", buffer_bytes)
            : fmt::format("{} bytes after the last tensor \"{}\" (which ends at byte {}) belong to no tensor",
                          buffer_bytes - covered_until, previous->name, covered_until));
  }
}

// ---- writing --------------------------------------------------------------------------------------------

// nlohmann refuses to write invalid UTF-8; checking each string first names the one at fault.
void require_utf8(const std::string& text, std::string_view what, std::string_view where) {
  try {
    static_cast<void>(json(text).dump());
  } catch (const json::type_error&) {
    throw Error(ErrorCode::invalid_data, where, fmt::format("{} is not valid UTF-8", what),
                "use UTF-8 tensor names and metadata");
  }
}

void append_little_endian_u64(std::string& out, uint64_t value) {
  for (size_t position = 0; position < sizeof value; ++position) {
    out.push_back(static_cast<char>((value >> (8 * position)) & 0xff));
  }
}

}  // namespace

std::string_view to_string(SafetensorsDtype dtype) {
  return info_of(dtype).name;
}

size_t dtype_size(SafetensorsDtype dtype) {
  return info_of(dtype).size;
}

uint64_t SafetensorsTensor::element_count() const {
  const std::optional<uint64_t> count = checked_element_count(shape);
  if (!count) {
    throw Error(ErrorCode::invalid_data, "",
                fmt::format("tensor \"{}\": shape {} has a negative dimension or more than 2^64 elements",
                            name, format_shape(shape)),
                "give every dimension as a size >= 0");
  }
  return *count;
}

float bf16_to_float(uint16_t bits) {
  return std::bit_cast<float>(static_cast<uint32_t>(bits) << 16);
}

float f16_to_float(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  const uint32_t exponent = (bits >> 10) & 0x1fu;  // biased by 15
  const uint32_t mantissa = bits & 0x3ffu;         // 10 bits
  if (exponent == 0x1f) {                          // infinity, or NaN with its payload kept
    return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
  }
  if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24, exact in a float
    const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign != 0 ? -magnitude : magnitude;
  }
  constexpr uint32_t rebias = 127 - 15;  // float's exponent bias minus half's
  return std::bit_cast<float>(sign | ((exponent + rebias) << 23) | (mantissa << 13));
}

std::vector<float> to_floats(const SafetensorsTensor& tensor) {
  require_consistent(tensor, "");
  const size_t count = tensor.bytes.size() / dtype_size(tensor.dtype);
  std::vector<float> values(count);
  if (count == 0) {
    return values;  // memcpy needs valid pointers even for no bytes
  }
  const auto convert_halves = [&](float (*convert)(uint16_t)) {
    for (size_t index = 0; index < count; ++index) {
      uint16_t bits = 0;
      std::memcpy(&bits, tensor.bytes.data() + index * sizeof bits, sizeof bits);  // may be unaligned
      values[index] = convert(bits);
    }
  };
  switch (tensor.dtype) {
    case SafetensorsDtype::F32:
      std::memcpy(values.data(), tensor.bytes.data(), tensor.bytes.size());
      break;
    case SafetensorsDtype::F16:
      convert_halves(f16_to_float);
      break;
    case SafetensorsDtype::BF16:
      convert_halves(bf16_to_float);
      break;
    default:
      throw Error(ErrorCode::invalid_data, "",
                  fmt::format("tensor \"{}\" is {}; only F32, F16 and BF16 convert to floats", tensor.name,
                              to_string(tensor.dtype)),
                  "read the tensor's bytes directly");
  }
  return values;
}

SafetensorsFile::SafetensorsFile(fs::path path, MappedFile mapping)
    : path_(std::move(path)), mapping_(std::move(mapping)) {}

SafetensorsFile SafetensorsFile::open(const fs::path& path) {
  SafetensorsFile file(path, MappedFile(path));
  const std::string where = path.string();
  const std::span<const std::byte> bytes = file.mapping_.bytes();
  const uint64_t header_bytes = read_header_size(bytes, where);
  const std::string_view header_text(reinterpret_cast<const char*>(bytes.data()) + header_size_field_bytes,
                                     header_bytes);
  const std::span<const std::byte> buffer = bytes.subspan(header_size_field_bytes + header_bytes);

  const json header = parse_header_json(header_text, where);
  if (!header.is_object()) {
    malformed(where, fmt::format("the header is a JSON {}, expected an object", header.type_name()));
  }
  std::vector<HeaderEntry> entries;
  for (const auto& [name, value] : header.items()) {
    if (name == metadata_key) {
      file.metadata_ = read_metadata(value, where);
    } else {
      entries.push_back(read_entry(name, value, buffer.size(), where));
    }
  }
  check_layout(entries, buffer.size(), where);

  file.tensors_.reserve(entries.size());
  for (HeaderEntry& entry : entries) {
    file.index_by_name_.emplace(entry.name, file.tensors_.size());
    file.tensors_.push_back({std::move(entry.name), entry.dtype, std::move(entry.shape),
                             buffer.subspan(entry.begin, entry.end - entry.begin)});
  }
  return file;
}

const SafetensorsTensor* SafetensorsFile::find(std::string_view name) const {
  const auto found = index_by_name_.find(name);
  return found == index_by_name_.end() ? nullptr : &tensors_[found->second];
}

const SafetensorsTensor& SafetensorsFile::tensor(std::string_view name) const {
  if (const SafetensorsTensor* found = find(name)) {
    return *found;
  }
  throw Error(ErrorCode::invalid_data, path_.string(),
              fmt::format("there is no tensor \"{}\" among the file's {} tensors", name, tensors_.size()),
              "check the tensor name, and that the checkpoint belongs to this model");
}

void write_safetensors(const fs::path& path, std::span<const SafetensorsTensor> tensors,
                       const std::map<std::string, std::string>& metadata) {
  const std::string where = path.string();
  std::unordered_set<std::string_view> names;
  for (const SafetensorsTensor& tensor : tensors) {
    if (tensor.name == metadata_key) {
      throw Error(ErrorCode::invalid_data, where,
                  "the tensor name \"__metadata__\" is reserved for the metadata", "rename the tensor");
    }
    if (!names.insert(tensor.name).second) {
      throw Error(ErrorCode::invalid_data, where, fmt::format("tensor \"{}\" is given twice", tensor.name),
                  "give each tensor once");
    }
    require_utf8(tensor.name, fmt::format("the tensor name \"{}\"", tensor.name), where);
    require_consistent(tensor, where);
  }
  for (const auto& [key, value] : metadata) {
    require_utf8(key, fmt::format("the metadata key \"{}\"", key), where);
    require_utf8(value, fmt::format("the metadata value of \"{}\"", key), where);
  }

  // The reference's layout: widest dtypes first, so each tensor starts aligned to its element size.
  std::vector<const SafetensorsTensor*> layout;
  for (const SafetensorsTensor& tensor : tensors) {
    layout.push_back(&tensor);
  }
  std::sort(layout.begin(), layout.end(), [](const SafetensorsTensor* left, const SafetensorsTensor* right) {
    return std::tie(right->dtype, left->name) < std::tie(left->dtype, right->name);
  });

  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    header[std::string(metadata_key)] = metadata;
  }
  uint64_t offset = 0;  // bytes into the data buffer
  for (const SafetensorsTensor* tensor : layout) {
    const uint64_t end = offset + tensor->bytes.size();
    header[tensor->name] =
        nlohmann::ordered_json{{"dtype", to_string(tensor->dtype)},
                               {"shape", tensor->shape},
                               {"data_offsets", nlohmann::ordered_json::array({offset, end})}};
    offset = end;
  }
  std::string header_text = header.dump();
  header_text.append((header_alignment - header_text.size() % header_alignment) % header_alignment, ' ');

  std::string prefix;  // the header size and the header
  append_little_endian_u64(prefix, header_text.size());
  prefix += header_text;
  AtomicFile file(path);
  file.stream().write(prefix.data(), static_cast<std::streamsize>(prefix.size()));
  for (const SafetensorsTensor* tensor : layout) {
    file.stream().write(reinterpret_cast<const char*>(tensor->bytes.data()),
                        static_cast<std::streamsize>(tensor->bytes.size()));
  }
  file.commit();
}

}  // namespace greentune::model
