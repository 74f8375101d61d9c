#pragma once
// The numbers behind a study's report: per variant, the mean and sample standard deviation of each metric
// over its finished runs; each variant's change against the baseline with a 95% confidence interval; the
// accuracy-energy Pareto front; and which variants save energy without giving up accuracy.

#include <array>
#include <cstddef>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "greentune/study/results.hpp"

namespace greentune::report {

// What a variant must do to count as a plain win: save at least this much energy (percent of the
// baseline's mean energy_kwh) while its mean accuracy is at most this many points (accuracy x 100) below
// the baseline's. Both are judged on the means.
inline constexpr double kEnergySavingThresholdPercent = 10.0;
inline constexpr double kAccuracyTolerancePoints = 0.5;

// One metric over a variant's finished runs.
struct Summary {
  size_t n = 0;                   // runs that have the metric; mean is meaningless when 0
  double mean = 0.0;              // in the metric's unit
  std::optional<double> std_dev;  // sample standard deviation (n - 1); absent when n < 2
};

struct Interval {
  double low = 0.0;
  double high = 0.0;
};

// A variant's difference from the baseline: a percent change of a mean, or accuracy points.
struct Change {
  double value = 0.0;
  std::optional<Interval> ci95;  // absent with fewer than 2 runs on either side
};

struct VariantStatistics {
  std::string name;
  std::map<std::string, std::string> overrides;  // as the study's results.json has them
  std::map<std::string, size_t> runs_by_status;  // every run of the variant, finished or not
  size_t finished_runs = 0;

  // Each study::Metric over the finished runs that have it (test_accuracy: those with a test split), in
  // the unit of result.json (accuracies are fractions in [0, 1]).
  std::array<Summary, study::kMetricCount> metrics;
  const Summary& summary(study::Metric metric) const { return metrics[static_cast<size_t>(metric)]; }

  // Against the baseline: percent change of the mean, (m_variant / m_baseline - 1) * 100, with the CI of
  // the ratio of means by the delta method; accuracy as a difference in points with a Welch t-interval.
  // Absent for the baseline itself and whenever either side has no finished run (or a zero baseline mean).
  std::optional<Change> energy_change_percent, co2_change_percent, train_seconds_change_percent;
  std::optional<Change> accuracy_change_points;
};

struct StudyStatistics {
  std::string study;
  std::string baseline;
  std::vector<VariantStatistics> variants;  // in the study's order
  // The accuracy the changes, the Pareto front, the savers and losers and the plots compare: the test
  // accuracy when every finished run has one (the held-out test split, which is larger than the validation
  // one in the studies we ship, so its intervals are narrower), else the validation accuracy.
  study::Metric compared_accuracy = study::Metric::accuracy;
  // Variants no other variant beats on both mean accuracy (higher) and mean energy (lower), ordered by
  // mean energy, lowest first: the front's line from left to right.
  std::vector<std::string> pareto_front;
  // Variants that save >= kEnergySavingThresholdPercent energy within kAccuracyTolerancePoints accuracy.
  std::vector<std::string> energy_savers;
  // Variants whose accuracy change's 95% interval lies wholly below 0: less accurate than the baseline
  // beyond seed-to-seed variation, in the study's order.
  std::vector<std::string> accuracy_losers;

  const VariantStatistics* find(std::string_view name) const;  // nullptr when no variant has that name
};

// "Test accuracy" or "Validation accuracy": what compared_accuracy is, for headers and axis labels.
std::string_view compared_accuracy_name(const StudyStatistics& statistics);

// Throws Error(invalid_data) when the baseline or a run's variant is not among the study's variants.
StudyStatistics compute_statistics(const study::StudyResults& results);

// One plain sentence (or two) on which variants are energy_savers, with their numbers, or that none is.
std::string energy_saving_statement(const StudyStatistics& statistics);

// One sentence naming the accuracy_losers with their accuracy changes; empty when there are none.
std::string accuracy_loss_statement(const StudyStatistics& statistics);

// What a study this small cannot show, in one or two sentences: the finished runs per variant, and the
// accuracy change (the median half-width of the variants' 95% intervals) below which a difference cannot
// be told from seed-to-seed variation; the numbers hold for this model, data and machine only.
std::string study_limits_statement(const StudyStatistics& statistics);

// Student's t distribution's quantile: the x with P(T <= x) = probability, for any real
// degrees_of_freedom > 0 (Welch-Satterthwaite gives fractional ones), from Boost.Math.
double student_t_quantile(double probability, double degrees_of_freedom);

// Non-dominated points of (accuracy: higher is better, energy: lower is better); returns their indices,
// ordered by energy, lowest first. Exact ties keep every tied point.
struct AccuracyEnergyPoint {
  double accuracy = 0.0;
  double energy = 0.0;
};
std::vector<size_t> pareto_front(std::span<const AccuracyEnergyPoint> points);

}  // namespace greentune::report
