#pragma once
// One component's energy as a cumulative counter: the common face of hardware counters (RAPL, NVML's
// total-energy counter), integrated power readings (NVML power) and models (CPU TDP x utilization, RAM
// per DIMM). The Meter polls every counter from its sampler thread and at window edges.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace greentune::energy {

// What a component's energy is worth as evidence, recorded beside every number.
enum class Method {
  rapl,             // CPU package / DRAM energy counters (powercap sysfs)
  nvml_counter,     // the GPU's own total-energy counter (Volta and newer)
  nvml_power,       // GPU power polled and integrated (trapezoid)
  amdsmi_counter,   // an AMD GPU's energy accumulator (AMD SMI's amdsmi_get_energy_count)
  amdsmi_power,     // an AMD GPU's power polled and integrated (trapezoid)
  tdp_utilization,  // CPU: TDP x (0.1 + 0.9 u^3), CodeCarbon 3.x's model
  dimm_model,       // RAM: 5 W per DIMM for the first four, less for more, CodeCarbon 3.x's model
};
std::string_view to_string(Method method);

// The kinds of energy a Measurement adds up; each counter measures one.
enum class Component { gpu, cpu, dram, ram };
std::string_view to_string(Component component);

using Clock = std::chrono::steady_clock;

class EnergyCounter {
 public:
  virtual ~EnergyCounter() = default;
  virtual Component component() const = 0;
  virtual Method method() const = 0;
  // Which device: "GPU 0 (NVIDIA H100 80GB HBM3)", "package-0 + package-1", "Intel Xeon Gold 6338 (TDP
  // 205 W)". For summaries and the JSON breakdown.
  virtual std::string label() const = 0;
  // Joules since the counter was created, read now. Calls come from one thread at a time (the Meter
  // serializes them) with non-decreasing now; counters that integrate power use now as the sample time.
  // Throws greentune::Error(io) when the source stops answering.
  virtual double poll_joules(Clock::time_point now) = 0;
};

using EnergyCounters = std::vector<std::unique_ptr<EnergyCounter>>;

// Power readings integrated with the trapezoid rule over their times: accurate when read often (the Meter
// polls every 100 ms or less). For GPUs without an energy counter.
class PowerIntegral {
 public:
  PowerIntegral(Clock::time_point first_time, double first_power_w)
      : last_time_(first_time), last_power_w_(first_power_w) {}
  // Joules since first_time, with power_w read at now.
  double add(Clock::time_point now, double power_w) {
    joules_ += 0.5 * (last_power_w_ + power_w) * std::chrono::duration<double>(now - last_time_).count();
    last_time_ = now;
    last_power_w_ = power_w;
    return joules_;
  }

 private:
  Clock::time_point last_time_;
  double last_power_w_;
  double joules_ = 0.0;
};

}  // namespace greentune::energy
