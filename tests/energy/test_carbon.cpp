// Carbon intensity lookups. A hand-written CodeCarbon data folder pins how each of its files is read (units,
// the Canadian computation, the byte order mark of impact.csv, optional files, damaged files, finding the
// folder); CodeCarbon's real folder in ../shared pins the figures a user gets, the precedence of the flags
// and the errors; without a folder only the world average is left and a named place is an error.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "greentune/core/error.hpp"
#include "greentune/energy/carbon.hpp"
#include "http_server.hpp"  // ScopedEnvironment
#include "test_support.hpp"

namespace greentune::energy {
namespace {

using ::testing::HasSubstr;
using testing::ScopedEnvironment;
using testing::TempDir;

// testing::write_text into a folder made first.
void write_text(const std::filesystem::path& path, const std::string& contents) {
  std::filesystem::create_directories(path.parent_path());
  testing::write_text(path, contents);
}

const CarbonZone& table_row(const CarbonTable& table, ZoneKind kind, const std::string& zone) {
  for (const CarbonZone& row : table.zones) {
    if (row.kind == kind && row.zone == zone) {
      return row;
    }
  }
  throw std::runtime_error("no " + std::string(to_string(kind)) + " row " + zone);
}

// The Error resolve_carbon_intensity throws for options; fails the test when it throws none.
Error resolve_error(const CarbonOptions& options, const CarbonTable& table) {
  return testing::error_of([&] { resolve_carbon_intensity(options, table); });
}

// A CodeCarbon data folder written by hand, in the layout and units of CodeCarbon 3.3's codecarbon/data.
void write_codecarbon_folder(const std::filesystem::path& folder, bool with_optional_files = true) {
  write_text(folder / "private_infra/global_energy_mix.json", R"({
    "FRA": {"carbon_intensity": 50.5, "country_name": "France", "iso_code": "FRA", "year": 2023},
    "USA": {"carbon_intensity": 400.0, "country_name": "United States", "iso_code": "USA", "year": 2023},
    "CAN": {"carbon_intensity": 130.0, "country_name": "Canada", "iso_code": "CAN", "year": 2022},
    "SWE": {"carbon_intensity": 40.0, "country_name": "Sweden", "iso_code": "SWE", "year": 2023}
  })");
  if (!with_optional_files) {
    return;
  }
  write_text(
      folder / "private_infra/carbon_intensity_per_source.json",
      R"({"world_average": 480, "coal": 1000, "petroleum": 800, "natural_gas": 600, "hydroelectricity": 26})");
  write_text(folder / "private_infra/2016/usa_emissions.json", R"({
    "_unit": "2 digit state/region code",
    "usa": {"emissions": 900.0, "regionCode": "usa"},
    "virginia": {"emissions": 1000.0, "regionCode": "VA"},
    "district of columbia": {"emissions": 500.0, "regionCode": "DC"}
  })");
  write_text(folder / "private_infra/2023/canada_energy_mix.json", R"({
    "alberta": {"coal": 10.0, "petroleum": 5.0, "naturalGas": 50.0, "hydro": 35.0, "total": 100.0}
  })");
  write_text(folder / "private_infra/nordic_emissions.json", R"({
    "data": {"SE3": {"emission_factor": 20.0, "unit": "gCO2eq/kWh", "description": "Sweden zone 3", "year": 2024}},
    "metadata": {"source": "ENTSO-E averages"}
  })");
  write_text(
      folder / "cloud/impact.csv",
      "\xEF\xBB\xBFprovider,providerName,offsetRatio,region,regionName,country_name,countryIsoCode,state,"
      "city,impact,source,comment\n"
      "gcp,Google Cloud Platform,100,us-central1,,USA,USA,Iowa,Council Bluffs,430.5,https://x,\"a, b\"\r\n"
      "aws,Amazon Web Services,100,us-east-1,,USA,USA,Virginia,Ashburn,999,https://x,\n");
}

