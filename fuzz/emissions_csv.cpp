// An existing emissions.csv (written by CodeCarbon, an older CodeCarbon, pandas, a hand edit or a crash)
// that energy::append_emissions_row appends a row to: the header compared, a foreign file moved aside to
// emissions.csv.bak / emissions.csv_N.bak, the row's fields quoted. The row's text fields are fuzzed too.

#include "greentune/energy/emissions_csv.hpp"

#include <fuzzer/FuzzedDataProvider.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

#include "fuzz_support.hpp"
#include "greentune/core/files.hpp"

namespace {

std::optional<double> maybe_number(FuzzedDataProvider& input) {
  return input.ConsumeBool() ? std::optional(input.ConsumeFloatingPoint<double>()) : std::nullopt;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace greentune;
  namespace fs = std::filesystem;
  // A directory per input: backups of earlier inputs would change where this one's backup goes.
  const fs::path directory = fuzz::scratch_dir() / "run";
  fs::remove_all(directory);
  fs::create_directories(directory);

  FuzzedDataProvider input(data, size);
  energy::EmissionsRow row;
  row.timestamp = input.ConsumeRandomLengthString(32);
  row.project_name = input.ConsumeRandomLengthString(32);
  row.run_id = input.ConsumeRandomLengthString(32);
  row.cpu_model = input.ConsumeRandomLengthString(32);
  row.duration_s = maybe_number(input);
  row.emissions_kg = maybe_number(input);
  row.cpu_count = input.ConsumeBool() ? std::optional(input.ConsumeIntegral<int>()) : std::nullopt;
  row.pue = maybe_number(input);
  row.on_cloud = input.ConsumeBool();
  const std::string existing = input.ConsumeRemainingBytesAsString();

  const fs::path csv = directory / "emissions.csv";
  write_file_atomically(csv, existing);
  fuzz::read_untrusted([&] {
    energy::append_emissions_row(csv, row);
    if (!read_file(csv).ends_with(energy::emissions_csv_line(row))) {
      std::fprintf(stderr, "fuzz: emissions.csv does not end with the appended row\n");
      std::abort();
    }
  });
  return 0;
}
