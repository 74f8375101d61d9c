// GPU discovery and metering through NVML, against the fake libnvidia-ml in fake_nvml.c (two GPUs: 0 "Fake
// A100" with an energy counter, 1 "Fake T4 (Turing)" with power readings only).

#include <dlfcn.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "greentune/core/error.hpp"
#include "greentune/energy/nvml.hpp"
#include "http_server.hpp"  // ScopedEnvironment

namespace greentune::energy {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::ScopedEnvironment;
using namespace std::chrono_literals;

constexpr const char* kFakeA100Uuid = "GPU-8f3a1c2e-5b6d-4e7f-8091-a2b3c4d5e6f7";
constexpr const char* kFakeMigUuid = "MIG-5c3a0b1e-7d2f-5e4a-9b8c-1d2e3f4a5b6c";

GpuDiscoveryOptions fake_options(std::optional<std::string> cuda_visible_devices = std::nullopt) {
  GpuDiscoveryOptions options;
  options.nvml_library = GREENTUNE_FAKE_NVML_PATH;
  options.cuda_visible_devices = std::move(cuda_visible_devices);
  options.cuda_device_order = "PCI_BUS_ID";
  return options;
}

std::vector<unsigned> metered_indices(const GpuDiscovery& discovery) {
  std::vector<unsigned> indices;
  for (const GpuDevice& device : discovery.devices) {
    indices.push_back(device.nvml_index);
  }
  return indices;
}

std::vector<unsigned> visible(const std::string& cuda_visible_devices) {
  const GpuDiscovery discovery = discover_gpus(fake_options(cuda_visible_devices));
  EXPECT_EQ(discovery.counters.size(), discovery.devices.size());
  return metered_indices(discovery);
}

TEST(Nvml, MissingLibraryMeansNoGpusAndSaysWhy) {
  GpuDiscoveryOptions options = fake_options();
  options.nvml_library = "/nonexistent/libnvidia-ml.so.1";
  const GpuDiscovery discovery = discover_gpus(options);
  EXPECT_THAT(discovery.counters, IsEmpty());
  EXPECT_THAT(discovery.devices, IsEmpty());
  EXPECT_THAT(discovery.problem, HasSubstr("no NVIDIA driver library"));
  EXPECT_THAT(discovery.problem, HasSubstr("/nonexistent/libnvidia-ml.so.1"));
  EXPECT_THAT(discovery.problem, HasSubstr("GREENTUNE_NVML_LIB"));
}

TEST(Nvml, LibraryWithoutNvmlSaysWhatIsMissing) {
  GpuDiscoveryOptions options = fake_options();
  options.nvml_library = "libc.so.6";  // loads, but is no NVML
  const GpuDiscovery discovery = discover_gpus(options);
  EXPECT_THAT(discovery.counters, IsEmpty());
  EXPECT_THAT(discovery.problem, HasSubstr("lacks nvmlInit_v2"));
}

TEST(Nvml, InitFailureGivesNvmlsReason) {
  const ScopedEnvironment init_fails("FAKE_NVML_INIT_FAIL", "1");
  const GpuDiscovery discovery = discover_gpus(fake_options());
  EXPECT_THAT(discovery.counters, IsEmpty());
  EXPECT_THAT(discovery.problem, HasSubstr("nvmlInit_v2 returned Driver Not Loaded (9)"));
}

TEST(Nvml, LibraryComesFromGreentuneNvmlLib) {
  const ScopedEnvironment library("GREENTUNE_NVML_LIB", GREENTUNE_FAKE_NVML_PATH);
  const ScopedEnvironment visible_devices("CUDA_VISIBLE_DEVICES", std::nullopt);
  const GpuDiscovery discovery = discover_gpus();
  EXPECT_EQ(discovery.problem, "");
  EXPECT_THAT(metered_indices(discovery), ElementsAre(0u, 1u));
}

TEST(Nvml, EnvironmentGivesCudaVisibleDevicesEvenWhenEmpty) {
  const ScopedEnvironment visible_devices("CUDA_VISIBLE_DEVICES", "");
  const ScopedEnvironment order("CUDA_DEVICE_ORDER", "PCI_BUS_ID");
  const GpuDiscoveryOptions options = gpu_discovery_options_from_environment();
  EXPECT_EQ(options.cuda_visible_devices, std::optional<std::string>(""));
  EXPECT_EQ(options.cuda_device_order, std::optional<std::string>("PCI_BUS_ID"));
}

TEST(Nvml, DescribesEveryGpuAndPicksItsMethod) {
  const GpuDiscovery discovery = discover_gpus(fake_options());
  ASSERT_EQ(discovery.counters.size(), 2u);
  ASSERT_EQ(discovery.devices.size(), 2u);
  EXPECT_EQ(discovery.problem, "");
  EXPECT_THAT(discovery.notes, IsEmpty());

  EXPECT_EQ(discovery.devices[0].nvml_index, 0u);
  EXPECT_EQ(discovery.devices[0].name, "Fake A100");
  EXPECT_EQ(discovery.devices[0].uuid, kFakeA100Uuid);
  EXPECT_EQ(discovery.devices[0].method, Method::nvml_counter);
  EXPECT_FALSE(discovery.devices[0].mig_enabled);
  EXPECT_EQ(discovery.counters[0]->method(), Method::nvml_counter);
  EXPECT_EQ(discovery.counters[0]->component(), Component::gpu);
  EXPECT_EQ(discovery.counters[0]->label(), "GPU 0 (Fake A100)");

  EXPECT_EQ(discovery.devices[1].name, "Fake T4 (Turing)");
  EXPECT_EQ(discovery.devices[1].method, Method::nvml_power);
  EXPECT_EQ(discovery.counters[1]->method(), Method::nvml_power);
  EXPECT_EQ(discovery.counters[1]->label(), "GPU 1 (Fake T4 (Turing))");
}

TEST(Nvml, EnergyCounterGivesTheMillijouleDifference) {
  std::optional<ScopedEnvironment> energy;
  energy.emplace("FAKE_NVML_ENERGY_MJ_0", "1000000");
  GpuDiscovery discovery = discover_gpus(fake_options("0"));
  ASSERT_EQ(discovery.counters.size(), 1u);
  EnergyCounter& counter = *discovery.counters[0];
  const Clock::time_point now = Clock::now();
  EXPECT_DOUBLE_EQ(counter.poll_joules(now), 0.0);
  energy.reset();
  energy.emplace("FAKE_NVML_ENERGY_MJ_0", "1234567");
  EXPECT_DOUBLE_EQ(counter.poll_joules(now), 234.567);
  energy.reset();
  energy.emplace("FAKE_NVML_ENERGY_MJ_0", "999999");  // the driver was reloaded
  EXPECT_THROW(counter.poll_joules(now), Error);
}

TEST(Nvml, PowerIsIntegratedWithTheTrapezoidRule) {
  const Clock::time_point start = Clock::now();
  std::optional<ScopedEnvironment> power;
  power.emplace("FAKE_NVML_POWER_MW_1", "100000");  // 100 W at start
  GpuDiscoveryOptions options = fake_options("1");
  options.start = start;
  GpuDiscovery discovery = discover_gpus(options);
  ASSERT_EQ(discovery.counters.size(), 1u);
  EnergyCounter& counter = *discovery.counters[0];

  const auto poll_at = [&](std::chrono::milliseconds since_start, const char* power_mw) {
    power.reset();
    power.emplace("FAKE_NVML_POWER_MW_1", power_mw);
    return counter.poll_joules(start + since_start);
  };
  EXPECT_NEAR(poll_at(100ms, "200000"), 15.0, 1e-9);             // (100 + 200) / 2 W x 0.1 s
  EXPECT_NEAR(poll_at(250ms, "50000"), 15.0 + 18.75, 1e-9);      // (200 + 50) / 2 W x 0.15 s
  EXPECT_NEAR(poll_at(250ms, "50000"), 33.75, 1e-9);             // no time, no energy
  EXPECT_NEAR(poll_at(1250ms, "150500"), 33.75 + 100.25, 1e-9);  // (50 + 150.5) / 2 W x 1 s
}

TEST(Nvml, LostGpuThrowsIoNamingTheGpu) {
  GpuDiscovery discovery = discover_gpus(fake_options("1"));
  ASSERT_EQ(discovery.counters.size(), 1u);
  const ScopedEnvironment lost("FAKE_NVML_LOST", "1");
  try {
    discovery.counters[0]->poll_joules(Clock::now());
    FAIL() << "a lost GPU must throw";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::io);
    EXPECT_EQ(error.where(), "GPU 1 (Fake T4 (Turing))");
    EXPECT_THAT(error.what(), HasSubstr("nvmlDeviceGetPowerUsage failed: GPU is lost (15)"));
  }
}