TEST(CarbonFolder, ReadsEachFileInItsUnits) {
  TempDir dir;
  write_codecarbon_folder(dir.path());
  const CarbonTable table = load_carbon_table(dir.path());
  EXPECT_EQ(table.codecarbon_data, dir.path());

  const CarbonZone& world = table_row(table, ZoneKind::world, "WORLD");
  EXPECT_DOUBLE_EQ(world.gco2_per_kwh, 480.0);  // carbon_intensity_per_source.json's world_average
  const CarbonZone& france = table_row(table, ZoneKind::country, "FRA");
  EXPECT_DOUBLE_EQ(france.gco2_per_kwh, 50.5);
  EXPECT_EQ(france.name, "France");
  EXPECT_EQ(france.year, 2023);

  // usa_emissions.json is in lb/MWh: 1000 lb/MWh x 453.59237 g/lb / 1000 kWh/MWh.
  const CarbonZone& virginia = table_row(table, ZoneKind::us_state, "VA");
  EXPECT_DOUBLE_EQ(virginia.gco2_per_kwh, 453.59237);
  EXPECT_EQ(virginia.name, "Virginia");
  EXPECT_EQ(virginia.year, 2016);
  EXPECT_EQ(table_row(table, ZoneKind::us_state, "DC").name, "District of Columbia");
  EXPECT_THROW(table_row(table, ZoneKind::us_state, "usa"), std::runtime_error);  // the national row

  // Shares (%) x fossil factors: (10 x 1000 + 5 x 800 + 50 x 600) / 100; hydro counts 0.
  const CarbonZone& alberta = table_row(table, ZoneKind::ca_province, "AB");
  EXPECT_DOUBLE_EQ(alberta.gco2_per_kwh, 440.0);
  EXPECT_EQ(alberta.name, "Alberta");
  EXPECT_EQ(alberta.country_iso3, "CAN");

  const CarbonZone& stockholm = table_row(table, ZoneKind::nordic_zone, "SE3");
  EXPECT_DOUBLE_EQ(stockholm.gco2_per_kwh, 20.0);
  EXPECT_EQ(stockholm.country_iso3, "SWE");
  EXPECT_THAT(stockholm.source, HasSubstr("ENTSO-E averages"));

  // impact.csv starts with a byte order mark, ends a line with CR and quotes a field with a comma.
  const CarbonZone& iowa = table_row(table, ZoneKind::cloud_region, "gcp:us-central1");
  EXPECT_DOUBLE_EQ(iowa.gco2_per_kwh, 430.5);
  EXPECT_EQ(iowa.name, "Google Cloud us-central1 (Council Bluffs)");
  EXPECT_EQ(iowa.country_iso3, "USA");
}

TEST(CarbonFolder, AwsAndAzureRegionsTakeTheirGridZonesFigure) {
  TempDir dir;
  write_codecarbon_folder(dir.path());
  const CarbonTable table = load_carbon_table(dir.path());
  // impact.csv's AWS row (999) is not a published figure: the region takes Virginia's grid.
  const CarbonIntensity ashburn = resolve_carbon_intensity({.cloud_region = "aws:us-east-1"}, table);
  EXPECT_DOUBLE_EQ(ashburn.gco2_per_kwh, 453.59237);
  EXPECT_THAT(ashburn.source, HasSubstr("grid of us-state VA"));
  EXPECT_EQ(ashburn.country_name, "United States");
  EXPECT_DOUBLE_EQ(resolve_carbon_intensity({.cloud_region = "azure:eastus"}, table).gco2_per_kwh, 453.59237);
  EXPECT_DOUBLE_EQ(resolve_carbon_intensity({.cloud_region = "aws:eu-west-3"}, table).gco2_per_kwh, 50.5);
  EXPECT_DOUBLE_EQ(resolve_carbon_intensity({.cloud_region = "aws:eu-north-1"}, table).gco2_per_kwh, 20.0);
  EXPECT_DOUBLE_EQ(resolve_carbon_intensity({.cloud_region = "aws:ca-west-1"}, table).gco2_per_kwh, 440.0);
  // Mumbai's grid (IND) is not in this folder, so neither is the region.
  EXPECT_EQ(resolve_error({.cloud_region = "aws:ap-south-1"}, table).where(), "--cloud-region");
}

