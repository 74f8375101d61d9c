// Live carbon intensity from Electricity Maps, against a local HTTP server that answers as the API's
// documentation shows (GET /v3/carbon-intensity/latest?zone=ZONE with an auth-token header): the answers
// read, the zone of each kind of place, the energy-weighted CO2 of a Meter whose intensity changes under
// it (hand-computed figures), the offline figure standing in with the reason, and the on-disk cache.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <nlohmann/json.hpp>

#include "greentune/core/error.hpp"
#include "greentune/energy/electricitymaps.hpp"
#include "greentune/energy/meter.hpp"
#include "http_server.hpp"
#include "test_support.hpp"

namespace greentune::energy {
namespace {

using ::testing::HasSubstr;
using testing::HttpRoute;
using testing::HttpServer;
using testing::HttpServerOptions;
using testing::ScopedEnvironment;
using testing::TempDir;

constexpr double kJoulesPerKwhForTests = 3.6e6;

// The example answer of the API's documentation for /v3/carbon-intensity/latest.
std::string documented_answer(const std::string& zone, double gco2_per_kwh) {
  return nlohmann::json{{"zone", zone},
                        {"carbonIntensity", gco2_per_kwh},
                        {"datetime", "2019-05-21T00:00:00.000Z"},
                        {"updatedAt", "2019-05-21T07:02:02.221Z"},
                        {"createdAt", "2019-05-18T07:37:44.557Z"},
                        {"emissionFactorType", "lifecycle"},
                        {"isEstimated", true},
                        {"estimationMethod", "TIME_SLICER_AVERAGE"}}
      .dump();
}

const std::string kLatestFr = "/v3/carbon-intensity/latest?zone=FR";

HttpServerOptions answering(const std::string& target, int status, const std::string& body) {
  HttpServerOptions options;
  options.routes[target] = HttpRoute{status, {"Content-Type: application/json"}, body};
  return options;
}

ElectricityMapsOptions options_for(const HttpServer& server, const std::filesystem::path& cache_dir = {}) {
  ElectricityMapsOptions options;
  options.zone = "FR";
  options.token = "secret-token";
  options.api_url = server.url("/v3");
  options.cache_dir = cache_dir;
  options.sample_interval = std::chrono::seconds(3600);  // no sample but the ones the test takes
  return options;
}

// Cumulative joules the test sets by hand.
class ManualCounter : public EnergyCounter {
 public:
  explicit ManualCounter(std::atomic<double>* joules) : joules_(joules) {}
  Component component() const override { return Component::cpu; }
  Method method() const override { return Method::rapl; }
  std::string label() const override { return "manual"; }
  double poll_joules(Clock::time_point) override { return joules_->load(); }

 private:
  std::atomic<double>* joules_;
};

TEST(ElectricityMaps, ReadsTheDocumentedAnswer) {
  const LatestAnswer answer = parse_latest_answer(200, documented_answer("DE", 302));
  ASSERT_TRUE(answer.intensity) << answer.problem;
  EXPECT_EQ(answer.intensity->zone, "DE");
  EXPECT_EQ(answer.intensity->gco2_per_kwh, 302.0);
  EXPECT_EQ(answer.intensity->datetime, "2019-05-21T00:00:00.000Z");
  EXPECT_TRUE(answer.intensity->is_estimated);
  EXPECT_EQ(answer.intensity->emission_factor_type, "lifecycle");
  EXPECT_TRUE(answer.problem.empty());
}

TEST(ElectricityMaps, AnswersWithoutAFigureSayWhy) {
  EXPECT_EQ(parse_latest_answer(401, R"({"message": "Invalid auth-token"})").problem,
            "HTTP 401: Invalid auth-token");
  EXPECT_EQ(parse_latest_answer(404, R"({"error": "Zone 'XX' does not exist."})").problem,
            "HTTP 404: Zone 'XX' does not exist.");
  EXPECT_EQ(parse_latest_answer(502, "Bad Gateway\n").problem, "HTTP 502: Bad Gateway");
  EXPECT_THAT(parse_latest_answer(429, std::string(1000, 'x')).problem, HasSubstr("..."));
  EXPECT_THAT(parse_latest_answer(200, R"({"zone": "FR", "carbonIntensity": null})").problem,
              HasSubstr("no carbonIntensity"));
  EXPECT_THAT(parse_latest_answer(200, R"({"zone": "FR", "carbonIntensity": "56"})").problem,
              HasSubstr("no carbonIntensity"));
  EXPECT_THAT(parse_latest_answer(200, "<html>").problem, HasSubstr("not a JSON object"));
  EXPECT_THAT(parse_latest_answer(200, R"({"carbonIntensity": -1})").problem, HasSubstr("not a plausible"));
  EXPECT_THAT(parse_latest_answer(200, R"({"carbonIntensity": 1e9})").problem, HasSubstr("not a plausible"));
  for (const auto& body : {R"({"carbonIntensity": null})", "<html>", R"({"carbonIntensity": 1e9})"})
    EXPECT_FALSE(parse_latest_answer(200, body).intensity) << body;
}

TEST(ElectricityMaps, TheZoneOfEachKindOfPlace) {
  TempDir dir;
  // The layout of iso-codes' iso_3166-1.json, written by hand.
  testing::write_text(dir / "iso_3166-1.json", R"({"3166-1": [
    {"alpha_2": "DE", "alpha_3": "DEU", "name": "Germany", "numeric": "276"},
    {"alpha_2": "FR", "alpha_3": "FRA", "name": "France", "numeric": "250"}]})");
  const auto zone_of = [&](ZoneKind kind, const std::string& zone) {
    CarbonIntensity place;
    place.zone_kind = kind;
    place.zone = zone;
    return electricitymaps_zone(place, dir / "iso_3166-1.json");
  };
  EXPECT_EQ(zone_of(ZoneKind::country, "FRA"), "FR");
  EXPECT_EQ(zone_of(ZoneKind::country, "DEU"), "DE");
  EXPECT_EQ(zone_of(ZoneKind::ca_province, "QC"), "CA-QC");
  EXPECT_EQ(zone_of(ZoneKind::nordic_zone, "SE3"), "SE-SE3");
  EXPECT_EQ(zone_of(ZoneKind::nordic_zone, "NO1"), "NO-NO1");
  EXPECT_EQ(zone_of(ZoneKind::nordic_zone, "FI"), "FI");

