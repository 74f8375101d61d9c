// The Meter against scripted counters: exact window arithmetic, nesting and overlap, PUE and carbon,
// the sampler thread, failing counters, misuse.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "greentune/core/error.hpp"
#include "greentune/energy/meter.hpp"

namespace greentune::energy {
namespace {

using ::testing::HasSubstr;

// Draws a constant power: joules = watts x seconds since the first poll, computed from the poll's time
// point, so windows measure exactly watts x their duration. Counts its polls; can be told to fail.
class ConstantPowerCounter : public EnergyCounter {
 public:
  ConstantPowerCounter(Component component, double watts, std::atomic<int>* polls = nullptr,
                       std::atomic<bool>* broken = nullptr)
      : component_(component), watts_(watts), polls_(polls), broken_(broken) {}
  Component component() const override { return component_; }
  Method method() const override {
    return component_ == Component::gpu ? Method::nvml_counter : Method::rapl;
  }
  std::string label() const override {
    return std::string(to_string(component_)) + " at " + std::to_string(watts_);
  }
  double poll_joules(Clock::time_point now) override {
    if (broken_ != nullptr && broken_->load())
      throw Error(ErrorCode::io, "fake counter", "stopped answering", "none");
    if (polls_ != nullptr)
      ++*polls_;
    if (!started_)
      started_ = now;
    return watts_ * std::chrono::duration<double>(now - *started_).count();
  }