TEST(Nvml, CountersKeepNvmlLoadedAndShutItDownAfterTheLast) {
  void* fake = dlopen(GREENTUNE_FAKE_NVML_PATH, RTLD_NOW);  // keeps the fake's state readable
  ASSERT_NE(fake, nullptr) << dlerror();
  const auto init_count = reinterpret_cast<int (*)()>(dlsym(fake, "fake_nvml_init_count"));
  ASSERT_NE(init_count, nullptr);
  EnergyCounters counters;
  {
    GpuDiscovery discovery = discover_gpus(fake_options());
    EXPECT_EQ(init_count(), 1);
    counters = std::move(discovery.counters);
  }
  EXPECT_EQ(init_count(), 1);
  const ScopedEnvironment energy("FAKE_NVML_ENERGY_MJ_0", "5002000");  // 2 J after the default 5000000
  EXPECT_DOUBLE_EQ(counters[0]->poll_joules(Clock::now()), 2.0);
  counters.clear();
  EXPECT_EQ(init_count(), 0);
  dlclose(fake);
}

TEST(Nvml, CudaVisibleDevicesUnsetShowsEveryGpu) {
  EXPECT_THAT(metered_indices(discover_gpus(fake_options(std::nullopt))), ElementsAre(0u, 1u));
}

