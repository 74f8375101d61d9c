// RAPL through fake powercap trees: zone discovery and selection, wrap-around, permissions, the root
// override.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "greentune/core/error.hpp"
#include "greentune/energy/rapl.hpp"
#include "http_server.hpp"
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
using greentune::Error;
using greentune::ErrorCode;
using greentune::energy::Clock;
using greentune::energy::Component;
using greentune::energy::discover_rapl;
using greentune::energy::Method;
using greentune::energy::powercap_root;
using greentune::energy::rapl_delta_uj;
using greentune::energy::RaplDiscovery;
using greentune::testing::ScopedEnvironment;
using greentune::testing::TempDir;
using greentune::testing::write_text;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr uint64_t kTypicalRangeUj =
    262143328850;  // max_energy_range_uj of many Intel packages (2^32 x 61 µJ)

void write_zone(const fs::path& directory, const std::string& name, uint64_t energy_uj,
                uint64_t max_energy_range_uj = kTypicalRangeUj) {
  fs::create_directories(directory);
  write_text(directory / "name", name + "\n");
  write_text(directory / "energy_uj", std::to_string(energy_uj) + "\n");
  write_text(directory / "max_energy_range_uj", std::to_string(max_energy_range_uj) + "\n");
}

void set_energy(const fs::path& directory, uint64_t energy_uj) {
  write_text(directory / "energy_uj", std::to_string(energy_uj) + "\n");
}

// The flat layout of /sys/class/powercap on a two-socket Intel server, with every zone kind.
struct TwoSocketTree {
  TempDir root;
  fs::path package0 = root / "intel-rapl:0", core0 = root / "intel-rapl:0:0",
           uncore0 = root / "intel-rapl:0:1", dram0 = root / "intel-rapl:0:2",
           package1 = root / "intel-rapl:1", dram1 = root / "intel-rapl:1:0", psys = root / "intel-rapl:2";

