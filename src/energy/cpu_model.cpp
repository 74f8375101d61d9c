#include "greentune/energy/cpu_model.hpp"

#include <fmt/core.h>
#include <sys/utsname.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <set>
#include <sstream>
#include <utility>
#include <vector>

#include "greentune/core/error.hpp"
#include "greentune/core/files.hpp"
#include "greentune/core/parse.hpp"
#include "greentune/core/strings.hpp"

namespace greentune::energy {

namespace fs = std::filesystem;

namespace {

using enum TdpSource;

// TDP per package in W. Intel rows: ark.intel.com, "TDP" (up to 11th gen) or "Processor Base Power" (12th
// gen on, the figure Intel's TDP became); AMD rows: amd.com product specifications, "Default TDP". The
// comment gives cores and base clock to tell the SKU apart, and for cloud-only parts the public SKU used.
constexpr std::array kCpuTdpTable = {
    // Intel Xeon of GPU servers (ark.intel.com)
    CpuTdpRow{"Intel Xeon E5-2680 v4", 120, vendor_spec},      // 14 cores, 2.4 GHz
    CpuTdpRow{"Intel Xeon E5-2690 v4", 135, vendor_spec},      // 14 cores, 2.6 GHz (Azure NCv3)
    CpuTdpRow{"Intel Xeon E5-2697 v4", 145, vendor_spec},      // 18 cores, 2.3 GHz
    CpuTdpRow{"Intel Xeon E5-2698 v4", 135, vendor_spec},      // 20 cores, 2.2 GHz (NVIDIA DGX-1)
    CpuTdpRow{"Intel Xeon E5-2699 v4", 145, vendor_spec},      // 22 cores, 2.2 GHz
    CpuTdpRow{"Intel Xeon E5-2699 v3", 145, vendor_spec},      // 18 cores, 2.3 GHz
    CpuTdpRow{"Intel Xeon Gold 6148", 150, vendor_spec},       // 20 cores, 2.4 GHz
    CpuTdpRow{"Intel Xeon Gold 6248", 150, vendor_spec},       // 20 cores, 2.5 GHz
    CpuTdpRow{"Intel Xeon Gold 6338", 205, vendor_spec},       // 32 cores, 2.0 GHz
    CpuTdpRow{"Intel Xeon Platinum 8168", 205, vendor_spec},   // 24 cores, 2.7 GHz
    CpuTdpRow{"Intel Xeon Platinum 8260", 165, vendor_spec},   // 24 cores, 2.4 GHz
    CpuTdpRow{"Intel Xeon Platinum 8268", 205, vendor_spec},   // 24 cores, 2.9 GHz
    CpuTdpRow{"Intel Xeon Platinum 8280", 205, vendor_spec},   // 28 cores, 2.7 GHz
    CpuTdpRow{"Intel Xeon Platinum 8358", 250, vendor_spec},   // 32 cores, 2.6 GHz
    CpuTdpRow{"Intel Xeon Platinum 8380", 270, vendor_spec},   // 40 cores, 2.3 GHz
    CpuTdpRow{"Intel Xeon Platinum 8468", 350, vendor_spec},   // 48 cores, 2.1 GHz
    CpuTdpRow{"Intel Xeon Platinum 8480+", 350, vendor_spec},  // 56 cores, 2.0 GHz
    // AMD EPYC of GPU servers (amd.com)
    CpuTdpRow{"AMD EPYC 7302", 155, vendor_spec},  // 16 cores, 3.0 GHz
    CpuTdpRow{"AMD EPYC 7402", 180, vendor_spec},  // 24 cores, 2.8 GHz
    CpuTdpRow{"AMD EPYC 7413", 180, vendor_spec},  // 24 cores, 2.65 GHz
    CpuTdpRow{"AMD EPYC 7543", 225, vendor_spec},  // 32 cores, 2.8 GHz
    CpuTdpRow{"AMD EPYC 7642", 225, vendor_spec},  // 48 cores, 2.3 GHz
    CpuTdpRow{"AMD EPYC 7643", 225, vendor_spec},  // 48 cores, 2.3 GHz
    CpuTdpRow{"AMD EPYC 7742", 225, vendor_spec},  // 64 cores, 2.25 GHz (NVIDIA DGX A100)
    CpuTdpRow{"AMD EPYC 7763", 280, vendor_spec},  // 64 cores, 2.45 GHz
    CpuTdpRow{"AMD EPYC 7H12", 280, vendor_spec},  // 64 cores, 2.6 GHz
    CpuTdpRow{"AMD EPYC 9554", 360, vendor_spec},  // 64 cores, 3.1 GHz
    CpuTdpRow{"AMD EPYC 9654", 360, vendor_spec},  // 96 cores, 2.4 GHz
    // Cloud-only SKUs, absent from ARK and amd.com: the cloud's instance page gives the family, cores and
    // clock; the TDP is the public SKU's of that die and core count.
    CpuTdpRow{"Intel Xeon E5-2686 v4", 145, cloud_custom_sku},       // AWS p3: 18 cores 2.3 GHz = E5-2697 v4
    CpuTdpRow{"Intel Xeon Platinum 8259CL", 165, cloud_custom_sku},  // AWS g4dn: 24 cores 2.5 GHz ~ 8260
    CpuTdpRow{"Intel Xeon Platinum 8275CL", 205, cloud_custom_sku},  // AWS p4d: 24 cores 3.0 GHz ~ 8268
    CpuTdpRow{"Intel Xeon Platinum 8480C", 350, cloud_custom_sku},   // Azure ND H100 v5, DGX H100: = 8480+
    CpuTdpRow{"Intel Xeon Platinum 8481C", 350, cloud_custom_sku},   // GCP A3: 56 cores = 8480+
    CpuTdpRow{"AMD EPYC 7R13", 225, cloud_custom_sku},               // AWS p5, g6: 48-core Milan = 7643
    CpuTdpRow{"AMD EPYC 7R32", 225, cloud_custom_sku},               // AWS g5: 48-core Rome = 7642
    CpuTdpRow{"AMD EPYC 7V12", 225, cloud_custom_sku},               // Azure ND A100 v4: 64-core Rome = 7742
    CpuTdpRow{"AMD EPYC 7V13", 280, cloud_custom_sku},               // Azure NC A100 v4: 64-core Milan = 7763
    CpuTdpRow{"AMD EPYC 9V84", 360, cloud_custom_sku},               // Azure NC H100 v5: 96-core Genoa = 9654
    // Generic names of Google Cloud VMs (Colab, Kaggle, N1 with GPUs). cloud.google.com/compute/docs/
    // cpu-platforms gives each platform's base clock; the TDP is the ARK SKU of that generation and clock.
    CpuTdpRow{"Intel Xeon CPU @ 2.00GHz", 150, cloud_generic_name},  // Skylake: Platinum 8164, 2.0 GHz
    CpuTdpRow{"Intel Xeon CPU @ 2.20GHz", 145, cloud_generic_name},  // Broadwell: E5-2699 v4, 2.2 GHz
    CpuTdpRow{"Intel Xeon CPU @ 2.30GHz", 145, cloud_generic_name},  // Haswell: E5-2699 v3, 2.3 GHz
    // Intel Core of desktops and laptops (ark.intel.com)
    CpuTdpRow{"Intel Core i5-8250U", 15, vendor_spec},    // 4 cores, 1.6 GHz
    CpuTdpRow{"Intel Core i7-8550U", 15, vendor_spec},    // 4 cores, 1.8 GHz
    CpuTdpRow{"Intel Core i7-8700K", 95, vendor_spec},    // 6 cores, 3.7 GHz
    CpuTdpRow{"Intel Core i9-9900K", 95, vendor_spec},    // 8 cores, 3.6 GHz
    CpuTdpRow{"Intel Core i7-10750H", 45, vendor_spec},   // 6 cores, 2.6 GHz
    CpuTdpRow{"Intel Core i5-1135G7", 28, vendor_spec},   // 4 cores, 2.4 GHz at 28 W
    CpuTdpRow{"Intel Core i7-1165G7", 28, vendor_spec},   // 4 cores, 2.8 GHz at 28 W
    CpuTdpRow{"Intel Core i7-12700H", 45, vendor_spec},   // 6P + 8E cores
    CpuTdpRow{"Intel Core i7-12700K", 125, vendor_spec},  // 8P + 4E cores; 190 W is its maximum turbo power
    CpuTdpRow{"Intel Core i9-13900K", 125, vendor_spec},  // 8P + 16E cores
    // AMD Ryzen of desktops and laptops (amd.com)
    CpuTdpRow{"AMD Ryzen 5 3600", 65, vendor_spec},    // 6 cores, 3.6 GHz
    CpuTdpRow{"AMD Ryzen 7 3700X", 65, vendor_spec},   // 8 cores, 3.6 GHz
    CpuTdpRow{"AMD Ryzen 5 5600X", 65, vendor_spec},   // 6 cores, 3.7 GHz
    CpuTdpRow{"AMD Ryzen 7 5800X", 105, vendor_spec},  // 8 cores, 3.8 GHz
    CpuTdpRow{"AMD Ryzen 9 5900X", 105, vendor_spec},  // 12 cores, 3.7 GHz
    CpuTdpRow{"AMD Ryzen 9 5950X", 105, vendor_spec},  // 16 cores, 3.4 GHz
    CpuTdpRow{"AMD Ryzen 7 5800H", 45, vendor_spec},   // 8 cores, 3.2 GHz (laptop)
    CpuTdpRow{"AMD Ryzen 7 7700X", 105, vendor_spec},  // 8 cores, 4.5 GHz
    CpuTdpRow{"AMD Ryzen 9 7950X", 170, vendor_spec},  // 16 cores, 4.5 GHz
};

std::vector<std::string> words_of(std::string_view text) {
  std::vector<std::string> words;
  std::istringstream stream{std::string(text)};
  for (std::string word; stream >> word;) {
    words.push_back(std::move(word));
  }
  return words;
}

// Lower case, "(R)" and "(TM)" removed, single spaces: the form generic cloud names are compared in.
std::string lightly_normalize(std::string_view model_name) {
  std::string lower = ascii_lowercase(model_name);
  for (const std::string_view mark : {"(r)", "(tm)"}) {
    for (size_t at = lower.find(mark); at != std::string::npos; at = lower.find(mark, at)) {
      lower.erase(at, mark.size());
    }
  }
  return join(words_of(lower), " ");
}

bool all_digits(std::string_view text, std::string_view also_allowed = {}) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [&](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) || also_allowed.find(c) != std::string_view::npos;
  });
}

