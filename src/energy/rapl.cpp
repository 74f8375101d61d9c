#include "greentune/energy/rapl.hpp"

#include <fcntl.h>
#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>
#include <set>
#include <string_view>
#include <tuple>
#include <utility>

#include "greentune/core/error.hpp"
#include "greentune/core/files.hpp"
#include "greentune/core/parse.hpp"
#include "greentune/core/strings.hpp"

namespace greentune::energy {

namespace fs = std::filesystem;

namespace {

constexpr double kJoulesPerMicrojoule = 1e-6;

// What reading a small sysfs file gave: its text, or the errno of the failed open or read.
struct SysfsRead {
  std::string text;
  int error = 0;
};

// POSIX read instead of read_file so that EACCES stays distinguishable from other failures: it is the
// one a user can fix with chmod. Sysfs attributes are a single short line, returned by one read.
SysfsRead read_sysfs(const fs::path& path) {
  const int descriptor = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (descriptor < 0) {
    return {{}, errno};
  }
  char buffer[256];
  const ssize_t size = ::read(descriptor, buffer, sizeof buffer);
  const int read_error = errno;
  ::close(descriptor);
  if (size < 0) {
    return {{}, read_error};
  }
  return {std::string(trim_end(std::string_view(buffer, static_cast<size_t>(size)))), 0};
}

// A µJ value from a zone file, or why it could not be had.
struct Microjoules {
  uint64_t value = 0;
  int error = 0;         // errno when the file could not be read
  bool garbled = false;  // read, but not an unsigned integer
  std::string text;      // what was read, for messages
};

Microjoules read_microjoules(const fs::path& path) {
  SysfsRead read = read_sysfs(path);
  if (read.error != 0) {
    return {0, read.error, false, {}};
  }
  const std::optional<uint64_t> value = parse_whole<uint64_t>(read.text);
  return {value.value_or(0), 0, !value, std::move(read.text)};
}

bool usable(const Microjoules& reading) {
  return reading.error == 0 && !reading.garbled;
}

std::string describe_failure(const Microjoules& reading) {
  if (reading.error != 0) {
    return fmt::format("cannot read: {}", std::strerror(reading.error));
  }
  return fmt::format("holds '{}', expected a whole number of microjoules", reading.text);
}

uint64_t read_energy_or_throw(const fs::path& energy_file) {
  const Microjoules reading = read_microjoules(energy_file);
  if (!usable(reading)) {
    throw Error(ErrorCode::io, energy_file.string(), describe_failure(reading),
                "check that the RAPL powercap zone still exists and is readable (sudo chmod a+r on it)");
  }
  return reading.value;
}

// "intel-rapl:0:2" -> control type "intel-rapl" and zone indices {0, 2}; nullopt for any other name.
struct ZoneName {
  std::string control_type;
  std::vector<int> indices;
};

std::optional<ZoneName> parse_zone_name(std::string_view directory_name) {
  const size_t colon = directory_name.find(':');
  if (colon == std::string_view::npos ||
      directory_name.substr(0, colon).find("rapl") == std::string_view::npos) {
    return std::nullopt;
  }
  ZoneName zone{std::string(directory_name.substr(0, colon)), {}};
  std::string_view rest = directory_name.substr(colon + 1);
  while (true) {
    int index = 0;
    const auto [end, error] = std::from_chars(rest.data(), rest.data() + rest.size(), index);
    if (error != std::errc() || end == rest.data()) {
      return std::nullopt;
    }
    zone.indices.push_back(index);
    rest.remove_prefix(static_cast<size_t>(end - rest.data()));
    if (rest.empty()) {
      return zone;
    }
    if (rest.front() != ':') {
      return std::nullopt;
    }
    rest.remove_prefix(1);
  }
}

bool is_control_type_name(std::string_view directory_name) {
  return directory_name.find(':') == std::string_view::npos &&
         directory_name.find("rapl") != std::string_view::npos;
}

struct FoundZone {
  ZoneName zone_name;
  fs::path directory;
};

// Zone directories below directory, descending into zones (nested layout) and control-type directories
// (/sys/devices/virtual/powercap/intel-rapl). Only those names are followed, so sysfs's `subsystem` and
// `device` links, which lead back up the tree, are never entered. A zone reached twice (flat link and
// nested directory) keeps its first path.
void collect_zone_directories(const fs::path& directory, int depth, std::vector<FoundZone>& found) {
  constexpr int kMaximumDepth = 4;  // root / control type / package zone / subzone
  if (depth > kMaximumDepth) {
    return;
  }
  std::error_code error;
  for (fs::directory_iterator it(directory, fs::directory_options::skip_permission_denied, error), end;
       !error && it != end; it.increment(error)) {
    if (!it->is_directory(error)) {
      continue;
    }
    const std::string directory_name = it->path().filename().string();
    if (std::optional<ZoneName> zone_name = parse_zone_name(directory_name)) {
      const bool already_found = std::any_of(found.begin(), found.end(), [&](const FoundZone& zone) {
        return zone.directory.filename() == directory_name;
      });
      if (!already_found) {
        found.push_back({std::move(*zone_name), it->path()});
      }
      collect_zone_directories(it->path(), depth + 1, found);
    } else if (is_control_type_name(directory_name)) {
      collect_zone_directories(it->path(), depth + 1, found);
    }
  }
}

enum class ZoneRole { cpu, dram, ignored };

// The kernel's RAPL driver names zones in lower case: "package-0", "package-0-die-1", "dram", "core",
// "uncore", "psys".
ZoneRole role_of(std::string_view zone_name) {
  if (zone_name.starts_with("package")) {
    return ZoneRole::cpu;
  }
  if (zone_name == "dram") {
    return ZoneRole::dram;
  }
  return ZoneRole::ignored;  // psys (the whole platform), core and uncore (parts of a package), others
}

std::string permission_fix(const fs::path& root) {
  return fmt::format(
      "let non-root users read the counters: sudo chmod a+r {}/*/energy_uj (until reboot), or for good the "
      "udev rule ACTION==\"add\", SUBSYSTEM==\"powercap\", RUN+=\"/bin/chmod a+r %S%p/energy_uj\" in "
      "/etc/udev/rules.d/99-rapl.rules; or run as root",
      root.string());
}

}  // namespace

fs::path powercap_root() {
  return env_or(kPowercapRootVariable, kDefaultPowercapRoot);
}

uint64_t rapl_delta_uj(uint64_t previous_uj, uint64_t now_uj, uint64_t max_energy_range_uj,
                       const fs::path& zone_file) {
  if (now_uj >= previous_uj) {
    return now_uj - previous_uj;
  }
  if (previous_uj > max_energy_range_uj) {
    throw Error(ErrorCode::io, zone_file.string(),
                fmt::format("energy went down from {} to {} µJ, but the counter's range ends at {} µJ, so "
                            "this is not a wrap",
                            previous_uj, now_uj, max_energy_range_uj),
                "check max_energy_range_uj beside it; a driver reload resets the counters, so restart the "
                "measurement");
  }
  // The kernel's true modulus is max_energy_range_uj plus one counter unit (15 to 61 µJ): an error of one
  // unit per wrap, about once a minute or less. Zeus uses the same convention.
  return now_uj + (max_energy_range_uj - previous_uj);
}

RaplCounter::RaplCounter(Component component, std::vector<RaplZone> zones)
    : component_(component), zones_(std::move(zones)) {
  states_.reserve(zones_.size());
  for (const RaplZone& zone : zones_) {
    states_.push_back({read_energy_or_throw(zone.directory / "energy_uj"), 0});
  }
}

std::string RaplCounter::label() const {
  std::string label = "RAPL";
  for (size_t i = 0; i < zones_.size(); ++i) {
    label += i == 0 ? " " : " + ";
    label += zones_[i].name;
    const auto same_name = std::count_if(zones_.begin(), zones_.end(),
                                         [&](const RaplZone& zone) { return zone.name == zones_[i].name; });
    if (same_name > 1) {  // every socket's DRAM zone is called "dram": tell them apart
      label += fmt::format(" ({})", zones_[i].directory.filename().string());
    }
  }
  return label;
}

double RaplCounter::poll_joules(Clock::time_point /*now*/) {
  uint64_t total_uj = 0;
  for (size_t i = 0; i < zones_.size(); ++i) {
    const fs::path energy_file = zones_[i].directory / "energy_uj";
    const uint64_t reading_uj = read_energy_or_throw(energy_file);
    ZoneState& state = states_[i];
    state.accumulated_uj +=
        rapl_delta_uj(state.last_reading_uj, reading_uj, zones_[i].max_energy_range_uj, energy_file);
    state.last_reading_uj = reading_uj;
    total_uj += state.accumulated_uj;
  }
  return static_cast<double>(total_uj) * kJoulesPerMicrojoule;
}

RaplDiscovery discover_rapl(const fs::path& root) {
  RaplDiscovery discovery;
  std::error_code error;
  if (!fs::is_directory(root, error)) {
    discovery.problem = fmt::format(
        "no RAPL energy counters: there is no directory {}, so CPU energy comes from the TDP x utilization "
        "model "
        "(fix: on bare-metal Linux load the driver with sudo modprobe intel_rapl_msr; in a container mount "
        "the host's /sys/class/powercap and point {} at it; VMs usually have no RAPL)",
        root.string(), kPowercapRootVariable);
    return discovery;
  }

  std::vector<FoundZone> found;
  collect_zone_directories(root, 0, found);
  std::sort(found.begin(), found.end(), [](const FoundZone& a, const FoundZone& b) {
    return std::tie(a.zone_name.control_type, a.zone_name.indices) <
           std::tie(b.zone_name.control_type, b.zone_name.indices);
  });

  struct ZonesOfOneRole {
    std::vector<RaplZone> zones;
    bool any_failed = false;  // a sum with a socket missing would silently undercount: use none
  };
  ZonesOfOneRole packages, drams;
  std::vector<std::string> failures;
  bool permission_denied = false;
  const auto note_failure = [&](const fs::path& file, int read_error, const std::string& description) {
    failures.push_back(fmt::format("{}: {}", file.string(), description));
    permission_denied = permission_denied || read_error == EACCES || read_error == EPERM;
  };

  std::set<std::pair<std::vector<int>, std::string>> seen;  // (indices, name): one zone, many control types
  for (const FoundZone& zone : found) {
    const SysfsRead name = read_sysfs(zone.directory / "name");
    if (name.error != 0) {
      note_failure(zone.directory / "name", name.error,
                   fmt::format("cannot read: {}", std::strerror(name.error)));
      continue;
    }
    const ZoneRole role = role_of(name.text);
    if (role == ZoneRole::ignored || !seen.emplace(zone.zone_name.indices, name.text).second) {
      continue;
    }
    ZonesOfOneRole& same_role = role == ZoneRole::cpu ? packages : drams;
    const Microjoules energy = read_microjoules(zone.directory / "energy_uj");
    const Microjoules range = read_microjoules(zone.directory / "max_energy_range_uj");
    if (!usable(energy)) {
      note_failure(zone.directory / "energy_uj", energy.error, describe_failure(energy));
    }
    if (!usable(range)) {
      note_failure(zone.directory / "max_energy_range_uj", range.error, describe_failure(range));
    }
    if (usable(energy) && usable(range)) {
      same_role.zones.push_back({zone.directory, name.text, range.value});
    } else {
      same_role.any_failed = true;
    }
  }

  // A zone that reads now but not a moment later (a driver unloading) leaves its counter out too.
  const auto make_counter = [&](Component component, ZonesOfOneRole& same_role) {
    std::unique_ptr<RaplCounter> counter;
    if (same_role.zones.empty() || same_role.any_failed) {
      return counter;
    }
    try {
      counter = std::make_unique<RaplCounter>(component, std::move(same_role.zones));
    } catch (const Error& reading_error) {
      failures.emplace_back(reading_error.what());
    }
    return counter;
  };
  discovery.cpu = make_counter(Component::cpu, packages);
  discovery.dram = make_counter(Component::dram, drams);

  if (!failures.empty()) {
    discovery.problem = fmt::format(
        "RAPL energy counters unusable ({}), so {} (fix: {})", join(failures, "; "),
        discovery.cpu ? "DRAM energy is not measured" : "CPU energy comes from the TDP x utilization model",
        permission_denied ? permission_fix(root)
                          : "check the powercap files named above; restart if a "
                            "driver was being reloaded");
  } else if (!discovery.cpu) {
    discovery.problem = fmt::format(
        "no RAPL package zone under {} (no *-rapl:N directory named package-N), so CPU energy comes from the "
        "TDP x utilization model (fix: on Intel or AMD bare metal load the driver with sudo modprobe "
        "intel_rapl_msr)",
        root.string());
  }
  return discovery;
}

}  // namespace greentune::energy
