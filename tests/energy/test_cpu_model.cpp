// The CPU (TDP x utilization) and RAM (DIMM count) models, with fake /proc files; numbers are
// CodeCarbon 3.x's.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "greentune/core/error.hpp"
#include "greentune/energy/cpu_model.hpp"
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
using greentune::Error;
using greentune::ErrorCode;
using greentune::energy::Clock;
using greentune::energy::Component;
using greentune::energy::cpu_model_power_w;
using greentune::energy::cpu_tdp_table;
using greentune::energy::CpuArchitecture;
using greentune::energy::CpuInfo;
using greentune::energy::CpuModelCounter;
using greentune::energy::CpuTdp;
using greentune::energy::CpuTdpRow;
using greentune::energy::CpuTimes;
using greentune::energy::estimate_cpu_tdp;
using greentune::energy::estimate_dimm_count;
using greentune::energy::find_cpu_tdp;
using greentune::energy::make_cpu_model_counter;
using greentune::energy::make_ram_model_counter;
using greentune::energy::Method;
using greentune::energy::normalize_cpu_name;
using greentune::energy::proc_stat_utilization;
using greentune::energy::ram_model_power_w;
using greentune::energy::RamModelCounter;
using greentune::energy::read_cpu_info;
using greentune::energy::read_cpu_times;
using greentune::energy::read_total_ram_gib;
using greentune::energy::TdpSource;
using greentune::energy::utilization_between;
using greentune::energy::UtilizationSource;
using greentune::testing::TempDir;
using greentune::testing::write_text;
using ::testing::HasSubstr;

// /proc/stat with the given aggregate line and one per-CPU line that must be ignored.
void write_stat(const fs::path& proc_root, const std::string& cpu_fields) {
  write_text(proc_root / "stat",
             "cpu  " + cpu_fields + "\ncpu0 1 2 3 4 5 6 7 8 9 10\nintr 12345\nctxt 678\n");
}

// Two snapshots 800 ticks apart, 400 of them busy: utilization 0.5. The guest fields jump, but guest time
// is already counted in user, so they must not enter the total.
const std::string kStatBefore = "100 0 50 800 50 0 0 0 30 0";       // total 1000, idle + iowait 850
const std::string kStatAfter = "400 10 120 1100 150 10 5 5 200 0";  // total 1800, idle + iowait 1250

std::string cpuinfo_entry(int processor, const std::string& model_name, int physical_id) {
  return "processor\t: " + std::to_string(processor) +
         "\nvendor_id\t: GenuineIntel\nmodel name\t: " + model_name +
         "\nphysical id\t: " + std::to_string(physical_id) + "\ncpu MHz\t\t: 2200.000\n\n";
}

