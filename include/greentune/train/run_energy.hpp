#pragma once
// The energy of a training run: a Meter over this machine's counters with windows per epoch and per
// evaluation, totals that add up across the processes of a resumed run, the Carbontracker-style forecast
// after the first epoch, and the run's emissions.csv row and energy.json breakdown.

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "greentune/energy/machine.hpp"

namespace greentune::train {

// Energy so far, all processes of the run together. Joules are IT energy times the PUE for total_j only.
struct EnergyTotals {
  double duration_s = 0.0;
  double gpu_j = 0.0, cpu_j = 0.0, dram_j = 0.0, ram_j = 0.0;
  double total_j = 0.0;  // every component, PUE applied
  double eval_j = 0.0;   // the part of total_j spent in evaluations
  double co2_kg = 0.0;

  double kwh() const { return total_j / energy::kJoulesPerKwh; }
  double average_w() const { return duration_s > 0.0 ? total_j / duration_s : 0.0; }
  EnergyTotals& operator+=(const energy::Measurement& measurement);
  EnergyTotals& operator+=(const EnergyTotals& other);
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(EnergyTotals, duration_s, gpu_j, cpu_j, dram_j, ram_j,
                                                total_j, eval_j, co2_kg)

// What the whole run will take, extrapolated from the first epoch's energy per update.
struct EnergyForecast {
  int64_t from_steps = 0;  // updates measured
  int64_t total_steps = 0;
  double kwh = 0.0;
  double co2_kg = 0.0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(EnergyForecast, from_steps, total_steps, kwh, co2_kg)

class RunEnergy {
 public:
  // Resolves the carbon intensity (Error(usage) for unknown places), starts the Meter and the run's window.
  explicit RunEnergy(const energy::MeteringOptions& options);
  // What the previous processes of a resumed run measured, added to every total.
  void add_earlier(const EnergyTotals& earlier);

  void begin_epoch(int64_t epoch);
  energy::Measurement end_epoch(int64_t epoch);  // also kept for energy.json
  void begin_eval();
  energy::Measurement end_eval();  // also added to the totals' eval_j

  EnergyTotals totals();  // earlier processes plus this one up to now
  // Average watts since the previous call (the progress bar's W); 0 on the first call.
  double recent_watts();

  const energy::CarbonIntensity& carbon() const { return metering_.carbon; }
  const energy::Metering& metering() const { return metering_; }
  // "gpu": "nvml-energy-counter", "cpu": "rapl", ... for result.json.
  nlohmann::json methods() const;

  // Ends the run's window and writes OUT/emissions.csv (a row appended) and OUT/energy.json (every
  // window, the carbon intensity, the methods and notes). Returns the run's totals.
  EnergyTotals finish(const std::filesystem::path& output, const std::string& run_name);

 private:
  energy::Metering metering_;
  EnergyTotals earlier_;
  double eval_j_ = 0.0;  // this process's evaluations
  std::vector<energy::Measurement> windows_;
  double last_total_j_ = 0.0;
  double last_duration_s_ = 0.0;
};

}  // namespace greentune::train