TEST(CarbonFolder, AnOlderFolderWithoutTheOptionalFilesStillGivesCountries) {
  TempDir dir;
  write_codecarbon_folder(dir.path(), /*with_optional_files=*/false);
  const CarbonTable table = load_carbon_table(dir.path());
  EXPECT_DOUBLE_EQ(resolve_carbon_intensity({.country = "FRA"}, table).gco2_per_kwh, 50.5);
  EXPECT_DOUBLE_EQ(resolve_carbon_intensity({}, table).gco2_per_kwh, 475.0);
  const Error no_states = resolve_error({.country = "USA", .region = "VA"}, table);
  EXPECT_EQ(no_states.where(), "--region");
  EXPECT_THAT(no_states.what(), HasSubstr("no regions for United States"));
}

TEST(CarbonFolder, ADamagedFileIsNamedWithTheKeyAndNoCrash) {
  TempDir dir;
  write_codecarbon_folder(dir.path());
  const auto countries = dir / "private_infra/global_energy_mix.json";

  write_text(countries, R"({"FRA": {"country_name": "France", "year": 2023}})");
  const Error missing_key = testing::error_of([&] { load_carbon_table(dir.path()); });
  EXPECT_EQ(missing_key.code(), ErrorCode::invalid_data);
  EXPECT_THAT(missing_key.where(), HasSubstr("global_energy_mix.json"));
  EXPECT_THAT(missing_key.what(), HasSubstr("\"FRA\" has no number \"carbon_intensity\""));

  write_text(countries, "{\"FRA\": ");
  EXPECT_EQ(testing::error_of([&] { load_carbon_table(dir.path()); }).code(), ErrorCode::parse);
  write_text(countries, "[1, 2]");
  EXPECT_EQ(testing::error_of([&] { load_carbon_table(dir.path()); }).code(), ErrorCode::invalid_data);

  write_codecarbon_folder(dir.path());
  write_text(dir / "cloud/impact.csv", "provider,region,countryIsoCode,city,impact\ngcp,x,USA,Here,lots\n");
  const Error bad_impact = testing::error_of([&] { load_carbon_table(dir.path()); });
  EXPECT_THAT(bad_impact.where(), HasSubstr("impact.csv"));
  EXPECT_THAT(bad_impact.what(), HasSubstr("line 2: impact \"lots\" is not a number"));
}

TEST(CarbonFolder, IsFoundThroughTheVariableOrAPythonInstall) {
  TempDir dir;
  const auto given = dir / "given";
  write_codecarbon_folder(given);
  {
    ScopedEnvironment variable("GREENTUNE_CODECARBON_DATA", given.string());
    EXPECT_EQ(find_codecarbon_data(), given);
  }
  {
    ScopedEnvironment variable("GREENTUNE_CODECARBON_DATA", (dir / "empty").string());
    const Error error = testing::error_of([] { find_codecarbon_data(); });
    EXPECT_EQ(error.code(), ErrorCode::not_found);
    EXPECT_EQ(error.where(), "GREENTUNE_CODECARBON_DATA");
    EXPECT_THAT(error.what(), HasSubstr("private_infra/global_energy_mix.json"));
  }
  const auto installed = dir / "venv/lib/python3.11/site-packages/codecarbon/data";
  write_codecarbon_folder(installed);
  ScopedEnvironment unset("GREENTUNE_CODECARBON_DATA", std::nullopt);
  ScopedEnvironment virtual_env("VIRTUAL_ENV", (dir / "venv").string());
  EXPECT_EQ(find_codecarbon_data(), installed);
}

