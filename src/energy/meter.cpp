#include "greentune/energy/meter.hpp"

#include <fmt/format.h>

#include "greentune/core/error.hpp"
#include "greentune/core/log.hpp"

namespace greentune::energy {

Meter::Meter(EnergyCounters counters, MeterOptions options)
    : counters_(std::move(counters)),
      options_(std::move(options)),
      last_joules_(counters_.size(), 0.0),
      failure_of_(counters_.size()) {
  if (options_.interval <= std::chrono::milliseconds(0)) {
    throw Error(ErrorCode::usage, "--interval-ms", "the sampling interval must be positive",
                "pass e.g. --interval-ms 100");
  }
  for (const auto& counter : counters_)
    infos_.push_back({counter->component(), counter->method(), counter->label()});
  sampler_ = std::thread([this] { sample_until_stopped(); });
}

Meter::~Meter() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  stop_signal_.notify_all();
  sampler_.join();
}

Meter::Snapshot Meter::read_locked() {
  Snapshot snapshot{Clock::now(), {}, 0.0};
  double previous_it_joules = 0.0;
  for (const double joules : last_joules_)
    previous_it_joules += joules;
  for (size_t i = 0; i < counters_.size(); ++i) {
    if (!failure_of_[i].empty())
      continue;
    try {
      last_joules_[i] = counters_[i]->poll_joules(snapshot.time);
    } catch (const std::exception& error) {
      // A counter that stops answering (a GPU lost, a file gone) freezes at its last reading; the run and
      // the other counters go on, and the failure is reported with the results.
      failure_of_[i] = fmt::format("{}: {}", infos_[i].label, error.what());
      log::warn(fmt::format("energy counter stopped: {}; its energy is counted up to here", failure_of_[i]));
    }
  }
  snapshot.joules = last_joules_;
  if (options_.live_gco2_per_kwh) {
    double it_joules = 0.0;
    for (const double joules : last_joules_)
      it_joules += joules;
    co2_g_ += (it_joules - previous_it_joules) * options_.pue / kJoulesPerKwh * options_.live_gco2_per_kwh();
  }
  snapshot.co2_g = co2_g_;
  return snapshot;
}

void Meter::sample_until_stopped() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    read_locked();
    stop_signal_.wait_for(lock, options_.interval, [this] { return stopping_; });
  }
}

Measurement Meter::difference(const std::string& name, const Snapshot& from, const Snapshot& to) const {
  Measurement measurement;
  measurement.name = name;
  measurement.duration_s = std::chrono::duration<double>(to.time - from.time).count();
  measurement.pue = options_.pue;
  measurement.gco2_per_kwh = options_.gco2_per_kwh;
  double it_joules = 0.0;  // what the IT equipment drew, before the facility overhead (PUE)
  for (size_t i = 0; i < infos_.size(); ++i) {
    const double joules = to.joules[i] - from.joules[i];
    measurement.components.push_back({infos_[i].component, infos_[i].method, infos_[i].label, joules});
    it_joules += joules;
    switch (infos_[i].component) {
      case Component::gpu:
        measurement.gpu_j.push_back(joules);
        break;
      case Component::cpu:
        measurement.cpu_j += joules;
        break;
      case Component::dram:
        measurement.dram_j += joules;
        break;
      case Component::ram:
        measurement.ram_j += joules;
        break;
    }
  }
  measurement.total_j = it_joules * options_.pue;
  measurement.kwh = measurement.total_j / kJoulesPerKwh;
  if (options_.live_gco2_per_kwh) {
    measurement.co2_kg = (to.co2_g - from.co2_g) / 1000.0;
    measurement.gco2_per_kwh =
        measurement.kwh > 0.0 ? (to.co2_g - from.co2_g) / measurement.kwh : options_.live_gco2_per_kwh();
  } else {
    measurement.co2_kg = measurement.kwh * options_.gco2_per_kwh / 1000.0;
  }
  return measurement;
}

void Meter::begin(const std::string& name) {
  if (options_.synchronize)
    options_.synchronize();
  const std::lock_guard lock(mutex_);
  if (open_.contains(name)) {
    throw Error(ErrorCode::usage, "energy window " + name, "is already open",
                "end it before beginning it again");
  }
  open_.emplace(name, read_locked());
}

Measurement Meter::end(const std::string& name) {
  if (options_.synchronize)
    options_.synchronize();
  const std::lock_guard lock(mutex_);
  const auto window = open_.find(name);
  if (window == open_.end()) {
    throw Error(ErrorCode::usage, "energy window " + name, "is not open", "begin it before ending it");
  }
  const Snapshot from = std::move(window->second);
  open_.erase(window);
  return difference(name, from, read_locked());
}

Measurement Meter::peek(const std::string& name) {
  const std::lock_guard lock(mutex_);
  const auto window = open_.find(name);
  if (window == open_.end()) {
    throw Error(ErrorCode::usage, "energy window " + name, "is not open", "begin it before reading it");
  }
  return difference(name, window->second, read_locked());
}

bool Meter::is_open(const std::string& name) const {
  const std::lock_guard lock(mutex_);
  return open_.contains(name);
}

std::vector<std::string> Meter::failures() const {
  const std::lock_guard lock(mutex_);
  std::vector<std::string> failures;
  for (const std::string& failure : failure_of_) {
    if (!failure.empty())
      failures.push_back(failure);
  }
  return failures;
}

}  // namespace greentune::energy
