#pragma once
// Carbon intensity of electricity (gCO2e/kWh) for a place, chosen offline from the table the project ships
// (data/carbon-intensity.csv, compiled into the library): countries, US states, Canadian provinces, Nordic
// bidding zones and cloud regions, each with its year and public source. Nothing is geolocated.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace greentune::energy {

// The table's kind column.
enum class ZoneKind { world, country, us_state, ca_province, nordic_zone, cloud_region };
std::string_view to_string(ZoneKind kind);  // as the table spells it: "country", "us-state", ...

// One row of data/carbon-intensity.csv.
struct CarbonZone {
  ZoneKind kind = ZoneKind::country;
  // "FRA" (ISO 3166 alpha-3), "VA" (US state), "QC" (Canadian province), "SE3" (Nordic bidding zone),
  // "gcp:us-central1" / "aws:us-east-1" / "azure:eastus" (provider:region), "WORLD".
  std::string zone;
  std::string name;          // "France", "Virginia", "Google Cloud us-central1 (Iowa)"
  std::string country_iso3;  // the country the zone lies in; empty for the world average
  double gco2_per_kwh = 0.0;
  int year = 0;  // the year the figure describes
  std::string source;
};

// Every row of the shipped table, in file order; parsed once on first use.
const std::vector<CarbonZone>& carbon_table();

// What the user said about the place and the grid (the CLI's flags). Every member has an initializer so
// that designated initializers ({.country = "FRA"}) leave the rest empty without GCC 12's
// -Wmissing-field-initializers warning.
struct CarbonOptions {
  std::optional<double> gco2_per_kwh{};  // --carbon-intensity: wins over every lookup
  std::string country{};                 // --country: ISO 3166 alpha-3, case-insensitive
  std::string region{};  // --region: US state, Canadian province (code or name) or Nordic zone (SE1..DK2)
  std::string cloud_provider{};  // --cloud-provider: gcp, aws or azure
  std::string cloud_region{};  // --cloud-region: "us-central1", or "gcp:us-central1" without --cloud-provider
};

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
};

// Precedence: --carbon-intensity > cloud region > region (within --country when given) > country > world
// average. The place is looked up even when the value is given, so that emissions.csv names it. Throws
// Error(usage) naming the flag for an unknown country, region, cloud provider or cloud region, and for a
// negative or non-finite --carbon-intensity.
CarbonIntensity resolve_carbon_intensity(const CarbonOptions& options);

}  // namespace greentune::energy
