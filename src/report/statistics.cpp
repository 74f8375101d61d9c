#include "greentune/report/statistics.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <boost/math/distributions/students_t.hpp>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "format.hpp"
#include "greentune/core/error.hpp"
#include "greentune/core/strings.hpp"

namespace greentune::report {

namespace {

using study::Metric;

Summary summarize(const std::vector<double>& values) {
  Summary summary;
  summary.n = values.size();
  if (values.empty()) {
    return summary;
  }
  summary.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
  if (values.size() >= 2) {
    double squared_deviations = 0.0;
    for (const double value : values) {
      squared_deviations += (value - summary.mean) * (value - summary.mean);
    }
    summary.std_dev = std::sqrt(squared_deviations / static_cast<double>(values.size() - 1));
  }
  return summary;
}

// Half-width of a 95% interval for an estimate whose variance is variant_variance + baseline_variance, each
// part estimated from its side's n runs (n - 1 degrees of freedom): the t quantile at the
// Welch-Satterthwaite degrees of freedom times the standard error. Both sides need n >= 2.
double welch_half_width_95(double variant_variance, size_t variant_n, double baseline_variance,
                           size_t baseline_n) {
  const double variance = variant_variance + baseline_variance;
  if (variance == 0.0) {
    return 0.0;  // every run of both sides agrees exactly: there is no spread to widen the interval
  }
  const double degrees_of_freedom =
      variance * variance /
      (variant_variance * variant_variance / static_cast<double>(variant_n - 1) +
       baseline_variance * baseline_variance / static_cast<double>(baseline_n - 1));
  return student_t_quantile(0.975, degrees_of_freedom) * std::sqrt(variance);
}

bool has_spread_on_both_sides(const Summary& variant, const Summary& baseline) {
  return variant.std_dev.has_value() && baseline.std_dev.has_value();
}

// (m_v / m_b - 1) * 100 with the delta method's interval on R = m_v / m_b:
// Var(R) ~ R^2 (s_v^2 / (n_v m_v^2) + s_b^2 / (n_b m_b^2)), written as (s_v^2/n_v + R^2 s_b^2/n_b) / m_b^2
// so that a zero variant mean needs no division by it.
std::optional<Change> percent_change(const Summary& variant, const Summary& baseline) {
  if (variant.n == 0 || baseline.n == 0 || baseline.mean == 0.0) {
    return std::nullopt;
  }
  const double ratio = variant.mean / baseline.mean;
  Change change{.value = (ratio - 1.0) * 100.0, .ci95 = std::nullopt};
  if (has_spread_on_both_sides(variant, baseline)) {
    const double squared_baseline_mean = baseline.mean * baseline.mean;
    const double variant_part =
        *variant.std_dev * *variant.std_dev / static_cast<double>(variant.n) / squared_baseline_mean;
    const double baseline_part = ratio * ratio * *baseline.std_dev * *baseline.std_dev /
                                 static_cast<double>(baseline.n) / squared_baseline_mean;
    const double half_width = welch_half_width_95(variant_part, variant.n, baseline_part, baseline.n);
    change.ci95 = Interval{(ratio - half_width - 1.0) * 100.0, (ratio + half_width - 1.0) * 100.0};
  }
  return change;
}

// (m_v - m_b) * 100 accuracy points with a Welch t-interval.
std::optional<Change> points_change(const Summary& variant, const Summary& baseline) {
  constexpr double kPointsPerFraction = 100.0;
  if (variant.n == 0 || baseline.n == 0) {
    return std::nullopt;
  }
  Change change{.value = (variant.mean - baseline.mean) * kPointsPerFraction, .ci95 = std::nullopt};
  if (has_spread_on_both_sides(variant, baseline)) {
    const double variant_std = *variant.std_dev * kPointsPerFraction;
    const double baseline_std = *baseline.std_dev * kPointsPerFraction;
    const double half_width =
        welch_half_width_95(variant_std * variant_std / static_cast<double>(variant.n), variant.n,
                            baseline_std * baseline_std / static_cast<double>(baseline.n), baseline.n);
    change.ci95 = Interval{change.value - half_width, change.value + half_width};
  }
  return change;
}

std::string join_names(const std::vector<study::VariantSummary>& variants) {
  std::vector<std::string> names;
  for (const study::VariantSummary& variant : variants) {
    names.push_back(variant.name);
  }
  return join(names, ", ");
}

}  // namespace

const VariantStatistics* StudyStatistics::find(std::string_view name) const {
  const auto found = std::find_if(variants.begin(), variants.end(),
                                  [&](const VariantStatistics& variant) { return variant.name == name; });
  return found == variants.end() ? nullptr : &*found;
}

double student_t_quantile(double probability, double degrees_of_freedom) {
  if (!(probability > 0.0 && probability < 1.0) || !(degrees_of_freedom > 0.0)) {
    throw Error(ErrorCode::internal, "student_t_quantile",
                fmt::format("needs 0 < probability < 1 and degrees of freedom > 0, got {} and {}",
                            probability, degrees_of_freedom),
                "please report this");
  }
  return boost::math::quantile(boost::math::students_t_distribution<double>(degrees_of_freedom), probability);
}

std::vector<size_t> pareto_front(std::span<const AccuracyEnergyPoint> points) {
  const auto dominates = [](const AccuracyEnergyPoint& a, const AccuracyEnergyPoint& b) {
    return a.accuracy >= b.accuracy && a.energy <= b.energy &&
           (a.accuracy > b.accuracy || a.energy < b.energy);
  };
  std::vector<size_t> front;
  for (size_t candidate = 0; candidate < points.size(); ++candidate) {
    const bool dominated = std::any_of(points.begin(), points.end(), [&](const AccuracyEnergyPoint& other) {
      return dominates(other, points[candidate]);
    });
    if (!dominated) {
      front.push_back(candidate);
    }
  }
  std::stable_sort(front.begin(), front.end(),
                   [&](size_t a, size_t b) { return points[a].energy < points[b].energy; });
  return front;
}

StudyStatistics compute_statistics(const study::StudyResults& results) {
  StudyStatistics statistics;
  statistics.study = results.study;
  statistics.baseline = results.baseline;
  for (const study::VariantSummary& variant : results.variants) {
    VariantStatistics& added = statistics.variants.emplace_back();
    added.name = variant.name;
    added.overrides = variant.overrides;
  }
  const auto index_of = [&](const std::string& name) -> std::optional<size_t> {
    for (size_t index = 0; index < results.variants.size(); ++index) {
      if (results.variants[index].name == name) {
        return index;
      }
    }
    return std::nullopt;
  };
  const std::optional<size_t> baseline_index = index_of(results.baseline);
  if (!baseline_index) {
    throw Error(ErrorCode::invalid_data, "results.json",
                fmt::format("the baseline \"{}\" is not one of the variants ({})", results.baseline,
                            join_names(results.variants)),
                "run `greentune study` again to rewrite the results");
  }

  std::vector<std::vector<const study::RunRecord*>> finished_runs(results.variants.size());
  for (const study::RunRecord& run : results.runs) {
    const std::optional<size_t> variant_index = index_of(run.variant);
    if (!variant_index) {
      throw Error(ErrorCode::invalid_data, "results.json",
                  fmt::format("run \"{}\" belongs to variant \"{}\", which is not one of the variants ({})",
                              run.run_dir, run.variant, join_names(results.variants)),
                  "run `greentune study` again to rewrite the results");
    }
    ++statistics.variants[*variant_index].runs_by_status[run.status];
    if (study::is_finished(run.status)) {
      finished_runs[*variant_index].push_back(&run);
    }
  }

  for (size_t index = 0; index < statistics.variants.size(); ++index) {
    VariantStatistics& variant = statistics.variants[index];
    variant.finished_runs = finished_runs[index].size();
    for (const study::MetricDefinition& metric : study::kMetrics) {
      std::vector<double> values;
      for (const study::RunRecord* run : finished_runs[index]) {
        if (const std::optional<double> value = run->result ? metric.of(*run->result) : std::nullopt) {
          values.push_back(*value);
        }
      }
      variant.metrics[static_cast<size_t>(metric.metric)] = summarize(values);
    }
  }

  const bool every_run_tested = std::all_of(
      statistics.variants.begin(), statistics.variants.end(), [](const VariantStatistics& variant) {
        return variant.summary(Metric::test_accuracy).n == variant.finished_runs;
      });
  if (every_run_tested && statistics.variants[*baseline_index].finished_runs > 0)
    statistics.compared_accuracy = Metric::test_accuracy;
  const Metric accuracy = statistics.compared_accuracy;

  const VariantStatistics& baseline = statistics.variants[*baseline_index];
  for (size_t index = 0; index < statistics.variants.size(); ++index) {
    if (index == *baseline_index) {
      continue;
    }
    VariantStatistics& variant = statistics.variants[index];
    variant.energy_change_percent =
        percent_change(variant.summary(Metric::energy_kwh), baseline.summary(Metric::energy_kwh));
    variant.co2_change_percent =
        percent_change(variant.summary(Metric::co2_kg), baseline.summary(Metric::co2_kg));
    variant.train_seconds_change_percent =
        percent_change(variant.summary(Metric::train_seconds), baseline.summary(Metric::train_seconds));
    variant.accuracy_change_points = points_change(variant.summary(accuracy), baseline.summary(accuracy));
    if (variant.energy_change_percent && variant.accuracy_change_points &&
        variant.energy_change_percent->value <= -kEnergySavingThresholdPercent &&
        variant.accuracy_change_points->value >= -kAccuracyTolerancePoints) {
      statistics.energy_savers.push_back(variant.name);
    }
    if (variant.accuracy_change_points && variant.accuracy_change_points->ci95 &&
        variant.accuracy_change_points->ci95->high < 0.0) {
      statistics.accuracy_losers.push_back(variant.name);
    }
  }

  std::vector<AccuracyEnergyPoint> points;
  std::vector<const VariantStatistics*> plotted;
  for (const VariantStatistics& variant : statistics.variants) {
    if (variant.finished_runs > 0) {
      points.push_back({variant.summary(accuracy).mean, variant.summary(Metric::energy_kwh).mean});
      plotted.push_back(&variant);
    }
  }
  for (const size_t index : pareto_front(points)) {
    statistics.pareto_front.push_back(plotted[index]->name);
  }
  return statistics;
}

std::string energy_saving_statement(const StudyStatistics& statistics) {
  const VariantStatistics* baseline = statistics.find(statistics.baseline);
  if (baseline == nullptr || baseline->finished_runs == 0) {
    return fmt::format("Nothing can be compared yet: the baseline \"{}\" has no finished runs.",
                       statistics.baseline);
  }
  const std::string criterion = fmt::format(
      "at least {:g}% energy with a mean accuracy no more than {:g} points below the baseline \"{}\" "
      "(judged on the means)",
      kEnergySavingThresholdPercent, kAccuracyTolerancePoints, statistics.baseline);
  if (statistics.energy_savers.empty()) {
    std::string statement = fmt::format("No variant saves {}.", criterion);
    const VariantStatistics* largest_saver = nullptr;
    for (const VariantStatistics& variant : statistics.variants) {
      if (variant.energy_change_percent && variant.accuracy_change_points &&
          variant.energy_change_percent->value < 0.0 &&
          (!largest_saver ||
           variant.energy_change_percent->value < largest_saver->energy_change_percent->value)) {
        largest_saver = &variant;
      }
    }
    if (largest_saver) {
      statement += fmt::format(" The largest saving is {}'s: energy {}, accuracy {}.", largest_saver->name,
                               detail::describe_change(*largest_saver->energy_change_percent, 1, "%"),
                               detail::describe_change(*largest_saver->accuracy_change_points, 2, " pts"));
    }
    return statement;
  }
  std::string statement = fmt::format("Variants that save {}: ", criterion);
  for (size_t index = 0; index < statistics.energy_savers.size(); ++index) {
    const VariantStatistics& saver = *statistics.find(statistics.energy_savers[index]);
    statement += fmt::format("{}{} (energy {}, accuracy {})", index == 0 ? "" : "; ", saver.name,
                             detail::describe_change(*saver.energy_change_percent, 1, "%"),
                             detail::describe_change(*saver.accuracy_change_points, 2, " pts"));
  }
  return statement + ".";
}

std::string accuracy_loss_statement(const StudyStatistics& statistics) {
  if (statistics.accuracy_losers.empty())
    return "";
  std::vector<std::string> losers;
  for (const std::string& name : statistics.accuracy_losers) {
    losers.push_back(
        fmt::format("{} (accuracy {})", name,
                    detail::describe_change(*statistics.find(name)->accuracy_change_points, 2, " pts")));
  }
  return fmt::format(
      "Less accurate than the baseline \"{}\" beyond seed-to-seed variation (95% interval below 0): {}.",
      statistics.baseline, join(losers, "; "));
}

std::string_view compared_accuracy_name(const StudyStatistics& statistics) {
  return statistics.compared_accuracy == Metric::test_accuracy ? "Test accuracy" : "Validation accuracy";
}

std::string study_limits_statement(const StudyStatistics& statistics) {
  size_t fewest_runs = std::numeric_limits<size_t>::max(), most_runs = 0;
  std::vector<double> half_widths;  // of the accuracy changes' intervals, in points
  for (const VariantStatistics& variant : statistics.variants) {
    if (variant.finished_runs == 0)
      continue;
    fewest_runs = std::min(fewest_runs, variant.finished_runs);
    most_runs = std::max(most_runs, variant.finished_runs);
    if (variant.accuracy_change_points && variant.accuracy_change_points->ci95) {
      const Interval& interval = *variant.accuracy_change_points->ci95;
      half_widths.push_back((interval.high - interval.low) / 2.0);
    }
  }
  if (most_runs == 0)
    return "";
  const std::string runs = fewest_runs == most_runs ? fmt::format("{}", most_runs)
                                                    : fmt::format("{} to {}", fewest_runs, most_runs);
  std::string statement =
      fmt::format("This study has {} finished run{} per variant. ", runs, most_runs == 1 ? "" : "s");
  if (half_widths.empty()) {
    statement +=
        "With fewer than 2 on a side no change has a confidence interval, so none can be told "
        "from seed-to-seed variation.";
  } else {
    std::sort(half_widths.begin(), half_widths.end());
    const size_t middle = half_widths.size() / 2;
    const double median = half_widths.size() % 2 == 1 ? half_widths[middle]
                                                      : (half_widths[middle - 1] + half_widths[middle]) / 2.0;
    statement += fmt::format(
        "An accuracy change smaller than about {:.2f} points (the median half-width of the 95% intervals "
        "here) cannot be told from seed-to-seed variation, and an energy change whose interval includes 0 "
        "is no evidence either way.",
        median);
  }
  return statement +
         " The numbers hold for this model, data size and machine; other hardware, models and "
         "longer training can rank the strategies differently.";
}

}  // namespace greentune::report