TEST(CarbonWithoutFolder, GivesTheWorldAverageAndRefusesANamedPlace) {
  const CarbonTable table = carbon_table_without_data("no CodeCarbon data folder found (looked in /x)");
  const CarbonIntensity world = resolve_carbon_intensity({}, table);
  EXPECT_DOUBLE_EQ(world.gco2_per_kwh, 475.0);  // IEA's world average for 2018
  EXPECT_THAT(world.source, HasSubstr("IEA"));
  EXPECT_EQ(world.year, 2018);

  const Error place = resolve_error({.country = "FRA"}, table);
  EXPECT_EQ(place.code(), ErrorCode::not_found);
  EXPECT_EQ(place.where(), "--country");
  EXPECT_THAT(place.what(), HasSubstr("looked in /x"));
  EXPECT_THAT(place.what(), HasSubstr("GREENTUNE_CODECARBON_DATA"));
  EXPECT_THAT(place.what(), HasSubstr("pip install codecarbon"));
  EXPECT_EQ(resolve_error({.cloud_region = "gcp:us-central1"}, table).where(), "--cloud-region");

  // A given figure needs no table: the run goes on, warned that its place is not recorded.
  ::testing::internal::CaptureStderr();
  const CarbonIntensity given = resolve_carbon_intensity({.gco2_per_kwh = 120.0, .country = "FRA"}, table);
  EXPECT_THAT(::testing::internal::GetCapturedStderr(), HasSubstr("--country not looked up"));
  EXPECT_DOUBLE_EQ(given.gco2_per_kwh, 120.0);
  EXPECT_EQ(given.country_iso3, "");
}

// CodeCarbon's own data folder, from ../shared.
const CarbonTable& shared_table(const std::filesystem::path& shared) {
  static const CarbonTable table = load_carbon_table(shared / "data/energy-reference/codecarbon");
  return table;
}
#define REQUIRE_CODECARBON_TABLE(table) \
  GREENTUNE_REQUIRE_SHARED(shared_dir); \
  const CarbonTable& table = shared_table(shared_dir)

// The figures below are CodeCarbon 3.3's (../shared/data/energy-reference/SOURCES.md), read off its files.
TEST(CarbonCodeCarbon, CountryByIso3GivesItsFigureNameAndReason) {
  REQUIRE_CODECARBON_TABLE(table);
  const CarbonIntensity france = resolve_carbon_intensity({.country = "FRA"}, table);
  EXPECT_DOUBLE_EQ(france.gco2_per_kwh, 56.039);  // global_energy_mix.json, France 2023
  EXPECT_EQ(france.year, 2023);
  EXPECT_EQ(france.zone, "FRA");
  EXPECT_EQ(france.zone_name, "France");
  EXPECT_EQ(france.country_iso3, "FRA");
  EXPECT_EQ(france.country_name, "France");
  EXPECT_EQ(france.reason, "--country FRA");
  EXPECT_THAT(france.source, HasSubstr("Our World in Data"));
  EXPECT_THAT(france.source, HasSubstr("global_energy_mix.json"));
  EXPECT_EQ(france.region, "");
  EXPECT_EQ(france.cloud_provider, "");
}

TEST(CarbonCodeCarbon, CodesAreCaseInsensitive) {
  REQUIRE_CODECARBON_TABLE(table);
  EXPECT_DOUBLE_EQ(resolve_carbon_intensity({.country = "fra"}, table).gco2_per_kwh, 56.039);
  EXPECT_EQ(resolve_carbon_intensity({.country = "dEu"}, table).zone, "DEU");
  EXPECT_EQ(resolve_carbon_intensity({.region = "va"}, table).zone, "VA");
  EXPECT_EQ(resolve_carbon_intensity({.region = "se3"}, table).zone, "SE3");
  EXPECT_EQ(resolve_carbon_intensity({.cloud_provider = "GCP", .cloud_region = "US-CENTRAL1"}, table).zone,
            "gcp:us-central1");
  EXPECT_EQ(resolve_carbon_intensity({.cloud_region = "AWS:us-east-1"}, table).zone, "aws:us-east-1");
}

