#pragma once
// CPU and RAM energy where no counter measures them (VMs, containers, kernels that keep RAPL root-only):
// the models CodeCarbon 3.x uses, so that greentune's fallback numbers are comparable with CodeCarbon's.
//   CPU: TDP x (0.1 + 0.9 u^3), u the whole machine's CPU utilization, integrated over time.
//   RAM: a DIMM count estimated from the total RAM, 5 W for each of the first four DIMMs and less for more.
// The machine is read from /proc (cpuinfo, stat, meminfo); proc_root parameters let tests use fake files.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "greentune/energy/energy_counter.hpp"

namespace greentune::energy {

// Environment variable naming another /proc (tests' fake cpuinfo, stat and meminfo).
inline constexpr const char* kProcRootVariable = "GREENTUNE_PROC_ROOT";
// $GREENTUNE_PROC_ROOT when set and not empty, /proc otherwise: the default of every proc_root below.
std::filesystem::path proc_root();

// ---- CPU ----

// Watts at utilization u (clamped to [0, 1]): CodeCarbon 3.x, codecarbon/external/hardware.py,
// CPU._get_power_from_cpu_load in its default "machine" tracking mode: tdp x (0.1 + 0.9 u^3).
double cpu_model_power_w(double tdp_w, double utilization);

// TDP per hardware thread of a CPU the table does not know: CodeCarbon 3.x, codecarbon/core/cpu.py,
// DEFAULT_POWER_PER_CORE (used per logical CPU by TDP._main).
inline constexpr double kUnknownCpuWattsPerThread = 4.0;

// Where a row's TDP comes from.
enum class TdpSource {
  vendor_spec,         // the vendor's product page (Intel ARK, AMD product specifications)
  cloud_custom_sku,    // a cloud-only SKU the vendor does not publish: the public SKU of the same die/cores
  cloud_generic_name,  // a VM's generic "Intel Xeon CPU @ 2.20GHz": the platform the cloud documents
};

struct CpuTdpRow {
  std::string_view name;  // as the vendor writes it, without "(R)" and "(TM)"
  double tdp_w;           // one package (socket), W
  TdpSource source;
};

// greentune's TDP table: about 60 CPUs of cloud GPU machines, Colab/Kaggle VMs, desktops and laptops.
std::span<const CpuTdpRow> cpu_tdp_table();

// Lower case without "(R)", "(TM)", "CPU", "Processor", "16-Core", "@ 2.20GHz", single spaces:
// "AMD EPYC 7742 64-Core Processor" -> "amd epyc 7742".
std::string normalize_cpu_name(std::string_view model_name);

// The table row for a /proc/cpuinfo model name, nullptr when none fits. Generic cloud names match only
// exactly (their frequency is all that tells them apart); product names match when they occur as whole
// words in the normalized model name, the longest winning, so "13th Gen Intel(R) Core(TM) i9-13900K" finds
// "Intel Core i9-13900K" and "AMD EPYC 7402P" does not find "AMD EPYC 7402".
const CpuTdpRow* find_cpu_tdp(std::string_view model_name);

// What /proc/cpuinfo says about the CPUs.
struct CpuInfo {
  std::string model_name;  // the first "model name"; empty when there is none (many ARM kernels)
  int threads = 0;         // "processor" entries: online hardware threads
  int packages = 1;        // distinct "physical id" values (sockets); 1 when the kernel lists none
  // The flag by which the first CPU says it computes bf16 natively: x86's "avx512_bf16" or "amx_bf16"
  // ("flags"), Arm's "bf16" ("Features"); empty when it has none, and bf16 autocast is emulated.
  std::string native_bf16_flag;
};
// The cpuinfo flags, any one of which means native bf16 arithmetic, in the order they are looked for.
inline constexpr std::string_view kNativeBf16Flags[] = {"amx_bf16", "avx512_bf16", "bf16"};
// Throws Error(not_found / io) when cpuinfo cannot be read, Error(parse) when it lists no processor.
CpuInfo read_cpu_info(const std::filesystem::path& proc_root = energy::proc_root());

struct CpuTdp {
  double tdp_w = 0.0;       // the whole machine, W
  std::string description;  // for labels: "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz (TDP 205 W)"
};
// A known CPU: its row's TDP x packages, as CodeCarbon's ResourceTracker multiplies by the socket count.
// An unknown one: 4 W x threads. (CodeCarbon multiplies that by the socket count too, but threads already
// counts every socket's threads; the two agree on one-socket machines.)
CpuTdp estimate_cpu_tdp(const CpuInfo& info);

// The aggregate "cpu" line of /proc/stat, in USER_HZ ticks, as psutil (CodeCarbon's source) sums it.
struct CpuTimes {
  uint64_t busy_ticks = 0;   // total - idle - iowait
  uint64_t total_ticks = 0;  // user..steal; guest time is already inside user and nice
};
// Throws Error(not_found / io) when stat cannot be read, Error(parse) when its "cpu" line is malformed.
CpuTimes read_cpu_times(const std::filesystem::path& proc_root = energy::proc_root());

// Busy fraction of the CPU time between two snapshots, in [0, 1]; nullopt when no tick passed.
std::optional<double> utilization_between(const CpuTimes& before, const CpuTimes& after);

// Utilization in [0, 1] of the interval since the previous call (since creation for the first one).
using UtilizationSource = std::function<double()>;

// Reads /proc/stat now and at each call, like psutil.cpu_percent(interval=None). A call less than a tick
// after the previous one repeats the previous utilization and keeps measuring from the same snapshot.
UtilizationSource proc_stat_utilization(const std::filesystem::path& proc_root = energy::proc_root());

// Integrates cpu_model_power_w over time: each poll multiplies the power at the utilization of the
// interval since the previous poll by that interval's length (rectangle rule, as CodeCarbon does).
class CpuModelCounter : public EnergyCounter {
 public:
  // tdp_w covers the whole machine; utilization is called once per poll that moves time forward.
  CpuModelCounter(std::string label, double tdp_w, UtilizationSource utilization, Clock::time_point start);

