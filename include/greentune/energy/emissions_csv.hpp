#pragma once
// emissions.csv as CodeCarbon 3.x writes it: the same 38 columns in the same order and the same value
// formats, so CodeCarbon's dashboard, pandas scripts and greentune runs can share one file.

#include <array>
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace greentune::energy {

inline constexpr std::array<std::string_view, 38> kEmissionsCsvColumns = {
    // clang-format off
    "timestamp", "project_name", "run_id", "experiment_id", "duration", "emissions", "emissions_rate",
    "cpu_power", "gpu_power", "ram_power", "cpu_energy", "gpu_energy", "ram_energy", "energy_consumed",
    "water_consumed", "country_name", "country_iso_code", "region", "cloud_provider", "cloud_region", "os",
    "python_version", "codecarbon_version", "cpu_count", "cpu_model", "gpu_count", "gpu_model", "longitude",
    "latitude", "ram_total_size", "tracking_mode", "cpu_utilization_percent", "gpu_utilization_percent",
    "ram_utilization_percent", "ram_used_gb", "on_cloud", "pue", "wue"
    // clang-format on
};

// One emissions.csv row. Unknown values stay empty (nullopt or ""), and their field is written empty.
// python_version and codecarbon_version have no field: greentune runs neither and always leaves them empty.
struct EmissionsRow {
  std::string timestamp;  // local time, CodeCarbon's "%Y-%m-%dT%H:%M:%S" (see codecarbon_timestamp)
  std::string project_name, run_id, experiment_id;
  std::optional<double> duration_s;
  std::optional<double> emissions_kg;                           // CO2e
  std::optional<double> emissions_rate_kg_per_s;                // emissions_kg / duration_s
  std::optional<double> cpu_power_w, gpu_power_w, ram_power_w;  // mean power over the window
  std::optional<double> cpu_energy_kwh, gpu_energy_kwh;
  std::optional<double> ram_energy_kwh;       // RAPL DRAM or the DIMM model, whichever measured memory
  std::optional<double> energy_consumed_kwh;  // every component, PUE applied
  std::optional<double> water_consumed_l;     // energy_consumed_kwh x WUE (L/kWh)
  std::string country_name, country_iso_code, region, cloud_provider, cloud_region;
  std::string os;
  std::optional<int> cpu_count;
  std::string cpu_model;
  std::optional<int> gpu_count;
  std::string gpu_model;                      // CodeCarbon's "1 x NVIDIA H100 80GB HBM3"
  std::optional<double> longitude, latitude;  // degrees; greentune never geolocates
  std::optional<double> ram_total_size_gb;
  std::string tracking_mode;  // "machine" or "process"
  std::optional<double> cpu_utilization_percent, gpu_utilization_percent, ram_utilization_percent;
  std::optional<double> ram_used_gb;
  bool on_cloud = false;  // written "Y" / "N"
  std::optional<double> pue;
  std::optional<double> wue_l_per_kwh;
};

// CodeCarbon's timestamp: local time to the second, ISO 8601 without a zone ("2025-03-07T14:02:09").
std::string codecarbon_timestamp(std::chrono::system_clock::time_point when);

// The row's 38 fields in kEmissionsCsvColumns order, unquoted: doubles in shortest round-trip form (as
// pandas writes them), empty for unknown, NaN or infinite values.
std::array<std::string, 38> emissions_csv_fields(const EmissionsRow& row);

// One CSV line (RFC 4180: fields with commas, quotes or line breaks are quoted), ending in "\n".
std::string emissions_csv_line(const EmissionsRow& row);

// Appends row to the emissions.csv at path, writing the header first when the file is new or empty. A file
// whose header is not kEmissionsCsvColumns (an older CodeCarbon's, say) is moved aside as CodeCarbon does
// ("emissions.csv.bak", else "emissions.csv_0.bak", ...), with a warning, and a new file is started. The
// file is replaced whole (temp file + rename): a crash never loses earlier rows or leaves half a row.
// Throws Error(io) naming the path when it cannot be read or written.
void append_emissions_row(const std::filesystem::path& path, const EmissionsRow& row);

}  // namespace greentune::energy