TEST(CarbonCodeCarbon, UsStateByCodeOrNameWithinTheCountry) {
  REQUIRE_CODECARBON_TABLE(table);
  const CarbonIntensity virginia = resolve_carbon_intensity({.country = "USA", .region = "VA"}, table);
  EXPECT_NEAR(virginia.gco2_per_kwh, 369.134378, 1e-6);  // 813.802 lb/MWh x 0.45359237
  EXPECT_EQ(virginia.year, 2016);
  EXPECT_EQ(virginia.zone_name, "Virginia");
  EXPECT_EQ(virginia.region, "virginia");  // CodeCarbon's spelling of the region column
  EXPECT_EQ(virginia.country_iso3, "USA");
  EXPECT_EQ(virginia.country_name, "United States");
  EXPECT_EQ(virginia.reason, "--region VA (USA)");
  EXPECT_THAT(virginia.source, HasSubstr("eGRID"));

  EXPECT_EQ(resolve_carbon_intensity({.region = "west virginia"}, table).zone, "WV");
  EXPECT_EQ(resolve_carbon_intensity({.region = "District of Columbia"}, table).zone, "DC");
}

TEST(CarbonCodeCarbon, CanadianProvinceAndNordicZone) {
  REQUIRE_CODECARBON_TABLE(table);
  const CarbonIntensity quebec = resolve_carbon_intensity({.country = "can", .region = "quebec"}, table);
  EXPECT_EQ(quebec.zone, "QC");
  EXPECT_EQ(quebec.region, "quebec");
  EXPECT_EQ(quebec.country_name, "Canada");
  // (0.0 x 995 + 0.3 x 816 + 0.2 x 743) / 100.01: hydro.
  EXPECT_NEAR(quebec.gco2_per_kwh, 3.933607, 1e-6);
  // (8 x 995 + 0.02 x 816 + 73.5 x 743) / 99.82: gas and coal.
  EXPECT_NEAR(resolve_carbon_intensity({.region = "AB"}, table).gco2_per_kwh, 626.996794, 1e-6);
  EXPECT_THAT(quebec.source, HasSubstr("computed"));

  const CarbonIntensity stockholm = resolve_carbon_intensity({.region = "SE3"}, table);
  EXPECT_DOUBLE_EQ(stockholm.gco2_per_kwh, 18.0);
  EXPECT_EQ(stockholm.region, "SE3");
  EXPECT_EQ(stockholm.country_iso3, "SWE");
  EXPECT_EQ(stockholm.country_name, "Sweden");
  EXPECT_DOUBLE_EQ(resolve_carbon_intensity({.country = "FIN", .region = "FI"}, table).gco2_per_kwh, 72.0);
}

TEST(CarbonCodeCarbon, GcpRegionUsesGooglesPublishedFigure) {
  REQUIRE_CODECARBON_TABLE(table);
  const CarbonIntensity iowa =
      resolve_carbon_intensity({.cloud_provider = "gcp", .cloud_region = "us-central1"}, table);
  EXPECT_DOUBLE_EQ(iowa.gco2_per_kwh, 430.0);  // cloud/impact.csv
  EXPECT_EQ(iowa.cloud_provider, "gcp");
  EXPECT_EQ(iowa.cloud_region, "us-central1");
  EXPECT_EQ(iowa.country_iso3, "USA");
  EXPECT_EQ(iowa.country_name, "United States");
  EXPECT_EQ(iowa.reason, "--cloud-region gcp:us-central1");
  EXPECT_THAT(iowa.source, HasSubstr("Google"));
}

