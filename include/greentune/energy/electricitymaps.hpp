#pragma once
// Live carbon intensity from Electricity Maps (the API CodeCarbon, Zeus and Carbontracker read): the
// latest gCO2eq/kWh of a grid zone, asked for when a run starts and every sample interval after it. Each
// answer is cached on disk, so that the runs of a study share one request per zone and interval. The Meter
// charges the energy of each of its sampling intervals at the value current then, so a run's intensity is
// the energy-weighted average of the samples. Where the API gives no figure (no token, no network, an
// error status, an answer without one) the offline table's figure stands in and the sample says why.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "greentune/energy/carbon.hpp"

namespace greentune::energy {

// The token, as Electricity Maps' portal gives it; CodeCarbon's variable is read when this one is unset.
inline constexpr const char* kElectricityMapsTokenVariable = "ELECTRICITYMAPS_API_TOKEN";
inline constexpr const char* kCodeCarbonTokenVariable = "CODECARBON_ELECTRICITYMAPS_API_TOKEN";
// The API's base URL, for a proxy or a test server.
inline constexpr const char* kElectricityMapsUrlVariable = "GREENTUNE_ELECTRICITYMAPS_URL";
inline constexpr std::string_view kElectricityMapsUrl = "https://api.electricitymaps.com/v3";
// ISO 3166-1 codes (Debian's and Ubuntu's iso-codes package): a country's alpha-3 code to its alpha-2 zone.
inline constexpr std::string_view kIso3166Json = "/usr/share/iso-codes/json/iso_3166-1.json";

// The Electricity Maps zone of a place resolve_carbon_intensity found: a country's alpha-2 code ("FR",
// from iso_3166_json), "CA-QC" for a Canadian province, "SE-SE3" / "NO-NO1" for a Nordic bidding zone,
// "FI". Error(usage) naming --carbon-zone for a place with no zone of its own (a US state: Electricity
// Maps divides the US by balancing authority; a cloud region; no place at all); Error(not_found) when
// iso_3166_json is missing.
std::string electricitymaps_zone(const CarbonIntensity& place,
                                 const std::filesystem::path& iso_3166_json = kIso3166Json);
// zone, checked as a zone code (letters, digits, '-' and '_'), since it goes into a URL and a file name;
// Error(usage) naming --carbon-zone otherwise.
std::string checked_zone(std::string_view zone);

// An answer of GET /carbon-intensity/latest.
struct ZoneIntensity {
  std::string zone;
  double gco2_per_kwh = 0.0;
  std::string datetime;  // the hour the figure describes (UTC, ISO 8601)
  bool is_estimated = false;
  std::string emission_factor_type;  // "lifecycle" or "direct"
};
struct LatestAnswer {
  std::optional<ZoneIntensity> intensity;
  std::string problem;  // why there is no intensity: "HTTP 401: <the API's message>", ...
};
// The answer of an exchange that completed with HTTP status and body (untrusted).
LatestAnswer parse_latest_answer(long status, std::string_view body);

struct ElectricityMapsOptions {
  std::string zone;
  std::string token;  // empty: no request is made (a cached answer may still serve)
  std::string api_url{kElectricityMapsUrl};
  std::filesystem::path cache_dir;  // empty: no cache
  std::chrono::seconds sample_interval{900};
  long timeout_ms = 10000;
};
// Token and URL from the environment (see the variables above), cache_dir
// $XDG_CACHE_HOME/greentune/electricitymaps (else ~/.cache/greentune/electricitymaps).
ElectricityMapsOptions electricitymaps_options_from_environment(std::string zone,
                                                                std::chrono::seconds sample_interval);

// One GET of the zone's latest intensity; never throws for network trouble (problem says it).
LatestAnswer fetch_latest(const ElectricityMapsOptions& options);

// The zone's intensity sampled now and every sample interval, on a thread of its own, until destroyed.
class LiveCarbonIntensity {
 public:
  // Takes the first sample before returning. offline_gco2_per_kwh stands in until an answer comes.
  LiveCarbonIntensity(ElectricityMapsOptions options, double offline_gco2_per_kwh);
  ~LiveCarbonIntensity();
  LiveCarbonIntensity(const LiveCarbonIntensity&) = delete;
  LiveCarbonIntensity& operator=(const LiveCarbonIntensity&) = delete;

  // The value energy drawn now is charged at (gCO2e/kWh); safe from any thread.
  double current_gco2_per_kwh() const { return current_.load(); }
  // Takes a sample now: a cached answer younger than the sample interval, else the API's.
  void sample_now();
  std::vector<CarbonSample> samples() const;
  const std::string& zone() const { return options_.zone; }

 private:
  std::optional<ZoneIntensity> read_cache() const;
  void write_cache(const ZoneIntensity& intensity) const;
  void sample_until_stopped();

  ElectricityMapsOptions options_;
  std::atomic<double> current_;
  std::mutex sampling_mutex_;  // one sample_now at a time
  bool answered_ = false;      // some sample had a figure (sampling_mutex_ held)
  mutable std::mutex mutex_;
  std::vector<CarbonSample> samples_;
  std::condition_variable stop_signal_;
  bool stopping_ = false;
  std::thread sampler_;  // last: started once the members it uses exist
};

// The intensity a live source has applied so far, from the offline one resolved for the same place:
// the samples, the zone, and a reason that says where the figures came from.
CarbonIntensity live_carbon_intensity(const CarbonIntensity& offline, const LiveCarbonIntensity& live);

}  // namespace greentune::energy
