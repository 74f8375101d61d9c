#pragma once
// File helpers shared by every module: whole-file reads with clear errors, atomic writes (temp file +
// rename, so a crash or an error never leaves a half-written result), and content hashing.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace greentune {

// Reads a whole file as bytes. Throws Error(not_found / io) naming the path.
std::string read_file(const std::filesystem::path& path);

// A read-only memory mapping of a whole file (POSIX mmap, private): the bytes are read from disk only
// when touched. Movable, not copyable; bytes() stays valid while the MappedFile (or the one it was moved
// into) lives. An empty file maps to no bytes.
class MappedFile {
 public:
  // Throws Error(not_found) when the file does not exist, Error(io) when it cannot be opened or mapped.
  explicit MappedFile(const std::filesystem::path& path);
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::span<const std::byte> bytes() const { return {data_, size_}; }

 private:
  void unmap() noexcept;

  const std::byte* data_ = nullptr;
  size_t size_ = 0;  // bytes
};

// Writes to "<path>.tmp-<pid>" and renames it over path on commit(); a destroyed, uncommitted
// AtomicFile removes its temp file, so readers never see partial output.
class AtomicFile {
 public:
  explicit AtomicFile(std::filesystem::path path, std::ios::openmode mode = std::ios::binary);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  std::ofstream& stream() { return stream_; }
  void commit();  // flush, close, rename; throws Error(io) on failure

 private:
  std::filesystem::path path_;
  std::filesystem::path temp_path_;
  std::ofstream stream_;
  bool committed_ = false;
};

void write_file_atomically(const std::filesystem::path& path, std::string_view contents);

// Appends contents to path (created when missing) with one O_APPEND write, for logs that grow line by
// line; a process killed in the middle may leave a torn last line. Throws Error(io) naming the path.
void append_to_file(const std::filesystem::path& path, std::string_view contents);

// Cuts path back to its first size bytes. Throws Error(invalid_data) when the file is missing or shorter
// than size, Error(io) when it cannot be resized.
void truncate_file(const std::filesystem::path& path, uint64_t size);

// 64-bit FNV-1a: a fast, stable content fingerprint (not a cryptographic hash).
uint64_t fnv1a64(std::string_view bytes, uint64_t seed = 0xcbf29ce484222325ULL);

// Removes what interrupted atomic writes left in directory: files named "<name>.tmp-<pid>" (AtomicFile's)
// whose process no longer runs, and so will neither finish nor remove them. Returns the bytes freed.
uint64_t remove_stale_temporaries(const std::filesystem::path& directory);

// Creates directory and its parents. Throws Error(io) naming it, with fix as the remedy, when that fails
// or a file is in the way.
void create_directories(const std::filesystem::path& directory, std::string_view fix);

// Environment variable or fallback when unset or empty.
std::string env_or(const char* name, std::string_view fallback);
// Environment variable as it is, empty included; nullopt when unset.
std::optional<std::string> env_value(const char* name);

}  // namespace greentune