  const Error state = testing::error_of([&] { zone_of(ZoneKind::us_state, "VA"); });
  EXPECT_EQ(state.code(), ErrorCode::usage);
  EXPECT_EQ(state.where(), "--carbon-zone");
  EXPECT_THAT(std::string(state.what()), HasSubstr("US-MIDA-PJM"));
  EXPECT_EQ(testing::error_of([&] { zone_of(ZoneKind::cloud_region, "aws:us-east-1"); }).where(),
            "--carbon-zone");
  EXPECT_THAT(std::string(testing::error_of([&] { zone_of(ZoneKind::world, "WORLD"); }).what()),
              HasSubstr("--country"));
  EXPECT_EQ(testing::error_of([&] { zone_of(ZoneKind::country, "XYZ"); }).code(), ErrorCode::invalid_data);
  CarbonIntensity france;
  france.zone_kind = ZoneKind::country;
  france.zone = "FRA";
  const Error no_codes = testing::error_of([&] { electricitymaps_zone(france, dir / "missing.json"); });
  EXPECT_EQ(no_codes.code(), ErrorCode::not_found);
  EXPECT_THAT(std::string(no_codes.what()), HasSubstr("iso-codes"));
  if (std::filesystem::exists(std::string(kIso3166Json))) {
    EXPECT_EQ(electricitymaps_zone(france), "FR");  // the system's iso-codes, as users have them
  }

  EXPECT_EQ(checked_zone("US-CAL-CISO"), "US-CAL-CISO");
  for (const char* bad : {"", "../FR", "FR&zone=DE", "FR DE"})
    EXPECT_EQ(testing::error_of([&] { checked_zone(bad); }).where(), "--carbon-zone") << bad;
}