Clock::time_point at_seconds(double seconds) {
  return Clock::time_point{} +
         std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

TEST(CpuModel, PowerIsTdpTimesTenPercentPlusCubicUtilization) {
  EXPECT_DOUBLE_EQ(cpu_model_power_w(100, 0.0), 10.0);
  EXPECT_DOUBLE_EQ(cpu_model_power_w(100, 0.5), 21.25);  // 100 x (0.1 + 0.9 x 0.125)
  EXPECT_DOUBLE_EQ(cpu_model_power_w(100, 1.0), 100.0);
  EXPECT_DOUBLE_EQ(cpu_model_power_w(205, 0.2), 205 * (0.1 + 0.9 * 0.008));
  EXPECT_DOUBLE_EQ(cpu_model_power_w(100, 1.7), 100.0);  // clamped
  EXPECT_DOUBLE_EQ(cpu_model_power_w(100, -0.3), 10.0);
}

TEST(CpuModel, NormalizesModelNames) {
  EXPECT_EQ(normalize_cpu_name("AMD EPYC 7742 64-Core Processor"), "amd epyc 7742");
  EXPECT_EQ(normalize_cpu_name("Intel(R) Xeon(R) CPU E5-2686 v4 @ 2.30GHz"), "intel xeon e5-2686 v4");
  EXPECT_EQ(normalize_cpu_name("Intel(R) Core(TM) i7-8700K CPU @ 3.70GHz"), "intel core i7-8700k");
  EXPECT_EQ(normalize_cpu_name("13th Gen Intel(R) Core(TM) i9-13900K"), "13th gen intel core i9-13900k");
  EXPECT_EQ(normalize_cpu_name("  AMD   EPYC 7R13 Processor "), "amd epyc 7r13");
  EXPECT_EQ(normalize_cpu_name("Intel(R) Xeon(R) Platinum 8480+ @2.0GHz"), "intel xeon platinum 8480+");
}

TEST(CpuModel, FindsTdpExactlyThenByLongestWholeWordName) {
  struct Case {
    std::string model_name;
    double tdp_w;  // 0: not found
  };
  const std::vector<Case> cases = {
      {"AMD EPYC 7742 64-Core Processor", 225},
      {"Intel(R) Xeon(R) CPU E5-2686 v4 @ 2.30GHz", 145},
      {"Intel(R) Xeon(R) Platinum 8275CL CPU @ 3.00GHz", 205},
      {"Intel(R) Xeon(R) Platinum 8480+", 350},
      {"Intel(R) Xeon(R) Platinum 8480C", 350},
      {"13th Gen Intel(R) Core(TM) i9-13900K", 125},
      {"AMD Ryzen 7 5800H with Radeon Graphics", 45},
      {"AMD Ryzen 9 7950X 16-Core Processor", 170},
      {"Intel(R) Xeon(R) CPU @ 2.20GHz", 145},  // Colab: generic names match exactly, frequency included
      {"Intel(R) Xeon(R) CPU @ 2.00GHz", 150},
      {"Intel(R) Xeon(R) CPU @ 2.50GHz", 0},    // a generic name the table does not know
      {"AMD EPYC 7402P 24-Core Processor", 0},  // not the 7402: whole words only
      {"Intel(R) Xeon(R) Gold 6338N CPU @ 2.20GHz", 0},
      {"", 0},
  };
  for (const Case& c : cases) {
    const CpuTdpRow* row = find_cpu_tdp(c.model_name);
    if (c.tdp_w == 0) {
      EXPECT_EQ(row, nullptr) << c.model_name << " matched " << (row ? row->name : "");
    } else {
      ASSERT_NE(row, nullptr) << c.model_name;
      EXPECT_DOUBLE_EQ(row->tdp_w, c.tdp_w) << c.model_name << " matched " << row->name;
    }
  }
  EXPECT_EQ(find_cpu_tdp("Intel(R) Xeon(R) CPU @ 2.20GHz")->source, TdpSource::cloud_generic_name);
  EXPECT_EQ(find_cpu_tdp("AMD EPYC 7R13 Processor")->source, TdpSource::cloud_custom_sku);
}

TEST(CpuModel, EveryTableRowFindsItself) {
  const auto table = cpu_tdp_table();
  EXPECT_GE(table.size(), 30u);
  EXPECT_LE(table.size(), 60u);
  for (const CpuTdpRow& row : table) {
    EXPECT_EQ(find_cpu_tdp(row.name), &row) << row.name;
    EXPECT_GT(row.tdp_w, 0) << row.name;
    EXPECT_LE(row.tdp_w, 400) << row.name;
  }
}

TEST(CpuModel, VendorRowsAgreeWithCodeCarbonsTable) {
  GREENTUNE_REQUIRE_SHARED(shared);
  const fs::path csv = shared / "data/energy-reference/codecarbon/hardware/cpu_power.csv";
  if (!fs::exists(csv)) {
    GTEST_SKIP() << csv << " not found: CodeCarbon's CPU table is only compared when present";
  }
  // Name,TDP rows; names as vendors write them, like ours.
  std::map<std::string, double> codecarbon_tdp_w;
  std::ifstream in(csv);
  for (std::string line; std::getline(in, line);) {
    const size_t comma = line.rfind(',');
    if (comma != std::string::npos && comma + 1 < line.size() && line.substr(comma + 1) != "TDP") {
      codecarbon_tdp_w[normalize_cpu_name(line.substr(0, comma))] = std::stod(line.substr(comma + 1));
    }
  }
  // CodeCarbon gives the i7-12700K its 190 W maximum turbo power; Intel's base power, which CodeCarbon uses
  // for the i9-13900K and the rest of that generation, is 125 W.
  const std::set<std::string_view> known_disagreements = {"Intel Core i7-12700K"};
  int compared = 0;
  for (const CpuTdpRow& row : cpu_tdp_table()) {
    const auto found = codecarbon_tdp_w.find(normalize_cpu_name(row.name));
    if (row.source != TdpSource::vendor_spec || found == codecarbon_tdp_w.end()) {
      continue;  // cloud-only SKUs and generic names are estimates, which may differ
    }
    ++compared;
    if (known_disagreements.contains(row.name)) {
      EXPECT_NE(found->second, row.tdp_w) << row.name << ": CodeCarbon now agrees, drop the exception";
    } else {
      EXPECT_DOUBLE_EQ(found->second, row.tdp_w) << row.name;
    }
  }
  EXPECT_GE(compared, 40) << "CodeCarbon's table no longer names our CPUs as we do";
}

TEST(CpuModel, UnknownCpuGetsFourWattsPerThread) {
  const CpuTdp tdp = estimate_cpu_tdp({"Fancy Future CPU 9000", 16, 1});
  EXPECT_DOUBLE_EQ(tdp.tdp_w, 64.0);
  EXPECT_EQ(tdp.description, "Fancy Future CPU 9000 (not in greentune's TDP table: 4 W x 16 threads = 64 W)");
  EXPECT_DOUBLE_EQ(estimate_cpu_tdp({"", 2, 1}).tdp_w, 8.0);  // Colab-sized VM with no model name
  EXPECT_THAT(estimate_cpu_tdp({"", 2, 1}).description, HasSubstr("unknown CPU"));
}

TEST(CpuModel, KnownCpuTdpCountsEveryPackage) {
  const CpuTdp one = estimate_cpu_tdp({"Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz", 128, 1});
  EXPECT_DOUBLE_EQ(one.tdp_w, 205.0);
  EXPECT_EQ(one.description, "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz (TDP 205 W)");
  const CpuTdp two = estimate_cpu_tdp({"Intel(R) Xeon(R) Platinum 8480+", 224, 2});
  EXPECT_DOUBLE_EQ(two.tdp_w, 700.0);
  EXPECT_EQ(two.description, "Intel(R) Xeon(R) Platinum 8480+ (2 x TDP 350 W)");
}

// Native bf16 is a flag of the CPU's: x86 AVX-512 BF16 or AMX (Sapphire Rapids, Zen 4), Arm's BF16
// extension (Graviton 3, Neoverse V1). Flags with "bf16" inside another word say nothing.
TEST(CpuModel, NativeBf16IsReadFromTheFlags) {
  TempDir proc;
  const auto flag_of = [&](const std::string& cpuinfo) {
    write_text(proc / "cpuinfo", cpuinfo);
    return read_cpu_info(proc.path()).native_bf16_flag;
  };
  const std::string zen2 = "processor\t: 0\nflags\t\t: fpu sse2 avx2 fma\n\n";
  EXPECT_EQ(flag_of(zen2), "");
  EXPECT_EQ(flag_of("processor\t: 0\nflags\t\t: fpu avx512f avx512_bf16 avx512_vnni\n\n"), "avx512_bf16");
  EXPECT_EQ(flag_of("processor\t: 0\nflags\t\t: avx512_bf16 amx_tile amx_bf16 amx_int8\n\n"), "amx_bf16");
  EXPECT_EQ(flag_of("processor\t: 0\nFeatures\t: fp asimd sve i8mm bf16 rng\n\n"), "bf16");
  EXPECT_EQ(flag_of("processor\t: 0\nFeatures\t: fp asimd svebf16 i8mm\n\n"), "");
  // The first CPU's flags: a second one's do not add to them.
  EXPECT_EQ(flag_of(zen2 + "processor\t: 1\nflags\t\t: avx512_bf16\n\n"), "");
}

TEST(CpuModel, ReadsCpuInfo) {
  TempDir proc;
  const std::string model = "Intel(R) Xeon(R) Platinum 8480+";
  write_text(proc / "cpuinfo", cpuinfo_entry(0, model, 0) + cpuinfo_entry(1, model, 0) +
                                   cpuinfo_entry(2, model, 1) + cpuinfo_entry(3, model, 1));
  const CpuInfo info = read_cpu_info(proc.path());
  EXPECT_EQ(info.model_name, model);
  EXPECT_EQ(info.threads, 4);
  EXPECT_EQ(info.packages, 2);

  // ARM kernels list neither a model name nor physical ids.
  write_text(proc / "cpuinfo", "processor\t: 0\nBogoMIPS\t: 50.00\n\nprocessor\t: 1\nBogoMIPS\t: 50.00\n");
  const CpuInfo arm = read_cpu_info(proc.path());
  EXPECT_EQ(arm.model_name, "");
  EXPECT_EQ(arm.threads, 2);
  EXPECT_EQ(arm.packages, 1);

  write_text(proc / "cpuinfo", "nothing here\n");
  try {
    read_cpu_info(proc.path());
    FAIL() << "a cpuinfo without processors must not read as zero threads";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::parse);
    EXPECT_THAT(error.what(), HasSubstr((proc / "cpuinfo").string()));
  }
}

