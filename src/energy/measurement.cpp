#include "greentune/energy/measurement.hpp"

namespace greentune::energy {

std::string_view to_string(Method method) {
  switch (method) {
    case Method::rapl:
      return "rapl";
    case Method::nvml_counter:
      return "nvml-energy-counter";
    case Method::nvml_power:
      return "nvml-power-integrated";
    case Method::amdsmi_counter:
      return "amdsmi-energy-counter";
    case Method::amdsmi_power:
      return "amdsmi-power-integrated";
    case Method::tdp_utilization:
      return "tdp-x-utilization-model";
    case Method::dimm_model:
      return "dimm-count-model";
  }
  return "unknown";
}

std::string_view to_string(Component component) {
  switch (component) {
    case Component::gpu:
      return "gpu";
    case Component::cpu:
      return "cpu";
    case Component::dram:
      return "dram";
    case Component::ram:
      return "ram";
  }
  return "unknown";
}

double Measurement::gpu_total_j() const {
  double sum = 0.0;
  for (const double joules : gpu_j)
    sum += joules;
  return sum;
}

double Measurement::average_w() const {
  return duration_s > 0.0 ? total_j / duration_s : 0.0;
}

void to_json(nlohmann::json& json, const ComponentEnergy& energy) {
  json = {{"component", std::string(to_string(energy.component))},
          {"method", std::string(to_string(energy.method))},
          {"label", energy.label},
          {"joules", energy.joules}};
}

void to_json(nlohmann::json& json, const Measurement& measurement) {
  json = {{"name", measurement.name},
          {"duration_s", measurement.duration_s},
          {"gpu_j", measurement.gpu_j},
          {"cpu_j", measurement.cpu_j},
          {"dram_j", measurement.dram_j},
          {"ram_j", measurement.ram_j},
          {"total_j", measurement.total_j},
          {"kwh", measurement.kwh},
          {"co2_kg", measurement.co2_kg},
          {"pue", measurement.pue},
          {"gco2_per_kwh", measurement.gco2_per_kwh},
          {"average_w", measurement.average_w()},
          {"components", measurement.components}};
}

void add_method(nlohmann::json& methods, std::string_view component, std::string_view method) {
  nlohmann::json& entry = methods[std::string(component)];
  if (entry.is_null()) {
    entry = method;
  } else if (entry.get<std::string>().find(method) == std::string::npos) {
    entry = entry.get<std::string>() + " + " + std::string(method);
  }
}

nlohmann::json methods_of(const Measurement& measurement) {
  nlohmann::json methods = nlohmann::json::object();
  for (const ComponentEnergy& energy : measurement.components)
    add_method(methods, to_string(energy.component), to_string(energy.method));
  return methods;
}

}  // namespace greentune::energy
