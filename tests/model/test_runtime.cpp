// The CPU runtime's malloc: a tensor as large as a training step's attention scores reuses the memory
// freed by the one before instead of faulting in fresh pages (glibc's malloc maps and unmaps it anew).
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdint>

#include "greentune/model/runtime.hpp"

namespace greentune::model {
namespace {

constexpr int64_t kTensorBytes = int64_t{64} << 20;  // over glibc's largest mmap threshold (32 MiB)

int64_t minor_page_faults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

// Minor page faults of the process while a kTensorBytes tensor is allocated, written and freed.
int64_t faults_of_one_tensor() {
  const int64_t before = minor_page_faults();
  {
    const torch::Tensor activations = torch::empty({kTensorBytes / 4}, torch::kFloat);  // (16 Mi)
    activations.fill_(1.0f);
  }
  return minor_page_faults() - before;
}

TEST(CpuRuntime, LoadsTcmalloc) {
  EXPECT_NE(configure_cpu_runtime(1).malloc.find("tcmalloc"), std::string::npos);
}

TEST(CpuRuntime, ReusesFreedTensorMemoryWithoutPageFaults) {
  configure_cpu_runtime(1);
  faults_of_one_tensor();  // the allocator takes the memory from the system once
  const int64_t pages = kTensorBytes / sysconf(_SC_PAGESIZE);
  EXPECT_LT(faults_of_one_tensor(), pages / 10);
}

}  // namespace
}  // namespace greentune::model