TEST(CpuModel, UtilizationFromTwoStatSnapshots) {
  TempDir proc;
  write_stat(proc.path(), kStatBefore);
  const CpuTimes before = read_cpu_times(proc.path());
  EXPECT_EQ(before.total_ticks, 1000u);
  EXPECT_EQ(before.busy_ticks, 150u);
  write_stat(proc.path(), kStatAfter);
  const CpuTimes after = read_cpu_times(proc.path());
  EXPECT_EQ(after.total_ticks, 1800u);
  EXPECT_EQ(after.busy_ticks, 550u);
  EXPECT_DOUBLE_EQ(utilization_between(before, after).value(), 0.5);
  EXPECT_FALSE(utilization_between(after, after).has_value());

  // Old kernels stop after iowait.
  write_stat(proc.path(), "30 0 10 50 10");
  EXPECT_EQ(read_cpu_times(proc.path()).busy_ticks, 40u);
}

TEST(CpuModel, ProcStatUtilizationMeasuresSinceThePreviousCall) {
  TempDir proc;
  write_stat(proc.path(), kStatBefore);
  UtilizationSource utilization = proc_stat_utilization(proc.path());
  write_stat(proc.path(), kStatAfter);
  EXPECT_DOUBLE_EQ(utilization(), 0.5);
  EXPECT_DOUBLE_EQ(utilization(), 0.5);                         // no tick since: repeats
  write_stat(proc.path(), "400 10 120 1300 150 10 5 5 200 0");  // 200 idle ticks
  EXPECT_DOUBLE_EQ(utilization(), 0.0);
  write_stat(proc.path(), "500 10 120 1300 150 10 5 5 200 0");  // 100 busy ticks
  EXPECT_DOUBLE_EQ(utilization(), 1.0);
}

