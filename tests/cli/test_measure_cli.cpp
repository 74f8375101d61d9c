// `greentune measure -- CMD`: CMD's exit status and output pass through; emissions.csv (38 columns) and
// energy.json are written with the methods used; carbon flags are checked before CMD runs.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "http_server.hpp"
#include "test_support.hpp"

namespace greentune::testing {
namespace {

using ::testing::HasSubstr;

std::vector<std::string> csv_lines(const std::filesystem::path& path) {
  std::vector<std::string> lines;
  std::istringstream stream(read_text(path));
  std::string line;
  while (std::getline(stream, line))
    lines.push_back(line);
  return lines;
}

size_t field_count(const std::string& line) {
  return static_cast<size_t>(std::count(line.begin(), line.end(), ',')) + 1;  // no quoted commas here
}

// --country needs CodeCarbon's data folder: the one in ../shared.
std::string codecarbon_data_environment(const std::filesystem::path& shared) {
  return "GREENTUNE_CODECARBON_DATA='" + (shared / "data/energy-reference/codecarbon").string() + "' ";
}

TEST(MeasureCli, RunsTheCommandPassesItsStatusOnAndWritesEmissionsAndEnergy) {
  GREENTUNE_REQUIRE_SHARED(shared);
  TempDir dir;
  write_powercap(dir / "powercap");
  const std::string environment = codecarbon_data_environment(shared) + "GREENTUNE_NVML_LIB='" +
                                  std::string(GREENTUNE_FAKE_NVML_PATH) + "' GREENTUNE_POWERCAP_ROOT='" +
                                  (dir / "powercap").string() + "' ";
  const std::string measure = "measure --output-dir '" + (dir / "out").string() + "' --country FRA ";
  const CommandResult first =
      run_cli(measure + "-- sh -c 'echo from the command; sleep 0.3; exit 3'", {}, environment);
  EXPECT_EQ(first.exit_code, 3) << first.err;
  EXPECT_EQ(first.out, "from the command\n");  // stdout is the command's alone
  EXPECT_THAT(first.err, HasSubstr("nvml-energy-counter"));
  EXPECT_THAT(first.err, HasSubstr("nvml-power-integrated"));
  EXPECT_THAT(first.err, HasSubstr("rapl"));
  EXPECT_THAT(first.err, HasSubstr("--country FRA"));

  const CommandResult second = run_cli(measure + "-- true", {}, environment);
  EXPECT_EQ(second.exit_code, 0) << second.err;
  const auto lines = csv_lines(dir / "out/emissions.csv");
  ASSERT_EQ(lines.size(), 3u);  // the header and a row per run
  EXPECT_THAT(lines[0],
              ::testing::StartsWith("timestamp,project_name,run_id,experiment_id,duration,emissions,"));
  for (const std::string& line : lines)
    EXPECT_EQ(field_count(line), 38u) << line;
  EXPECT_THAT(lines[1], HasSubstr(",France,FRA,"));
  EXPECT_THAT(lines[1], HasSubstr(",2,1 x Fake A100 + 1 x Fake T4 (Turing),"));

  const auto energy = nlohmann::json::parse(read_text(dir / "out/energy.json"));
  EXPECT_EQ(energy.at("exit_status"), 0);
  const auto& run = energy.at("windows").at(0);
  // The power-only fake GPU draws 70 W: its integral over the run is 70 W x the run's duration, within the
  // last sampling interval (100 ms).
  const double seconds = run.at("duration_s");
  const auto& components = run.at("components");
  ASSERT_EQ(components.size(), 4u);  // 2 GPUs, RAPL package, RAPL dram
  EXPECT_EQ(components[1].at("method"), "nvml-power-integrated");
  EXPECT_NEAR(components[1].at("joules").get<double>(), 70.0 * seconds, 70.0 * 0.1 + 1e-9);
  EXPECT_EQ(components[2].at("method"), "rapl");
  EXPECT_EQ(components[2].at("joules"), 0.0);  // the fake counters stand still
  EXPECT_EQ(energy.at("carbon").at("zone"), "FRA");
}

// --prometheus-pushgateway: a real Pushgateway holds, under the run's labels, what energy.json says was
// measured: the fake NVML's GPUs (an A100 counting energy, a T4 drawing 70 W) and the fake RAPL package.
TEST(MeasureCli, APrometheusPushgatewayGetsTheMeasuredEnergyWhileAndAfterTheCommandRuns) {
  GREENTUNE_REQUIRE_PUSHGATEWAY(server);
  TempDir dir;
  write_powercap(dir / "powercap");
  const std::string environment = "GREENTUNE_NVML_LIB='" + std::string(GREENTUNE_FAKE_NVML_PATH) +
                                  "' GREENTUNE_POWERCAP_ROOT='" + (dir / "powercap").string() + "' ";
  const CommandResult result =
      run_cli("measure --output-dir '" + (dir / "job").string() +
                  "' --carbon-intensity 100 --prometheus-pushgateway " + server.url() + " -- sleep 0.5",
              {}, environment);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.err, ::testing::Not(HasSubstr("cannot push")));
  const auto window = nlohmann::json::parse(read_text(dir / "job/energy.json")).at("windows").at(0);
  const std::map<std::string, double> energy = server.samples("greentune_energy_joules");
  ASSERT_EQ(energy.size(), 5u);  // one group: gpu, cpu, dram, ram, total
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  const std::string group =
      ",instance=\"" + std::string(host) + "\",job=\"greentune\",rank=\"0\",run=\"job\"";
  EXPECT_EQ(energy.at("component=\"total\"" + group), window.at("total_j").get<double>());
  EXPECT_EQ(energy.at("component=\"cpu\"" + group), window.at("cpu_j").get<double>());
  const double gpu_j = window.at("gpu_j").at(0).get<double>() + window.at("gpu_j").at(1).get<double>();
  EXPECT_DOUBLE_EQ(energy.at("component=\"gpu\"" + group), gpu_j);
  EXPECT_GE(gpu_j, 70.0 * 0.5);  // the T4's 70 W alone over the 0.5 s sleep
  const auto co2 = server.samples("greentune_co2_grams");
  EXPECT_DOUBLE_EQ(co2.at(group.substr(1)), window.at("total_j").get<double>() / 3.6e6 * 100.0);
  EXPECT_EQ(server.samples("greentune_duration_seconds").at(group.substr(1)),
            window.at("duration_s").get<double>());
}

// --carbon-source electricitymaps: the zone of --country FRA is asked of a local server that answers as the
// API does, and the run's CO2 is its energy at that figure (123), not at the offline table's (56.039 for
// France in CodeCarbon's folder), which stands in, with the reason recorded, when the API refuses.
TEST(MeasureCli, LiveCarbonIntensityFromElectricityMapsWithTheOfflineFigureAsFallback) {
  GREENTUNE_REQUIRE_SHARED(shared);
  TempDir dir;
  const std::string latest_fr = "/v3/carbon-intensity/latest?zone=FR";
  HttpServerOptions options;
  options.routes[latest_fr] =
      HttpRoute{200, {}, R"({"zone": "FR", "carbonIntensity": 123, "datetime": "2026-12-07T10:00:00.000Z",
                   "isEstimated": false, "emissionFactorType": "lifecycle"})"};
  HttpServer server(options);
  const auto environment = [&](const std::string& cache) {
    return codecarbon_data_environment(shared) +
           "ELECTRICITYMAPS_API_TOKEN=my-token GREENTUNE_ELECTRICITYMAPS_URL=" + server.url("/v3") +
           " XDG_CACHE_HOME='" + (dir / cache).string() + "' ";
  };
  const auto measure = [&](const std::string& out, const std::string& place, const std::string& cache) {
    return run_cli("measure --output-dir '" + (dir / out).string() + "' --carbon-source electricitymaps " +
                       place + " -- sleep 0.3",
                   {}, environment(cache));
  };

