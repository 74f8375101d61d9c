#include "greentune/model/runtime.hpp"

#include <dlfcn.h>
#include <fmt/format.h>
#include <malloc.h>
#include <sched.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string_view>
#include <thread>
#include <vector>

#include "greentune/core/log.hpp"

namespace greentune::model {

namespace {

// The first mapped library whose file name contains one of names, from /proc/self/maps (Linux), resolved
// through symlinks; empty when none is.
std::string loaded_library(std::initializer_list<std::string_view> names) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    const size_t path_start = line.find('/');
    if (path_start == std::string::npos)
      continue;
    const std::string path = line.substr(path_start);
    const std::string name = std::filesystem::path(path).filename().string();
    const bool wanted = std::any_of(names.begin(), names.end(), [&](std::string_view part) {
      return name.find(part) != std::string::npos;
    });
    if (wanted) {
      std::error_code ec;
      const auto resolved = std::filesystem::canonical(path, ec);
      return ec ? path : resolved.string();
    }
  }
  return {};
}

}  // namespace

std::vector<int> allowed_cpus() {
  std::vector<int> cpus;
  cpu_set_t mask;
  CPU_ZERO(&mask);
  if (sched_getaffinity(0, sizeof(mask), &mask) == 0) {
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (CPU_ISSET(cpu, &mask))
        cpus.push_back(cpu);
    }
  }
  if (cpus.empty()) {
    for (unsigned cpu = 0; cpu < std::max(1u, std::thread::hardware_concurrency()); ++cpu)
      cpus.push_back(static_cast<int>(cpu));
  }
  return cpus;
}

CpuRuntime configure_cpu_runtime(int threads) {
  CpuRuntime runtime;
  runtime.malloc = loaded_library({"tcmalloc"});
  if (runtime.malloc.empty()) {
    // glibc's malloc: tensors up to 32 MiB come from its heap and are reused, not mapped and unmapped on
    // every step (half the page faults of its default).
    static constexpr int mmap_threshold_bytes = 32 << 20;
    mallopt(M_MMAP_THRESHOLD, mmap_threshold_bytes);
    log::warn(
        "greentune was built without tcmalloc: under glibc's malloc each CPU training step faults in fresh "
        "memory for its activations. Install libgoogle-perftools-dev (or run scripts/setup.sh) and rebuild");
  }
  runtime.threads = threads > 0 ? threads : static_cast<int>(allowed_cpus().size());
  torch::set_num_threads(runtime.threads);
  runtime.blas = loaded_library({"blas", "mkl_core"});
  // Debian's alternatives put the reference BLAS at .../blas/libblas.so.3; OpenBLAS and MKL say so by name.
  const bool reference_blas = runtime.blas.find("/blas/libblas") != std::string::npos;
  runtime.fast_blas = !reference_blas;
  if (reference_blas) {
    log::warn(
        fmt::format("LibTorch is using the reference BLAS ({}): matrix products run about 35x slower. "
                    "Install OpenBLAS (apt-get install libopenblas0-openmp) or run scripts/setup.sh",
                    runtime.blas));
  }
  return runtime;
}

void release_free_memory() {
  // gperftools' C entry point, looked up so that a build without tcmalloc needs no header or library.
  using Release = void (*)();
  if (const auto release =
          reinterpret_cast<Release>(dlsym(RTLD_DEFAULT, "MallocExtension_ReleaseFreeMemory")))
    release();
  else
    malloc_trim(0);
}

double measure_cpu_bf16_slowdown() {
  const auto median_seconds = [](torch::ScalarType dtype) {
    const auto options = torch::TensorOptions().device(torch::kCPU).dtype(dtype);
    const torch::Tensor rows = torch::randn({256, 768}, options);    // (256, 768)
    const torch::Tensor weight = torch::randn({768, 768}, options);  // (768, 768)
    torch::NoGradGuard no_grad;
    static_cast<void>(torch::mm(rows, weight));  // page faults and kernel selection, not timed
    std::vector<double> seconds;
    for (int repeat = 0; repeat < 5; ++repeat) {
      const auto start = std::chrono::steady_clock::now();
      static_cast<void>(torch::mm(rows, weight));
      seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    std::nth_element(seconds.begin(), seconds.begin() + 2, seconds.end());
    return seconds[2];
  };
  const double fp32_seconds = median_seconds(torch::kFloat32);
  return median_seconds(torch::kBFloat16) / std::max(fp32_seconds, 1e-9);
}

}  // namespace greentune::model
