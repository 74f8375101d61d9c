#include "greentune/train/run_energy.hpp"

#include <fmt/format.h>

#include "greentune/core/files.hpp"
#include "greentune/core/log.hpp"

namespace greentune::train {

namespace {
constexpr const char* kRunWindow = "run";
constexpr const char* kEvalWindow = "eval";
std::string epoch_window(int64_t epoch) {
  return fmt::format("epoch-{}", epoch + 1);
}
}  // namespace

EnergyTotals& EnergyTotals::operator+=(const energy::Measurement& measurement) {
  duration_s += measurement.duration_s;
  gpu_j += measurement.gpu_total_j();
  cpu_j += measurement.cpu_j;
  dram_j += measurement.dram_j;
  ram_j += measurement.ram_j;
  total_j += measurement.total_j;
  co2_kg += measurement.co2_kg;
  return *this;
}

EnergyTotals& EnergyTotals::operator+=(const EnergyTotals& other) {
  duration_s += other.duration_s;
  gpu_j += other.gpu_j;
  cpu_j += other.cpu_j;
  dram_j += other.dram_j;
  ram_j += other.ram_j;
  total_j += other.total_j;
  eval_j += other.eval_j;
  co2_kg += other.co2_kg;
  return *this;
}

RunEnergy::RunEnergy(const energy::MeteringOptions& options) : metering_(energy::start_metering(options)) {
  for (const std::string& note : metering_.notes)
    log::info(note);
  log::info(fmt::format("carbon intensity {:.0f} gCO2e/kWh: {}", metering_.carbon.gco2_per_kwh,
                        metering_.carbon.reason));
  metering_.meter->begin(kRunWindow);
}

void RunEnergy::add_earlier(const EnergyTotals& earlier) {
  earlier_ += earlier;
}

void RunEnergy::begin_epoch(int64_t epoch) {
  metering_.meter->begin(epoch_window(epoch));
}

energy::Measurement RunEnergy::end_epoch(int64_t epoch) {
  windows_.push_back(metering_.meter->end(epoch_window(epoch)));
  return windows_.back();
}

void RunEnergy::begin_eval() {
  metering_.meter->begin(kEvalWindow);
}

energy::Measurement RunEnergy::end_eval() {
  energy::Measurement eval = metering_.meter->end(kEvalWindow);
  eval_j_ += eval.total_j;
  windows_.push_back(eval);
  return eval;
}

EnergyTotals RunEnergy::totals() {
  EnergyTotals totals = earlier_;
  totals += metering_.meter->peek(kRunWindow);
  totals.eval_j += eval_j_;
  return totals;
}

double RunEnergy::recent_watts() {
  const energy::Measurement run = metering_.meter->peek(kRunWindow);
  const double seconds = run.duration_s - last_duration_s_;
  const double watts =
      last_duration_s_ > 0.0 && seconds > 0.0 ? (run.total_j - last_total_j_) / seconds : 0.0;
  last_total_j_ = run.total_j;
  last_duration_s_ = run.duration_s;
  return watts;
}

nlohmann::json RunEnergy::methods() const {
  nlohmann::json methods = nlohmann::json::object();
  for (const auto& counter : metering_.meter->counters()) {
    const std::string component(energy::to_string(counter.component));
    const std::string method(energy::to_string(counter.method));
    // Several GPUs may be measured differently: list each method once.
    nlohmann::json& entry = methods[component];
    if (entry.is_null()) {
      entry = method;
    } else if (entry.get<std::string>().find(method) == std::string::npos) {
      entry = entry.get<std::string>() + " + " + method;
    }
  }
  return methods;
}

EnergyTotals RunEnergy::finish(const std::filesystem::path& output, const std::string& run_name) {
  const energy::Measurement run = metering_.meter->end(kRunWindow);
  windows_.insert(windows_.begin(), run);
  EnergyTotals totals = earlier_;
  totals += run;
  totals.eval_j += eval_j_;

  // emissions.csv describes the whole run, earlier processes included: a measurement with the totals.
  energy::Measurement whole = run;
  whole.duration_s = totals.duration_s;
  whole.cpu_j = totals.cpu_j;
  whole.dram_j = totals.dram_j;
  whole.ram_j = totals.ram_j;
  whole.gpu_j = {totals.gpu_j};
  whole.total_j = totals.total_j;
  whole.kwh = totals.kwh();
  whole.co2_kg = totals.co2_kg;
  energy::RunIdentity identity;
  identity.experiment_id = run_name;
  energy::append_emissions_row(output / "emissions.csv",
                               energy::make_emissions_row(whole, metering_, identity));

  const energy::CarbonIntensity& carbon = metering_.carbon;
  const nlohmann::json report = {{"totals", totals},
                                 {"this_process_windows", windows_},
                                 {"methods", methods()},
                                 {"carbon",
                                  {{"gco2_per_kwh", carbon.gco2_per_kwh},
                                   {"zone", carbon.zone},
                                   {"source", carbon.source},
                                   {"year", carbon.year},
                                   {"reason", carbon.reason}}},
                                 {"notes", metering_.notes},
                                 {"counter_failures", metering_.meter->failures()}};
  write_file_atomically(output / "energy.json", report.dump(2) + "\n");
  return totals;
}

}  // namespace greentune::train
