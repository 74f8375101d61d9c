#include "collectives.hpp"

#include <torch/torch.h>

namespace greentune::train {

std::vector<double> sum_over_ranks(ProcessGroup& group, std::vector<double> values) {
  if (group.size() == 1)
    return values;
  torch::Tensor tensor = torch::tensor(values, torch::kDouble);
  group.all_reduce_sum(tensor);
  return std::vector<double>(tensor.data_ptr<double>(), tensor.data_ptr<double>() + tensor.numel());
}

GroupSums sum_with_energy(ProcessGroup& group, const EnergyTotals& mine, std::vector<double> extra) {
  const size_t extras = extra.size();
  extra.insert(extra.end(),
               {mine.gpu_j, mine.cpu_j, mine.dram_j, mine.ram_j, mine.total_j, mine.eval_j, mine.co2_kg});
  std::vector<double> sums = sum_over_ranks(group, std::move(extra));
  GroupSums result{mine,
                   std::vector<double>(sums.begin(), sums.begin() + static_cast<std::ptrdiff_t>(extras))};
  const double* energy = sums.data() + extras;
  result.energy.gpu_j = energy[0];
  result.energy.cpu_j = energy[1];
  result.energy.dram_j = energy[2];
  result.energy.ram_j = energy[3];
  result.energy.total_j = energy[4];
  result.energy.eval_j = energy[5];
  result.energy.co2_kg = energy[6];
  return result;
}

double stop_code(const std::string& reason) {
  for (size_t i = 0; i < kStopReasons.size(); ++i) {
    if (reason == kStopReasons[i])
      return static_cast<double>(i);
  }
  return 0.0;
}

}  // namespace greentune::train