// Words that say nothing about which CPU it is: "cpu", "processor", "16-core", "@", "@2.20ghz", "2.20ghz".
bool is_filler_word(std::string_view word) {
  if (word == "cpu" || word == "processor" || word.starts_with('@')) {
    return true;
  }
  if (word.ends_with("-core")) {
    return all_digits(word.substr(0, word.size() - 5));
  }
  return word.ends_with("ghz") && all_digits(word.substr(0, word.size() - 3), ".");
}

// Whether needle occurs in haystack bounded by spaces or the ends on both sides.
bool contains_whole_words(std::string_view haystack, std::string_view needle) {
  for (size_t at = haystack.find(needle); at != std::string_view::npos; at = haystack.find(needle, at + 1)) {
    const size_t end = at + needle.size();
    if ((at == 0 || haystack[at - 1] == ' ') && (end == haystack.size() || haystack[end] == ' ')) {
      return true;
    }
  }
  return false;
}

// "key : value" lines of /proc/cpuinfo and /proc/meminfo; nullopt for lines without a colon.
std::optional<std::pair<std::string_view, std::string_view>> split_key_value(std::string_view line) {
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) {
    return std::nullopt;
  }
  return std::pair{trim(line.substr(0, colon)), trim(line.substr(colon + 1))};
}