// The grid gets dirtier during a window: 1 kWh drawn at 100 g/kWh, then 3 kWh at 300 g/kWh, with a PUE of
// 1.5: CO2 = 1.5 x (1 x 100 + 3 x 300) = 1500 g over 1.5 x 4 = 6 kWh, an average of 250 g/kWh (a single
// figure, the first or the last, would give 600 g or 1800 g).
TEST(ElectricityMaps, AWindowsCo2IsItsEnergyChargedAtEachSampleInTurn) {
  HttpServer server(answering(kLatestFr, 200, documented_answer("FR", 100)));
  LiveCarbonIntensity live(options_for(server), 475.0);
  ASSERT_EQ(server.requests().size(), 1u);  // the first sample is taken before the run starts
  EXPECT_EQ(server.requests()[0].target, kLatestFr);
  EXPECT_EQ(server.requests()[0].header("auth-token"), "secret-token");
  EXPECT_EQ(live.current_gco2_per_kwh(), 100.0);

  std::atomic<double> joules{0.0};
  EnergyCounters counters;
  counters.push_back(std::make_unique<ManualCounter>(&joules));
  MeterOptions options;
  options.pue = 1.5;
  options.gco2_per_kwh = 475.0;
  options.live_gco2_per_kwh = [&live] { return live.current_gco2_per_kwh(); };
  Meter meter(std::move(counters), options);
  meter.begin("run");
  joules = 1.0 * kJoulesPerKwhForTests;
  EXPECT_NEAR(meter.peek("run").co2_kg, 0.150, 1e-12);  // read at 100 g/kWh
  server.set_route(kLatestFr, HttpRoute{200, {}, documented_answer("FR", 300)});
  live.sample_now();
  EXPECT_EQ(live.current_gco2_per_kwh(), 300.0);
  joules = 4.0 * kJoulesPerKwhForTests;
  const Measurement run = meter.end("run");
  EXPECT_NEAR(run.kwh, 6.0, 1e-12);
  EXPECT_NEAR(run.co2_kg, 1.5, 1e-12);
  EXPECT_NEAR(run.gco2_per_kwh, 250.0, 1e-9);

  CarbonIntensity offline;
  offline.gco2_per_kwh = 56.0;
  offline.zone = "FRA";
  offline.reason = "--country FRA";
  const CarbonIntensity carbon = applied_to(live_carbon_intensity(offline, live), run.co2_kg, run.kwh);
  EXPECT_NEAR(carbon.gco2_per_kwh, 250.0, 1e-9);
  EXPECT_EQ(carbon.live_zone, "FR");
  EXPECT_EQ(carbon.offline_gco2_per_kwh, 56.0);
  EXPECT_THAT(carbon.reason, HasSubstr("zone FR (--country FRA), 2 samples"));
  ASSERT_EQ(carbon.samples.size(), 2u);
  EXPECT_EQ(carbon.samples[0].gco2_per_kwh, 100.0);
  EXPECT_EQ(carbon.samples[1].gco2_per_kwh, 300.0);
  EXPECT_EQ(carbon.samples[1].origin, "electricitymaps");
  EXPECT_EQ(carbon.samples[1].data_time, "2019-05-21T00:00:00.000Z");
  EXPECT_TRUE(carbon.samples[1].estimated);
  const nlohmann::json json = carbon;
  EXPECT_EQ(json.at("electricitymaps").at("samples").size(), 2u);
  EXPECT_EQ(json.at("electricitymaps").at("zone"), "FR");

  // An offline intensity is not averaged: it is the figure it was.
  offline.live_zone.clear();
  EXPECT_EQ(applied_to(offline, 1.5, 6.0).gco2_per_kwh, 56.0);
}

TEST(ElectricityMaps, TheOfflineFigureStandsInUntilAnAnswerAndThePreviousOneAfter) {
  HttpServer server(answering(kLatestFr, 401, R"({"message": "Invalid auth-token"})"));
  LiveCarbonIntensity live(options_for(server), 56.0);
  EXPECT_EQ(live.current_gco2_per_kwh(), 56.0);
  server.set_route(kLatestFr, HttpRoute{200, {}, documented_answer("FR", 80)});
  live.sample_now();
  EXPECT_EQ(live.current_gco2_per_kwh(), 80.0);
  server.set_route(kLatestFr, HttpRoute{500, {}, "Internal Server Error"});
  live.sample_now();
  EXPECT_EQ(live.current_gco2_per_kwh(), 80.0);

  const std::vector<CarbonSample> samples = live.samples();
  ASSERT_EQ(samples.size(), 3u);
  EXPECT_EQ(samples[0].origin, "offline table");
  EXPECT_EQ(samples[0].gco2_per_kwh, 56.0);
  EXPECT_EQ(samples[0].problem, "HTTP 401: Invalid auth-token");
  EXPECT_EQ(samples[1].origin, "electricitymaps");
  EXPECT_TRUE(samples[1].problem.empty());
  EXPECT_EQ(samples[2].origin, "previous sample");
  EXPECT_EQ(samples[2].gco2_per_kwh, 80.0);
  EXPECT_EQ(samples[2].problem, "HTTP 500: Internal Server Error");

  CarbonIntensity offline;
  offline.gco2_per_kwh = 56.0;
  offline.reason = "--country FRA";
  EXPECT_THAT(live_carbon_intensity(offline, live).reason,
              HasSubstr("2 of 3 samples without a figure (HTTP 401: Invalid auth-token)"));
}

