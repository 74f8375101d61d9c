#pragma once
// Who this process is in a data-parallel run. torchrun, Open MPI's mpirun and SLURM's srun each start one
// process per GPU and tell it its place through environment variables; this reads them. Torch-free.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace greentune::train {

struct LaunchEnvironment {
  std::string launcher;     // "torchrun", "mpirun", "srun"; empty for a plain single process
  int rank = 0;             // this process, 0..world_size-1
  int world_size = 1;       // processes in the run
  int local_rank = 0;       // index of this process on its machine (its GPU)
  std::string master_addr;  // where rank 0's rendezvous store listens
  uint16_t master_port = 0;
  std::string note;  // why a launcher's variables were present but not used (empty otherwise)
  // Set when the launcher itself serves the rendezvous store at master_port (torchrun's agent does): every
  // rank connects to it, keys under this prefix. Empty: rank 0 serves the store.
  std::string store_prefix;

  bool distributed() const { return world_size > 1; }
};

// An environment variable's value by name, or nullopt when it is unset. Tests pass a map instead of the
// process environment.
using EnvironmentLookup = std::function<std::optional<std::string>(const std::string& name)>;

EnvironmentLookup process_environment();  // std::getenv; unset -> nullopt

// Reads the launcher's variables. A variable set to the empty string counts as unset. The first launcher
// that matches wins, so torchrun started inside an srun allocation is torchrun:
//   1. torchrun: WORLD_SIZE or RANK is set.
//   2. Open MPI: OMPI_COMM_WORLD_SIZE is set.
//   3. srun: SLURM_PROCID and SLURM_STEP_ID (or SLURM_STEPID) are set. A SLURM batch shell (no step id)
//      runs as a single process, with a note when SLURM_NTASKS asks for more.
//   4. otherwise a single process.
// Throws Error(usage), with where "environment variable NAME", for a missing, non-numeric or out-of-range
// value the launcher needs.
LaunchEnvironment read_launch_environment(const EnvironmentLookup& lookup = process_environment());

// The first host of a SLURM hostlist: "node[01-04,07],gpu5" -> "node01"; "gpu5" -> "gpu5";
// "rack[1-2]-n[5-6]" -> "rack1-n5"; zero padding kept. The whole list is checked: Error(parse) for an empty
// or malformed list (unbalanced or nested brackets, an empty host or range, a range that runs backwards).
std::string first_slurm_host(std::string_view nodelist);

}  // namespace greentune::train
