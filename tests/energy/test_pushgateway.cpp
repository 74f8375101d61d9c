// Pushing to a Prometheus Pushgateway: the exposition text and group path worked out by hand, then a real
// Pushgateway (Debian's prometheus-pushgateway) reading back what was pushed, and one that is not there.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "greentune/energy/pushgateway.hpp"
#include "test_support.hpp"

namespace greentune::energy {
namespace {

using ::testing::HasSubstr;

PushSample training_sample() {
  PushSample sample;
  sample.duration_s = 10.0;
  sample.gpu_j = 700.0;
  sample.cpu_j = 150.0;
  sample.ram_j = 50.0;
  sample.total_j = 900.0;
  sample.co2_kg = 0.000125;  // 900 J = 0.00025 kWh at 500 g/kWh
  sample.step = 30;
  sample.total_steps = 120;
  sample.samples = 960;
  return sample;
}

TEST(Pushgateway, TheGroupPathEncodesItsLabelsInBase64url) {
  // base64url("vm") = "dm0", ("runs/b?") = "cnVucy9iPw" (RFC 4648, no padding), an empty value "=".
  EXPECT_EQ(push_path({.instance = "vm", .run = "runs/b?", .rank = 3}),
            "/metrics/job/greentune/instance@base64/dm0/run@base64/cnVucy9iPw/rank/3");
  EXPECT_EQ(push_path({.instance = "", .run = "x", .rank = 0}),
            "/metrics/job/greentune/instance@base64/=/run@base64/eA/rank/0");
  EXPECT_EQ(run_label_of("runs/base/"), "base");
  EXPECT_EQ(run_label_of("./runs/base"), "base");
}

TEST(Pushgateway, TheGaugesAreInPrometheusTextFormat) {
  EXPECT_EQ(
      exposition_text(training_sample(), 90.0),
      "# HELP greentune_energy_joules Energy this process has measured so far, per component (total: all "
      "of them, PUE applied)\n"
      "# TYPE greentune_energy_joules gauge\n"
      "greentune_energy_joules{component=\"gpu\"} 700\n"
      "greentune_energy_joules{component=\"cpu\"} 150\n"
      "greentune_energy_joules{component=\"dram\"} 0\n"
      "greentune_energy_joules{component=\"ram\"} 50\n"
      "greentune_energy_joules{component=\"total\"} 900\n"
      "# HELP greentune_power_watts Average power since the previous push (total, PUE applied)\n"
      "# TYPE greentune_power_watts gauge\n"
      "greentune_power_watts 90\n"
      "# HELP greentune_co2_grams CO2-equivalent emissions of that energy so far\n"
      "# TYPE greentune_co2_grams gauge\n"
      "greentune_co2_grams 0.125\n"
      "# HELP greentune_duration_seconds Time measured so far\n"
      "# TYPE greentune_duration_seconds gauge\n"
      "greentune_duration_seconds 10\n"
      "# HELP greentune_step Optimizer updates made\n"
      "# TYPE greentune_step gauge\n"
      "greentune_step 30\n"
      "# HELP greentune_total_steps Optimizer updates the run will make\n"
      "# TYPE greentune_total_steps gauge\n"
      "greentune_total_steps 120\n"
      "# HELP greentune_progress_ratio step / total_steps\n"
      "# TYPE greentune_progress_ratio gauge\n"
      "greentune_progress_ratio 0.25\n"
      "# HELP greentune_samples Examples trained on so far, every rank's\n"
      "# TYPE greentune_samples gauge\n"
      "greentune_samples 960\n");
}

TEST(Pushgateway, ARealPushgatewayHoldsEachRanksGroupAndThePowerBetweenPushes) {
  GREENTUNE_REQUIRE_PUSHGATEWAY(server);
  {
    Pushgateway rank0(server.url() + "/", {.instance = "node-a", .run = "base", .rank = 0});
    Pushgateway rank1(server.url(), {.instance = "node-a", .run = "base", .rank = 1});
    PushSample first = training_sample();
    rank0.push(first);
    PushSample later = first;
    later.duration_s = 14.0;
    later.total_j = 1300.0;  // 400 J in 4 s: 100 W
    rank0.push_final(later);
    PushSample other;
    other.duration_s = 14.0;
    other.gpu_j = other.total_j = 420.0;
    rank1.push_final(other);
  }
  const std::map<std::string, double> energy = server.samples("greentune_energy_joules");
  const std::string group = "instance=\"node-a\",job=\"greentune\",rank=\"";
  EXPECT_EQ(energy.at("component=\"total\"," + group + "0\",run=\"base\""), 1300.0);
  EXPECT_EQ(energy.at("component=\"total\"," + group + "1\",run=\"base\""), 420.0);
  EXPECT_EQ(energy.at("component=\"gpu\"," + group + "1\",run=\"base\""), 420.0);
  const std::map<std::string, double> power = server.samples("greentune_power_watts");
  // rank 0's last push: 100 W since its first; rank 1's only push: 420 J over its 14 s.
  EXPECT_EQ(power.at(group + "0\",run=\"base\""), 100.0);
  EXPECT_EQ(power.at(group + "1\",run=\"base\""), 30.0);
  EXPECT_EQ(server.samples("greentune_progress_ratio").at(group + "0\",run=\"base\""), 0.25);
}

TEST(Pushgateway, APushgatewayThatIsNotThereIsSaidOnceAndTheRunGoesOn) {
  const int port = testing::free_tcp_port();  // nothing listens there
  Pushgateway absent("http://127.0.0.1:" + std::to_string(port), {.instance = "h", .run = "r"});
  ::testing::internal::CaptureStderr();
  absent.push(training_sample());
  absent.push_final(training_sample());
  const std::string said = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(said,
              HasSubstr("--prometheus-pushgateway: cannot push to http://127.0.0.1:" + std::to_string(port)));
  EXPECT_THAT(said, HasSubstr("the run goes on"));
  EXPECT_EQ(said.find("cannot push"), said.rfind("cannot push")) << said;  // once
}

}  // namespace
}  // namespace greentune::energy
