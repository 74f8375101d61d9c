#include "greentune/core/tensorboard.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <bit>
#include <boost/crc.hpp>
#include <chrono>
#include <cstring>

#include "greentune/core/files.hpp"

namespace greentune::tensorboard {

namespace {

constexpr uint32_t kCrcMaskDelta = 0xa282ead8u;

enum WireType : uint8_t { varint = 0, fixed64 = 1, length_delimited = 2, fixed32 = 5 };

void put_varint(std::string& out, uint64_t value) {
  while (value >= 0x80) {
    out += static_cast<char>((value & 0x7f) | 0x80);
    value >>= 7;
  }
  out += static_cast<char>(value);
}

void put_key(std::string& out, uint32_t field, WireType type) {
  put_varint(out, (field << 3) | type);
}

template <typename Unsigned>
void put_little_endian(std::string& out, Unsigned value) {
  for (size_t byte = 0; byte < sizeof(Unsigned); ++byte)
    out += static_cast<char>((value >> (8 * byte)) & 0xff);
}

void put_bytes(std::string& out, uint32_t field, std::string_view bytes) {
  put_key(out, field, length_delimited);
  put_varint(out, bytes.size());
  out += bytes;
}

// Event's wall_time (1) and step (2).
std::string event_header(double wall_time_s, int64_t step) {
  std::string event;
  put_key(event, 1, fixed64);
  put_little_endian(event, std::bit_cast<uint64_t>(wall_time_s));
  if (step != 0) {
    put_key(event, 2, varint);
    put_varint(event, static_cast<uint64_t>(step));
  }
  return event;
}

}  // namespace

uint32_t masked_crc32c(std::string_view bytes) {
  boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true> crc;
  crc.process_bytes(bytes.data(), bytes.size());
  const uint32_t value = crc.checksum();
  return ((value >> 15) | (value << 17)) + kCrcMaskDelta;
}

std::string record(std::string_view payload) {
  std::string length;
  put_little_endian(length, static_cast<uint64_t>(payload.size()));
  std::string framed = length;
  put_little_endian(framed, masked_crc32c(length));
  framed += payload;
  put_little_endian(framed, masked_crc32c(payload));
  return framed;
}

std::string file_version_event(double wall_time_s) {
  std::string event = event_header(wall_time_s, 0);
  put_bytes(event, 3, "brain.Event:2");
  return event;
}

std::string scalars_event(double wall_time_s, int64_t step, const std::vector<Scalar>& scalars) {
  std::string summary;
  for (const Scalar& scalar : scalars) {
    std::string value;
    put_bytes(value, 1, scalar.tag);
    put_key(value, 2, fixed32);
    put_little_endian(value, std::bit_cast<uint32_t>(scalar.value));
    put_bytes(summary, 1, value);
  }
  std::string event = event_header(wall_time_s, step);
  put_bytes(event, 5, summary);
  return event;
}

std::string session_start_event(double wall_time_s, int64_t step) {
  std::string session_log;
  put_key(session_log, 1, varint);
  put_varint(session_log, 1);  // START
  std::string event = event_header(wall_time_s, step);
  put_bytes(event, 7, session_log);
  return event;
}

double wall_time_now_s() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

EventFileWriter::EventFileWriter(const std::filesystem::path& dir) {
  static std::atomic<unsigned> files_opened{0};  // two writers of one process in one second: other names
  char host[256] = "localhost";
  gethostname(host, sizeof host - 1);
  const double now = wall_time_now_s();
  greentune::create_directories(dir, "pass --output with a writable directory");
  path_ = dir / fmt::format("events.out.tfevents.{}.{}.{}.{}", static_cast<int64_t>(now), host, getpid(),
                            files_opened++);
  append_to_file(path_, record(file_version_event(now)));
}

void EventFileWriter::write(std::string_view event_payload) {
  append_to_file(path_, record(event_payload));
}

}  // namespace greentune::tensorboard
