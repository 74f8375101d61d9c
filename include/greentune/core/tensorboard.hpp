#pragma once
// TensorBoard's event files, for `--report-to tensorboard`. A file is a sequence of TFRecords
//   uint64 length (little-endian) | uint32 masked CRC-32C of the length | payload | uint32 masked CRC-32C
// (masked: ((crc >> 15) | (crc << 17)) + 0xa282ead8), each payload a tensorflow.Event protocol buffer. Only
// the fields TensorBoard's scalars read are written, encoded by hand (field number, wire type):
//   Event      { double wall_time = 1 (fixed64); int64 step = 2 (varint); string file_version = 3;
//                Summary summary = 5; SessionLog session_log = 7; }
//   Summary    { repeated Value value = 1; }
//   Value      { string tag = 1; float simple_value = 2 (fixed32); }
//   SessionLog { SessionStatus status = 1 (varint); }   START = 1
// The first event of a file holds file_version "brain.Event:2".

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace greentune::tensorboard {

// CRC-32C (Castagnoli) of bytes, masked as TFRecords store it.
uint32_t masked_crc32c(std::string_view bytes);

// payload framed as one TFRecord.
std::string record(std::string_view payload);

struct Scalar {
  std::string tag;  // "train/loss": TensorBoard groups the charts by the part before '/'
  float value = 0.0f;
};

// Event payloads (not yet framed).
std::string file_version_event(double wall_time_s);
std::string scalars_event(double wall_time_s, int64_t step, const std::vector<Scalar>& scalars);
// A restart at step: TensorBoard drops what earlier files logged at this step and after (a resumed run's
// steps after its checkpoint, computed again).
std::string session_start_event(double wall_time_s, int64_t step);

// Seconds since the Unix epoch, as Event.wall_time holds them.
double wall_time_now_s();

// One event file of this process in a directory: DIR/events.out.tfevents.<unix seconds>.<host>.<pid>.<n>,
// the name TensorBoard looks for, created with its file_version event. Each write appends a record.
class EventFileWriter {
 public:
  explicit EventFileWriter(const std::filesystem::path& dir);
  void write(std::string_view event_payload);
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace greentune::tensorboard
