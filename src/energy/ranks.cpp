#include "greentune/energy/ranks.hpp"

#include <algorithm>
#include <set>

#include "greentune/core/error.hpp"
#include "greentune/core/strings.hpp"

namespace greentune::energy {

std::vector<std::string> gpus_of_local_rank(std::span<const GpuDevice> visible, int local_rank) {
  if (visible.empty() || local_rank < 0)
    return {};
  return {visible[static_cast<size_t>(local_rank) % visible.size()].uuid};
}

std::vector<MeteringScope> assign_metering(std::span<const RankDevices> ranks) {
  std::vector<MeteringScope> scopes(ranks.size());
  std::set<std::string> metered_nodes;
  std::set<std::pair<std::string, std::string>> metered_gpus;  // (node, uuid)
  for (size_t rank = 0; rank < ranks.size(); ++rank) {
    scopes[rank].host = metered_nodes.insert(ranks[rank].node).second;
    scopes[rank].gpu_uuids.emplace();
    for (const std::string& uuid : ranks[rank].gpu_uuids) {
      if (metered_gpus.emplace(ranks[rank].node, uuid).second)
        scopes[rank].gpu_uuids->push_back(uuid);
    }
  }
  return scopes;
}

namespace {

// Adds name to names unless it is empty or already there.
void add_distinct(std::vector<std::string>& names, const std::string& name) {
  if (!name.empty() && std::find(names.begin(), names.end(), name) == names.end())
    names.push_back(name);
}

Method method_named(const std::string& name) {
  for (const Method method : {Method::rapl, Method::nvml_counter, Method::nvml_power, Method::amdsmi_counter,
                              Method::amdsmi_power, Method::tdp_utilization, Method::dimm_model}) {
    if (to_string(method) == name)
      return method;
  }
  throw Error(ErrorCode::parse, "GPU method", "unknown energy method \"" + name + "\"",
              "all processes of a run must be the same greentune version");
}

}  // namespace

MachineInfo combine_machines(std::span<const NodeMachine> machines) {
  MachineInfo combined;
  std::set<std::string> nodes_seen;
  std::vector<std::string> systems, cpu_models;
  for (const NodeMachine& node : machines) {
    combined.gpus.insert(combined.gpus.end(), node.machine.gpus.begin(), node.machine.gpus.end());
    if (!nodes_seen.insert(node.node).second)
      continue;
    add_distinct(systems, node.machine.os);
    add_distinct(cpu_models, node.machine.cpu_model);
    combined.cpu_count += node.machine.cpu_count;
    combined.ram_total_gb += node.machine.ram_total_gb;
  }
  combined.os = join(systems, " + ");
  combined.cpu_model = join(cpu_models, " + ");
  return combined;
}

void to_json(nlohmann::json& json, const GpuDevice& device) {
  json = {{"nvml_index", device.nvml_index},
          {"name", device.name},
          {"uuid", device.uuid},
          {"method", std::string(to_string(device.method))},
          {"mig_enabled", device.mig_enabled}};
}

void from_json(const nlohmann::json& json, GpuDevice& device) {
  json.at("nvml_index").get_to(device.nvml_index);
  json.at("name").get_to(device.name);
  json.at("uuid").get_to(device.uuid);
  device.method = method_named(json.at("method").get<std::string>());
  json.at("mig_enabled").get_to(device.mig_enabled);
}

}  // namespace greentune::energy
