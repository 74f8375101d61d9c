// AMD GPUs through AMD SMI, with a fake libamd_smi.so (tests/energy/fake_amdsmi.c: an MI300X whose energy
// accumulator runs at its 500 W, a W7900 with power readings only): the method each GPU gets, the joules
// against the watts the fake draws, ROCR_VISIBLE_DEVICES then HIP_VISIBLE_DEVICES, and an accumulator that
// reads implausibly falling back to the power readings.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "greentune/energy/amdsmi.hpp"
#include "greentune/energy/machine.hpp"
#include "http_server.hpp"  // ScopedEnvironment
#include "test_support.hpp"

namespace greentune::energy {
namespace {

using ::testing::HasSubstr;
using testing::ScopedEnvironment;

AmdGpuDiscoveryOptions fake_amd(std::optional<std::string> rocr = std::nullopt,
                                std::optional<std::string> hip = std::nullopt) {
  AmdGpuDiscoveryOptions options;
  options.amdsmi_library = GREENTUNE_FAKE_AMDSMI_PATH;
  options.rocr_visible_devices = std::move(rocr);
  options.hip_visible_devices = std::move(hip);
  return options;
}

std::vector<std::string> names_of(const GpuDiscovery& discovery) {
  std::vector<std::string> names;
  for (const GpuDevice& device : discovery.devices)
    names.push_back(device.name);
  return names;
}

TEST(AmdSmi, EachGpuGetsItsMethodAndItsJoulesFollowItsWatts) {
  const GpuDiscovery discovery = discover_amd_gpus(fake_amd());
  ASSERT_TRUE(discovery.problem.empty()) << discovery.problem;
  ASSERT_EQ(discovery.counters.size(), 2u);
  EXPECT_EQ(discovery.devices[0].name, "AMD Instinct MI300X");
  EXPECT_EQ(discovery.devices[0].uuid, "GPU-0a1b2c3d4e5f6071");
  EXPECT_EQ(discovery.devices[0].method, Method::amdsmi_counter);
  EXPECT_EQ(discovery.counters[0]->method(), Method::amdsmi_counter);
  EXPECT_EQ(discovery.devices[1].method, Method::amdsmi_power);
  EXPECT_EQ(discovery.counters[1]->label(), "AMD GPU 1 (AMD Radeon PRO W7900)");
  EXPECT_THAT(discovery.notes.at(0),
              HasSubstr("AMD GPU 1 (AMD Radeon PRO W7900): the energy counter is not usable"));

  const Clock::time_point start = Clock::now();
  discovery.counters[0]->poll_joules(start);
  const double counter_start_j = discovery.counters[0]->poll_joules(start);
  for (int poll = 1; poll <= 10; ++poll) {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    discovery.counters[1]->poll_joules(Clock::now());
  }
  const Clock::time_point end = Clock::now();
  const double seconds = std::chrono::duration<double>(end - start).count();
  const double counter_j = discovery.counters[0]->poll_joules(end) - counter_start_j;
  const double power_j = discovery.counters[1]->poll_joules(end);
  // 500 W on the accumulator (15.259 uJ a count, read around this window); 120 W integrated since discovery.
  EXPECT_NEAR(counter_j, 500.0 * seconds, 500.0 * 0.02 + 1e-3);
  EXPECT_GE(power_j, 120.0 * seconds);
  EXPECT_LE(power_j, 120.0 * (seconds + 1.0));
}

TEST(AmdSmi, RocrVisibleDevicesSelectsThenHipVisibleDevicesIndexesWhatItLeft) {
  EXPECT_EQ(names_of(discover_amd_gpus(fake_amd("1"))), std::vector<std::string>{"AMD Radeon PRO W7900"});
  EXPECT_EQ(names_of(discover_amd_gpus(fake_amd("1,0", "1"))),
            std::vector<std::string>{"AMD Instinct MI300X"});
  EXPECT_EQ(names_of(discover_amd_gpus(fake_amd("GPU-1f2e3d4c5b6a7988"))),
            std::vector<std::string>{"AMD Radeon PRO W7900"});
  EXPECT_EQ(names_of(discover_amd_gpus(fake_amd(std::nullopt, "0a1b2c3d4e5f6071"))),
            std::vector<std::string>{"AMD Instinct MI300X"});
  const GpuDiscovery none = discover_amd_gpus(fake_amd(""));
  EXPECT_TRUE(none.counters.empty());
  EXPECT_THAT(none.problem, HasSubstr("ROCR_VISIBLE_DEVICES / HIP_VISIBLE_DEVICES show no AMD GPU"));
  const GpuDiscovery typo = discover_amd_gpus(fake_amd("0,7"));
  EXPECT_EQ(typo.counters.size(), 1u);
  EXPECT_THAT(typo.notes.at(0), HasSubstr("ROCR_VISIBLE_DEVICES names GPU 7, which does not exist here"));
}

TEST(AmdSmi, AnAccumulatorThatRunsImplausiblyFastGivesWayToThePowerReadings) {
  const ScopedEnvironment too_fast("FAKE_AMDSMI_COUNTER_X_0", "100");  // 50 kW
  const GpuDiscovery discovery = discover_amd_gpus(fake_amd("0"));
  ASSERT_EQ(discovery.counters.size(), 1u);
  EXPECT_EQ(discovery.devices[0].method, Method::amdsmi_power);
  EXPECT_THAT(discovery.notes.at(0),
              HasSubstr("AMD GPU 0 (AMD Instinct MI300X): the energy counter is not usable"));
  EXPECT_THAT(discovery.notes.at(0), HasSubstr("while the GPU reports 500 W"));
}

TEST(AmdSmi, AMachineWithoutRocmIsQuietAndANamedLibraryThatFailsSaysWhy) {
  const GpuDiscovery absent = discover_amd_gpus(AmdGpuDiscoveryOptions{});  // no ROCm here
  EXPECT_TRUE(absent.counters.empty());
  EXPECT_TRUE(absent.problem.empty()) << absent.problem;
  AmdGpuDiscoveryOptions named;
  named.amdsmi_library = "/nonexistent/libamd_smi.so";
  EXPECT_THAT(discover_amd_gpus(named).problem, HasSubstr("set GREENTUNE_AMDSMI_LIB"));
  const ScopedEnvironment init_fails("FAKE_AMDSMI_INIT_FAIL", "1");
  EXPECT_THAT(discover_amd_gpus(fake_amd()).problem,
              HasSubstr("AMD SMI did not start: amdsmi_init returned 32"));
}

TEST(AmdSmi, TheLibraryAndTheSelectionsComeFromTheEnvironment) {
  const ScopedEnvironment library("GREENTUNE_AMDSMI_LIB", GREENTUNE_FAKE_AMDSMI_PATH);
  const ScopedEnvironment rocr("ROCR_VISIBLE_DEVICES", "1");
  const ScopedEnvironment hip("HIP_VISIBLE_DEVICES", std::nullopt);
  const AmdGpuDiscoveryOptions options = amd_gpu_discovery_options_from_environment();
  EXPECT_EQ(options.amdsmi_library, GREENTUNE_FAKE_AMDSMI_PATH);
  EXPECT_EQ(options.rocr_visible_devices, "1");
  EXPECT_FALSE(options.hip_visible_devices.has_value());
  // The machine's counters include the AMD GPU the environment shows.
  const MachineCounters machine = discover_machine_counters();
  const bool found = std::any_of(machine.machine.gpus.begin(), machine.machine.gpus.end(),
                                 [](const GpuDevice& gpu) { return gpu.name == "AMD Radeon PRO W7900"; });
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace greentune::energy
