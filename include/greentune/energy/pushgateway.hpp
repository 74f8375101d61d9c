#pragma once
// Energy pushed to a Prometheus Pushgateway while a run goes on, as CodeCarbon and Zeus push theirs: each
// process PUTs its own group
//   URL/metrics/job/greentune/instance@base64/<host>/run@base64/<run>/rank/<rank>
// holding gauges of what it has measured so far (its share of a data-parallel run: each GPU and each
// machine's CPU and memory is metered by one rank), so that
//   sum without (instance, rank) (greentune_energy_joules{component="total"})
// is a run's energy over all its ranks and machines. Pushes go from a thread of their own, so a slow or
// absent Pushgateway never holds up the run; a failed push is said once and the run goes on.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "greentune/energy/measurement.hpp"

namespace greentune::energy {

// What a process has measured so far, and how far it has come.
struct PushSample {
  double duration_s = 0.0;
  double gpu_j = 0.0, cpu_j = 0.0, dram_j = 0.0, ram_j = 0.0;
  double total_j = 0.0;  // every component, PUE applied
  double co2_kg = 0.0;
  std::optional<int64_t> step, total_steps;  // optimizer updates (a training run)
  std::optional<uint64_t> samples;           // examples trained on, every rank's
};
// From anything with a Measurement's duration_s, cpu_j, dram_j, ram_j, total_j and co2_kg, and its GPUs'
// joules in all.
template <typename Energy>
PushSample push_sample_of(const Energy& energy, double gpu_j) {
  PushSample sample;
  sample.duration_s = energy.duration_s;
  sample.gpu_j = gpu_j;
  sample.cpu_j = energy.cpu_j;
  sample.dram_j = energy.dram_j;
  sample.ram_j = energy.ram_j;
  sample.total_j = energy.total_j;
  sample.co2_kg = energy.co2_kg;
  return sample;
}
inline PushSample push_sample_of(const Measurement& measurement) {
  return push_sample_of(measurement, measurement.gpu_total_j());
}

struct PushGroup {
  std::string job = "greentune";
  std::string instance;  // the host
  std::string run;       // the run directory's name
  int rank = 0;
};

// A run's label: the name of its directory ("runs/base/" and "./runs/base" are "base").
std::string run_label_of(const std::filesystem::path& run_dir);
// The group's path below the Pushgateway's URL (label values base64url-encoded, so any name is safe).
std::string push_path(const PushGroup& group);
// The gauges in Prometheus' text format 0.0.4; power_w: the average since the previous push.
std::string exposition_text(const PushSample& sample, double power_w);

class Pushgateway {
 public:
  Pushgateway(std::string url, PushGroup group);
  ~Pushgateway();  // sends what is queued, then stops
  Pushgateway(const Pushgateway&) = delete;
  Pushgateway& operator=(const Pushgateway&) = delete;

  // Queues sample; a newer one replaces a queued one not sent yet.
  void push(const PushSample& sample);
  // Pushes sample() every interval until stop_sampling() (e.g. a Meter window's peek).
  void sample_every(std::chrono::milliseconds interval, std::function<PushSample()> sample);
  void stop_sampling();  // returns once no sample() call is under way
  // Stops the thread and pushes sample now, waiting for the answer: a run's last numbers.
  void push_final(const PushSample& sample);

 private:
  void send(const PushSample& sample);
  void run_worker();
  void stop_worker();

  std::string group_url_;
  std::optional<PushSample> previous_;  // the last one sent (its duration and energy give the power)
  bool warned_ = false;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::optional<PushSample> queued_;
  std::function<PushSample()> source_;
  std::chrono::milliseconds interval_{0};
  bool reconfigured_ = false;  // source_ changed: the worker's wait starts again
  bool stopping_ = false;
  std::thread worker_;  // last: started once the members it uses exist
};

}  // namespace greentune::energy