 private:
  Component component_;
  double watts_;
  std::atomic<int>* polls_;
  std::atomic<bool>* broken_;
  std::optional<Clock::time_point> started_;
};

EnergyCounters gpu_cpu_dram_ram(std::atomic<int>* gpu_polls = nullptr,
                                std::atomic<bool>* gpu_broken = nullptr) {
  EnergyCounters counters;
  counters.push_back(std::make_unique<ConstantPowerCounter>(Component::gpu, 300.0, gpu_polls, gpu_broken));
  counters.push_back(std::make_unique<ConstantPowerCounter>(Component::gpu, 100.0));
  counters.push_back(std::make_unique<ConstantPowerCounter>(Component::cpu, 50.0));
  counters.push_back(std::make_unique<ConstantPowerCounter>(Component::dram, 10.0));
  counters.push_back(std::make_unique<ConstantPowerCounter>(Component::ram, 5.0));
  return counters;
}

TEST(Meter, AWindowIsEachCountersEnergyBetweenItsEdgesWithPueAndCarbon) {
  MeterOptions options;
  options.pue = 1.5;
  options.gco2_per_kwh = 400.0;
  Meter meter(gpu_cpu_dram_ram(), options);
  meter.begin("run");
  std::this_thread::sleep_for(std::chrono::milliseconds(120));
  const Measurement run = meter.end("run");

  ASSERT_GT(run.duration_s, 0.1);
  const double seconds = run.duration_s;
  ASSERT_EQ(run.gpu_j.size(), 2u);
  EXPECT_NEAR(run.gpu_j[0], 300.0 * seconds, 1e-9);
  EXPECT_NEAR(run.gpu_j[1], 100.0 * seconds, 1e-9);
  EXPECT_NEAR(run.cpu_j, 50.0 * seconds, 1e-9);
  EXPECT_NEAR(run.dram_j, 10.0 * seconds, 1e-9);
  EXPECT_NEAR(run.ram_j, 5.0 * seconds, 1e-9);
  EXPECT_NEAR(run.total_j, 1.5 * 465.0 * seconds, 1e-9);
  EXPECT_NEAR(run.kwh, run.total_j / 3.6e6, 1e-15);
  EXPECT_NEAR(run.co2_kg, run.kwh * 0.4, 1e-15);
  EXPECT_NEAR(run.average_w(), 1.5 * 465.0, 1e-9);
  ASSERT_EQ(run.components.size(), 5u);
  EXPECT_EQ(run.components[2].component, Component::cpu);
  EXPECT_EQ(run.components[2].method, Method::rapl);

  const nlohmann::json json = run;
  EXPECT_EQ(json.at("name"), "run");
  EXPECT_EQ(json.at("components").size(), 5u);
  EXPECT_EQ(json.at("components")[0].at("method"), "nvml-energy-counter");
}

TEST(Meter, WindowsNestAndOverlap) {
  EnergyCounters counters;
  counters.push_back(std::make_unique<ConstantPowerCounter>(Component::cpu, 100.0));
  Meter meter(std::move(counters));
  meter.begin("run");
  meter.begin("epoch-1");
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  meter.begin("eval");  // overlaps epoch-1's end
  const Measurement epoch = meter.end("epoch-1");
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  const Measurement eval = meter.end("eval");
  const Measurement live = meter.peek("run");
  EXPECT_TRUE(meter.is_open("run"));
  const Measurement run = meter.end("run");
  EXPECT_FALSE(meter.is_open("run"));

  EXPECT_NEAR(epoch.cpu_j, 100.0 * epoch.duration_s, 1e-9);
  EXPECT_NEAR(eval.cpu_j, 100.0 * eval.duration_s, 1e-9);
  EXPECT_GE(run.duration_s, live.duration_s);
  EXPECT_GT(run.cpu_j, epoch.cpu_j + eval.cpu_j - 100.0 * 0.03);  // the parts overlap by eval's start
  EXPECT_LT(epoch.duration_s + eval.duration_s, run.duration_s + 0.03);
}

TEST(Meter, TheSamplerPollsEveryIntervalAndEdgesSynchronizeFirst) {
  std::atomic<int> polls{0};
  std::atomic<int> synchronizations{0};
  MeterOptions options;
  options.interval = std::chrono::milliseconds(20);
  options.synchronize = [&] { ++synchronizations; };
  Meter meter(gpu_cpu_dram_ram(&polls), options);
  std::this_thread::sleep_for(std::chrono::milliseconds(210));
  EXPECT_GE(polls.load(), 5);   // about 10; a loaded machine may delay some
  EXPECT_LE(polls.load(), 13);  // and never polls faster than asked
  meter.begin("a");
  meter.end("a");
  EXPECT_EQ(synchronizations.load(), 2);
}

TEST(Meter, ACounterThatFailsFreezesAndIsReportedWhileTheOthersGoOn) {
  std::atomic<bool> broken{false};
  MeterOptions options;
  options.interval = std::chrono::milliseconds(10);
  Meter meter(gpu_cpu_dram_ram(nullptr, &broken), options);
  meter.begin("run");
  std::this_thread::sleep_for(std::chrono::milliseconds(40));
  broken = true;
  const Measurement before = meter.peek("run");
  std::this_thread::sleep_for(std::chrono::milliseconds(40));
  const Measurement after = meter.end("run");
  ASSERT_EQ(meter.failures().size(), 1u);
  EXPECT_THAT(meter.failures()[0], HasSubstr("stopped answering"));
  EXPECT_EQ(after.gpu_j[0], before.gpu_j[0]);  // frozen at its last reading
  EXPECT_GT(after.cpu_j, before.cpu_j);        // the others went on
}

TEST(Meter, MisuseIsAClearError) {
  Meter meter({});
  meter.begin("run");
  EXPECT_THROW(meter.begin("run"), Error);
  EXPECT_THROW(meter.end("epoch"), Error);
  EXPECT_THROW(meter.peek("epoch"), Error);
  const Measurement run = meter.end("run");
  EXPECT_EQ(run.total_j, 0.0);  // no counters: duration only
  EXPECT_GE(run.duration_s, 0.0);
  MeterOptions zero;
  zero.interval = std::chrono::milliseconds(0);
  EXPECT_THROW(Meter({}, zero), Error);
}

}  // namespace
}  // namespace greentune::energy