TEST(CarbonCodeCarbon, AwsAndAzureRegionsUseTheirGridZone) {
  REQUIRE_CODECARBON_TABLE(table);
  const CarbonIntensity aws = resolve_carbon_intensity({.cloud_region = "aws:us-east-1"}, table);
  EXPECT_NEAR(aws.gco2_per_kwh, 369.134378, 1e-6);
  EXPECT_THAT(aws.source, HasSubstr("grid of us-state VA"));
  EXPECT_EQ(aws.cloud_provider, "aws");
  EXPECT_EQ(aws.cloud_region, "us-east-1");

  const CarbonIntensity azure = resolve_carbon_intensity({.cloud_region = "eastus"}, table);  // no provider
  EXPECT_EQ(azure.zone, "azure:eastus");
  EXPECT_NEAR(azure.gco2_per_kwh, 369.134378, 1e-6);

  const CarbonIntensity paris =
      resolve_carbon_intensity({.cloud_provider = "aws", .cloud_region = "eu-west-3"}, table);
  EXPECT_DOUBLE_EQ(paris.gco2_per_kwh, 56.039);
  EXPECT_EQ(paris.country_name, "France");
}

TEST(CarbonCodeCarbon, PrecedenceIsValueThenCloudThenRegionThenCountry) {
  REQUIRE_CODECARBON_TABLE(table);
  const CarbonOptions everything{.gco2_per_kwh = 120.0,
                                 .country = "USA",
                                 .region = "VA",
                                 .cloud_provider = "gcp",
                                 .cloud_region = "us-west1"};
  const CarbonIntensity given = resolve_carbon_intensity(everything, table);
  EXPECT_DOUBLE_EQ(given.gco2_per_kwh, 120.0);
  EXPECT_EQ(given.reason, "--carbon-intensity 120 given");
  EXPECT_EQ(given.year, 0);
  EXPECT_EQ(given.cloud_region, "us-west1");  // the place is still named for emissions.csv

  CarbonOptions no_value = everything;
  no_value.gco2_per_kwh.reset();
  const CarbonIntensity cloud = resolve_carbon_intensity(no_value, table);
  EXPECT_EQ(cloud.zone, "gcp:us-west1");
  EXPECT_DOUBLE_EQ(cloud.gco2_per_kwh, 94.0);

  CarbonOptions no_cloud = no_value;
  no_cloud.cloud_provider.clear();
  no_cloud.cloud_region.clear();
  EXPECT_NEAR(resolve_carbon_intensity(no_cloud, table).gco2_per_kwh, 369.134378, 1e-6);

  CarbonOptions country_only = no_cloud;
  country_only.region.clear();
  EXPECT_DOUBLE_EQ(resolve_carbon_intensity(country_only, table).gco2_per_kwh, 369.473);
}

TEST(CarbonCodeCarbon, WorldAverageWhenNothingIsGiven) {
  REQUIRE_CODECARBON_TABLE(table);
  const CarbonIntensity world = resolve_carbon_intensity({}, table);
  EXPECT_DOUBLE_EQ(world.gco2_per_kwh, 475.0);
  EXPECT_EQ(world.reason, "no country given: world average (pass --country ISO3)");
  EXPECT_EQ(world.zone, "WORLD");
  EXPECT_THAT(world.source, HasSubstr("IEA"));
  EXPECT_EQ(world.year, 2018);
  EXPECT_EQ(world.country_iso3, "");
  EXPECT_EQ(world.country_name, "");

  const CarbonIntensity given = resolve_carbon_intensity({.gco2_per_kwh = 0.0}, table);
  EXPECT_DOUBLE_EQ(given.gco2_per_kwh, 0.0);
  EXPECT_EQ(given.zone, "");  // no place named: not the world row
  EXPECT_EQ(given.reason, "--carbon-intensity 0 given");
}