  TwoSocketTree() {
    write_zone(package0, "package-0", 1'000'000);
    write_zone(core0, "core", 500'000);
    write_zone(uncore0, "uncore", 100'000);
    write_zone(dram0, "dram", 2'000'000);
    write_zone(package1, "package-1", 3'000'000);
    write_zone(dram1, "dram", 4'000'000);
    write_zone(psys, "psys", 9'000'000);
  }
};

TEST(RaplDiscovery, SumsPackagesAsCpuAndDramZonesAsDram) {
  TwoSocketTree tree;
  RaplDiscovery discovery = discover_rapl(tree.root.path());
  ASSERT_TRUE(discovery.cpu) << discovery.problem;
  ASSERT_TRUE(discovery.dram) << discovery.problem;
  EXPECT_EQ(discovery.problem, "");
  EXPECT_EQ(discovery.cpu->component(), Component::cpu);
  EXPECT_EQ(discovery.cpu->method(), Method::rapl);
  EXPECT_EQ(discovery.cpu->label(), "RAPL package-0 + package-1");
  EXPECT_EQ(discovery.dram->component(), Component::dram);
  EXPECT_EQ(discovery.dram->label(), "RAPL dram (intel-rapl:0:2) + dram (intel-rapl:1:0)");
  EXPECT_EQ(discovery.cpu->zones().at(0).max_energy_range_uj, kTypicalRangeUj);

  const Clock::time_point now = Clock::now();
  EXPECT_DOUBLE_EQ(discovery.cpu->poll_joules(now), 0.0);
  set_energy(tree.package0, 1'000'000 + 7'000'000);  // +7 J
  set_energy(tree.package1, 3'000'000 + 5'500'000);  // +5.5 J
  set_energy(tree.dram0, 2'000'000 + 1'250'000);     // +1.25 J
  set_energy(tree.dram1, 4'000'000 + 750'000);       // +0.75 J
  // Zones inside a package, or covering the platform, change too but must not be counted.
  set_energy(tree.core0, 500'000 + 6'000'000);
  set_energy(tree.uncore0, 100'000 + 900'000);
  set_energy(tree.psys, 9'000'000 + 20'000'000);
  EXPECT_DOUBLE_EQ(discovery.cpu->poll_joules(now), 12.5);
  EXPECT_DOUBLE_EQ(discovery.dram->poll_joules(now), 2.0);
}

TEST(RaplDiscovery, LeavesOutPsysCoreAndUncore) {
  TempDir root;
  write_zone(root / "intel-rapl:0", "package-0", 10);
  write_zone(root / "intel-rapl:0:0", "core", 10);
  write_zone(root / "intel-rapl:0:1", "uncore", 10);
  write_zone(root / "intel-rapl:1", "psys", 10);
  RaplDiscovery discovery = discover_rapl(root.path());
  ASSERT_TRUE(discovery.cpu) << discovery.problem;
  ASSERT_EQ(discovery.cpu->zones().size(), 1u);
  EXPECT_EQ(discovery.cpu->zones()[0].directory, root / "intel-rapl:0");
  EXPECT_FALSE(discovery.dram);

  // psys alone overlaps everything and says nothing about the CPU: no CPU counter, and why.
  TempDir psys_only;
  write_zone(psys_only / "intel-rapl:0", "psys", 10);
  const RaplDiscovery without_package = discover_rapl(psys_only.path());
  EXPECT_FALSE(without_package.cpu);
  EXPECT_THAT(without_package.problem, HasSubstr("no RAPL package zone under " + psys_only.path().string()));
}

TEST(RaplDiscovery, MissingDramZoneGivesCpuOnlyWithoutProblem) {
  TempDir root;
  write_zone(root / "intel-rapl:0", "package-0", 10);
  write_zone(root / "intel-rapl:0:0", "core", 10);
  const RaplDiscovery discovery = discover_rapl(root.path());
  EXPECT_TRUE(discovery.cpu);
  EXPECT_FALSE(discovery.dram);
  EXPECT_EQ(discovery.problem, "");
}

TEST(RaplDiscovery, NestedLayoutWithFlatLinksCountsEachZoneOnce) {
  // /sys/devices/virtual/powercap/intel-rapl/intel-rapl:0/intel-rapl:0:0, linked flat as in
  // /sys/class/powercap.
  TempDir root;
  const fs::path package = root / "intel-rapl" / "intel-rapl:0";
  const fs::path dram = package / "intel-rapl:0:0";
  write_zone(package, "package-0", 1'000'000);
  write_zone(dram, "dram", 1'000'000);
  fs::create_directory_symlink(package, root / "intel-rapl:0");
  fs::create_directory_symlink(dram, root / "intel-rapl:0:0");

  RaplDiscovery discovery = discover_rapl(root.path());
  ASSERT_TRUE(discovery.cpu) << discovery.problem;
  ASSERT_TRUE(discovery.dram) << discovery.problem;
  EXPECT_EQ(discovery.cpu->zones().size(), 1u);
  EXPECT_EQ(discovery.dram->zones().size(), 1u);
  set_energy(package, 3'000'000);
  set_energy(dram, 1'500'000);
  EXPECT_DOUBLE_EQ(discovery.cpu->poll_joules(Clock::now()), 2.0);
  EXPECT_DOUBLE_EQ(discovery.dram->poll_joules(Clock::now()), 0.5);
}

TEST(RaplDiscovery, OtherControlTypesWorkAndDuplicatesCountOnce) {
  // AMD and newer Intel kernels use other *-rapl control types; intel-rapl-mmio repeats package-0.
  TempDir root;
  write_zone(root / "intel-rapl:0", "package-0", 10);
  write_zone(root / "intel-rapl-mmio:0", "package-0", 10);
  write_zone(root / "amd-rapl:1", "package-1", 10);
  const RaplDiscovery discovery = discover_rapl(root.path());
  ASSERT_TRUE(discovery.cpu) << discovery.problem;
  ASSERT_EQ(discovery.cpu->zones().size(), 2u);
  EXPECT_EQ(discovery.cpu->zones()[0].directory, root / "amd-rapl:1");  // control types in name order
  EXPECT_EQ(discovery.cpu->zones()[1].directory, root / "intel-rapl:0");
  EXPECT_EQ(discovery.cpu->label(), "RAPL package-1 + package-0");
}

TEST(RaplDiscovery, MissingPowercapDirectoryIsAProblemNotAnError) {
  TempDir root;
  const RaplDiscovery discovery = discover_rapl(root / "no-such-powercap");
  EXPECT_FALSE(discovery.cpu);
  EXPECT_FALSE(discovery.dram);
  EXPECT_THAT(discovery.problem, HasSubstr("no RAPL energy counters"));
  EXPECT_THAT(discovery.problem, HasSubstr((root / "no-such-powercap").string()));
  EXPECT_THAT(discovery.problem, HasSubstr("TDP x utilization"));
}

TEST(RaplDiscovery, RootOnlyEnergyFileGivesNoCounterAndTheChmodFix) {
  if (::geteuid() == 0) {
    GTEST_SKIP() << "running as root, where mode 000 does not stop reads; the EISDIR test covers the "
                    "unreadable path";
  }
  TempDir root;
  write_zone(root / "intel-rapl:0", "package-0", 10);
  write_zone(root / "intel-rapl:0:0", "dram", 10);
  const fs::path energy_file = root / "intel-rapl:0" / "energy_uj";
  ASSERT_EQ(::chmod(energy_file.c_str(), 0), 0);

  const RaplDiscovery discovery = discover_rapl(root.path());
  EXPECT_FALSE(discovery.cpu);
  EXPECT_TRUE(discovery.dram);  // readable: measured on its own
  EXPECT_THAT(discovery.problem, HasSubstr(energy_file.string() + ": cannot read: Permission denied"));
  EXPECT_THAT(discovery.problem, HasSubstr("CPU energy comes from the TDP x utilization model"));
  EXPECT_THAT(discovery.problem, HasSubstr("sudo chmod a+r " + root.path().string() + "/*/energy_uj"));
  EXPECT_THAT(discovery.problem, HasSubstr("udev rule"));
}

TEST(RaplDiscovery, UnreadableEnergyFileDropsTheWholeSumAndNamesTheFile) {
  // A directory where energy_uj should be fails to read even for root (EISDIR).
  TempDir root;
  write_zone(root / "intel-rapl:0", "package-0", 10);
  write_zone(root / "intel-rapl:1", "package-1", 10);
  write_zone(root / "intel-rapl:1:0", "dram", 10);
  const fs::path energy_file = root / "intel-rapl:1:0" / "energy_uj";
  fs::remove(energy_file);
  fs::create_directory(energy_file);

  const RaplDiscovery discovery = discover_rapl(root.path());
  EXPECT_TRUE(discovery.cpu);
  EXPECT_FALSE(discovery.dram);
  EXPECT_THAT(discovery.problem, HasSubstr(energy_file.string() + ": cannot read: Is a directory"));
  EXPECT_THAT(discovery.problem, HasSubstr("DRAM energy is not measured"));
  EXPECT_THAT(discovery.problem, Not(HasSubstr("chmod")));

  // One package unreadable: summing the other alone would undercount the CPU, so there is no CPU counter.
  fs::remove(root / "intel-rapl:1" / "energy_uj");
  fs::create_directory(root / "intel-rapl:1" / "energy_uj");
  const RaplDiscovery one_package_unreadable = discover_rapl(root.path());
  EXPECT_FALSE(one_package_unreadable.cpu);
  EXPECT_THAT(one_package_unreadable.problem, HasSubstr("CPU energy comes from the TDP x utilization model"));
}

TEST(RaplDiscovery, GarbledCounterIsAProblem) {
  TempDir root;
  write_zone(root / "intel-rapl:0", "package-0", 10);
  write_text(root / "intel-rapl:0" / "max_energy_range_uj", "lots\n");
  const RaplDiscovery discovery = discover_rapl(root.path());
  EXPECT_FALSE(discovery.cpu);
  EXPECT_THAT(discovery.problem,
              HasSubstr("max_energy_range_uj: holds 'lots', expected a whole number of microjoules"));
}

TEST(RaplDiscovery, PowercapRootComesFromTheEnvironment) {
  TempDir root;
  write_zone(root / "intel-rapl:0", "package-0", 10);
  {
    const ScopedEnvironment unset("GREENTUNE_POWERCAP_ROOT", std::nullopt);
    EXPECT_EQ(powercap_root(), fs::path("/sys/class/powercap"));
  }
  const ScopedEnvironment override_root("GREENTUNE_POWERCAP_ROOT", root.path().string());
  EXPECT_EQ(powercap_root(), root.path());
  const RaplDiscovery discovery = discover_rapl();
  ASSERT_TRUE(discovery.cpu) << discovery.problem;
  EXPECT_EQ(discovery.cpu->zones()[0].directory, root / "intel-rapl:0");
}

TEST(RaplDelta, AddsTheRangeWhenTheCounterWrapped) {
  EXPECT_EQ(rapl_delta_uj(100, 250, 1000, "zone"), 150u);
  EXPECT_EQ(rapl_delta_uj(250, 250, 1000, "zone"), 0u);
  EXPECT_EQ(rapl_delta_uj(900, 40, 1000, "zone"), 140u);  // 40 + (1000 - 900)
  EXPECT_EQ(rapl_delta_uj(1000, 0, 1000, "zone"), 0u);
  try {
    rapl_delta_uj(1500, 40, 1000, "/sys/class/powercap/intel-rapl:0/energy_uj");
    FAIL() << "a drop from beyond the range is no wrap";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::io);
    EXPECT_THAT(error.what(), HasSubstr("/sys/class/powercap/intel-rapl:0/energy_uj"));
    EXPECT_THAT(error.what(), HasSubstr("from 1500 to 40"));
  }
}

TEST(RaplCounter, CountsOneWrap) {
  TempDir root;
  const fs::path package = root / "intel-rapl:0";
  write_zone(package, "package-0", 999'000, 1'000'000);
  RaplDiscovery discovery = discover_rapl(root.path());
  ASSERT_TRUE(discovery.cpu) << discovery.problem;
  set_energy(package, 500);
  EXPECT_DOUBLE_EQ(discovery.cpu->poll_joules(Clock::now()), 1500e-6);  // 500 + (1'000'000 - 999'000) µJ
  set_energy(package, 2500);
  EXPECT_DOUBLE_EQ(discovery.cpu->poll_joules(Clock::now()), 3500e-6);
}

TEST(RaplCounter, AccumulatesManyWrapsOverManyPolls) {
  // Two packages at different powers, each wrapping many times over 200 polls; the fake counter holds the
  // true energy modulo the range, and the sum must come back exact.
  TempDir root;
  const fs::path package0 = root / "intel-rapl:0", package1 = root / "intel-rapl:1";
  const uint64_t range0_uj = kTypicalRangeUj, range1_uj = 65'532'610'987;  // 2^32 x 15.3 µJ
  uint64_t true0_uj = 262'000'000'000, true1_uj = 17;
  write_zone(package0, "package-0", true0_uj % range0_uj, range0_uj);
  write_zone(package1, "package-1", true1_uj % range1_uj, range1_uj);
  RaplDiscovery discovery = discover_rapl(root.path());
  ASSERT_TRUE(discovery.cpu) << discovery.problem;

  const uint64_t start0_uj = true0_uj, start1_uj = true1_uj;
  int wraps0 = 0, wraps1 = 0;
  for (uint64_t poll = 0; poll < 200; ++poll) {
    const uint64_t step0_uj = 120'000'000'000 + poll * 1'000'003;  // < range0: at most one wrap per poll
    const uint64_t step1_uj = 40'000'000'000 + poll * 7;
    wraps0 += (true0_uj % range0_uj) + step0_uj >= range0_uj;
    wraps1 += (true1_uj % range1_uj) + step1_uj >= range1_uj;
    true0_uj += step0_uj;
    true1_uj += step1_uj;
    set_energy(package0, true0_uj % range0_uj);
    set_energy(package1, true1_uj % range1_uj);
    const double expected_j = static_cast<double>((true0_uj - start0_uj) + (true1_uj - start1_uj)) * 1e-6;
    ASSERT_DOUBLE_EQ(discovery.cpu->poll_joules(Clock::now()), expected_j) << "poll " << poll;
  }
  EXPECT_GT(wraps0, 50);
  EXPECT_GT(wraps1, 100);
  // By hand: package 0 adds 200 x 120 kJ + 1'000'003 µJ x (0 + 1 + ... + 199 = 19'900), package 1
  // 200 x 40 kJ + 7 µJ x 19'900.
  EXPECT_NEAR(discovery.cpu->poll_joules(Clock::now()), 24'019'900.0597 + 8'000'000.1393, 1e-3);
}

TEST(RaplCounter, PollThrowsIoErrorWhenTheZoneVanishes) {
  TempDir root;
  write_zone(root / "intel-rapl:0", "package-0", 10);
  RaplDiscovery discovery = discover_rapl(root.path());
  ASSERT_TRUE(discovery.cpu) << discovery.problem;
  fs::remove_all(root / "intel-rapl:0");
  try {
    discovery.cpu->poll_joules(Clock::now());
    FAIL() << "a vanished zone must not read as zero energy";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::io);
    EXPECT_THAT(error.what(), HasSubstr((root / "intel-rapl:0" / "energy_uj").string()));
  }
}

}  // namespace
