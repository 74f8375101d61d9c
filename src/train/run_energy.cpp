#include "greentune/train/run_energy.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "greentune/core/files.hpp"
#include "greentune/core/log.hpp"
#include "greentune/energy/nvml.hpp"
#include "greentune/model/runtime.hpp"
#include "greentune/train/process_group.hpp"

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

double RunEnergy::recent_watts(double run_total_j) {
  const auto now = std::chrono::steady_clock::now();
  const double seconds = std::chrono::duration<double>(now - last_watts_time_).count();
  const double watts = last_watts_j_ >= 0.0 && seconds > 0.0 ? (run_total_j - last_watts_j_) / seconds : 0.0;
  last_watts_j_ = run_total_j;
  last_watts_time_ = now;
  return watts;
}

nlohmann::json RunEnergy::methods() const {
  nlohmann::json methods = nlohmann::json::object();
  for (const auto& counter : metering_.meter->counters())
    energy::add_method(methods, energy::to_string(counter.component), energy::to_string(counter.method));
  return methods;
}

RankEnergy RunEnergy::finish(int rank) {
  const energy::Measurement run = metering_.meter->end(kRunWindow);
  windows_.insert(windows_.begin(), run);
  RankEnergy energy;
  energy.rank = rank;
  energy.host = energy::host_name();
  energy.node = energy::node_identity();
  energy.metered_host =
      std::any_of(metering_.meter->counters().begin(), metering_.meter->counters().end(),
                  [](const auto& counter) { return counter.component != energy::Component::gpu; });
  energy.machine = metering_.machine;
  energy.gpu_j = run.gpu_j;
  energy.totals += run;
  energy.totals.eval_j = eval_j_;
  energy.methods = methods();
  energy.windows = windows_;
  energy.notes = metering_.notes;
  energy.counter_failures = metering_.meter->failures();
  return energy;
}

GroupLayout lay_out_group(ProcessGroup& group, int local_rank) {
  GroupLayout layout;
  if (group.size() == 1)
    return layout;
  const energy::GpuDiscovery visible = energy::discover_gpus();
  const nlohmann::json mine = {
      {"devices",
       energy::RankDevices{energy::node_identity(), energy::gpus_of_local_rank(visible.devices, local_rank)}},
      {"cpus", model::allowed_cpus()}};
  std::vector<energy::RankDevices> ranks;
  layout.ranks_sharing_cpus = 0;  // counts this rank too: its own entry comes back in the all-gather
  for (const std::string& text : group.all_gather(mine.dump())) {
    const auto rank = nlohmann::json::parse(text);
    ranks.push_back(rank.at("devices").get<energy::RankDevices>());
    if (rank.at("devices").at("node") == mine.at("devices").at("node") && rank.at("cpus") == mine.at("cpus"))
      ++layout.ranks_sharing_cpus;
  }
  layout.scope = energy::assign_metering(ranks)[static_cast<size_t>(group.rank())];
  return layout;
}

EnergyTotals write_run_energy(const std::filesystem::path& output, const std::string& run_name,
                              const EnergyTotals& earlier, const std::vector<RankEnergy>& ranks,
                              const energy::CarbonIntensity& carbon, double pue) {
  // The ranks ran side by side: their energies add up, the run lasted as long as the longest.
  EnergyTotals this_run;
  std::vector<energy::NodeMachine> machines;
  struct NodeEnergy {
    std::string host;
    std::vector<int> ranks;
    double cpu_j = 0.0, dram_j = 0.0, ram_j = 0.0, gpu_j = 0.0;
  };
  std::map<std::string, NodeEnergy> nodes;
  nlohmann::json gpus = nlohmann::json::array();
  for (const RankEnergy& rank : ranks) {
    const double duration_s = std::max(this_run.duration_s, rank.totals.duration_s);
    this_run += rank.totals;
    this_run.duration_s = duration_s;
    machines.push_back({rank.node, rank.machine});
    NodeEnergy& node = nodes[rank.node];
    node.host = rank.host;
    node.ranks.push_back(rank.rank);
    node.cpu_j += rank.totals.cpu_j;
    node.dram_j += rank.totals.dram_j;
    node.ram_j += rank.totals.ram_j;
    node.gpu_j += rank.totals.gpu_j;
    for (size_t i = 0; i < rank.machine.gpus.size() && i < rank.gpu_j.size(); ++i) {
      gpus.push_back({{"host", rank.host},
                      {"rank", rank.rank},
                      {"uuid", rank.machine.gpus[i].uuid},
                      {"name", rank.machine.gpus[i].name},
                      {"joules", rank.gpu_j[i]}});
    }
  }
  nlohmann::json node_list = nlohmann::json::array();
  for (const auto& [node_id, node] : nodes) {
    node_list.push_back({{"node", node_id},
                         {"host", node.host},
                         {"ranks", node.ranks},
                         {"cpu_j", node.cpu_j},
                         {"dram_j", node.dram_j},
                         {"ram_j", node.ram_j},
                         {"gpu_j", node.gpu_j}});
  }
  EnergyTotals totals = earlier;
  totals += this_run;

  // emissions.csv describes the whole run, every rank and earlier process included.
  energy::Measurement whole;
  whole.name = "run";
  whole.duration_s = totals.duration_s;
  whole.cpu_j = totals.cpu_j;
  whole.dram_j = totals.dram_j;
  whole.ram_j = totals.ram_j;
  whole.gpu_j = {totals.gpu_j};
  whole.total_j = totals.total_j;
  whole.kwh = totals.kwh();
  whole.co2_kg = totals.co2_kg;
  whole.pue = pue;
  const energy::CarbonIntensity applied = energy::applied_to(carbon, totals.co2_kg, totals.kwh());
  whole.gco2_per_kwh = applied.gco2_per_kwh;
  energy::RunIdentity identity;
  identity.experiment_id = run_name;
  energy::append_emissions_row(
      output / "emissions.csv",
      energy::make_emissions_row(whole, energy::combine_machines(machines), applied, identity));

  const nlohmann::json report = {{"totals", totals}, {"earlier_processes", earlier},
                                 {"ranks", ranks},   {"nodes", node_list},
                                 {"gpus", gpus},     {"carbon", applied}};
  write_file_atomically(output / "energy.json", report.dump(2) + "\n");
  return totals;
}

}  // namespace greentune::train
