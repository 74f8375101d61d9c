#pragma once
// A study's external variant run: its command (ExternalCommand) run under a Meter of this machine as
// `greentune measure` runs one, into the run directory (emissions.csv, energy.json, command.log), and
// its result.json made from what was measured and the metrics its results file gives.

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "greentune/energy/machine.hpp"
#include "greentune/energy/measured_command.hpp"
#include "greentune/study/plan.hpp"
#include "greentune/train/run_result.hpp"

namespace greentune::study {

inline constexpr const char* kExternalOutputFile = "command.log";  // the command's stdout and stderr

// The command of one run of variant with its {seed}, {run_dir} and {KEY}s replaced; settings give the
// KEYs' values (the variant's settings with --set over them). Error(usage) naming the study file's line
// for a {KEY} that no setting gives.
std::vector<std::string> external_command_line(const StudyPlan& plan, const Variant& variant,
                                               const std::vector<Setting>& settings, uint64_t seed,
                                               const std::filesystem::path& run_dir);

// result.json of a finished external run: the metrics results (the results file, read from results_path)
// gives, with the energy, CO2, time and peak memory measured. Error(invalid_data) naming the file and key
// for a required metric that is missing or out of range.
train::RunResult external_run_result(const ExternalCommand& external, const energy::MeasuredCommand& measured,
                                     const nlohmann::json& results,
                                     const std::filesystem::path& results_path);

// Runs one run of an external variant into run_dir and writes its result.json. Throws Error(interrupted)
// when Ctrl-C or SIGTERM stopped the command, Error(invalid_data) when it could not start, failed or wrote
// no usable results file (the error quotes the end of command.log).
void run_external(const StudyPlan& plan, const Variant& variant, const std::vector<Setting>& settings,
                  const energy::MeteringOptions& metering, uint64_t seed,
                  const std::filesystem::path& run_dir);

}  // namespace greentune::study
