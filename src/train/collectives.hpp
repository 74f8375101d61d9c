#pragma once
// What the ranks of a run agree on (private to the trainer): sums over the ranks, the energy so far, why
// the run stops, and work done by rank 0 before the others. With one process every collective is a no-op.

#include <array>
#include <string>
#include <vector>

#include "greentune/train/process_group.hpp"
#include "greentune/train/run_energy.hpp"
#include "greentune/train/run_result.hpp"

namespace greentune::train {

// The sum over the ranks of values (each rank's own), on every rank.
std::vector<double> sum_over_ranks(ProcessGroup& group, std::vector<double> values);

// The run's energy so far over every rank, and the sums of extra values (each rank's own) that travel in
// the same all-reduce. The duration is this rank's: the ranks run side by side.
struct GroupSums {
  EnergyTotals energy;
  std::vector<double> extra;
};
GroupSums sum_with_energy(ProcessGroup& group, const EnergyTotals& mine, std::vector<double> extra = {});

// Why a run stopped, as a number every rank can sum (only rank 0 decides after evaluations).
inline constexpr std::array<const char*, 4> kStopReasons = {"", kStopEarlyStopping, kStopEnergyBudget,
                                                            kStopTargetAccuracy};
double stop_code(const std::string& reason);

// Runs work on rank 0 first and on the other ranks once it is done: rank 0 downloads the model and
// tokenizes the data, and the others find them in the caches (or, without shared storage, make their
// own) instead of doing the same work on the same cores at the same time.
template <typename Work>
auto root_first(ProcessGroup& group, Work work) {
  if (group.is_root()) {
    auto result = work();
    group.barrier();
    return result;
  }
  group.barrier();
  return work();
}

}  // namespace greentune::train
