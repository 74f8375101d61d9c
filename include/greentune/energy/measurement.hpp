#pragma once
// What a measurement window reports: energy per component in joules, its total, kWh and CO2, and how
// each component was measured. Units are in the field names.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "greentune/energy/energy_counter.hpp"

namespace greentune::energy {

struct ComponentEnergy {
  Component component = Component::cpu;
  Method method = Method::rapl;
  std::string label;    // the device, as EnergyCounter::label() says
  double joules = 0.0;  // in the window
};

struct Measurement {
  std::string name;  // the window's name ("run", "epoch-1", "train", "eval")
  double duration_s = 0.0;
  std::vector<ComponentEnergy> components;  // one per counter, in the Meter's order
  std::vector<double> gpu_j;                // per GPU counter, in the Meter's order
  double cpu_j = 0.0, dram_j = 0.0, ram_j = 0.0;
  double total_j = 0.0;  // every component, times the PUE
  double kwh = 0.0;      // total_j in kWh
  double co2_kg = 0.0;   // kwh x carbon intensity
  double pue = 1.0;      // power usage effectiveness applied to the total
  double gco2_per_kwh = 0.0;

  double gpu_total_j() const;
  double average_w() const;  // total_j / duration_s; 0 for an empty window
};
void to_json(nlohmann::json& json, const ComponentEnergy& energy);
void to_json(nlohmann::json& json, const Measurement& measurement);

constexpr double kJoulesPerKwh = 3.6e6;

// Adds "component": "method" to methods ("gpu": "nvml-energy-counter"); a component measured several
// ways lists each method once ("nvml-energy-counter + nvml-power-integrated").
void add_method(nlohmann::json& methods, std::string_view component, std::string_view method);
// How each component of measurement was measured, as add_method lists them.
nlohmann::json methods_of(const Measurement& measurement);

}  // namespace greentune::energy
