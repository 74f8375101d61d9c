#pragma once
// Data-parallel runs: which process meters which part of which machine, so that every GPU a run computes
// on and every machine's CPU and memory is counted once, and never by two processes; and the machines of
// a run described as one, for its emissions.csv row.

#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "greentune/energy/machine.hpp"

namespace greentune::energy {

// What one process of a run computes on.
struct RankDevices {
  std::string node;                    // node_identity() of its machine
  std::vector<std::string> gpu_uuids;  // its GPUs' NVML UUIDs; empty when it computes on the CPU only
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(RankDevices, node, gpu_uuids)

// The GPU a process with this local rank computes on, by torchrun's convention GPU LOCAL_RANK of those
// visible. With fewer visible GPUs than processes on the machine (SLURM giving each task its own GPU, or
// several processes sharing one) it is GPU local_rank modulo their number. Empty when none is visible.
std::vector<std::string> gpus_of_local_rank(std::span<const GpuDevice> visible, int local_rank);

// One scope per rank (ranks[i] describes rank i): the lowest rank of each node meters the node's CPU and
// memory, and each GPU is metered by the lowest rank of its node that computes on it. GPUs no process
// computes on are metered by none.
std::vector<MeteringScope> assign_metering(std::span<const RankDevices> ranks);

// A machine as one process of a run saw it.
struct NodeMachine {
  std::string node;  // node_identity()
  MachineInfo machine;
};

// The run's machines as one emissions.csv machine: CPU threads and RAM summed over distinct nodes (a node
// listed by several processes counts once), distinct OS and CPU model names joined with " + ", and every
// metered GPU of every process.
MachineInfo combine_machines(std::span<const NodeMachine> machines);

void to_json(nlohmann::json& json, const GpuDevice& device);
void from_json(const nlohmann::json& json, GpuDevice& device);  // Error(parse) for an unknown method
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(MachineInfo, os, cpu_model, cpu_count, ram_total_gb, gpus)

}  // namespace greentune::energy
