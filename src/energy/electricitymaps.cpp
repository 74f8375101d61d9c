#include "greentune/energy/electricitymaps.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <ctime>
#include <nlohmann/json.hpp>

#include "greentune/core/error.hpp"
#include "greentune/core/files.hpp"
#include "greentune/core/http.hpp"
#include "greentune/core/json.hpp"
#include "greentune/core/log.hpp"
#include "greentune/core/strings.hpp"

namespace greentune::energy {

namespace {

// The dirtiest grids are near 1,000 gCO2e/kWh (coal alone about 1,000): a larger figure is a broken answer.
constexpr double kMostPlausibleGco2PerKwh = 2000.0;
constexpr size_t kProblemExcerptBytes = 200;  // of an error body quoted in a problem

std::string utc_text(std::chrono::system_clock::time_point time) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

int64_t unix_seconds(std::chrono::system_clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::seconds>(time.time_since_epoch()).count();
}

std::string alpha2_of(const std::string& alpha3, const std::filesystem::path& iso_3166_json) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(iso_3166_json, ec)) {
    throw Error(
        ErrorCode::not_found, iso_3166_json.string(),
        fmt::format("greentune needs the ISO 3166 codes to find the Electricity Maps zone of --country {}",
                    alpha3),
        "install them (apt-get install iso-codes) or give the zone with --carbon-zone, e.g. "
        "--carbon-zone FR");
  }
  const UntrustedJson codes = parse_untrusted_json(read_file(iso_3166_json));
  const auto countries = codes.value.is_object() ? codes.value.find("3166-1") : codes.value.end();
  if (codes.problem.empty() && countries != codes.value.end() && countries->is_array()) {
    for (const nlohmann::json& country : *countries) {
      if (country.is_object() && country.value("alpha_3", "") == alpha3 && country.contains("alpha_2") &&
          country["alpha_2"].is_string())
        return country["alpha_2"].get<std::string>();
    }
  }
  throw Error(
      ErrorCode::invalid_data, iso_3166_json.string(),
      fmt::format("has no alpha-2 code for {}{}", alpha3, codes.problem.empty() ? "" : ": " + codes.problem),
      "give the Electricity Maps zone with --carbon-zone");
}

// A JSON string member of an answer, or "" when it is absent or not a string.
std::string text_member(const nlohmann::json& object, const char* key) {
  const auto found = object.find(key);
  return found != object.end() && found->is_string() ? found->get<std::string>() : "";
}

std::string excerpt(std::string_view text) {
  const std::string_view trimmed = trim(text);
  return std::string(trimmed.substr(0, kProblemExcerptBytes)) +
         (trimmed.size() > kProblemExcerptBytes ? "..." : "");
}

}  // namespace

std::string checked_zone(std::string_view zone) {
  const bool well_formed =
      !zone.empty() && zone.size() <= 64 && std::all_of(zone.begin(), zone.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
      });
  if (!well_formed) {
    throw Error(ErrorCode::usage, "--carbon-zone",
                fmt::format("\"{}\" is not an Electricity Maps zone", zone),
                "use a zone code such as FR, DE, US-CAL-CISO or SE-SE3 (letters, digits and '-')");
  }
  return std::string(zone);
}

std::string electricitymaps_zone(const CarbonIntensity& place, const std::filesystem::path& iso_3166_json) {
  switch (place.zone_kind) {
    case ZoneKind::country:
      return alpha2_of(place.zone, iso_3166_json);
    case ZoneKind::ca_province:
      return "CA-" + place.zone;  // CA-QC
    case ZoneKind::nordic_zone:
      return place.zone == "FI" ? place.zone : place.zone.substr(0, 2) + "-" + place.zone;  // SE-SE3
    case ZoneKind::us_state:
      throw Error(ErrorCode::usage, "--carbon-zone",
                  fmt::format("Electricity Maps has no zone for the US state {}: it divides the US by "
                              "balancing authority",
                              place.zone),
                  "pass the balancing authority's zone with --carbon-zone, e.g. --carbon-zone US-MIDA-PJM "
                  "(Virginia) or US-CAL-CISO (most of California)");
    case ZoneKind::cloud_region:
      throw Error(ErrorCode::usage, "--carbon-zone",
                  fmt::format("greentune does not know the Electricity Maps zone of {}", place.zone),
                  "pass the zone of the region's data centre with --carbon-zone, e.g. --carbon-zone "
                  "US-MIDA-PJM for aws:us-east-1");
    case ZoneKind::world:
      break;
  }
  throw Error(ErrorCode::usage, "--carbon-source electricitymaps", "needs a place to ask for",
              "pass --country ISO3 (and --region), or the Electricity Maps zone with --carbon-zone");
}

