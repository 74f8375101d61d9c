// Carbon intensity lookups against the shipped table: countries, regions, cloud regions, the precedence
// of the flags, clear errors for unknown codes, the world-average fallback, the table's plausibility and
// its agreement with CodeCarbon's transcription of the same Our World in Data figures.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "greentune/core/error.hpp"
#include "greentune/energy/carbon.hpp"
#include "test_support.hpp"

namespace greentune::energy {
namespace {

using ::testing::HasSubstr;

const CarbonZone& table_row(ZoneKind kind, const std::string& zone) {
  for (const CarbonZone& row : carbon_table()) {
    if (row.kind == kind && row.zone == zone) {
      return row;
    }
  }
  throw std::runtime_error("no " + std::string(to_string(kind)) + " row " + zone);
}

// The Error resolve_carbon_intensity throws for options; fails the test when it throws none.
Error resolve_error(const CarbonOptions& options) {
  try {
    resolve_carbon_intensity(options);
  } catch (const Error& error) {
    return error;
  }
  ADD_FAILURE() << "expected an Error";
  return Error(ErrorCode::internal, "", "no error thrown");
}

TEST(Carbon, CountryByIso3GivesItsFigureNameAndReason) {
  const CarbonIntensity france = resolve_carbon_intensity({.country = "FRA"});
  EXPECT_DOUBLE_EQ(france.gco2_per_kwh, 56.039);  // OWID carbon_intensity_elec, France 2023
  EXPECT_EQ(france.year, 2023);
  EXPECT_EQ(france.zone, "FRA");
  EXPECT_EQ(france.zone_name, "France");
  EXPECT_EQ(france.country_iso3, "FRA");
  EXPECT_EQ(france.country_name, "France");
  EXPECT_EQ(france.reason, "--country FRA");
  EXPECT_THAT(france.source, HasSubstr("Our World in Data"));
  EXPECT_EQ(france.region, "");
  EXPECT_EQ(france.cloud_provider, "");
}

TEST(Carbon, CodesAreCaseInsensitive) {
  EXPECT_DOUBLE_EQ(resolve_carbon_intensity({.country = "fra"}).gco2_per_kwh, 56.039);
  EXPECT_EQ(resolve_carbon_intensity({.country = "dEu"}).zone, "DEU");
  EXPECT_EQ(resolve_carbon_intensity({.region = "va"}).zone, "VA");
  EXPECT_EQ(resolve_carbon_intensity({.region = "se3"}).zone, "SE3");
  EXPECT_EQ(resolve_carbon_intensity({.cloud_provider = "GCP", .cloud_region = "US-CENTRAL1"}).zone,
            "gcp:us-central1");
  EXPECT_EQ(resolve_carbon_intensity({.cloud_region = "AWS:us-east-1"}).zone, "aws:us-east-1");
}

TEST(Carbon, UsStateByCodeOrNameWithinTheCountry) {
  const CarbonIntensity virginia = resolve_carbon_intensity({.country = "USA", .region = "VA"});
  EXPECT_DOUBLE_EQ(virginia.gco2_per_kwh, 369.1);  // eGRID2016: 813.802 lb/MWh x 0.45359 g/kWh per lb/MWh
  EXPECT_EQ(virginia.year, 2016);
  EXPECT_EQ(virginia.zone_name, "Virginia");
  EXPECT_EQ(virginia.region, "virginia");  // CodeCarbon's spelling of the region column
  EXPECT_EQ(virginia.country_iso3, "USA");
  EXPECT_EQ(virginia.country_name, "United States");
  EXPECT_EQ(virginia.reason, "--region VA (USA)");
  EXPECT_THAT(virginia.source, HasSubstr("eGRID"));

  EXPECT_EQ(resolve_carbon_intensity({.region = "west virginia"}).zone, "WV");
  EXPECT_EQ(resolve_carbon_intensity({.region = "District of Columbia"}).zone, "DC");
}

TEST(Carbon, CanadianProvinceAndNordicZone) {
  const CarbonIntensity quebec = resolve_carbon_intensity({.country = "can", .region = "quebec"});
  EXPECT_EQ(quebec.zone, "QC");
  EXPECT_EQ(quebec.region, "quebec");
  EXPECT_EQ(quebec.country_name, "Canada");
  EXPECT_LT(quebec.gco2_per_kwh, 20.0);                                       // hydro
  EXPECT_GT(resolve_carbon_intensity({.region = "AB"}).gco2_per_kwh, 400.0);  // gas and coal
  EXPECT_THAT(quebec.source, HasSubstr("computed"));

  const CarbonIntensity stockholm = resolve_carbon_intensity({.region = "SE3"});
  EXPECT_DOUBLE_EQ(stockholm.gco2_per_kwh, 18.0);
  EXPECT_EQ(stockholm.region, "SE3");
  EXPECT_EQ(stockholm.country_iso3, "SWE");
  EXPECT_EQ(stockholm.country_name, "Sweden");
  EXPECT_DOUBLE_EQ(resolve_carbon_intensity({.country = "FIN", .region = "FI"}).gco2_per_kwh, 72.0);
}

TEST(Carbon, GcpRegionUsesGooglesPublishedFigure) {
  const CarbonIntensity iowa =
      resolve_carbon_intensity({.cloud_provider = "gcp", .cloud_region = "us-central1"});
  EXPECT_DOUBLE_EQ(iowa.gco2_per_kwh, 431.95);  // region-carbon-info 2025.csv
  EXPECT_EQ(iowa.year, 2025);
  EXPECT_EQ(iowa.cloud_provider, "gcp");
  EXPECT_EQ(iowa.cloud_region, "us-central1");
  EXPECT_EQ(iowa.country_iso3, "USA");
  EXPECT_EQ(iowa.country_name, "United States");
  EXPECT_EQ(iowa.reason, "--cloud-region gcp:us-central1");
  EXPECT_THAT(iowa.source, HasSubstr("Google"));
}

TEST(Carbon, AwsAndAzureRegionsUseTheirGridZone) {
  const CarbonIntensity aws = resolve_carbon_intensity({.cloud_region = "aws:us-east-1"});
  EXPECT_DOUBLE_EQ(aws.gco2_per_kwh, table_row(ZoneKind::us_state, "VA").gco2_per_kwh);
  EXPECT_THAT(aws.source, HasSubstr("grid of us-state VA"));
  EXPECT_EQ(aws.cloud_provider, "aws");
  EXPECT_EQ(aws.cloud_region, "us-east-1");

  const CarbonIntensity azure = resolve_carbon_intensity({.cloud_region = "eastus"});  // no provider needed
  EXPECT_EQ(azure.zone, "azure:eastus");
  EXPECT_DOUBLE_EQ(azure.gco2_per_kwh, table_row(ZoneKind::us_state, "VA").gco2_per_kwh);

  const CarbonIntensity paris =
      resolve_carbon_intensity({.cloud_provider = "aws", .cloud_region = "eu-west-3"});
  EXPECT_DOUBLE_EQ(paris.gco2_per_kwh, table_row(ZoneKind::country, "FRA").gco2_per_kwh);
  EXPECT_EQ(paris.country_name, "France");
}

TEST(Carbon, PrecedenceIsValueThenCloudThenRegionThenCountry) {
  const CarbonOptions everything{.gco2_per_kwh = 120.0,
                                 .country = "USA",
                                 .region = "VA",
                                 .cloud_provider = "gcp",
                                 .cloud_region = "us-west1"};
  const CarbonIntensity given = resolve_carbon_intensity(everything);
  EXPECT_DOUBLE_EQ(given.gco2_per_kwh, 120.0);
  EXPECT_EQ(given.reason, "--carbon-intensity 120 given");
  EXPECT_EQ(given.year, 0);
  EXPECT_EQ(given.cloud_region, "us-west1");  // the place is still named for emissions.csv

  CarbonOptions no_value = everything;
  no_value.gco2_per_kwh.reset();
  const CarbonIntensity cloud = resolve_carbon_intensity(no_value);
  EXPECT_EQ(cloud.zone, "gcp:us-west1");
  EXPECT_DOUBLE_EQ(cloud.gco2_per_kwh, 97.85);

  CarbonOptions no_cloud = no_value;
  no_cloud.cloud_provider.clear();
  no_cloud.cloud_region.clear();
  EXPECT_DOUBLE_EQ(resolve_carbon_intensity(no_cloud).gco2_per_kwh, 369.1);

  CarbonOptions country_only = no_cloud;
  country_only.region.clear();
  EXPECT_DOUBLE_EQ(resolve_carbon_intensity(country_only).gco2_per_kwh, 369.473);  // OWID USA 2023
}

TEST(Carbon, WorldAverageWhenNothingIsGiven) {
  const CarbonIntensity world = resolve_carbon_intensity({});
  EXPECT_DOUBLE_EQ(world.gco2_per_kwh, 475.0);
  EXPECT_EQ(world.reason, "no country given: world average (pass --country ISO3)");
  EXPECT_EQ(world.zone, "WORLD");
  EXPECT_THAT(world.source, HasSubstr("IEA"));
  EXPECT_EQ(world.year, 2018);
  EXPECT_EQ(world.country_iso3, "");
  EXPECT_EQ(world.country_name, "");

  const CarbonIntensity given = resolve_carbon_intensity({.gco2_per_kwh = 0.0});
  EXPECT_DOUBLE_EQ(given.gco2_per_kwh, 0.0);
  EXPECT_EQ(given.zone, "");  // no place named: not the world row
  EXPECT_EQ(given.reason, "--carbon-intensity 0 given");
}

TEST(Carbon, UnknownCountryIsAUsageErrorNamingTheFlagAndAFix) {
  const Error error = resolve_error({.country = "XYZ"});
  EXPECT_EQ(error.code(), ErrorCode::usage);
  EXPECT_EQ(error.where(), "--country");
  EXPECT_THAT(error.what(), HasSubstr("\"XYZ\""));
  EXPECT_THAT(error.what(), HasSubstr("use an ISO 3166 alpha-3 code such as FRA"));
  EXPECT_THAT(error.what(), HasSubstr("data/carbon-intensity.csv"));

  EXPECT_THAT(resolve_error({.country = "FR"}).what(), HasSubstr("looks like an alpha-2 code"));
  // A bad --country is reported even when a cloud region or a value decides the intensity.
  EXPECT_EQ(resolve_error({.gco2_per_kwh = 50.0, .country = "XX"}).where(), "--country");
}

TEST(Carbon, UnknownRegionSaysWhichRegionsExist) {
  const Error in_usa = resolve_error({.country = "USA", .region = "QC"});
  EXPECT_EQ(in_usa.code(), ErrorCode::usage);
  EXPECT_EQ(in_usa.where(), "--region");
  EXPECT_THAT(in_usa.what(), HasSubstr("United States"));
  EXPECT_THAT(in_usa.what(), HasSubstr(" VA "));

  const Error in_france = resolve_error({.country = "FRA", .region = "IDF"});
  EXPECT_THAT(in_france.what(), HasSubstr("no regions for France"));
  EXPECT_THAT(in_france.what(), HasSubstr("drop --region"));

  const Error anywhere = resolve_error({.region = "atlantis"});
  EXPECT_EQ(anywhere.where(), "--region");
  EXPECT_THAT(anywhere.what(), HasSubstr("SE1..SE4"));
}

TEST(Carbon, UnknownCloudRegionOrProviderIsAUsageError) {
  const Error region = resolve_error({.cloud_provider = "gcp", .cloud_region = "moon-central1"});
  EXPECT_EQ(region.code(), ErrorCode::usage);
  EXPECT_EQ(region.where(), "--cloud-region");
  EXPECT_THAT(region.what(), HasSubstr("gcp:us-central1"));

  EXPECT_EQ(resolve_error({.cloud_provider = "oracle", .cloud_region = "x"}).where(), "--cloud-provider");
  EXPECT_EQ(resolve_error({.cloud_provider = "aws"}).where(), "--cloud-provider");
  // us-east-1 is AWS's, not Google's.
  EXPECT_EQ(resolve_error({.cloud_provider = "gcp", .cloud_region = "us-east-1"}).where(), "--cloud-region");
  EXPECT_EQ(resolve_error({.cloud_provider = "gcp", .cloud_region = "aws:us-east-1"}).where(),
            "--cloud-region");
}

TEST(Carbon, GivenValueMustBeAFiniteNonNegativeNumber) {
  EXPECT_EQ(resolve_error({.gco2_per_kwh = -1.0}).where(), "--carbon-intensity");
  EXPECT_EQ(resolve_error({.gco2_per_kwh = std::numeric_limits<double>::quiet_NaN()}).where(),
            "--carbon-intensity");
  EXPECT_EQ(resolve_error({.gco2_per_kwh = std::numeric_limits<double>::infinity()}).code(),
            ErrorCode::usage);
}

TEST(Carbon, CountryThatDisagreesWithTheCloudRegionIsWarnedAbout) {
  ::testing::internal::CaptureStderr();
  const CarbonIntensity intensity =
      resolve_carbon_intensity({.country = "DEU", .cloud_region = "gcp:europe-west9"});
  const std::string warnings = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(intensity.country_iso3, "FRA");
  EXPECT_THAT(warnings, HasSubstr("--country DEU ignored"));
  EXPECT_THAT(warnings, HasSubstr("France"));
}

TEST(CarbonTable, EveryRowIsPlausible) {
  std::map<ZoneKind, int> rows_per_kind;
  for (const CarbonZone& row : carbon_table()) {
    SCOPED_TRACE(row.zone);
    ++rows_per_kind[row.kind];
    // OWID gives the Central African Republic, whose 0.15 TWh in 2022 were all hydro, exactly 0.
    if (row.zone == "CAF") {
      EXPECT_EQ(row.gco2_per_kwh, 0.0);
    } else {
      EXPECT_GT(row.gco2_per_kwh, 0.0);
    }
    EXPECT_LT(row.gco2_per_kwh, 1500.0);
    EXPECT_GE(row.year, 2015);
    EXPECT_LE(row.year, 2026);
    EXPECT_FALSE(row.name.empty());
    EXPECT_FALSE(row.source.empty());
    if (row.kind == ZoneKind::world) {
      EXPECT_EQ(row.country_iso3, "");
    } else {
      EXPECT_NO_THROW(table_row(ZoneKind::country, row.country_iso3)) << "its country is not in the table";
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
  EXPECT_GE(rows_per_kind[ZoneKind::country], 200);
  EXPECT_EQ(rows_per_kind[ZoneKind::us_state], 51);  // 50 states and DC
  EXPECT_EQ(rows_per_kind[ZoneKind::ca_province], 13);
  EXPECT_EQ(rows_per_kind[ZoneKind::nordic_zone], 12);
  EXPECT_GE(rows_per_kind[ZoneKind::cloud_region], 100);
}

// The lookups take the first match, which is only right when codes and names cannot collide.
TEST(CarbonTable, CodesAreUniqueWhereLookupsNeedThem) {
  std::set<std::string> zones, region_keys, cloud_region_names;
  const auto lower = [](std::string text) {
    for (char& c : text)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
  };
  for (const CarbonZone& row : carbon_table()) {
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

// AWS and Azure publish no grid figures: their rows repeat the zone they sit in, which must stay in step.
TEST(CarbonTable, MappedCloudRegionsCarryTheirGridZonesFigure) {
  const std::regex grid_of("grid of (country|us-state|ca-province|nordic-zone) ([A-Z0-9]+): .+");
  int mapped = 0;
  for (const CarbonZone& row : carbon_table()) {
    if (row.kind != ZoneKind::cloud_region || row.zone.starts_with("gcp:")) {
      continue;
    }
    SCOPED_TRACE(row.zone);
    std::smatch match;
    ASSERT_TRUE(std::regex_match(row.source, match, grid_of)) << row.source;
    const std::string kind_name = match[1];
    const auto kind = kind_name == "country"       ? ZoneKind::country
                      : kind_name == "us-state"    ? ZoneKind::us_state
                      : kind_name == "ca-province" ? ZoneKind::ca_province
                                                   : ZoneKind::nordic_zone;
    const CarbonZone& grid = table_row(kind, match[2]);
    EXPECT_DOUBLE_EQ(row.gco2_per_kwh, grid.gco2_per_kwh);
    EXPECT_EQ(row.year, grid.year);
    EXPECT_EQ(row.country_iso3, grid.country_iso3);
    ++mapped;
  }
  EXPECT_GE(mapped, 60);
}

// Our country rows transcribe Our World in Data's carbon_intensity_elec; CodeCarbon's global_energy_mix.json
// transcribes the same column. Where both give the same year the figures must agree.
TEST(CarbonTable, CountriesAgreeWithCodeCarbonsOwidTranscription) {
  GREENTUNE_REQUIRE_SHARED(shared);
  const auto mix_path = shared / "data/energy-reference/codecarbon/private_infra/global_energy_mix.json";
  if (!std::filesystem::exists(mix_path)) {
    GTEST_SKIP() << mix_path << " not found: it comes with ../shared/data/energy-reference";
  }
  std::ifstream in(mix_path);
  const nlohmann::json mix = nlohmann::json::parse(in);

  int same_year = 0, other_year = 0, missing_there = 0;
  std::vector<std::string> differing;
  std::set<std::string> ours;
  for (const CarbonZone& row : carbon_table()) {
    if (row.kind != ZoneKind::country) {
      continue;
    }
    ours.insert(row.zone);
    if (!mix.contains(row.zone)) {
      ++missing_there;
      continue;
    }
    const nlohmann::json& theirs = mix[row.zone];
    if (theirs["year"].get<int>() != row.year) {
      ++other_year;
      continue;
    }
    ++same_year;
    if (std::abs(theirs["carbon_intensity"].get<double>() - row.gco2_per_kwh) > 0.5) {
      differing.push_back(row.zone);
    }
  }
  std::vector<std::string> missing_here;
  for (const auto& [iso3, entry] : mix.items()) {
    if (!ours.contains(iso3)) {
      missing_here.push_back(iso3 + " (" + std::to_string(entry["year"].get<int>()) + ")");
    }
  }
  std::cout << "[ carbon   ] " << same_year << " countries compared with CodeCarbon, " << differing.size()
            << " differ by more than 0.5 g/kWh; " << other_year << " with another year; " << missing_there
            << " not in CodeCarbon; not in greentune: " << ::testing::PrintToString(missing_here) << "\n";
  EXPECT_GE(same_year, 200);
  EXPECT_TRUE(differing.empty()) << ::testing::PrintToString(differing);
  // Only figures older than the table's 2015 cut-off may be left out (Western Sahara's is from 2009).
  EXPECT_EQ(missing_here, std::vector<std::string>{"ESH (2009)"});
}

}  // namespace
}  // namespace greentune::energy