TEST(ElectricityMaps, WithoutTokenOrServerTheOfflineFigureIsUsedAndTheReasonRecorded) {
  HttpServer server(answering(kLatestFr, 200, documented_answer("FR", 80)));
  ElectricityMapsOptions no_token = options_for(server);
  no_token.token.clear();
  const LiveCarbonIntensity without_token(no_token, 56.0);
  EXPECT_TRUE(server.requests().empty());  // nothing asked without a token
  EXPECT_EQ(without_token.current_gco2_per_kwh(), 56.0);
  CarbonIntensity offline;
  offline.gco2_per_kwh = 56.0;
  offline.source = "CodeCarbon's global_energy_mix.json";
  offline.year = 2023;
  offline.reason = "--country FRA";
  const CarbonIntensity carbon = live_carbon_intensity(offline, without_token);
  EXPECT_THAT(carbon.reason, HasSubstr("gave no figure (no token: set ELECTRICITYMAPS_API_TOKEN"));
  EXPECT_THAT(carbon.reason, HasSubstr("the offline table's stood in: --country FRA"));
  EXPECT_EQ(carbon.source, offline.source);
  EXPECT_EQ(carbon.year, 2023);

  ElectricityMapsOptions nobody_listens = options_for(server);
  nobody_listens.api_url = "http://127.0.0.1:1/v3";
  const LiveCarbonIntensity unreachable(nobody_listens, 56.0);
  EXPECT_EQ(unreachable.current_gco2_per_kwh(), 56.0);
  EXPECT_THAT(unreachable.samples().at(0).problem, HasSubstr("no answer from http://127.0.0.1:1/v3"));
}

TEST(ElectricityMaps, AnAnswerIsCachedForTheSampleInterval) {
  TempDir dir;
  HttpServer server(answering(kLatestFr, 200, documented_answer("FR", 80)));
  { const LiveCarbonIntensity first(options_for(server, dir / "cache"), 56.0); }
  ASSERT_EQ(server.requests().size(), 1u);
  const std::filesystem::path cached = dir / "cache/FR.json";
  ASSERT_TRUE(std::filesystem::exists(cached));

  server.set_route(kLatestFr, HttpRoute{200, {}, documented_answer("FR", 90)});
  const LiveCarbonIntensity second(options_for(server, dir / "cache"), 56.0);
  EXPECT_EQ(server.requests().size(), 1u);  // answered from the cache
  EXPECT_EQ(second.current_gco2_per_kwh(), 80.0);
  EXPECT_EQ(second.samples().at(0).origin, "cache");

  // An answer older than the interval is asked again; so is a damaged file.
  auto stale = nlohmann::json::parse(testing::read_text(cached));
  stale["fetched_unix_s"] = stale["fetched_unix_s"].get<int64_t>() - 3600;
  testing::write_text(cached, stale.dump());
  const LiveCarbonIntensity third(options_for(server, dir / "cache"), 56.0);
  EXPECT_EQ(server.requests().size(), 2u);
  EXPECT_EQ(third.current_gco2_per_kwh(), 90.0);
  testing::write_text(cached, "{\"fetched_unix_s\": ");
  const LiveCarbonIntensity fourth(options_for(server, dir / "cache"), 56.0);
  EXPECT_EQ(server.requests().size(), 3u);
  EXPECT_EQ(fourth.samples().at(0).origin, "electricitymaps");
}

TEST(ElectricityMaps, TokenUrlAndCacheComeFromTheEnvironment) {
  const ScopedEnvironment token(kElectricityMapsTokenVariable, "mine");
  const ScopedEnvironment codecarbon_token(kCodeCarbonTokenVariable, "codecarbon's");
  const ScopedEnvironment url(kElectricityMapsUrlVariable, "http://127.0.0.1:9/v3/");
  const ScopedEnvironment cache("XDG_CACHE_HOME", "/tmp/xdg");
  const ElectricityMapsOptions options =
      electricitymaps_options_from_environment("FR", std::chrono::seconds(60));
  EXPECT_EQ(options.token, "mine");
  EXPECT_EQ(options.api_url, "http://127.0.0.1:9/v3");
  EXPECT_EQ(options.cache_dir, std::filesystem::path("/tmp/xdg/greentune/electricitymaps"));
  EXPECT_EQ(options.sample_interval, std::chrono::seconds(60));
  const ScopedEnvironment no_token(kElectricityMapsTokenVariable, std::nullopt);
  EXPECT_EQ(electricitymaps_options_from_environment("FR", std::chrono::seconds(60)).token, "codecarbon's");
  const ScopedEnvironment no_url(kElectricityMapsUrlVariable, std::nullopt);
  EXPECT_EQ(electricitymaps_options_from_environment("FR", std::chrono::seconds(60)).api_url,
            "https://api.electricitymaps.com/v3");
}

}  // namespace
}  // namespace greentune::energy
