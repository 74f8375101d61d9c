#pragma once
// The energy of a training run: a Meter over this process's counters with windows per epoch and per
// evaluation, totals that add up across the processes of a resumed run and across the ranks of a
// data-parallel one, the Carbontracker-style forecast after the first epoch, and the run's emissions.csv
// row and energy.json breakdown (per rank, per node, per GPU).

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "greentune/energy/machine.hpp"
#include "greentune/energy/ranks.hpp"

namespace greentune::train {

class ProcessGroup;

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

// What one rank measured of the run in this process, sent to rank 0 at the end.
struct RankEnergy {
  int rank = 0;
  std::string host;             // host name
  std::string node;             // energy::node_identity()
  bool metered_host = true;     // this rank metered its machine's CPU and memory
  energy::MachineInfo machine;  // gpus: the GPUs this rank metered
  std::vector<double> gpu_j;    // per metered GPU, in machine.gpus order
  EnergyTotals totals;          // this process only
  nlohmann::json methods;       // as RunEnergy::methods()
  nlohmann::json windows;       // this process's windows (Measurements): the run, epochs, evaluations
  std::vector<std::string> notes;
  std::vector<std::string> counter_failures;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(RankEnergy, rank, host, node, metered_host, machine, gpu_j, totals,
                                   methods, windows, notes, counter_failures)

// How the ranks of a run share their machines, agreed by all of them.
struct GroupLayout {
  energy::MeteringScope scope;  // what this rank meters
  // Processes of the run on this rank's machine allowed on the same CPUs (torchrun's share every CPU;
  // SLURM's --cpus-per-task gives each its own): they split those CPUs between them.
  int ranks_sharing_cpus = 1;
};
// Every rank says which machine, GPU and CPUs it uses (GPU local_rank of those visible, see
// energy::gpus_of_local_rank); then each GPU and each machine's CPU and memory is given to one rank.
// A collective: every rank of group calls it. One process: the whole machine.
GroupLayout lay_out_group(ProcessGroup& group, int local_rank);

// The run's energy over all ranks (ranks[i] from rank i) and earlier processes of a resumed run: the
// components and CO2 summed, the duration the longest rank's. Appends the run's one emissions.csv row
// (the run's machines combined, see energy::combine_machines) and writes energy.json with per-rank,
// per-node and per-GPU breakdowns; a live carbon intensity is recorded as its energy-weighted average over
// the run (energy::applied_to). pue: the one the Meters applied. Returns the run's totals.
EnergyTotals write_run_energy(const std::filesystem::path& output, const std::string& run_name,
                              const EnergyTotals& earlier, const std::vector<RankEnergy>& ranks,
                              const energy::CarbonIntensity& carbon, double pue);

class RunEnergy {
 public:
  // Resolves the carbon intensity (Error(usage) for unknown places), starts the Meter over what
  // options.scope covers and the run's window.
  explicit RunEnergy(const energy::MeteringOptions& options);
  // What the previous processes of a resumed run measured, added to every total.
  void add_earlier(const EnergyTotals& earlier);

  void begin_epoch(int64_t epoch);
  energy::Measurement end_epoch(int64_t epoch);  // also kept for energy.json
  void begin_eval();
  energy::Measurement end_eval();  // also added to the totals' eval_j

  EnergyTotals totals();  // earlier processes (added with add_earlier) plus this one up to now
  // The run's average watts since the previous call, from its total joules now (every rank's, for a
  // data-parallel run): the progress bar's W. 0 on the first call.
  double recent_watts(double run_total_j);

  // The carbon intensity with a live source's samples so far (energy::applied_to averages them).
  energy::CarbonIntensity carbon() const { return metering_.carbon_now(); }
  const energy::Metering& metering() const { return metering_; }
  // "gpu": "nvml-energy-counter", "cpu": "rapl", ... for result.json.
  nlohmann::json methods() const;

  // Ends the run's window: what this process measured, earlier processes not included.
  RankEnergy finish(int rank);
  const EnergyTotals& earlier() const { return earlier_; }

 private:
  energy::Metering metering_;
  EnergyTotals earlier_;
  double eval_j_ = 0.0;  // this process's evaluations
  std::vector<energy::Measurement> windows_;
  double last_watts_j_ = -1.0;  // no call yet
  std::chrono::steady_clock::time_point last_watts_time_;
};

}  // namespace greentune::train
