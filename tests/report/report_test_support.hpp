#pragma once
// What the report tests build their studies from.

#include "greentune/train/run_result.hpp"

namespace greentune::report {

// A finished run's result.json: f1 a point under accuracy, three quarters of the energy the CPU's and one
// the RAM's, 400 g CO2 per kWh and 1000 s per kWh, so that CO2 and time change as energy does.
inline train::RunResult finished_result(double accuracy, double energy_kwh) {
  train::RunResult result;
  result.accuracy = accuracy;
  result.f1 = accuracy - 0.01;
  result.energy_kwh = energy_kwh;
  result.cpu_kwh = 0.75 * energy_kwh;
  result.ram_kwh = 0.25 * energy_kwh;
  result.co2_kg = 0.4 * energy_kwh;
  result.train_seconds = 1000.0 * energy_kwh;
  return result;
}

}  // namespace greentune::report
