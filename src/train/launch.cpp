#include "greentune/train/launch.hpp"

#include <algorithm>
#include <cstdlib>
#include <limits>

#include "greentune/core/error.hpp"
#include "greentune/core/parse.hpp"

namespace greentune::train {
namespace {

// torchrun's default rendezvous port, used wherever a launcher leaves the port to us.
constexpr int kDefaultMasterPort = 29500;
// Under srun the port is 15000 + (SLURM_JOB_ID mod 10000), 15000..24999, so that two jobs sharing a node
// do not both listen on one port.
constexpr int kSlurmPortBase = 15000;
constexpr uint64_t kSlurmJobIdModulus = 10000;
constexpr int kHighestPort = 65535;
constexpr int kHighestCount = std::numeric_limits<int>::max();

constexpr std::string_view kHostlistFix =
    "a SLURM hostlist is comma-separated host names with optional bracketed ranges, such as "
    "node[01-04,07],gpu5";

std::string where_of(std::string_view name) {
  return "environment variable " + std::string(name);
}

// The value when set and non-empty: an exported but empty variable (`export RANK=`) means "not given", as
// env_or treats it.
std::optional<std::string> value_of(const EnvironmentLookup& lookup, const std::string& name) {
  std::optional<std::string> value = lookup(name);
  if (value && value->empty()) {
    return std::nullopt;
  }
  return value;
}

// why: what needs the variable, completing "NAME is not set, but ...".
std::string required(const EnvironmentLookup& lookup, const std::string& name, std::string_view why,
                     std::string_view fix) {
  std::optional<std::string> value = value_of(lookup, name);
  if (!value) {
    throw Error(ErrorCode::usage, where_of(name), name + " is not set, but " + std::string(why), fix);
  }
  return *value;
}

// The variable's text as a whole number from lowest to highest.
int whole_number(const std::string& name, const std::string& text, int lowest, int highest,
                 std::string_view fix) {
  const std::optional<int> value = parse_whole<int>(text);
  if (!value || *value < lowest || *value > highest) {
    throw Error(ErrorCode::usage, where_of(name),
                name + " is \"" + text + "\", not a whole number from " + std::to_string(lowest) + " to " +
                    std::to_string(highest),
                fix);
  }
  return *value;
}

uint16_t port_number(const std::string& name, const std::string& text) {
  return static_cast<uint16_t>(whole_number(name, text, 1, kHighestPort,
                                            "set " + name +
                                                " to a free TCP port on rank 0's machine, such as " +
                                                std::to_string(kDefaultMasterPort)));
}

// Why ranges, the text between '[' and ']' such as "01-04,07", is malformed; empty when it is fine.
std::string range_problem(std::string_view ranges) {
  if (ranges.empty()) {
    return "has an empty range \"[]\"";
  }
  size_t begin = 0;
  while (true) {
    const size_t end = std::min(ranges.find(',', begin), ranges.size());
    const std::string_view range = ranges.substr(begin, end - begin);
    const size_t dash = range.find('-');
    const std::string_view low = range.substr(0, dash);
    const std::string_view high = dash == std::string_view::npos ? low : range.substr(dash + 1);
    const std::optional<uint64_t> low_value = parse_whole<uint64_t>(low);
    const std::optional<uint64_t> high_value = parse_whole<uint64_t>(high);
    if (!low_value || !high_value || *high_value < *low_value) {
      return "has the range \"[" + std::string(ranges) + "]\" whose part \"" + std::string(range) +
             "\" is not N or N-M with N <= M";
    }
    if (end == ranges.size()) {
      return {};
    }
    begin = end + 1;
  }
}

// first_slurm_host with the error's code, where and fix chosen by the caller: a malformed hostlist is a
// parse error on its own, but a usage error in an environment variable.
std::string first_host(std::string_view nodelist, ErrorCode code, std::string_view where,
                       std::string_view fix) {
  const auto malformed = [&](std::string_view problem) {
    return Error(code, where, "\"" + std::string(nodelist) + "\" " + std::string(problem), fix);
  };
  if (nodelist.empty()) {
    throw Error(code, where, "the hostlist is empty", fix);
  }
  std::string first;
  bool in_first_host = true;
  size_t host_begin = 0;
  for (size_t i = 0; i < nodelist.size(); ++i) {
    const char c = nodelist[i];
    if (c == ',') {
      if (i == host_begin) {
        throw malformed("has an empty host name");
      }
      in_first_host = false;
      host_begin = i + 1;
    } else if (c == ']') {
      throw malformed("has a ']' without its '['");
    } else if (c == '[') {
      const size_t close = nodelist.find_first_of("[]", i + 1);
      if (close == std::string_view::npos || nodelist[close] == '[') {
        throw malformed("has a '[' without its ']' (brackets do not nest)");
      }
      const std::string_view ranges = nodelist.substr(i + 1, close - i - 1);
      if (const std::string problem = range_problem(ranges); !problem.empty()) {
        throw malformed(problem);
      }
      if (in_first_host) {
        first.append(ranges.substr(0, ranges.find_first_of(",-")));  // the text, so zero padding stays
      }
      i = close;
    } else if (in_first_host) {
      first.push_back(c);
    }
  }
  if (host_begin == nodelist.size()) {
    throw malformed("ends with an empty host name");
  }
  return first;
}

LaunchEnvironment read_torchrun(const EnvironmentLookup& lookup) {
  const auto fix = [](const std::string& name, std::string_view meaning) {
    return "torchrun sets " + name +
           "; launch with `torchrun --nproc-per-node=<GPUs> greentune train ...`, or set " + name + " to " +
           std::string(meaning);
  };
  constexpr std::string_view started_by_torchrun =
      "WORLD_SIZE or RANK is set, so torchrun started this process";
  LaunchEnvironment launch;
  launch.launcher = "torchrun";
  const std::string world_fix = fix("WORLD_SIZE", "the number of processes");
  launch.world_size =
      whole_number("WORLD_SIZE", required(lookup, "WORLD_SIZE", started_by_torchrun, world_fix), 1,
                   kHighestCount, world_fix);
  const std::string rank_fix = fix("RANK", "this process's index, below WORLD_SIZE");
  launch.rank = whole_number("RANK", required(lookup, "RANK", started_by_torchrun, rank_fix), 0,
                             launch.world_size - 1, rank_fix);

  // A lone process meets nobody, so it needs no rendezvous address; several must find rank 0's store.
  const std::string meet = "WORLD_SIZE=" + std::to_string(launch.world_size) + " processes must find rank 0";
  const auto rendezvous_value = [&](const std::string& name,
                                    std::string_view meaning) -> std::optional<std::string> {
    if (!launch.distributed()) {
      return value_of(lookup, name);
    }
    return required(lookup, name, meet, fix(name, meaning));
  };
  const std::string local_rank_name = "LOCAL_RANK";
  constexpr std::string_view local_rank_meaning = "this process's index on its machine (its GPU)";
  if (const auto local_rank = rendezvous_value(local_rank_name, local_rank_meaning)) {
    launch.local_rank = whole_number(local_rank_name, *local_rank, 0, kHighestCount,
                                     fix(local_rank_name, local_rank_meaning));
  }
  if (const auto address = rendezvous_value("MASTER_ADDR", "the host name or address of rank 0's machine")) {
    launch.master_addr = *address;
  }
  if (const auto port =
          rendezvous_value("MASTER_PORT", "a free TCP port on rank 0's machine, such as 29500")) {
    launch.master_port = port_number("MASTER_PORT", *port);
  }
  // torchrun's agent already serves the rendezvous store at MASTER_PORT; its workers share it under a
  // prefix of the restart attempt (what torch.distributed's env:// rendezvous does).
  if (value_of(lookup, "TORCHELASTIC_USE_AGENT_STORE") == "True") {
    launch.store_prefix = "/worker/attempt_" + value_of(lookup, "TORCHELASTIC_RESTART_COUNT").value_or("0");
  }
  return launch;
}

LaunchEnvironment read_open_mpi(const EnvironmentLookup& lookup, const std::string& world_size) {
  constexpr std::string_view fix =
      "Open MPI's mpirun sets the OMPI_COMM_WORLD_ variables; launch with `mpirun -np <processes> greentune "
      "train ...`";
  constexpr std::string_view started_by_mpirun =
      "OMPI_COMM_WORLD_SIZE is set, so mpirun started this process";
  LaunchEnvironment launch;
  launch.launcher = "mpirun";
  launch.world_size = whole_number("OMPI_COMM_WORLD_SIZE", world_size, 1, kHighestCount, fix);
  launch.rank =
      whole_number("OMPI_COMM_WORLD_RANK", required(lookup, "OMPI_COMM_WORLD_RANK", started_by_mpirun, fix),
                   0, launch.world_size - 1, fix);
  launch.local_rank = whole_number("OMPI_COMM_WORLD_LOCAL_RANK",
                                   required(lookup, "OMPI_COMM_WORLD_LOCAL_RANK", started_by_mpirun, fix), 0,
                                   kHighestCount, fix);

  const std::optional<std::string> local_size = value_of(lookup, "OMPI_COMM_WORLD_LOCAL_SIZE");
  const bool one_machine =
      launch.world_size == 1 || (local_size && whole_number("OMPI_COMM_WORLD_LOCAL_SIZE", *local_size, 1,
                                                            launch.world_size, fix) == launch.world_size);
  if (const auto address = value_of(lookup, "MASTER_ADDR")) {
    launch.master_addr = *address;
  } else if (one_machine) {
    launch.master_addr = "127.0.0.1";
  } else {
    // mpirun does not say which host runs rank 0, so the user must.
    throw Error(ErrorCode::usage, where_of("MASTER_ADDR"),
                "MASTER_ADDR is not set and the " + std::to_string(launch.world_size) +
                    " mpirun processes span several machines (OMPI_COMM_WORLD_LOCAL_SIZE=" +
                    local_size.value_or("unset") + "), so rank 0's address is unknown",
                "pass it to every process: `mpirun -x MASTER_ADDR=<first host> -x MASTER_PORT=29500 ...`");
  }
  const std::optional<std::string> port = value_of(lookup, "MASTER_PORT");
  launch.master_port = port ? port_number("MASTER_PORT", *port) : kDefaultMasterPort;
  return launch;
}

LaunchEnvironment read_srun(const EnvironmentLookup& lookup) {
  constexpr std::string_view fix =
      "srun sets the SLURM_ variables of each task; launch with `srun greentune train ...`";
  constexpr std::string_view started_by_srun =
      "SLURM_PROCID and a step id are set, so srun started this process";
  LaunchEnvironment launch;
  launch.launcher = "srun";
  // SLURM_NTASKS is the allocation's task count; a step may run fewer.
  const std::string world_name =
      value_of(lookup, "SLURM_STEP_NUM_TASKS") ? "SLURM_STEP_NUM_TASKS" : "SLURM_NTASKS";
  launch.world_size =
      whole_number(world_name, required(lookup, world_name, started_by_srun, fix), 1, kHighestCount, fix);
  launch.rank = whole_number("SLURM_PROCID", required(lookup, "SLURM_PROCID", started_by_srun, fix), 0,
                             launch.world_size - 1, fix);
  launch.local_rank = whole_number("SLURM_LOCALID", required(lookup, "SLURM_LOCALID", started_by_srun, fix),
                                   0, kHighestCount, fix);

  if (const auto address = value_of(lookup, "MASTER_ADDR")) {
    launch.master_addr = *address;
  } else {
    // Rank 0 runs on the first node of the step.
    const std::string nodelist_name =
        value_of(lookup, "SLURM_STEP_NODELIST") ? "SLURM_STEP_NODELIST" : "SLURM_JOB_NODELIST";
    const std::string nodelist =
        required(lookup, nodelist_name, "MASTER_ADDR is not set, so rank 0's host comes from the node list",
                 "set MASTER_ADDR to rank 0's host, or launch with `srun greentune train ...`, which sets "
                 "SLURM_STEP_NODELIST");
    launch.master_addr = first_host(nodelist, ErrorCode::usage, where_of(nodelist_name), kHostlistFix);
  }

  if (const auto port = value_of(lookup, "MASTER_PORT")) {
    launch.master_port = port_number("MASTER_PORT", *port);
  } else if (const auto job_id_text = value_of(lookup, "SLURM_JOB_ID")) {
    const std::optional<uint64_t> job_id = parse_whole<uint64_t>(*job_id_text);
    if (!job_id) {
      throw Error(ErrorCode::usage, where_of("SLURM_JOB_ID"),
                  "SLURM_JOB_ID is \"" + *job_id_text + "\", not a whole number",
                  "set MASTER_PORT to a free TCP port on rank 0's machine, or unset SLURM_JOB_ID");
    }
    launch.master_port = static_cast<uint16_t>(kSlurmPortBase + *job_id % kSlurmJobIdModulus);
  } else {
    launch.master_port = kDefaultMasterPort;
  }
  return launch;
}

// A process no launcher started. Inside a SLURM batch shell SLURM_NTASKS may ask for several tasks that
// only srun would start; say so rather than silently training alone.
LaunchEnvironment read_single_process(const EnvironmentLookup& lookup) {
  LaunchEnvironment single;
  if (const auto tasks_text = value_of(lookup, "SLURM_NTASKS")) {
    const int tasks = whole_number("SLURM_NTASKS", *tasks_text, 1, kHighestCount,
                                   "SLURM sets it from sbatch's --ntasks; check the job script");
    if (tasks > 1) {
      single.note = "SLURM_NTASKS=" + std::to_string(tasks) +
                    " but this process was not started by srun (no SLURM_STEP_ID), so it runs alone; launch "
                    "with `srun greentune train ...` for data-parallel training on " +
                    std::to_string(tasks) + " processes";
    }
  }
  return single;
}

}  // namespace

EnvironmentLookup process_environment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) {
      return std::nullopt;
    }
    return std::string(value);
  };
}

LaunchEnvironment read_launch_environment(const EnvironmentLookup& lookup) {
  if (value_of(lookup, "WORLD_SIZE") || value_of(lookup, "RANK")) {
    return read_torchrun(lookup);
  }
  if (const auto world_size = value_of(lookup, "OMPI_COMM_WORLD_SIZE")) {
    return read_open_mpi(lookup, *world_size);
  }
  const bool srun_task = value_of(lookup, "SLURM_STEP_ID") || value_of(lookup, "SLURM_STEPID");
  if (srun_task && value_of(lookup, "SLURM_PROCID")) {
    return read_srun(lookup);
  }
  return read_single_process(lookup);
}

std::string first_slurm_host(std::string_view nodelist) {
  return first_host(nodelist, ErrorCode::parse, "SLURM hostlist", kHostlistFix);
}

}  // namespace greentune::train