  const CommandResult live = measure("live", "--country FRA", "cache");
  ASSERT_EQ(live.exit_code, 0) << live.err;
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].target, latest_fr);
  EXPECT_EQ(server.requests()[0].header("auth-token"), "my-token");
  EXPECT_THAT(live.err, HasSubstr("zone FR"));
  const auto energy = nlohmann::json::parse(read_text(dir / "live/energy.json"));
  const auto& carbon = energy.at("carbon");
  EXPECT_DOUBLE_EQ(carbon.at("gco2_per_kwh").get<double>(), 123.0);
  EXPECT_EQ(carbon.at("electricitymaps").at("zone"), "FR");
  EXPECT_DOUBLE_EQ(carbon.at("electricitymaps").at("offline_gco2_per_kwh").get<double>(), 56.039);
  EXPECT_EQ(carbon.at("electricitymaps").at("samples").at(0).at("origin"), "electricitymaps");
  const auto& window = energy.at("windows").at(0);
  ASSERT_GT(window.at("kwh").get<double>(), 0.0);
  EXPECT_NEAR(window.at("co2_kg").get<double>(), window.at("kwh").get<double>() * 0.123,
              window.at("kwh").get<double>() * 1e-9);

  // The answer is cached for the sample interval: a second run in the same cache asks nothing.
  ASSERT_EQ(measure("cached", "--country FRA", "cache").exit_code, 0);
  EXPECT_EQ(server.requests().size(), 1u);

  server.set_route(latest_fr, HttpRoute{401, {}, R"({"message": "Invalid auth-token"})"});
  const CommandResult refused = measure("refused", "--country FRA", "other-cache");
  ASSERT_EQ(refused.exit_code, 0) << refused.err;
  EXPECT_THAT(refused.err, HasSubstr("HTTP 401: Invalid auth-token"));
  const auto fallback = nlohmann::json::parse(read_text(dir / "refused/energy.json")).at("carbon");
  EXPECT_DOUBLE_EQ(fallback.at("gco2_per_kwh").get<double>(), 56.039);
  EXPECT_THAT(fallback.at("reason").get<std::string>(), HasSubstr("gave no figure (HTTP 401"));
  EXPECT_EQ(fallback.at("electricitymaps").at("samples").at(0).at("origin"), "offline table");

  // A place without a zone of its own stops before the command runs, saying how to name the zone.
  const CommandResult state =
      run_cli("measure --output-dir '" + (dir / "state").string() +
                  "' --carbon-source electricitymaps --country USA --region VA -- touch '" +
                  (dir / "ran").string() + "'",
              {}, environment("cache"));
  EXPECT_EQ(state.exit_code, 2);
  EXPECT_THAT(state.err, HasSubstr("--carbon-zone"));
  EXPECT_FALSE(std::filesystem::exists(dir / "ran"));
}