TEST(CarbonCodeCarbon, UnknownCountryIsAUsageErrorNamingTheFlagAndAFix) {
  REQUIRE_CODECARBON_TABLE(table);
  const Error error = resolve_error({.country = "XYZ"}, table);
  EXPECT_EQ(error.code(), ErrorCode::usage);
  EXPECT_EQ(error.where(), "--country");
  EXPECT_THAT(error.what(), HasSubstr("\"XYZ\""));
  EXPECT_THAT(error.what(), HasSubstr("use an ISO 3166 alpha-3 code such as FRA"));
  EXPECT_THAT(error.what(), HasSubstr("global_energy_mix.json"));

  EXPECT_THAT(resolve_error({.country = "FR"}, table).what(), HasSubstr("looks like an alpha-2 code"));
  // A bad --country is reported even when a cloud region or a value decides the intensity.
  EXPECT_EQ(resolve_error({.gco2_per_kwh = 50.0, .country = "XX"}, table).where(), "--country");
}

TEST(CarbonCodeCarbon, UnknownRegionSaysWhichRegionsExist) {
  REQUIRE_CODECARBON_TABLE(table);
  const Error in_usa = resolve_error({.country = "USA", .region = "QC"}, table);
  EXPECT_EQ(in_usa.code(), ErrorCode::usage);
  EXPECT_EQ(in_usa.where(), "--region");
  EXPECT_THAT(in_usa.what(), HasSubstr("United States"));
  EXPECT_THAT(in_usa.what(), HasSubstr(" VA "));

  const Error in_france = resolve_error({.country = "FRA", .region = "IDF"}, table);
  EXPECT_THAT(in_france.what(), HasSubstr("no regions for France"));
  EXPECT_THAT(in_france.what(), HasSubstr("drop --region"));

  const Error anywhere = resolve_error({.region = "atlantis"}, table);
  EXPECT_EQ(anywhere.where(), "--region");
  EXPECT_THAT(anywhere.what(), HasSubstr("SE1..SE4"));
}

TEST(CarbonCodeCarbon, UnknownCloudRegionOrProviderIsAUsageError) {
  REQUIRE_CODECARBON_TABLE(table);
  const Error region = resolve_error({.cloud_provider = "gcp", .cloud_region = "moon-central1"}, table);
  EXPECT_EQ(region.code(), ErrorCode::usage);
  EXPECT_EQ(region.where(), "--cloud-region");
  EXPECT_THAT(region.what(), HasSubstr("gcp:us-central1"));

  EXPECT_EQ(resolve_error({.cloud_provider = "oracle", .cloud_region = "x"}, table).where(),
            "--cloud-provider");
  EXPECT_EQ(resolve_error({.cloud_provider = "aws"}, table).where(), "--cloud-provider");
  // us-east-1 is AWS's, not Google's.
  EXPECT_EQ(resolve_error({.cloud_provider = "gcp", .cloud_region = "us-east-1"}, table).where(),
            "--cloud-region");
  EXPECT_EQ(resolve_error({.cloud_provider = "gcp", .cloud_region = "aws:us-east-1"}, table).where(),
            "--cloud-region");
}

TEST(CarbonCodeCarbon, GivenValueMustBeAFiniteNonNegativeNumber) {
  REQUIRE_CODECARBON_TABLE(table);
  EXPECT_EQ(resolve_error({.gco2_per_kwh = -1.0}, table).where(), "--carbon-intensity");
  EXPECT_EQ(resolve_error({.gco2_per_kwh = std::numeric_limits<double>::quiet_NaN()}, table).where(),
            "--carbon-intensity");
  EXPECT_EQ(resolve_error({.gco2_per_kwh = std::numeric_limits<double>::infinity()}, table).code(),
            ErrorCode::usage);
}

TEST(CarbonCodeCarbon, CountryThatDisagreesWithTheCloudRegionIsWarnedAbout) {
  REQUIRE_CODECARBON_TABLE(table);
  ::testing::internal::CaptureStderr();
  const CarbonIntensity intensity =
      resolve_carbon_intensity({.country = "DEU", .cloud_region = "gcp:europe-west9"}, table);
  const std::string warnings = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(intensity.country_iso3, "FRA");
  EXPECT_THAT(warnings, HasSubstr("--country DEU ignored"));
  EXPECT_THAT(warnings, HasSubstr("France"));
}