LatestAnswer parse_latest_answer(long status, std::string_view body) {
  const UntrustedJson parsed = parse_untrusted_json(body);
  const bool is_object = parsed.problem.empty() && parsed.value.is_object();
  if (status != 200) {
    // Errors come as {"message": ...} or {"error": ...}; anything else is quoted as it came.
    std::string message = is_object ? text_member(parsed.value, "message") : "";
    if (message.empty() && is_object)
      message = text_member(parsed.value, "error");
    return {std::nullopt, fmt::format("HTTP {}: {}", status, excerpt(message.empty() ? body : message))};
  }
  if (!is_object)
    return {std::nullopt, "the answer is not a JSON object: " + excerpt(body)};
  const auto figure = parsed.value.find("carbonIntensity");
  if (figure == parsed.value.end() || !figure->is_number()) {
    return {std::nullopt, "the answer has no carbonIntensity figure (the zone may have no live data)"};
  }
  const double gco2_per_kwh = figure->get<double>();
  if (!std::isfinite(gco2_per_kwh) || gco2_per_kwh < 0.0 || gco2_per_kwh > kMostPlausibleGco2PerKwh) {
    return {std::nullopt, fmt::format("carbonIntensity {} is not a plausible gCO2e/kWh", gco2_per_kwh)};
  }
  ZoneIntensity intensity;
  intensity.zone = text_member(parsed.value, "zone");
  intensity.gco2_per_kwh = gco2_per_kwh;
  intensity.datetime = text_member(parsed.value, "datetime");
  const auto estimated = parsed.value.find("isEstimated");
  intensity.is_estimated =
      estimated != parsed.value.end() && estimated->is_boolean() && estimated->get<bool>();
  intensity.emission_factor_type = text_member(parsed.value, "emissionFactorType");
  return {intensity, ""};
}

ElectricityMapsOptions electricitymaps_options_from_environment(std::string zone,
                                                                std::chrono::seconds sample_interval) {
  ElectricityMapsOptions options;
  options.zone = std::move(zone);
  options.sample_interval = sample_interval;
  options.token = env_or(kElectricityMapsTokenVariable, env_or(kCodeCarbonTokenVariable, ""));
  options.api_url = env_or(kElectricityMapsUrlVariable, kElectricityMapsUrl);
  while (!options.api_url.empty() && options.api_url.back() == '/')
    options.api_url.pop_back();
  const std::string xdg_cache = env_or("XDG_CACHE_HOME", "");
  const std::string home = env_or("HOME", "");
  if (!xdg_cache.empty())
    options.cache_dir = std::filesystem::path(xdg_cache) / "greentune" / "electricitymaps";
  else if (!home.empty())
    options.cache_dir = std::filesystem::path(home) / ".cache" / "greentune" / "electricitymaps";
  return options;
}

LatestAnswer fetch_latest(const ElectricityMapsOptions& options) {
  HttpRequest request;
  request.url = fmt::format("{}/carbon-intensity/latest?zone={}", options.api_url, options.zone);
  request.headers = {"auth-token: " + options.token};
  request.timeout_ms = options.timeout_ms;
  const HttpResponse response = http_request(request);
  if (!response.completed)
    return {std::nullopt, fmt::format("no answer from {}: {}", options.api_url, response.error)};
  return parse_latest_answer(response.status, response.body);
}

LiveCarbonIntensity::LiveCarbonIntensity(ElectricityMapsOptions options, double offline_gco2_per_kwh)
    : options_(std::move(options)), current_(offline_gco2_per_kwh) {
  sample_now();
  sampler_ = std::thread([this] { sample_until_stopped(); });
}

LiveCarbonIntensity::~LiveCarbonIntensity() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  stop_signal_.notify_all();
  sampler_.join();
}

std::optional<ZoneIntensity> LiveCarbonIntensity::read_cache() const {
  if (options_.cache_dir.empty())
    return std::nullopt;
  const std::filesystem::path file = options_.cache_dir / (options_.zone + ".json");
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec))
    return std::nullopt;
  try {
    const UntrustedJson cached = parse_untrusted_json(read_file(file));
    if (!cached.problem.empty() || !cached.value.is_object() || !cached.value.contains("fetched_unix_s") ||
        !cached.value["fetched_unix_s"].is_number_integer())
      return std::nullopt;  // a damaged cache is asked again, and rewritten
    const int64_t age_s =
        unix_seconds(std::chrono::system_clock::now()) - cached.value["fetched_unix_s"].get<int64_t>();
    if (age_s < 0 || age_s >= options_.sample_interval.count())
      return std::nullopt;
    return parse_latest_answer(200, cached.value.dump()).intensity;
  } catch (const Error&) {
    return std::nullopt;  // unreadable: asked again
  }
}

