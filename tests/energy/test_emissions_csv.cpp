// emissions.csv: CodeCarbon 3.x's exact header, 38 fields in every row, RFC 4180 quoting, CodeCarbon's value
// formats, appends that keep earlier rows, and an old file with another header moved aside, not corrupted.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <ctime>
#include <limits>
#include <map>

#include "greentune/core/error.hpp"
#include "greentune/energy/emissions_csv.hpp"
#include "test_support.hpp"

namespace greentune::energy {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

// CodeCarbon 3.x's EmissionsData fields, typed out again here so that a change to the library's list fails.
const std::vector<std::string> kCodeCarbonColumns = {
    // clang-format off
    "timestamp", "project_name", "run_id", "experiment_id", "duration", "emissions", "emissions_rate",
    "cpu_power", "gpu_power", "ram_power", "cpu_energy", "gpu_energy", "ram_energy", "energy_consumed",
    "water_consumed", "country_name", "country_iso_code", "region", "cloud_provider", "cloud_region", "os",
    "python_version", "codecarbon_version", "cpu_count", "cpu_model", "gpu_count", "gpu_model", "longitude",
    "latitude", "ram_total_size", "tracking_mode", "cpu_utilization_percent", "gpu_utilization_percent",
    "ram_utilization_percent", "ram_used_gb", "on_cloud", "pue", "wue"
    // clang-format on
};

// An independent RFC 4180 reader: records of fields, quoted fields may hold commas, quotes and newlines.
std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> records;
  std::vector<std::string> record;
  std::string field;
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field.push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field.push_back(c);
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      record.push_back(std::move(field));
      field.clear();
    } else if (c == '\n') {
      record.push_back(std::move(field));
      field.clear();
      records.push_back(std::move(record));
      record.clear();
    } else {
      field.push_back(c);
    }
  }
  EXPECT_FALSE(quoted) << "unterminated quoted field";
  EXPECT_TRUE(field.empty() && record.empty()) << "the text does not end with a line break";
  return records;
}

std::map<std::string, std::string> by_column(const std::string& line) {
  const auto records = parse_csv(line);
  EXPECT_THAT(records, SizeIs(1));
  EXPECT_THAT(records.at(0), SizeIs(kCodeCarbonColumns.size()));
  std::map<std::string, std::string> fields;
  for (size_t i = 0; i < kCodeCarbonColumns.size() && i < records.at(0).size(); ++i) {
    fields[kCodeCarbonColumns[i]] = records[0][i];
  }
  return fields;
}

EmissionsRow sample_row(const std::string& run_id) {
  EmissionsRow row;
  row.timestamp = "2025-03-07T14:02:09";
  row.project_name = "greentune";
  row.run_id = run_id;
  row.duration_s = 12.5;
  row.emissions_kg = 0.001;
  row.cpu_energy_kwh = 1e-07;
  row.energy_consumed_kwh = 100.0;
  row.country_iso_code = "FRA";
  row.cpu_count = 8;
  row.on_cloud = true;
  row.pue = 1.2;
  return row;
}

TEST(EmissionsCsv, ColumnsAreCodeCarbon3sInOrder) {
  ASSERT_EQ(kEmissionsCsvColumns.size(), 38u);
  const std::vector<std::string> columns(kEmissionsCsvColumns.begin(), kEmissionsCsvColumns.end());
  EXPECT_EQ(columns, kCodeCarbonColumns);
}

TEST(EmissionsCsv, AnEmptyRowStillHas38FieldsAllEmptyButOnCloud) {
  const auto fields = by_column(emissions_csv_line(EmissionsRow{}));
  for (const auto& [column, value] : fields) {
    EXPECT_EQ(value, column == "on_cloud" ? "N" : "") << column;
  }
  EXPECT_EQ(emissions_csv_line(EmissionsRow{}), std::string(35, ',') + "N,,\n");
}

