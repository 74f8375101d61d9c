#include "greentune/core/files.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <utility>

#include "greentune/core/error.hpp"
#include "greentune/core/parse.hpp"
#include "greentune/core/untrusted_file.hpp"

namespace greentune {

namespace fs = std::filesystem;

std::string read_file(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    throw Error(ErrorCode::not_found, path.string(), "file does not exist", "check the path");
  }
  if (fs::is_directory(path, ec)) {
    throw Error(ErrorCode::io, path.string(), "is a directory, expected a file", "give the path of a file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw Error(ErrorCode::io, path.string(), std::string("cannot open: ") + std::strerror(errno),
                "check the file's permissions");
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) {
    throw Error(ErrorCode::io, path.string(), "read failed", "check the file and the disk");
  }
  return std::move(contents).str();
}

std::string read_untrusted_file(const fs::path& path, uint64_t max_bytes, std::string_view fix) {
  std::error_code ec;
  const uintmax_t size = fs::file_size(path, ec);
  if (!ec && size > max_bytes) {
    throw Error(ErrorCode::invalid_data, path.string(),
                fmt::format("is {} bytes, more than the {} bytes greentune reads from a file of its kind",
                            size, max_bytes),
                fix);
  }
  return read_file(path);  // its own errors for a missing or unreadable path
}

MappedFile::MappedFile(const fs::path& path) {
  const int descriptor = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (descriptor < 0) {
    const int open_error = errno;
    if (open_error == ENOENT) {
      throw Error(ErrorCode::not_found, path.string(), "file does not exist", "check the path");
    }
    throw Error(ErrorCode::io, path.string(), std::string("cannot open: ") + std::strerror(open_error),
                "check the file's permissions");
  }
  struct stat info {};
  if (::fstat(descriptor, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(descriptor);
    throw Error(ErrorCode::io, path.string(), "is not a regular file", "give the path of a file");
  }
  size_ = static_cast<size_t>(info.st_size);
  if (size_ == 0) {  // mmap rejects a zero length; an empty file simply has no bytes
    ::close(descriptor);
    return;
  }
  // MAP_POPULATE maps every page up front: one system call instead of a page fault per 4 KiB when the
  // whole file is read (model weights: 268 MB for distilbert-base).
  void* address = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE | MAP_POPULATE, descriptor, 0);
  const int map_error = errno;
  ::close(descriptor);  // the mapping keeps the file open
  if (address == MAP_FAILED) {
    throw Error(ErrorCode::io, path.string(), std::string("cannot memory-map: ") + std::strerror(map_error),
                "check the file and the available address space");
  }
  data_ = static_cast<const std::byte*>(address);
}

MappedFile::~MappedFile() {
  unmap();
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    unmap();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

void MappedFile::unmap() noexcept {
  if (data_ != nullptr) {
    ::munmap(const_cast<std::byte*>(data_), size_);
  }
  data_ = nullptr;
  size_ = 0;
}

AtomicFile::AtomicFile(fs::path path, std::ios::openmode mode)
    : path_(std::move(path)),
      temp_path_(path_.string() + ".tmp-" + std::to_string(::getpid())),
      stream_(temp_path_, mode | std::ios::out | std::ios::trunc) {
  if (!stream_) {
    throw Error(ErrorCode::io, path_.string(),
                std::string("cannot create output file: ") + std::strerror(errno),
                "check that the directory exists and is writable");
  }
}

AtomicFile::~AtomicFile() {
  if (!committed_) {
    stream_.close();
    std::error_code ec;
    fs::remove(temp_path_, ec);
  }
}

void AtomicFile::commit() {
  stream_.flush();
  const bool write_ok = static_cast<bool>(stream_);
  stream_.close();
  std::error_code ec;
  if (!write_ok || stream_.fail()) {
    const int write_error = errno;  // set by the write(2) that failed: ENOSPC on a full disk
    fs::remove(temp_path_, ec);
    throw Error(ErrorCode::io, path_.string(),
                write_error != 0 ? std::string("writing failed: ") + std::strerror(write_error)
                                 : std::string("writing failed"),
                "check free disk space and permissions");
  }
  fs::rename(temp_path_, path_, ec);
  if (ec) {
    fs::remove(temp_path_, ec);
    throw Error(ErrorCode::io, path_.string(), "cannot move the finished file into place: " + ec.message(),
                "check the directory's permissions");
  }
  committed_ = true;
}

void write_file_atomically(const fs::path& path, std::string_view contents) {
  AtomicFile file(path);
  file.stream().write(contents.data(), static_cast<std::streamsize>(contents.size()));
  file.commit();
}

void append_to_file(const fs::path& path, std::string_view contents) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw Error(ErrorCode::io, path.string(),
                std::string("cannot open for appending: ") + std::strerror(errno),
                "check the directory's permissions and free space");
  }
  size_t written = 0;
  while (written < contents.size()) {
    const ssize_t n = ::write(fd, contents.data() + written, contents.size() - written);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      const int error = errno;
      ::close(fd);
      throw Error(ErrorCode::io, path.string(), std::string("cannot append: ") + std::strerror(error),
                  "check free disk space");
    }
    written += static_cast<size_t>(n);
  }
  ::close(fd);
}

void truncate_file(const fs::path& path, uint64_t size) {
  std::error_code ec;
  const uintmax_t current = fs::file_size(path, ec);
  if (ec || current < size) {
    throw Error(ErrorCode::invalid_data, path.string(),
                ec ? fmt::format("is gone ({}) but {} bytes were written to it before", ec.message(), size)
                   : fmt::format("has {} bytes but {} were written before", current, size),
                "restore the file, or start over in a new directory");
  }
  fs::resize_file(path, size, ec);
  if (ec) {
    throw Error(ErrorCode::io, path.string(), "cannot cut the file back: " + ec.message(),
                "check the file's permissions");
  }
}

uint64_t fnv1a64(std::string_view bytes, uint64_t seed) {
  uint64_t hash = seed;
  for (unsigned char byte : bytes) {
    hash ^= byte;
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

void create_directories(const fs::path& directory, std::string_view fix) {
  std::error_code ec;
  fs::create_directories(directory, ec);
  if (ec || !fs::is_directory(directory)) {
    throw Error(ErrorCode::io, directory.string(),
                "cannot create the directory: " + (ec ? ec.message() : std::string("a file is in the way")),
                fix);
  }
}

uint64_t remove_stale_temporaries(const fs::path& directory) {
  uint64_t freed = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(directory, ec)) {
    const std::string name = entry.path().filename().string();
    const size_t marker = name.rfind(".tmp-");
    if (marker == std::string::npos || !entry.is_regular_file(ec))
      continue;
    const std::optional<pid_t> pid = parse_whole<pid_t>(std::string_view(name).substr(marker + 5));
    const bool running = pid && *pid > 0 && (::kill(*pid, 0) == 0 || errno != ESRCH);
    if (!pid || running)
      continue;
    const uint64_t bytes = entry.file_size(ec);
    if (fs::remove(entry.path(), ec))
      freed += bytes;
  }
  return freed;
}

std::optional<std::string> env_value(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::nullopt : std::optional<std::string>(value);
}

std::string env_or(const char* name, std::string_view fallback) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') {
    return std::string(fallback);
  }
  return value;
}

}  // namespace greentune
