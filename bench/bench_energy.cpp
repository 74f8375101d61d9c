// Target: metering a training step with the energy Meter costs under 0.5% of the step's time. Three
// costs add up to that: a window edge (begin + end, each reading every counter under the Meter's lock),
// one poll of every counter (what the sampler thread does each interval), and the sampler's effect on a
// CPU-bound step that runs beside it.
//
// The counters are this machine's (energy::discover_machine_counters(): NVML, RAPL, or the CPU TDP and
// RAM DIMM models where neither is there; the label says which) and, so that the sysfs read path is timed
// on machines without RAPL too, the same plus RAPL counters over a fake powercap tree (a package zone and
// its dram subzone in a temporary directory). Fake zones are plain files: reading them skips the MSR read
// that a real energy_uj performs in the kernel, so real RAPL polls cost somewhat more.
#include <benchmark/benchmark.h>
#include <stdlib.h>  // mkdtemp

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "greentune/core/files.hpp"
#include "greentune/energy/energy_counter.hpp"
#include "greentune/energy/machine.hpp"
#include "greentune/energy/meter.hpp"
#include "greentune/energy/rapl.hpp"

namespace {

namespace energy = greentune::energy;
namespace fs = std::filesystem;
using energy::Clock;

// max_energy_range_uj of many Intel packages (2^32 x 61 µJ).
constexpr uint64_t kTypicalRangeUj = 262143328850;

// The flat /sys/class/powercap layout of one socket: intel-rapl:0 (package-0) and intel-rapl:0:2 (dram),
// each with name, energy_uj and max_energy_range_uj. Removed when the program exits.
class FakePowercapTree {
 public:
  FakePowercapTree() {
    std::string pattern = (fs::temp_directory_path() / "greentune-bench-powercap-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      std::perror(("bench_energy: cannot create the fake powercap tree " + pattern).c_str());
      std::exit(4);
    }
    root_ = pattern;
    write_zone(root_ / "intel-rapl:0", "package-0", 123'456'789);
    write_zone(root_ / "intel-rapl:0:2", "dram", 23'456'789);
  }
  ~FakePowercapTree() {
    std::error_code ignored;  // a leftover temporary directory is not worth failing the benchmark for
    fs::remove_all(root_, ignored);
  }
  FakePowercapTree(const FakePowercapTree&) = delete;
  FakePowercapTree& operator=(const FakePowercapTree&) = delete;

  const fs::path& root() const { return root_; }

 private:
  static void write_zone(const fs::path& directory, const std::string& name, uint64_t energy_uj) {
    fs::create_directories(directory);
    greentune::write_file_atomically(directory / "name", name + "\n");
    greentune::write_file_atomically(directory / "energy_uj", std::to_string(energy_uj) + "\n");
    greentune::write_file_atomically(directory / "max_energy_range_uj",
                                     std::to_string(kTypicalRangeUj) + "\n");
  }

  fs::path root_;
};

const FakePowercapTree& fake_powercap_tree() {
  static const FakePowercapTree tree;
  return tree;
}

enum class CounterSet { machine, machine_and_fake_rapl };

// Fresh counters for one Meter (a Meter owns its counters, so each Meter needs its own).
energy::EnergyCounters make_counters(CounterSet set) {
  energy::EnergyCounters counters = energy::discover_machine_counters().counters;
  if (set == CounterSet::machine_and_fake_rapl) {
    energy::RaplDiscovery rapl = energy::discover_rapl(fake_powercap_tree().root());
    if (!rapl.cpu || !rapl.dram) {
      std::fprintf(stderr, "bench_energy: the fake powercap tree %s was not discovered: %s\n",
                   fake_powercap_tree().root().c_str(), rapl.problem.c_str());
      std::exit(6);
    }
    counters.push_back(std::move(rapl.cpu));
    counters.push_back(std::move(rapl.dram));
  }
  return counters;
}

// "tdp-x-utilization-model AMD EPYC (...) + dimm-count-model RAM 23.5 GiB (...)": what was timed here.
std::string describe(const energy::EnergyCounters& counters) {
  std::string description;
  for (const auto& counter : counters) {
    if (!description.empty())
      description += " + ";
    description += std::string(energy::to_string(counter->method())) + " " + counter->label();
  }
  return description;
}

void BM_MeterWindowEdge(benchmark::State& state, CounterSet set) {
  energy::EnergyCounters counters = make_counters(set);
  state.SetLabel(describe(counters));
  state.counters["counters"] = static_cast<double>(counters.size());
  energy::Meter meter(std::move(counters));  // its sampler runs at the default 100 ms, as in training
  for (auto _ : state) {
    meter.begin("step");
    benchmark::DoNotOptimize(meter.end("step"));
  }
}

// The share of one core (%) that a sampler polling every interval takes.
double sampler_core_percent(double seconds_per_poll, std::chrono::milliseconds interval) {
  return seconds_per_poll / std::chrono::duration<double>(interval).count() * 100.0;
}

// One iteration = one poll of every counter, as the sampler thread and each window edge do it.
void BM_PollAllCounters(benchmark::State& state, CounterSet set) {
  energy::EnergyCounters counters = make_counters(set);
  state.SetLabel(describe(counters));
  const Clock::time_point start = Clock::now();
  for (auto _ : state) {
    const Clock::time_point now = Clock::now();
    for (const auto& counter : counters)
      benchmark::DoNotOptimize(counter->poll_joules(now));
  }
  const double seconds_per_poll =
      std::chrono::duration<double>(Clock::now() - start).count() / static_cast<double>(state.iterations());
  state.counters["counters"] = static_cast<double>(counters.size());
  state.counters["sampler_core_pct_at_100ms"] =
      sampler_core_percent(seconds_per_poll, std::chrono::milliseconds(100));
  state.counters["sampler_core_pct_at_10ms"] =
      sampler_core_percent(seconds_per_poll, std::chrono::milliseconds(10));
}

// A stand-in for a training step: C = A x B on n x n floats, naive (i-k-j loops, no blocking), on one
// thread. n = 960 took 70-110 ms on the 2-core AMD EPYC VM it was sized on, the scale of a demo-model
// training step.
class MatmulStep {
 public:
  explicit MatmulStep(size_t n) : n_(n), a_(n * n), b_(n * n), c_(n * n) {
    for (size_t i = 0; i < n * n; ++i) {
      a_[i] = static_cast<float>(i % 7) * 0.25f;
      b_[i] = static_cast<float>(i % 5) * 0.5f;
    }
  }

