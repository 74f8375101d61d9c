#include "greentune/energy/emissions_csv.hpp"

#include <fmt/core.h>

#include <cmath>
#include <ctime>
#include <system_error>

#include "greentune/core/csv.hpp"
#include "greentune/core/error.hpp"
#include "greentune/core/files.hpp"
#include "greentune/core/log.hpp"

namespace greentune::energy {

namespace fs = std::filesystem;

namespace {

// Python's repr of a float, which pandas writes: shortest round-trip digits, and "100.0" not "100".
std::string format_number(const std::optional<double>& value) {
  if (!value || !std::isfinite(*value)) {
    return "";
  }
  std::string text = fmt::format("{}", *value);
  if (text.find_first_of(".e") == std::string::npos) {
    text += ".0";
  }
  return text;
}

std::string format_count(const std::optional<int>& value) {
  return value ? std::to_string(*value) : "";
}

template <typename Fields>
std::string join_line(const Fields& fields) {
  return csv_line(fields) + "\n";
}

// The first line without its line ending or a UTF-8 byte order mark (spreadsheets add one when saving).
std::string_view header_of(std::string_view contents) {
  constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";
  if (contents.starts_with(kByteOrderMark)) {
    contents.remove_prefix(kByteOrderMark.size());
  }
  std::string_view header = contents.substr(0, contents.find('\n'));
  if (header.ends_with('\r')) {
    header.remove_suffix(1);
  }
  return header;
}

// CodeCarbon's backup names (codecarbon.core.util.backup): "<name>.bak", then "<name>_0.bak",
// "<name>_1.bak"... An existing backup is never overwritten.
fs::path move_aside(const fs::path& path) {
  fs::path backup = path;
  backup += ".bak";
  for (int index = 0; fs::exists(backup); ++index) {
    backup = path.parent_path() / fmt::format("{}_{}.bak", path.filename().string(), index);
  }
  std::error_code error;
  fs::rename(path, backup, error);
  if (error) {
    throw Error(
        ErrorCode::io, path.string(),
        fmt::format("cannot move the file with the old header to {}: {}", backup.string(), error.message()),
        "check the directory's permissions, or move the file away yourself");
  }
  return backup;
}

}  // namespace

std::string codecarbon_timestamp(std::chrono::system_clock::time_point when) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(when);
  std::tm local{};
  localtime_r(&seconds, &local);
  char text[32];
  const size_t length = std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &local);
  return std::string(text, length);
}

std::array<std::string, 38> emissions_csv_fields(const EmissionsRow& row) {
  return {row.timestamp,
          row.project_name,
          row.run_id,
          row.experiment_id,
          format_number(row.duration_s),
          format_number(row.emissions_kg),
          format_number(row.emissions_rate_kg_per_s),
          format_number(row.cpu_power_w),
          format_number(row.gpu_power_w),
          format_number(row.ram_power_w),
          format_number(row.cpu_energy_kwh),
          format_number(row.gpu_energy_kwh),
          format_number(row.ram_energy_kwh),
          format_number(row.energy_consumed_kwh),
          format_number(row.water_consumed_l),
          row.country_name,
          row.country_iso_code,
          row.region,
          row.cloud_provider,
          row.cloud_region,
          row.os,
          "",  // python_version: no Python runs
          "",  // codecarbon_version: CodeCarbon did not write this row
          format_count(row.cpu_count),
          row.cpu_model,
          format_count(row.gpu_count),
          row.gpu_model,
          format_number(row.longitude),
          format_number(row.latitude),
          format_number(row.ram_total_size_gb),
          row.tracking_mode,
          format_number(row.cpu_utilization_percent),
          format_number(row.gpu_utilization_percent),
          format_number(row.ram_utilization_percent),
          format_number(row.ram_used_gb),
          row.on_cloud ? "Y" : "N",
          format_number(row.pue),
          format_number(row.wue_l_per_kwh)};
}

std::string emissions_csv_line(const EmissionsRow& row) {
  return join_line(emissions_csv_fields(row));
}

// Appending rewrites the whole file through a temp file and a rename rather than write()-ing one line with
// O_APPEND: a crash, a kill or a full disk then leaves either the old file or the new one, never a torn
// last row that would break every later read. The cost, copying a file of one row per run, is negligible.
// Two processes appending at the same instant can lose one row, so concurrent runs need their own files.
void append_emissions_row(const fs::path& path, const EmissionsRow& row) {
  const std::string header = join_line(kEmissionsCsvColumns);
  std::error_code error;
  const bool exists = fs::exists(path, error);
  if (error) {  // never mistake an unreadable file for a missing one: that would overwrite its rows
    throw Error(ErrorCode::io, path.string(), "cannot tell whether the file exists: " + error.message(),
                "check the directory's permissions");
  }
  std::string contents = exists ? read_file(path) : std::string();
  if (!contents.empty() && header_of(contents) != header_of(header)) {
    const fs::path backup = move_aside(path);
    log::warn(
        fmt::format("{}: its header is not CodeCarbon 3.x's {} columns (an older CodeCarbon's?); moved it "
                    "to {} and started a new file",
                    path.string(), kEmissionsCsvColumns.size(), backup.string()));
    contents.clear();
  }
  if (contents.empty()) {
    contents = header;
  } else if (contents.back() != '\n') {
    contents.push_back('\n');  // a file edited by hand may lack its last line break
  }
  contents += emissions_csv_line(row);
  write_file_atomically(path, contents);
}

}  // namespace greentune::energy