TEST(Nvml, CudaVisibleDevicesIndicesInTheirOrder) {
  EXPECT_THAT(visible("1"), ElementsAre(1u));
  EXPECT_THAT(visible("1,0"), ElementsAre(1u, 0u));
  EXPECT_THAT(visible(" 0, 1"), ElementsAre(0u, 1u));  // like strtoul, leading blanks are skipped
  EXPECT_THAT(visible("1gpu2"), ElementsAre(1u));      // like strtoul, what follows the digits is ignored
}

TEST(Nvml, CudaVisibleDevicesUuidsAndUniquePrefixes) {
  EXPECT_THAT(visible(kFakeA100Uuid), ElementsAre(0u));
  EXPECT_THAT(visible("GPU-8f3b"), ElementsAre(1u));
  EXPECT_THAT(visible("GPU-8f3b,GPU-8f3a1c"), ElementsAre(1u, 0u));
  EXPECT_THAT(visible("0,GPU-8f3b"), ElementsAre(0u, 1u));
}

TEST(Nvml, CudaVisibleDevicesStopsAtTheFirstInvalidEntry) {
  const GpuDiscovery discovery = discover_gpus(fake_options("0,bogus,1"));
  EXPECT_THAT(metered_indices(discovery), ElementsAre(0u));
  EXPECT_EQ(discovery.problem, "");
  ASSERT_EQ(discovery.notes.size(), 1u);
  EXPECT_THAT(discovery.notes[0], HasSubstr("\"bogus\""));
  EXPECT_THAT(discovery.notes[0], HasSubstr("ignores it and every entry after it"));

  EXPECT_THAT(visible("1,2,0"), ElementsAre(1u));                // there is no GPU 2
  EXPECT_THAT(visible("0,-1,1"), ElementsAre(0u));               // CUDA's documented example, shortened
  EXPECT_THAT(visible("1,GPU-8f3,0"), ElementsAre(1u));          // a prefix of both UUIDs is ambiguous
  EXPECT_THAT(visible("GPU-8f3b,GPU-ffff,0"), ElementsAre(1u));  // no such UUID
}

TEST(Nvml, CudaVisibleDevicesThatHideEveryGpu) {
  for (const char* hiding : {"", "-1", "bogus", "GPU-8f3", "0,0", "0,GPU-8f3a"}) {
    const GpuDiscovery discovery = discover_gpus(fake_options(hiding));
    EXPECT_THAT(discovery.counters, IsEmpty()) << hiding;
    EXPECT_THAT(discovery.problem,
                HasSubstr(std::string("CUDA_VISIBLE_DEVICES=\"") + hiding + "\" shows CUDA no GPU"))
        << hiding;
  }
  EXPECT_THAT(discover_gpus(fake_options("0,0")).problem, HasSubstr("names GPU 0 twice"));
}

TEST(Nvml, IndexOrderWarningWhenCudaMayNumberGpusDifferently) {
  GpuDiscoveryOptions options = fake_options("1");
  options.cuda_device_order = std::nullopt;  // CUDA's default: fastest first, and the two models differ
  const GpuDiscovery by_index = discover_gpus(options);
  ASSERT_EQ(by_index.notes.size(), 1u);
  EXPECT_THAT(by_index.notes[0], HasSubstr("CUDA_DEVICE_ORDER=PCI_BUS_ID"));

  options.cuda_visible_devices = "GPU-8f3b";
  EXPECT_THAT(discover_gpus(options).notes, IsEmpty());  // a UUID names the same GPU in any order
}

TEST(Nvml, MigModeMetersTheWholeGpuAndSaysSo) {
  const ScopedEnvironment mig("FAKE_NVML_MIG", "1");
  const GpuDiscovery discovery = discover_gpus(fake_options());
  ASSERT_EQ(discovery.counters.size(), 2u);
  EXPECT_TRUE(discovery.devices[0].mig_enabled);
  EXPECT_EQ(discovery.counters[0]->label(),
            "GPU 0 (Fake A100), whole GPU: MIG instances are not metered separately");
  EXPECT_FALSE(discovery.devices[1].mig_enabled);  // Turing has no MIG: the query is not supported
  EXPECT_EQ(discovery.counters[1]->label(), "GPU 1 (Fake T4 (Turing))");
}

TEST(Nvml, CudaVisibleDevicesMigInstancesMeterTheirParentGpu) {
  const ScopedEnvironment mig("FAKE_NVML_MIG", "1");
  EXPECT_THAT(visible(kFakeMigUuid), ElementsAre(0u));
  EXPECT_THAT(visible(std::string("MIG-") + kFakeA100Uuid + "/1/0"), ElementsAre(0u));  // CUDA 11.0-11.3
  EXPECT_THAT(visible(std::string(kFakeMigUuid) + ",0"), ElementsAre(0u));  // the same GPU, metered once
  const GpuDiscovery unknown = discover_gpus(fake_options("MIG-00000000-0000-0000-0000-000000000000"));
  EXPECT_THAT(unknown.counters, IsEmpty());
  EXPECT_THAT(unknown.problem, HasSubstr("is no MIG instance's UUID"));
}

}  // namespace
}  // namespace greentune::energy