TEST(CpuModel, MalformedStatIsAParseError) {
  TempDir proc;
  for (const std::string& stat :
       {std::string("intr 1\n"), std::string("cpu  1 2 x 4 5\n"), std::string("cpu  1 2 3\n")}) {
    write_text(proc / "stat", stat);
    try {
      read_cpu_times(proc.path());
      FAIL() << "accepted " << stat;
    } catch (const Error& error) {
      EXPECT_EQ(error.code(), ErrorCode::parse) << stat;
      EXPECT_THAT(error.what(), HasSubstr((proc / "stat").string()));
    }
  }
}

TEST(CpuModelCounter, IntegratesPowerAtEachIntervalsUtilization) {
  std::vector<double> utilizations = {0.0, 0.5, 1.0};
  size_t calls = 0;
  CpuModelCounter counter(
      "test CPU (TDP 100 W)", 100.0, [&] { return utilizations.at(calls++); }, at_seconds(10));
  EXPECT_EQ(counter.component(), Component::cpu);
  EXPECT_EQ(counter.method(), Method::tdp_utilization);
  EXPECT_EQ(counter.label(), "test CPU (TDP 100 W)");

  EXPECT_DOUBLE_EQ(counter.poll_joules(at_seconds(11)), 10.0);         // 10 W for 1 s
  EXPECT_DOUBLE_EQ(counter.poll_joules(at_seconds(13)), 10.0 + 42.5);  // 21.25 W for 2 s
  EXPECT_DOUBLE_EQ(counter.poll_joules(at_seconds(13)), 52.5);         // no time passed: no new interval
  EXPECT_EQ(calls, 2u);
  EXPECT_DOUBLE_EQ(counter.poll_joules(at_seconds(13.5)), 52.5 + 50.0);  // 100 W for 0.5 s
  EXPECT_EQ(calls, 3u);
}