std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const size_t newline = text.find('\n');
    lines.push_back(text.substr(0, newline));
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
  }
  return lines;
}

// The first of kNativeBf16Flags among a cpuinfo "flags" or "Features" value's space-separated words.
std::string native_bf16_flag_of(std::string_view flags) {
  std::set<std::string_view> words;
  for (size_t start = 0; start < flags.size();) {
    const size_t end = std::min(flags.find_first_of(" \t", start), flags.size());
    words.insert(flags.substr(start, end - start));
    start = end + 1;
  }
  for (const std::string_view flag : kNativeBf16Flags) {
    if (words.contains(flag))
      return std::string(flag);
  }
  return "";
}

double seconds_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

// The psutil.cpu_percent(interval=None) of /proc/stat: utilization since the previous call.
struct ProcStatUtilization {
  fs::path proc_root;
  CpuTimes previous;
  double previous_utilization = 0.0;  // what a call within the same tick repeats

  double operator()() {
    const CpuTimes now = read_cpu_times(proc_root);
    if (const std::optional<double> utilization = utilization_between(previous, now)) {
      previous = now;
      previous_utilization = *utilization;
    }
    return previous_utilization;
  }
};

}  // namespace

double cpu_model_power_w(double tdp_w, double utilization) {
  const double u = std::clamp(utilization, 0.0, 1.0);
  return tdp_w * (0.1 + 0.9 * u * u * u);
}