TEST(EmissionsCsv, ValuesLandInTheirColumnsInCodeCarbonsFormats) {
  EmissionsRow row = sample_row("run-1");
  row.gpu_power_w = std::numeric_limits<double>::quiet_NaN();  // unknown, not "nan"
  row.wue_l_per_kwh = std::numeric_limits<double>::infinity();
  const auto fields = by_column(emissions_csv_line(row));
  EXPECT_EQ(fields.at("timestamp"), "2025-03-07T14:02:09");
  EXPECT_EQ(fields.at("run_id"), "run-1");
  EXPECT_EQ(fields.at("duration"), "12.5");
  EXPECT_EQ(fields.at("emissions"), "0.001");
  EXPECT_EQ(fields.at("cpu_energy"), "1e-07");       // Python's repr, as pandas writes it
  EXPECT_EQ(fields.at("energy_consumed"), "100.0");  // a float column stays a float
  EXPECT_EQ(fields.at("country_iso_code"), "FRA");
  EXPECT_EQ(fields.at("cpu_count"), "8");
  EXPECT_EQ(fields.at("on_cloud"), "Y");
  EXPECT_EQ(fields.at("pue"), "1.2");
  EXPECT_EQ(fields.at("gpu_power"), "");
  EXPECT_EQ(fields.at("wue"), "");
  EXPECT_EQ(fields.at("python_version"), "");
  EXPECT_EQ(fields.at("codecarbon_version"), "");
}

TEST(EmissionsCsv, FieldsWithCommasQuotesOrLineBreaksAreQuoted) {
  EmissionsRow row;
  row.cpu_model = "Intel(R) Xeon(R) Gold 6338, 2.0GHz";
  row.gpu_model = "1 x \"Big\" GPU";
  row.project_name = "two\nlines";
  const std::string line = emissions_csv_line(row);
  EXPECT_THAT(line, HasSubstr(",\"Intel(R) Xeon(R) Gold 6338, 2.0GHz\","));
  EXPECT_THAT(line, HasSubstr(",\"1 x \"\"Big\"\" GPU\","));
  EXPECT_THAT(line, HasSubstr(",\"two\nlines\","));
  const auto fields = by_column(line);
  EXPECT_EQ(fields.at("cpu_model"), row.cpu_model);
  EXPECT_EQ(fields.at("gpu_model"), row.gpu_model);
  EXPECT_EQ(fields.at("project_name"), row.project_name);
}

TEST(EmissionsCsv, TimestampIsLocalIso8601ToTheSecond) {
  const char* old_zone = std::getenv("TZ");
  const std::string saved = old_zone != nullptr ? old_zone : "";
  setenv("TZ", "UTC", 1);
  tzset();
  const auto when = std::chrono::system_clock::from_time_t(1704164645) + std::chrono::milliseconds(900);
  const std::string utc = codecarbon_timestamp(when);
  setenv("TZ", "IST-5:30", 1);  // POSIX spelling of UTC+05:30: needs no tzdata
  tzset();
  const std::string kolkata = codecarbon_timestamp(when);
  if (old_zone != nullptr) {
    setenv("TZ", saved.c_str(), 1);
  } else {
    unsetenv("TZ");
  }
  tzset();
  EXPECT_EQ(utc, "2024-01-02T03:04:05");
  EXPECT_EQ(kolkata, "2024-01-02T08:34:05");
}

TEST(EmissionsCsv, NewFileGetsTheHeaderAndAppendsKeepEarlierRows) {
  testing::TempDir dir;
  const auto path = dir / "emissions.csv";
  append_emissions_row(path, sample_row("run-1"));
  const std::string after_one = testing::read_text(path);
  append_emissions_row(path, sample_row("run-2"));
  append_emissions_row(path, sample_row("run-3"));
  const std::string after_three = testing::read_text(path);

  EXPECT_TRUE(after_three.starts_with(after_one)) << "earlier bytes changed";
  const auto records = parse_csv(after_three);
  ASSERT_THAT(records, SizeIs(4));
  EXPECT_EQ(records[0], kCodeCarbonColumns);
  for (size_t i = 1; i < records.size(); ++i) {
    EXPECT_THAT(records[i], SizeIs(38));
    EXPECT_EQ(records[i][2], "run-" + std::to_string(i));
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "emissions.csv.bak"));
}

TEST(EmissionsCsv, EmptyFileGetsTheHeader) {
  testing::TempDir dir;
  const auto path = dir / "emissions.csv";
  testing::write_text(path, "");
  append_emissions_row(path, sample_row("run-1"));
  const auto records = parse_csv(testing::read_text(path));
  ASSERT_THAT(records, SizeIs(2));
  EXPECT_EQ(records[0], kCodeCarbonColumns);
}

