#pragma once
// Process-wide CPU settings for LibTorch, applied once at start-up by commands that run a model.

#include <torch/torch.h>

#include <string>
#include <vector>

namespace greentune::model {

struct CpuRuntime {
  int threads = 0;        // intra-op threads in use
  std::string blas;       // the BLAS library the process loaded, resolved through symlinks
  bool fast_blas = true;  // false: the reference BLAS, about 35x slower for a training step
  // The malloc library the process loaded instead of glibc's (tcmalloc, which reuses the memory a training
  // step frees for the next step); empty: glibc's.
  std::string malloc;
};

// The CPUs this process may run on: its affinity mask, which taskset, cgroup cpusets and SLURM's
// --cpus-per-task narrow; every hardware thread when the mask cannot be read.
std::vector<int> allowed_cpus();

// Sets LibTorch's thread count (threads <= 0: one per allowed CPU; LibTorch 1.13 defaults to 1),
// reports which malloc is loaded (under glibc's it raises the mmap threshold to 32 MiB) and which BLAS,
// warning when it is the slow reference implementation.
CpuRuntime configure_cpu_runtime(int threads);

// Gives the memory the malloc keeps for reuse (tcmalloc's free lists, glibc's heap top) back to the
// system: before a run of a study, so that its peak memory starts from what is really in use.
void release_free_memory();

// How many times as long a (256 x 768) x (768 x 768) matrix product (BERT-base's width) takes in bf16 as
// in fp32 on this process's CPU threads: what bf16 autocast costs where the CPU emulates bf16. The median
// of 5 timed products of each after one untimed; 20 ms to 1 s.
double measure_cpu_bf16_slowdown();

}  // namespace greentune::model
