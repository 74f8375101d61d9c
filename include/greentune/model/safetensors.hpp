#pragma once
// Hugging Face safetensors files (https://github.com/huggingface/safetensors), read and written without
// LibTorch. Layout: an 8-byte little-endian header size N, N bytes of JSON (padded with spaces), then the
// data buffer. The JSON maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (bytes,
// relative to the buffer) and may hold "__metadata__": {string: string}. The tensors cover the buffer
// exactly: no holes, no overlaps, nothing after the last one. Tensor data is little-endian, row-major.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "greentune/core/files.hpp"

namespace greentune::model {

// The dtypes greentune reads and writes, in the reference implementation's order of increasing
// alignment: its writer, and ours, lays the data out in decreasing order so every tensor starts aligned.
enum class SafetensorsDtype : uint8_t { BOOL, U8, I8, I16, F16, BF16, I32, F32, F64, I64 };

std::string_view to_string(SafetensorsDtype dtype);  // the file's spelling: "F32", "BF16", ...
size_t dtype_size(SafetensorsDtype dtype);           // bytes per element

// One tensor: read from a SafetensorsFile (bytes point into its mapping) or handed to write_safetensors
// (bytes point into the caller's memory).
struct SafetensorsTensor {
  std::string name;
  SafetensorsDtype dtype = SafetensorsDtype::F32;
  std::vector<int64_t> shape;        // every dimension >= 0; {} is a scalar (one element)
  std::span<const std::byte> bytes;  // element_count() * dtype_size(dtype) bytes

  // The product of the shape. Throws Error(invalid_data) naming the tensor when a dimension is negative or
  // the product does not fit in 64 bits; never for the tensors of an opened SafetensorsFile.
  uint64_t element_count() const;
};

// Exact conversions of 16-bit floats given as their bit patterns. bfloat16 is the top half of a float32;
// IEEE half keeps its subnormals, infinities and NaN payloads.
float bf16_to_float(uint16_t bits);
float f16_to_float(uint16_t bits);

// The tensor's values as floats: F32 copied, F16 and BF16 converted exactly. Throws Error(invalid_data)
// naming the tensor for any other dtype.
std::vector<float> to_floats(const SafetensorsTensor& tensor);

class SafetensorsFile {
 public:
  // The reference implementation's limit on the JSON header, in bytes; larger headers are rejected.
  static constexpr uint64_t max_header_bytes = 100'000'000;

  // Memory-maps the file and validates its header and layout. Throws Error(not_found) when it does not
  // exist, Error(io) when it cannot be read, and Error(parse) naming the file and the tensor for any
  // malformed header, dtype, shape or offset.
  static SafetensorsFile open(const std::filesystem::path& path);

  SafetensorsFile(SafetensorsFile&&) noexcept = default;
  SafetensorsFile& operator=(SafetensorsFile&&) noexcept = default;

  // In the order of their data offsets (the file's layout). Their bytes stay valid while this object, or
  // the one it is moved into, lives.
  const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }
  const SafetensorsTensor* find(std::string_view name) const;  // nullptr when absent
  // Throws Error(invalid_data) naming the file when there is no tensor of that name.
  const SafetensorsTensor& tensor(std::string_view name) const;

  // "__metadata__"; empty when the file has none.
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  SafetensorsFile(std::filesystem::path path, MappedFile mapping);

  std::filesystem::path path_;
  MappedFile mapping_;  // the tensors' bytes point into it
  std::vector<SafetensorsTensor> tensors_;
  std::map<std::string, size_t, std::less<>> index_by_name_;  // into tensors_
  std::map<std::string, std::string> metadata_;
};

// Hugging Face transformers loads a checkpoint only when its metadata says {"format": "pt"}.
inline const std::map<std::string, std::string> pytorch_format_metadata = {{"format", "pt"}};

// Writes tensors as the reference implementation does, byte for byte: data sorted by decreasing dtype
// alignment, then by name; the header's "__metadata__" first (left out when metadata is empty), then the
// tensors in data order; the JSON padded with spaces to a multiple of 8 bytes. The file appears whole or
// not at all. Throws Error(invalid_data) naming the tensor for a duplicate or reserved name, invalid
// UTF-8, a negative dimension or a byte count that does not match the shape; Error(io) when writing fails.
void write_safetensors(const std::filesystem::path& path, std::span<const SafetensorsTensor> tensors,
                       const std::map<std::string, std::string>& metadata = pytorch_format_metadata);

}  // namespace greentune::model