TEST(CpuModelCounter, FactoryReadsTheMachine) {
  TempDir proc;
  write_text(proc / "cpuinfo", cpuinfo_entry(0, "Intel(R) Xeon(R) CPU @ 2.20GHz", 0) +
                                   cpuinfo_entry(1, "Intel(R) Xeon(R) CPU @ 2.20GHz", 0));
  write_stat(proc.path(), kStatBefore);
  const std::unique_ptr<CpuModelCounter> counter = make_cpu_model_counter(proc.path(), at_seconds(0));
  EXPECT_EQ(counter->label(), "Intel(R) Xeon(R) CPU @ 2.20GHz (TDP 145 W)");
  write_stat(proc.path(), kStatAfter);
  EXPECT_DOUBLE_EQ(counter->poll_joules(at_seconds(10)), 145 * 0.2125 * 10);  // u = 0.5 for 10 s
}

TEST(RamModel, DimmCountAndPowerMatchCodeCarbon) {
  struct Case {
    double total_gib;
    int dimms;
    double power_w;
  };
  // Expected values from CodeCarbon 3.x's RAM._estimate_dimm_count and RAM._calculate_ram_power on x86.
  const std::vector<Case> cases = {
      {1, 1, 10},    {4, 2, 10},     {15.5, 2, 10},   {16, 2, 10},     {31.3, 4, 20}, {64, 4, 20},
      {64.5, 8, 38}, {128, 8, 38},   {130, 9, 42},    {200, 13, 58},   {256, 8, 38},  {512, 8, 38},
      {1024, 8, 38}, {2015, 16, 70}, {4096, 32, 126}, {8192, 32, 126},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(estimate_dimm_count(c.total_gib), c.dimms) << c.total_gib << " GiB";
    EXPECT_DOUBLE_EQ(ram_model_power_w(c.total_gib, CpuArchitecture::x86), c.power_w)
        << c.total_gib << " GiB";
  }
  EXPECT_DOUBLE_EQ(ram_model_power_w(16, CpuArchitecture::arm), 3.0);    // 2 x 1.5 W
  EXPECT_DOUBLE_EQ(ram_model_power_w(128, CpuArchitecture::arm), 11.4);  // 4 x 1.5 + 4 x 1.35 W
}

TEST(RamModel, ReadsMemTotal) {
  TempDir proc;
  write_text(proc / "meminfo", "MemTotal:       65842528 kB\nMemFree:         1234 kB\n");
  EXPECT_NEAR(read_total_ram_gib(proc.path()), 62.792, 1e-3);
  write_text(proc / "meminfo", "MemFree:         1234 kB\n");
  try {
    read_total_ram_gib(proc.path());
    FAIL() << "a meminfo without MemTotal must not read as no RAM";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::parse);
    EXPECT_THAT(error.what(), HasSubstr("MemTotal"));
  }
}

TEST(RamModelCounter, ConstantPowerTimesTime) {
  RamModelCounter counter("RAM 64.0 GiB", 20.0, at_seconds(5));
  EXPECT_EQ(counter.component(), Component::ram);
  EXPECT_EQ(counter.method(), Method::dimm_model);
  EXPECT_DOUBLE_EQ(counter.poll_joules(at_seconds(5)), 0.0);
  EXPECT_DOUBLE_EQ(counter.poll_joules(at_seconds(95)), 1800.0);

  TempDir proc;
  write_text(proc / "meminfo", "MemTotal:       33554432 kB\n");  // 32 GiB: 4 DIMMs
  const std::unique_ptr<RamModelCounter> machine =
      make_ram_model_counter(proc.path(), CpuArchitecture::x86, at_seconds(0));
  EXPECT_EQ(machine->label(), "RAM 32.0 GiB (~4 DIMMs, 20 W)");
  EXPECT_DOUBLE_EQ(machine->poll_joules(at_seconds(2)), 40.0);
}

}  // namespace