TEST(EmissionsCsv, SameHeaderWithCrlfOrWithoutTheLastLineBreakIsAppendedTo) {
  testing::TempDir dir;
  const auto path = dir / "emissions.csv";
  std::string header;
  for (const auto& column : kCodeCarbonColumns) {
    header += (header.empty() ? "" : ",") + column;
  }
  const std::string existing = header + "\r\n" + std::string(35, ',') + "N,,";  // a row without its "\n"
  testing::write_text(path, existing);
  append_emissions_row(path, sample_row("run-2"));
  const std::string contents = testing::read_text(path);
  EXPECT_TRUE(contents.starts_with(existing));
  EXPECT_EQ(contents.substr(existing.size()), "\n" + emissions_csv_line(sample_row("run-2")));
  EXPECT_FALSE(std::filesystem::exists(dir / "emissions.csv.bak"));
}

TEST(EmissionsCsv, FileWithAnotherHeaderIsMovedAsideUntouched) {
  testing::TempDir dir;
  const auto path = dir / "emissions.csv";
  // CodeCarbon 2.x's header: fewer columns.
  const std::string old_file =
      "timestamp,project_name,run_id,duration,emissions,emissions_rate,cpu_power,gpu_power,ram_power,"
      "cpu_energy,gpu_energy,ram_energy,energy_consumed,country_name,country_iso_code,region,cloud_provider,"
      "cloud_region,os,python_version,codecarbon_version,cpu_count,cpu_model,gpu_count,gpu_model,longitude,"
      "latitude,ram_total_size,tracking_mode,on_cloud,pue\n"
      "2024-01-01T00:00:00,old,r0,1.0,0.1,0.1,1,1,1,1,1,1,1,France,FRA,,,,Linux,3.11,2.8.4,8,x,0,,,,16,"
      "machine,N,1.0\n";
  testing::write_text(path, old_file);

  ::testing::internal::CaptureStderr();
  append_emissions_row(path, sample_row("run-1"));
  const std::string warning = ::testing::internal::GetCapturedStderr();

  EXPECT_EQ(testing::read_text(dir / "emissions.csv.bak"), old_file);
  EXPECT_THAT(warning, HasSubstr("emissions.csv.bak"));
  EXPECT_THAT(warning, HasSubstr("header"));
  const auto records = parse_csv(testing::read_text(path));
  ASSERT_THAT(records, SizeIs(2));
  EXPECT_EQ(records[0], kCodeCarbonColumns);
  EXPECT_EQ(records[1][2], "run-1");

  // A second foreign file does not overwrite the first backup (CodeCarbon's naming: <name>_0.bak).
  testing::write_text(path, "a,b\n1,2\n");
  ::testing::internal::CaptureStderr();
  append_emissions_row(path, sample_row("run-2"));
  ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(testing::read_text(dir / "emissions.csv.bak"), old_file);
  EXPECT_EQ(testing::read_text(dir / "emissions.csv_0.bak"), "a,b\n1,2\n");
}

TEST(EmissionsCsv, UnwritableDestinationIsAnIoErrorNamingThePath) {
  testing::TempDir dir;
  const auto path = dir / "missing-directory" / "emissions.csv";
  try {
    append_emissions_row(path, sample_row("run-1"));
    FAIL() << "expected an Error";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::io);
    EXPECT_THAT(error.what(), HasSubstr("missing-directory"));
  }
}

// On a full disk the append fails with the cause, and the file keeps every earlier row: the new contents
// go to a temporary file that is removed, never over the old ones.
TEST(EmissionsCsv, OnAFullDiskTheAppendFailsAndTheEarlierRowsStay) {
  testing::SmallDisk disk(256 * 1024);
  if (!disk.mounted())
    GTEST_SKIP() << disk.why_not();
  const auto path = disk / "emissions.csv";
  append_emissions_row(path, sample_row("run-1"));
  append_emissions_row(path, sample_row("run-2"));
  const std::string before = testing::read_text(path);
  disk.fill();
  const Error error = testing::error_of([&] { append_emissions_row(path, sample_row("run-3")); });
  EXPECT_EQ(error.code(), ErrorCode::io);
  EXPECT_THAT(error.what(), HasSubstr("emissions.csv: writing failed: No space left on device"));
  EXPECT_EQ(testing::read_text(path), before);
  std::filesystem::remove(disk / "filler");
  for (const auto& entry : std::filesystem::directory_iterator(disk.path()))
    EXPECT_EQ(entry.path().filename(), "emissions.csv") << "left behind";
  append_emissions_row(path, sample_row("run-3"));  // with room again
  EXPECT_THAT(testing::read_text(path), HasSubstr(before));
  EXPECT_THAT(testing::read_text(path), HasSubstr("run-3"));
}

}  // namespace
}  // namespace greentune::energy