TEST(MeasureCli, BadUsageIsClearAndTheCommandDoesNotRun) {
  TempDir dir;
  const std::string out = " --output-dir '" + (dir / "out").string() + "' ";
  const CommandResult no_command = run_cli("measure" + out);
  EXPECT_EQ(no_command.exit_code, 2);
  EXPECT_THAT(no_command.err, HasSubstr("no command to measure"));

  // Whether the country is unknown (with CodeCarbon's folder) or cannot be looked up (without one), the
  // command does not run.
  const std::string no_folder = "GREENTUNE_CODECARBON_DATA='" + (dir / "none").string() + "' ";
  const CommandResult no_table =
      run_cli("measure" + out + "--country FRA -- touch '" + (dir / "ran").string() + "'", {}, no_folder);
  EXPECT_EQ(no_table.exit_code, 3);
  EXPECT_THAT(no_table.err, HasSubstr("GREENTUNE_CODECARBON_DATA"));
  EXPECT_FALSE(std::filesystem::exists(dir / "ran"));
  if (const auto shared = shared_dir()) {
    const CommandResult unknown_country =
        run_cli("measure" + out + "--country XYZ -- touch '" + (dir / "ran").string() + "'", {},
                codecarbon_data_environment(*shared));
    EXPECT_EQ(unknown_country.exit_code, 2);
    EXPECT_THAT(unknown_country.err, HasSubstr("--country"));
    EXPECT_FALSE(std::filesystem::exists(dir / "ran"));
  }

  const CommandResult missing = run_cli("measure" + out + "-- /no/such/program");
  EXPECT_EQ(missing.exit_code, 127);
  EXPECT_THAT(missing.err, HasSubstr("cannot run \"/no/such/program\""));
  // A command that never ran used no energy: no row of 0 J joins the real ones, and no energy.json.
  EXPECT_FALSE(std::filesystem::exists(dir / "out/emissions.csv"));
  EXPECT_FALSE(std::filesystem::exists(dir / "out/energy.json"));
}

}  // namespace
}  // namespace greentune::testing