std::span<const CpuTdpRow> cpu_tdp_table() {
  return kCpuTdpTable;
}

std::string normalize_cpu_name(std::string_view model_name) {
  std::vector<std::string> words = words_of(lightly_normalize(model_name));
  std::erase_if(words, [](const std::string& word) { return is_filler_word(word); });
  return join(words, " ");
}

const CpuTdpRow* find_cpu_tdp(std::string_view model_name) {
  const std::string light = lightly_normalize(model_name);
  for (const CpuTdpRow& row : kCpuTdpTable) {
    if (lightly_normalize(row.name) == light) {
      return &row;
    }
  }
  // Generic names stay out of this: "intel xeon cpu @ 2.20ghz" normalizes to "intel xeon", in every Xeon.
  // An exact match is the longest possible containment, so it wins here too.
  const std::string normalized = normalize_cpu_name(model_name);
  const CpuTdpRow* best = nullptr;
  size_t best_length = 0;
  for (const CpuTdpRow& row : kCpuTdpTable) {
    if (row.source == cloud_generic_name) {
      continue;
    }
    const std::string key = normalize_cpu_name(row.name);
    if (key.size() > best_length && contains_whole_words(normalized, key)) {
      best = &row;
      best_length = key.size();
    }
  }
  return best;
}

fs::path proc_root() {
  return env_or(kProcRootVariable, "/proc");
}

CpuInfo read_cpu_info(const fs::path& proc_root) {
  const fs::path path = proc_root / "cpuinfo";
  const std::string text = read_file(path);
  CpuInfo info;
  std::set<std::string_view> physical_ids;
  for (const std::string_view line : lines_of(text)) {
    const auto key_value = split_key_value(line);
    if (!key_value) {
      continue;
    }
    const auto [key, value] = *key_value;
    if (key == "processor") {
      ++info.threads;
    } else if (key == "model name" && info.model_name.empty()) {
      info.model_name = value;
    } else if (key == "physical id") {
      physical_ids.insert(value);
    } else if ((key == "flags" || key == "Features") && info.threads <= 1) {
      info.native_bf16_flag = native_bf16_flag_of(value);
    }
  }
  if (info.threads == 0) {
    throw Error(ErrorCode::parse, path.string(), "lists no \"processor\" entry",
                "give the /proc of a Linux kernel (or a copy of its cpuinfo)");
  }
  info.packages = std::max<int>(1, static_cast<int>(physical_ids.size()));
  return info;
}

