// TensorBoard event files checked with decoders greentune did not write: the CRC-32C test vectors of
// RFC 3720 (B.4), and protoc decoding every record's payload as a tensorflow.Event (testing::decode_event).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

#include "greentune/core/tensorboard.hpp"
#include "test_support.hpp"

namespace greentune::tensorboard {
namespace {

namespace fs = std::filesystem;
using ::testing::MatchesRegex;

uint32_t masked(uint32_t crc) {
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

TEST(TensorBoard, RecordsCarryTheMaskedCrc32cOfRfc3720) {
  EXPECT_EQ(masked_crc32c(std::string(32, '\0')), masked(0x8a9136aau));
  EXPECT_EQ(masked_crc32c(std::string(32, '\xff')), masked(0x62a8ab43u));
  EXPECT_EQ(masked_crc32c("123456789"), masked(0xe3069283u));
}

TEST(TensorBoard, AnEventFileDecodesWithProtocToTheEventsWritten) {
  GREENTUNE_REQUIRE_PROTOC();
  testing::TempDir dir;
  EventFileWriter writer(dir / "tensorboard");
  EXPECT_THAT(writer.path().filename().string(),
              MatchesRegex("events\\.out\\.tfevents\\.[0-9]+\\..+\\.[0-9]+\\.[0-9]+"));
  writer.write(scalars_event(1.5, 20, {{"train/loss", 0.5f}, {"energy/power_w", 70.25f}}));
  writer.write(session_start_event(2.0, 7));

  const std::vector<std::string> payloads = testing::tfrecord_payloads(writer.path());
  ASSERT_EQ(payloads.size(), 3u);
  EXPECT_THAT(testing::decode_event(payloads[0]),
              MatchesRegex("wall_time: 1[0-9]{9}\\.[0-9]+\nfile_version: \"brain.Event:2\"\n"));
  EXPECT_EQ(
      testing::decode_event(payloads[1]),
      "wall_time: 1.5\nstep: 20\nsummary {\n  value {\n    tag: \"train/loss\"\n    simple_value: 0.5\n  }\n"
      "  value {\n    tag: \"energy/power_w\"\n    simple_value: 70.25\n  }\n}\n");
  EXPECT_EQ(testing::decode_event(payloads[2]), "wall_time: 2\nstep: 7\nsession_log {\n  status: START\n}\n");
}

}  // namespace
}  // namespace greentune::tensorboard