  // Runs the step and returns its wall time (s).
  double run_seconds() {
    const Clock::time_point start = Clock::now();
    std::fill(c_.begin(), c_.end(), 0.0f);
    for (size_t i = 0; i < n_; ++i) {
      for (size_t k = 0; k < n_; ++k) {
        const float a_ik = a_[i * n_ + k];
        for (size_t j = 0; j < n_; ++j)
          c_[i * n_ + j] += a_ik * b_[k * n_ + j];
      }
    }
    benchmark::DoNotOptimize(c_.data());
    benchmark::ClobberMemory();
    return std::chrono::duration<double>(Clock::now() - start).count();
  }

 private:
  size_t n_;
  std::vector<float> a_, b_, c_;
};

constexpr size_t kStepMatrixSize = 960;

// Each iteration times one step without a Meter and one with a Meter sampling every interval_ms
// (machine + fake RAPL counters), alternating which goes first, so that load from other processes hits
// both alike; the reported time is the metered step's. interval_ms 0 runs both steps without a Meter: its
// overhead_pct is the noise floor of the comparison.
void BM_SamplerOverheadOnCompute(benchmark::State& state) {
  energy::MeterOptions meter_options;
  meter_options.interval = std::chrono::milliseconds(state.range(0));
  MatmulStep step(kStepMatrixSize);
  double metered_total_s = 0.0;
  double baseline_total_s = 0.0;
  int64_t pair_index = 0;
  for (auto _ : state) {
    const bool metered_first = pair_index++ % 2 == 1;
    for (const bool metered : {metered_first, !metered_first}) {
      std::optional<energy::Meter> meter;  // started and stopped outside the timed step
      if (metered && meter_options.interval.count() > 0)
        meter.emplace(make_counters(CounterSet::machine_and_fake_rapl), meter_options);
      const double step_s = step.run_seconds();
      if (metered) {
        metered_total_s += step_s;
        state.SetIterationTime(step_s);
      } else {
        baseline_total_s += step_s;
      }
    }
  }
  const double steps = static_cast<double>(state.iterations());
  state.counters["step_ms"] = metered_total_s / steps * 1e3;
  state.counters["baseline_step_ms"] = baseline_total_s / steps * 1e3;
  state.counters["overhead_pct"] = (metered_total_s / baseline_total_s - 1.0) * 100.0;
}

// Microsecond-scale costs: enough repetitions that the noise shows beside the mean and median.
void microsecond_repetitions(benchmark::internal::Benchmark* registration) {
  registration->Unit(benchmark::kMicrosecond)->UseRealTime()->MinTime(0.5)->Repetitions(5);
}

BENCHMARK_CAPTURE(BM_MeterWindowEdge, machine, CounterSet::machine)->Apply(microsecond_repetitions);
BENCHMARK_CAPTURE(BM_MeterWindowEdge, machine_and_fake_rapl, CounterSet::machine_and_fake_rapl)
    ->Apply(microsecond_repetitions);
BENCHMARK_CAPTURE(BM_PollAllCounters, machine, CounterSet::machine)->Apply(microsecond_repetitions);
BENCHMARK_CAPTURE(BM_PollAllCounters, machine_and_fake_rapl, CounterSet::machine_and_fake_rapl)
    ->Apply(microsecond_repetitions);
BENCHMARK(BM_SamplerOverheadOnCompute)
    ->ArgName("interval_ms")
    ->Arg(0)
    ->Arg(100)
    ->Arg(10)
    ->Unit(benchmark::kMillisecond)
    ->UseManualTime()
    ->Iterations(10)
    ->Repetitions(10);

}  // namespace

BENCHMARK_MAIN();