CpuTdp estimate_cpu_tdp(const CpuInfo& info) {
  const std::string model = info.model_name.empty() ? "unknown CPU" : info.model_name;
  if (const CpuTdpRow* row = find_cpu_tdp(info.model_name)) {
    const double tdp_w = row->tdp_w * info.packages;
    return {tdp_w, info.packages == 1
                       ? fmt::format("{} (TDP {:g} W)", model, row->tdp_w)
                       : fmt::format("{} ({} x TDP {:g} W)", model, info.packages, row->tdp_w)};
  }
  const double tdp_w = kUnknownCpuWattsPerThread * info.threads;
  return {tdp_w, fmt::format("{} (not in greentune's TDP table: {:g} W x {} threads = {:g} W)", model,
                             kUnknownCpuWattsPerThread, info.threads, tdp_w)};
}

CpuTimes read_cpu_times(const fs::path& proc_root) {
  const fs::path path = proc_root / "stat";
  const std::string text = read_file(path);
  for (const std::string_view line : lines_of(text)) {
    if (!line.starts_with("cpu ")) {
      continue;
    }
    // user nice system idle iowait irq softirq steal [guest guest_nice, already inside user and nice]
    constexpr size_t kSummedFields = 8, kIdle = 3, kIowait = 4;
    std::vector<uint64_t> ticks;
    for (const std::string& field : words_of(line.substr(4))) {
      const std::optional<uint64_t> value = parse_whole<uint64_t>(field);
      if (!value) {
        throw Error(ErrorCode::parse, path.string(),
                    fmt::format("\"cpu\" line holds '{}', not a tick count", field),
                    "give the /proc of a Linux kernel (or a copy of its stat)");
      }
      ticks.push_back(*value);
    }
    if (ticks.size() <= kIowait) {  // every kernel since 2.6 has at least user..iowait
      throw Error(ErrorCode::parse, path.string(),
                  fmt::format("\"cpu\" line has {} fields, expected at least 5", ticks.size()),
                  "give the /proc of a Linux kernel (or a copy of its stat)");
    }
    CpuTimes times;
    for (size_t field = 0; field < std::min(ticks.size(), kSummedFields); ++field) {
      times.total_ticks += ticks[field];
    }
    times.busy_ticks = times.total_ticks - ticks[kIdle] - ticks[kIowait];
    return times;
  }
  throw Error(ErrorCode::parse, path.string(), "has no aggregate \"cpu\" line",
              "give the /proc of a Linux kernel (or a copy of its stat)");
}

std::optional<double> utilization_between(const CpuTimes& before, const CpuTimes& after) {
  if (after.total_ticks <= before.total_ticks) {
    return std::nullopt;
  }
  const double busy =
      after.busy_ticks > before.busy_ticks ? double(after.busy_ticks - before.busy_ticks) : 0.0;
  return std::min(1.0, busy / double(after.total_ticks - before.total_ticks));
}

UtilizationSource proc_stat_utilization(const fs::path& proc_root) {
  return ProcStatUtilization{proc_root, read_cpu_times(proc_root)};
}

CpuModelCounter::CpuModelCounter(std::string label, double tdp_w, UtilizationSource utilization,
                                 Clock::time_point start)
    : label_(std::move(label)), tdp_w_(tdp_w), utilization_(std::move(utilization)), last_poll_(start) {}

double CpuModelCounter::poll_joules(Clock::time_point now) {
  if (now <= last_poll_) {  // no time to integrate; calling utilization_ would restart its interval
    return joules_;
  }
  joules_ += cpu_model_power_w(tdp_w_, utilization_()) * seconds_between(last_poll_, now);
  last_poll_ = now;
  return joules_;
}

std::unique_ptr<CpuModelCounter> make_cpu_model_counter(const fs::path& proc_root, Clock::time_point start) {
  CpuTdp tdp = estimate_cpu_tdp(read_cpu_info(proc_root));
  return std::make_unique<CpuModelCounter>(std::move(tdp.description), tdp.tdp_w,
                                           proc_stat_utilization(proc_root), start);
}

