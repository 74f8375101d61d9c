#pragma once
// Carbon intensity of electricity (gCO2e/kWh) for a place, chosen offline from CodeCarbon's own data
// folder (codecarbon/data of a CodeCarbon install, or $GREENTUNE_CODECARBON_DATA): countries, US states,
// Canadian provinces, Nordic bidding zones and Google Cloud regions, each with its public source, so that
// greentune's emissions agree with CodeCarbon's for the same place. AWS and Azure regions, which publish no
// figure, take their grid zone's through greentune's own map (src/energy/cloud_region_grids.csv, compiled
// in). Nothing is geolocated.

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace greentune::energy {

// What a zone is.
enum class ZoneKind { world, country, us_state, ca_province, nordic_zone, cloud_region };
std::string_view to_string(
    ZoneKind kind);  // "country", "us-state", ... (as src/energy/cloud_region_grids.csv)

// One place and its grid's carbon intensity.
struct CarbonZone {
  ZoneKind kind = ZoneKind::country;
  // "FRA" (ISO 3166 alpha-3), "VA" (US state), "QC" (Canadian province), "SE3" (Nordic bidding zone),
  // "gcp:us-central1" / "aws:us-east-1" / "azure:eastus" (provider:region), "WORLD".
  std::string zone;
  std::string name;          // "France", "Virginia", "Google Cloud us-central1 (Council Bluffs)"
  std::string country_iso3;  // the country the zone lies in; empty for the world average
  double gco2_per_kwh = 0.0;
  int year = 0;  // the year the figure describes; 0 where the source does not say (Google Cloud regions)
  std::string source;
};

// The world average (IEA, power generation in 2018) that CodeCarbon also falls back to
// (carbon_intensity_per_source.json's world_average); greentune's figure when no place is named.
inline constexpr double kWorldAverageGco2PerKwh = 475.0;

// The places greentune can look up, and where their figures came from.
struct CarbonTable {
  std::vector<CarbonZone> zones;  // the world average first
  // CodeCarbon's data folder the zones were read from; empty when none was found, and then zones holds
  // only the world average and not_found says where greentune looked and how to point it at one.
  std::filesystem::path codecarbon_data;
  std::string not_found;
};

// CodeCarbon's data folder: $GREENTUNE_CODECARBON_DATA when set (Error(not_found) naming the variable
// when it holds no private_infra/global_energy_mix.json), else the first codecarbon/data of a Python
// install under $VIRTUAL_ENV, $CONDA_PREFIX, ~/.local, /usr/local and /usr that has one. nullopt when
// none has; searched then lists the folders tried.
std::optional<std::filesystem::path> find_codecarbon_data(
    std::vector<std::filesystem::path>* searched = nullptr);

// The zones of a CodeCarbon data folder: global_energy_mix.json (countries) is required; US states
// (2016/usa_emissions.json), Canadian provinces (2023/canada_energy_mix.json), Nordic zones
// (nordic_emissions.json) and Google Cloud regions (cloud/impact.csv) are read when present, as older
// CodeCarbon releases lack some. Throws Error(parse / invalid_data) naming the file and key of a damaged
// file.
CarbonTable load_carbon_table(const std::filesystem::path& codecarbon_data);

// The world average alone, for a process without a CodeCarbon data folder; not_found says why.
CarbonTable carbon_table_without_data(std::string not_found);

// The table for this process: find_codecarbon_data() loaded once, or the world average alone.
const CarbonTable& carbon_table();

// Where a run's carbon intensity comes from: CodeCarbon's offline figures, or Electricity Maps' live ones
// (energy/electricitymaps.hpp), with the offline figure standing in where the API cannot answer.
enum class IntensitySource { offline_table, electricitymaps };
std::string_view to_string(IntensitySource source);             // "table", "electricitymaps"
IntensitySource parse_intensity_source(std::string_view name);  // Error(usage) for another name

// What the user said about the place and the grid (the CLI's flags). Every member has an initializer so
// that designated initializers ({.country = "FRA"}) leave the rest empty without GCC 12's
// -Wmissing-field-initializers warning.
struct CarbonOptions {
  std::optional<double> gco2_per_kwh{};  // --carbon-intensity: wins over every lookup
  std::string country{};                 // --country: ISO 3166 alpha-3, case-insensitive
  std::string region{};  // --region: US state, Canadian province (code or name) or Nordic zone (SE1..SE4,
                         // NO1..NO5, FI)
  std::string cloud_provider{};  // --cloud-provider: gcp, aws or azure
  std::string cloud_region{};  // --cloud-region: "us-central1", or "gcp:us-central1" without --cloud-provider
  IntensitySource source = IntensitySource::offline_table;  // --carbon-source
  std::string live_zone{};  // --carbon-zone: the Electricity Maps zone; empty: the zone of the place named
  std::chrono::seconds live_sample_interval{900};  // --carbon-sample-s: between live samples
};

// One reading of a live carbon intensity: the value the energy drawn from then on is charged at.
struct CarbonSample {
  std::string time_utc;  // when it was taken, "2026-12-07T10:15:00Z"
  double gco2_per_kwh = 0.0;
  // "electricitymaps" (asked now), "cache" (an answer for the zone fetched within the sample interval),
  // "offline table" (no answer yet), "previous sample" (this one failed; the last answer still stands).
  std::string origin;
  std::string data_time;   // the hour the figure describes, as the API gave it; empty without an answer
  bool estimated = false;  // the API estimated the figure instead of measuring it
  std::string problem;     // why the API gave no figure; empty when it did
};
void to_json(nlohmann::json& json, const CarbonSample& sample);

struct CarbonIntensity {
  double gco2_per_kwh = 0.0;
  std::string zone, zone_name, source;
  int year = 0;  // 0 when the value was given with --carbon-intensity
  // Which rule chose the value: "--country FRA", "--carbon-intensity 120 given",
  // "no country given: world average (pass --country ISO3)".
  std::string reason;
  // For emissions.csv: empty when unknown. region is CodeCarbon's spelling: the lower-case US state or
  // Canadian province name ("virginia"), or the Nordic zone code.
  std::string country_iso3, country_name, region, cloud_provider, cloud_region;
  ZoneKind zone_kind = ZoneKind::world;
  // A live intensity (--carbon-source electricitymaps): the Electricity Maps zone, every sample so far and,
  // when some samples had no answer, why. gco2_per_kwh is then the energy-weighted average of the samples
  // over the energy measured (see applied_to), and offline_gco2_per_kwh the table's figure that stood in.
  std::string live_zone;  // empty: an offline figure
  std::vector<CarbonSample> samples;
  double offline_gco2_per_kwh = 0.0;
};
// energy.json's "carbon": the figure, zone, source, year and reason, and for a live intensity its zone,
// samples and offline figure.
void to_json(nlohmann::json& json, const CarbonIntensity& intensity);

// carbon as it was applied to energy that emitted co2_kg over kwh: a live intensity's gco2_per_kwh becomes
// the energy-weighted average of its samples, co2_kg * 1000 / kwh (unchanged when kwh is 0); an offline
// one is returned as it is.
CarbonIntensity applied_to(CarbonIntensity carbon, double co2_kg, double kwh);

// Precedence: --carbon-intensity > cloud region > region (within --country when given) > country > world
// average. The place is looked up even when the value is given, so that emissions.csv names it. Throws
// Error(usage) naming the flag for an unknown country, region, cloud provider or cloud region, and for a
// negative or non-finite --carbon-intensity; Error(not_found) naming the flag when a place is named, no
// value is given and the table has no CodeCarbon data folder (the fix says how to give it one).
CarbonIntensity resolve_carbon_intensity(const CarbonOptions& options, const CarbonTable& table);
// With carbon_table().
CarbonIntensity resolve_carbon_intensity(const CarbonOptions& options);

}  // namespace greentune::energy