TEST(CarbonCodeCarbon, EveryZoneIsPlausible) {
  REQUIRE_CODECARBON_TABLE(table);
  std::map<ZoneKind, int> rows_per_kind;
  for (const CarbonZone& row : table.zones) {
    SCOPED_TRACE(row.zone);
    ++rows_per_kind[row.kind];
    // OWID gives the Central African Republic, whose 0.15 TWh in 2022 were all hydro, exactly 0.
    if (row.zone == "CAF") {
      EXPECT_EQ(row.gco2_per_kwh, 0.0);
    } else {
      EXPECT_GT(row.gco2_per_kwh, 0.0);
    }
    EXPECT_LT(row.gco2_per_kwh, 1500.0);
    if (row.zone.starts_with("gcp:") && row.source.find("grid of") == std::string::npos) {
      EXPECT_EQ(row.year, 0);  // impact.csv gives no year
    } else {
      EXPECT_GE(row.year, 2009);  // Western Sahara's latest figure
      EXPECT_LE(row.year, 2026);
    }
    EXPECT_FALSE(row.name.empty());
    EXPECT_FALSE(row.source.empty());
    if (row.kind == ZoneKind::world) {
      EXPECT_EQ(row.country_iso3, "");
    } else {
      EXPECT_NO_THROW(table_row(table, ZoneKind::country, row.country_iso3))
          << "its country is not in the table";
    }
    if (row.kind == ZoneKind::country) {
      EXPECT_TRUE(std::regex_match(row.zone, std::regex("[A-Z]{3}")));
      EXPECT_EQ(row.country_iso3, row.zone);
    }
    if (row.kind == ZoneKind::cloud_region) {
      EXPECT_TRUE(std::regex_match(row.zone, std::regex("(gcp|aws|azure):[a-z0-9-]+")));
    }
  }
  EXPECT_EQ(rows_per_kind[ZoneKind::world], 1);
  EXPECT_EQ(rows_per_kind[ZoneKind::country], 213);
  EXPECT_EQ(rows_per_kind[ZoneKind::us_state], 51);  // 50 states and DC
  EXPECT_EQ(rows_per_kind[ZoneKind::ca_province], 13);
  EXPECT_EQ(rows_per_kind[ZoneKind::nordic_zone], 10);
  EXPECT_EQ(rows_per_kind[ZoneKind::cloud_region], 40 + 77);  // impact.csv's and the map's
}

// The lookups take the first match, which is only right when codes and names cannot collide.
TEST(CarbonCodeCarbon, CodesAreUniqueWhereLookupsNeedThem) {
  REQUIRE_CODECARBON_TABLE(table);
  std::set<std::string> zones, region_keys, cloud_region_names;
  const auto lower = [](std::string text) {
    for (char& c : text)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
  };
  for (const CarbonZone& row : table.zones) {
    EXPECT_TRUE(zones.insert(std::string(to_string(row.kind)) + " " + lower(row.zone)).second) << row.zone;
    if (row.kind == ZoneKind::us_state || row.kind == ZoneKind::ca_province ||
        row.kind == ZoneKind::nordic_zone) {
      EXPECT_TRUE(region_keys.insert(lower(row.zone)).second) << row.zone;
      if (row.kind != ZoneKind::nordic_zone) {
        EXPECT_TRUE(region_keys.insert(lower(row.name)).second) << row.name;
      }
    }
    if (row.kind == ZoneKind::cloud_region) {
      EXPECT_TRUE(cloud_region_names.insert(lower(row.zone.substr(row.zone.find(':') + 1))).second)
          << row.zone;
    }
  }
}

}  // namespace
}  // namespace greentune::energy