void LiveCarbonIntensity::write_cache(const ZoneIntensity& intensity) const {
  if (options_.cache_dir.empty())
    return;
  const nlohmann::json cached = {{"fetched_unix_s", unix_seconds(std::chrono::system_clock::now())},
                                 {"zone", intensity.zone},
                                 {"carbonIntensity", intensity.gco2_per_kwh},
                                 {"datetime", intensity.datetime},
                                 {"isEstimated", intensity.is_estimated},
                                 {"emissionFactorType", intensity.emission_factor_type}};
  try {
    create_directories(options_.cache_dir, "the cache is only a saving: the run goes on without it");
    write_file_atomically(options_.cache_dir / (options_.zone + ".json"), cached.dump() + "\n");
  } catch (const Error& error) {
    log::warn(fmt::format("Electricity Maps answer not cached: {}", error.what()));
  }
}

void LiveCarbonIntensity::sample_now() {
  const std::lock_guard sampling(sampling_mutex_);
  CarbonSample sample;
  sample.time_utc = utc_text(std::chrono::system_clock::now());
  std::optional<ZoneIntensity> figure = read_cache();
  if (figure) {
    sample.origin = "cache";
  } else {
    const LatestAnswer answer =
        options_.token.empty()
            ? LatestAnswer{std::nullopt, fmt::format("no token: set {} to your Electricity Maps API token",
                                                     kElectricityMapsTokenVariable)}
            : fetch_latest(options_);
    figure = answer.intensity;
    sample.problem = answer.problem;
    sample.origin = "electricitymaps";
    if (figure)
      write_cache(*figure);
  }
  if (figure) {
    answered_ = true;
    current_ = figure->gco2_per_kwh;
    sample.data_time = figure->datetime;
    sample.estimated = figure->is_estimated;
  } else {
    sample.origin = answered_ ? "previous sample" : "offline table";
    log::warn(fmt::format("Electricity Maps zone {}: {}; the {} figure, {:.0f} gCO2e/kWh, stands in",
                          options_.zone, sample.problem, sample.origin, current_.load()));
  }
  sample.gco2_per_kwh = current_;
  const std::lock_guard lock(mutex_);
  samples_.push_back(std::move(sample));
}

std::vector<CarbonSample> LiveCarbonIntensity::samples() const {
  const std::lock_guard lock(mutex_);
  return samples_;
}

void LiveCarbonIntensity::sample_until_stopped() {
  std::unique_lock lock(mutex_);
  while (!stop_signal_.wait_for(lock, options_.sample_interval, [this] { return stopping_; })) {
    lock.unlock();
    sample_now();
    lock.lock();
  }
}

CarbonIntensity live_carbon_intensity(const CarbonIntensity& offline, const LiveCarbonIntensity& live) {
  CarbonIntensity carbon = offline;
  carbon.live_zone = live.zone();
  carbon.samples = live.samples();
  carbon.offline_gco2_per_kwh = offline.gco2_per_kwh;
  carbon.gco2_per_kwh = live.current_gco2_per_kwh();  // until applied_to averages the samples
  carbon.year = 0;
  size_t unanswered = 0;
  const CarbonSample* first_problem = nullptr;
  for (const CarbonSample& sample : carbon.samples) {
    if (!sample.problem.empty()) {
      ++unanswered;
      first_problem = first_problem != nullptr ? first_problem : &sample;
    }
  }
  const size_t count = carbon.samples.size();
  if (unanswered == 0) {
    carbon.source = fmt::format("Electricity Maps, latest carbon intensity of zone {}", carbon.live_zone);
    carbon.reason = fmt::format("--carbon-source electricitymaps: zone {} ({}), {} sample{}",
                                carbon.live_zone, offline.reason, count, count == 1 ? "" : "s");
  } else if (unanswered == count) {
    carbon.source = offline.source;
    carbon.year = offline.year;
    carbon.reason = fmt::format(
        "--carbon-source electricitymaps: zone {} gave no figure ({}); the offline table's stood in: {}",
        carbon.live_zone, first_problem->problem, offline.reason);
  } else {
    carbon.source = fmt::format("Electricity Maps, latest carbon intensity of zone {}", carbon.live_zone);
    carbon.reason = fmt::format(
        "--carbon-source electricitymaps: zone {} ({}), {} of {} samples without a figure ({}): "
        "the offline figure or the previous sample stood in",
        carbon.live_zone, offline.reason, unanswered, count, first_problem->problem);
  }
  return carbon;
}

}  // namespace greentune::energy
