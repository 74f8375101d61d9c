#pragma once
// A program run under a Meter of this machine, as `greentune measure` runs one and as a study runs an
// external variant: its energy and CO2 as a CodeCarbon emissions.csv row and an energy.json.

#include <filesystem>
#include <string>
#include <vector>

#include "greentune/core/child_process.hpp"
#include "greentune/energy/emissions_csv.hpp"
#include "greentune/energy/machine.hpp"
#include "greentune/energy/measurement.hpp"

namespace greentune::energy {

struct MeasuredCommand {
  ChildExit exit;
  Measurement run;  // the window from just before the program started to its end
  MachineInfo machine;
  CarbonIntensity carbon;
  std::vector<std::string> notes;  // what start_metering said of the counters
  std::vector<std::string> counter_failures;
  EmissionsRow row;
};

// Resolves options (Error(usage) for an unknown --country and the like, before the program runs), runs
// command to its end with child's output settings, appends its row to output_dir/emissions.csv and writes
// output_dir/energy.json (the command, its exit status, the window, the carbon intensity, notes and
// counter failures), also when the program failed; a program that could not be started (exit.started
// false) adds no row and writes no energy.json.
MeasuredCommand measure_command(const std::vector<std::string>& command, const MeteringOptions& options,
                                const std::filesystem::path& output_dir, const RunIdentity& identity,
                                const ChildOptions& child = {});

}  // namespace greentune::energy