  Component component() const override { return Component::cpu; }
  Method method() const override { return Method::tdp_utilization; }
  std::string label() const override { return label_; }
  double poll_joules(Clock::time_point now) override;

 private:
  std::string label_;
  double tdp_w_;
  UtilizationSource utilization_;
  Clock::time_point last_poll_;
  double joules_ = 0.0;
};

// This machine's CPU model counter: TDP from /proc/cpuinfo and the table, utilization from /proc/stat.
std::unique_ptr<CpuModelCounter> make_cpu_model_counter(
    const std::filesystem::path& proc_root = energy::proc_root(), Clock::time_point start = Clock::now());

// ---- RAM ----

enum class CpuArchitecture { x86, arm };
CpuArchitecture host_architecture();  // uname's machine: arm for "arm*" and "aarch*", x86 otherwise

// CodeCarbon 3.x, codecarbon/external/ram.py, RAM._estimate_dimm_count: 1 DIMM up to 2 GiB, 2 up to
// 16 GiB, 4 up to 64 GiB, 8 up to 128 GiB; above, total / (the largest of 16, 32, 64, 128 GiB that is at
// most total / 8) rounded up, at most 32.
int estimate_dimm_count(double total_gib);

// CodeCarbon 3.x, ram.py, RAM._calculate_ram_power: per DIMM 5 W on x86 (1.5 W on ARM) for the first 4,
// x0.9 for the 5th to 8th, x0.8 for the 9th to 16th, x0.7 beyond; at least 10 W on x86 (two DIMMs), 3 W on
// ARM.
double ram_model_power_w(double total_gib, CpuArchitecture architecture);

// MemTotal of /proc/meminfo in GiB (CodeCarbon divides psutil's bytes by 1024^3 and calls it GB).
// Throws Error(not_found / io) when meminfo cannot be read, Error(parse) without a MemTotal line.
double read_total_ram_gib(const std::filesystem::path& proc_root = energy::proc_root());

// Constant power x time.
class RamModelCounter : public EnergyCounter {
 public:
  RamModelCounter(std::string label, double power_w, Clock::time_point start);

  Component component() const override { return Component::ram; }
  Method method() const override { return Method::dimm_model; }
  std::string label() const override { return label_; }
  double poll_joules(Clock::time_point now) override;

 private:
  std::string label_;
  double power_w_;
  Clock::time_point start_;
};

// This machine's RAM model counter, from /proc/meminfo.
std::unique_ptr<RamModelCounter> make_ram_model_counter(
    const std::filesystem::path& proc_root = energy::proc_root(),
    CpuArchitecture architecture = host_architecture(), Clock::time_point start = Clock::now());

}  // namespace greentune::energy