CpuArchitecture host_architecture() {
  utsname system{};
  ::uname(&system);  // fails only for a bad buffer; an empty machine then reads as x86, CodeCarbon's default
  const std::string_view machine = system.machine;
  return machine.starts_with("arm") || machine.starts_with("aarch") ? CpuArchitecture::arm
                                                                    : CpuArchitecture::x86;
}

int estimate_dimm_count(double total_gib) {
  if (total_gib <= 2) {
    return 1;
  }
  if (total_gib <= 16) {
    return 2;
  }
  if (total_gib <= 64) {
    return 4;
  }
  if (total_gib <= 128) {
    return 8;
  }
  // CodeCarbon tries DIMM sizes 128, 64, 32, 16, 8, 4 GiB, largest first, and takes the first that is at most
  // total / 8; above 128 GiB, total / 8 exceeds 16, so one of the four largest always fits.
  constexpr int kMaximumDimms = 32;
  double dimm_gib = 16;
  for (const double larger_gib : {32.0, 64.0, 128.0}) {
    if (larger_gib <= total_gib / 8) {
      dimm_gib = larger_gib;
    }
  }
  return std::min(kMaximumDimms, static_cast<int>(std::ceil(total_gib / dimm_gib)));
}

double ram_model_power_w(double total_gib, CpuArchitecture architecture) {
  // ram.py: RAM_SLOT_POWER_X86 = 5 W, ARM 1.5 W; at least two DIMMs' worth (10 W, 3 W).
  const double watts_per_dimm = architecture == CpuArchitecture::arm ? 1.5 : 5.0;
  const double minimum_w = 2 * watts_per_dimm;
  const int dimms = estimate_dimm_count(total_gib);
  double power_w = 0.0;
  for (int dimm = 1; dimm <= dimms; ++dimm) {  // each further DIMM adds less: shared controllers, idle banks
    const double factor = dimm <= 4 ? 1.0 : dimm <= 8 ? 0.9 : dimm <= 16 ? 0.8 : 0.7;
    power_w += watts_per_dimm * factor;
  }
  return std::max(minimum_w, power_w);
}

double read_total_ram_gib(const fs::path& proc_root) {
  const fs::path path = proc_root / "meminfo";
  const std::string text = read_file(path);
  for (const std::string_view line : lines_of(text)) {
    const auto key_value = split_key_value(line);
    if (!key_value || key_value->first != "MemTotal") {
      continue;
    }
    std::string_view value = key_value->second;  // "65842528 kB" (kB meaning KiB)
    if (value.ends_with("kB")) {
      value = trim(value.substr(0, value.size() - 2));
    }
    if (const std::optional<uint64_t> kibibytes = parse_whole<uint64_t>(value)) {
      return static_cast<double>(*kibibytes) / (1024.0 * 1024.0);
    }
    throw Error(ErrorCode::parse, path.string(),
                fmt::format("MemTotal is '{}', expected a number of kB", key_value->second),
                "give the /proc of a Linux kernel (or a copy of its meminfo)");
  }
  throw Error(ErrorCode::parse, path.string(), "has no MemTotal line",
              "give the /proc of a Linux kernel (or a copy of its meminfo)");
}

RamModelCounter::RamModelCounter(std::string label, double power_w, Clock::time_point start)
    : label_(std::move(label)), power_w_(power_w), start_(start) {}

double RamModelCounter::poll_joules(Clock::time_point now) {
  return power_w_ * std::max(0.0, seconds_between(start_, now));
}

std::unique_ptr<RamModelCounter> make_ram_model_counter(const fs::path& proc_root,
                                                        CpuArchitecture architecture,
                                                        Clock::time_point start) {
  const double total_gib = read_total_ram_gib(proc_root);
  const double power_w = ram_model_power_w(total_gib, architecture);
  return std::make_unique<RamModelCounter>(
      fmt::format("RAM {:.1f} GiB (~{} DIMMs, {:g} W)", total_gib, estimate_dimm_count(total_gib), power_w),
      power_w, start);
}

}  // namespace greentune::energy
