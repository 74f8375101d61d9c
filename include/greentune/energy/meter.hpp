#pragma once
// The Meter: energy of named windows (a run, each epoch, each train or eval phase) from a set of energy
// counters, polled by a background sampler thread and read exactly at window edges. Windows may nest and
// overlap; each is the difference of the counters between its begin and its end.

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "greentune/energy/energy_counter.hpp"
#include "greentune/energy/measurement.hpp"

namespace greentune::energy {

struct MeterOptions {
  // Sampler period: power-integrating counters need ≤ 100 ms, and RAPL counters must be read at least
  // once per wrap (about once a minute at 250 W on a 32-bit range).
  std::chrono::milliseconds interval{100};
  double pue = 1.0;             // power usage effectiveness: facility energy per IT energy
  double gco2_per_kwh = 475.0;  // carbon intensity of the electricity
  // A live carbon intensity (gCO2e/kWh), read at every reading of the counters: the energy since the
  // previous reading is charged at it, so a window's CO2 follows the grid and its gco2_per_kwh is the
  // energy-weighted average. Empty: gco2_per_kwh throughout.
  std::function<double()> live_gco2_per_kwh;
  // Called before the counters are read at a window edge, so that queued GPU work is inside the window
  // it belongs to (e.g. cudaDeviceSynchronize). Empty: nothing to wait for.
  std::function<void()> synchronize;
};

class Meter {
 public:
  // Starts the sampler thread; counters may be empty (a window then reports duration only).
  Meter(EnergyCounters counters, MeterOptions options = {});
  ~Meter();  // stops the sampler thread
  Meter(const Meter&) = delete;
  Meter& operator=(const Meter&) = delete;

  // Opens window name; Error(usage) when a window of that name is open.
  void begin(const std::string& name);
  // Closes window name and returns what it measured; Error(usage) when no such window is open.
  Measurement end(const std::string& name);
  // What open window name has measured so far, leaving it open (for live watts and joules).
  Measurement peek(const std::string& name);
  bool is_open(const std::string& name) const;

  struct CounterInfo {
    Component component;
    Method method;
    std::string label;
  };
  const std::vector<CounterInfo>& counters() const { return infos_; }
  // Counters that stopped answering, with what they said; their energy stays at its last reading.
  std::vector<std::string> failures() const;
  const MeterOptions& options() const { return options_; }

 private:
  struct Snapshot {
    Clock::time_point time;
    std::vector<double> joules;  // per counter, cumulative
    double co2_g = 0.0;          // cumulative, at the live intensity of each reading (live only)
  };
  Snapshot read_locked();  // polls every working counter now; mutex_ held
  Measurement difference(const std::string& name, const Snapshot& from, const Snapshot& to) const;
  void sample_until_stopped();

  EnergyCounters counters_;
  std::vector<CounterInfo> infos_;
  MeterOptions options_;
  mutable std::mutex mutex_;
  std::vector<double> last_joules_;  // newest reading per counter
  double co2_g_ = 0.0;  // emitted up to the newest reading, charged at the live intensity (live only)
  std::vector<std::string> failure_of_;                // empty while the counter works
  std::map<std::string, Snapshot, std::less<>> open_;  // window name -> its begin
  std::condition_variable stop_signal_;
  bool stopping_ = false;
  std::thread sampler_;
};

}  // namespace greentune::energy
