#include "document.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <map>
#include <utility>

#include "format.hpp"
#include "greentune/core/strings.hpp"

namespace greentune::report::detail {

namespace {

using study::Metric;

// Percent changes are shown to 0.1%, accuracy changes to 0.01 points.
constexpr int kPercentDecimals = 1;
constexpr int kPointsDecimals = 2;
constexpr double kPercentPerFraction = 100.0;  // accuracy is stored as a fraction, shown in %

std::string describe_overrides(const std::map<std::string, std::string>& overrides) {
  if (overrides.empty()) {
    return "(the base settings)";
  }
  std::vector<std::string> settings;
  for (const auto& [option, value] : overrides) {
    settings.push_back(fmt::format("{} = {}", option, value));
  }
  return join(settings, ", ");
}

// "Not run on this machine: bf16 (2 runs), ...: <reason>." per reason of the skipped runs; empty without.
std::vector<std::string> skipped_statements(const study::StudyResults& results) {
  std::vector<std::pair<std::string, std::vector<std::string>>> variants_by_reason;  // in the study's order
  std::map<std::string, size_t> runs_of_variant;
  for (const study::RunRecord& run : results.runs) {
    if (run.status != study::kStatusSkipped)
      continue;
    if (runs_of_variant[run.variant]++ > 0)
      continue;
    auto reason = std::find_if(variants_by_reason.begin(), variants_by_reason.end(),
                               [&](const auto& entry) { return entry.first == run.error; });
    if (reason == variants_by_reason.end())
      reason = variants_by_reason.insert(variants_by_reason.end(), {run.error, {}});
    reason->second.push_back(run.variant);
  }
  std::vector<std::string> statements;
  for (const auto& [reason, variants] : variants_by_reason) {
    std::vector<std::string> named;
    for (const std::string& variant : variants)
      named.push_back(fmt::format("{} ({} run{})", variant, runs_of_variant[variant],
                                  runs_of_variant[variant] == 1 ? "" : "s"));
    statements.push_back(fmt::format("Not run on this machine: {}. Why: {}.", join(named, ", "), reason));
  }
  return statements;
}

Section summary_section(const study::StudyResults& results, const StudyStatistics& statistics) {
  std::vector<std::string> paragraphs;
  if (!results.description.empty())
    paragraphs.push_back(results.description);
  paragraphs.push_back(energy_saving_statement(statistics));
  if (std::string losses = accuracy_loss_statement(statistics); !losses.empty())
    paragraphs.push_back(std::move(losses));
  if (std::string limits = study_limits_statement(statistics); !limits.empty())
    paragraphs.push_back(std::move(limits));
  for (std::string& skipped : skipped_statements(results))
    paragraphs.push_back(std::move(skipped));
  paragraphs.push_back(fmt::format(
      "Statistics are over each variant's finished runs (failed, pending and skipped runs are left "
      "out): mean ± sample standard deviation (n - 1). Changes are against the baseline "
      "\"{}\": energy, CO2 and training time as the percent change of the mean, with a 95% "
      "confidence interval for the ratio of means by the delta method and the Student t "
      "quantile at Welch-Satterthwaite degrees of freedom; accuracy as the difference of the "
      "means in points (x 100) with a Welch t-interval. \"n/a\" marks an interval that needs "
      "at least 2 finished runs on both sides. {}",
      statistics.baseline,
      statistics.compared_accuracy == Metric::test_accuracy
          ? "Accuracy changes, the savers and the Pareto front use the test accuracy (the held-out test "
            "split, which every finished run has)."
          : "Accuracy changes, the savers and the Pareto front use the validation accuracy (not every "
            "finished run has a test accuracy)."));
  return Section{.heading = "Summary", .paragraphs = std::move(paragraphs), .tables = {}, .figures = {}};
}

Section variants_section(const StudyStatistics& statistics) {
  Table table{
      .alignment = "lll", .header = {"Variant", "Role", "Settings that differ from the base"}, .rows = {}};
  for (const VariantStatistics& variant : statistics.variants) {
    table.rows.push_back({variant.name, variant.name == statistics.baseline ? "baseline" : "",
                          describe_overrides(variant.overrides)});
  }
  return Section{.heading = "Variants", .paragraphs = {}, .tables = {table}, .figures = {}};
}

// Metrics as rows and variants as columns: a study has a handful of variants but a dozen metrics.
Section metrics_section(const StudyStatistics& statistics) {
  Table table{.alignment = "l", .header = {"Metric (mean ± std)"}, .rows = {{"Finished runs"}}};
  for (const VariantStatistics& variant : statistics.variants) {
    table.alignment += 'r';
    table.header.push_back(variant.name);
    table.rows.front().push_back(std::to_string(variant.finished_runs));
  }
  for (const study::MetricDefinition& metric : study::kMetrics) {
    if (metric.label.empty()) {
      continue;  // a results.csv column only
    }
    std::vector<std::string> row = {std::string(metric.label)};
    for (const VariantStatistics& variant : statistics.variants) {
      row.push_back(format_mean_std(variant.summary(metric.metric), metric.display_scale));
    }
    table.rows.push_back(std::move(row));
  }
  return Section{.heading = "Per variant", .paragraphs = {}, .tables = {table}, .figures = {}};
}

Section changes_section(const StudyStatistics& statistics) {
  Table table{.alignment = "lrrrr",
              .header = {"Variant", "Energy (%) [95% CI]", "CO2 (%) [95% CI]", "Train time (%) [95% CI]",
                         fmt::format("{} (points) [95% CI]", compared_accuracy_name(statistics))},
              .rows = {}};
  for (const VariantStatistics& variant : statistics.variants) {
    if (variant.name == statistics.baseline) {
      continue;
    }
    table.rows.push_back({variant.name, format_change_cell(variant.energy_change_percent, kPercentDecimals),
                          format_change_cell(variant.co2_change_percent, kPercentDecimals),
                          format_change_cell(variant.train_seconds_change_percent, kPercentDecimals),
                          format_change_cell(variant.accuracy_change_points, kPointsDecimals)});
  }
  return Section{
      .heading = fmt::format("Change vs the baseline \"{}\"", statistics.baseline),
      .paragraphs = {"Negative energy, CO2 and time changes are savings; a negative accuracy change is "
                     "a loss. A variant without finished runs shows n/a."},
      .tables = {table},
      .figures = {}};
}

Section pareto_section(const StudyStatistics& statistics) {
  Table table{
      .alignment = "lrr",
      .header = {"Variant", fmt::format("{} (%)", compared_accuracy_name(statistics)), "Energy (kWh)"},
      .rows = {}};
  for (const std::string& name : statistics.pareto_front) {
    const VariantStatistics& variant = *statistics.find(name);
    table.rows.push_back({name,
                          format_mean_std(variant.summary(statistics.compared_accuracy), kPercentPerFraction),
                          format_mean_std(variant.summary(Metric::energy_kwh), 1.0)});
  }
  return Section{
      .heading = "Accuracy-energy Pareto front",
      .paragraphs = {"The variants no other variant beats on both mean accuracy (higher) and mean energy "
                     "(lower), from the least energy to the most. Every other variant is worse on one "
                     "and no better on the other than some variant listed here."},
      .tables = {table},
      .figures = {}};
}

Section plots_section(const Plots& plots) {
  return Section{.heading = "Plots", .paragraphs = plots.notes, .tables = {}, .figures = plots.figures};
}

Section runs_section(const study::StudyResults& results, const StudyStatistics& statistics) {
  Table counts{
      .alignment = "lrrrrl",
      .header = {"Variant", "Finished", "Failed", "Pending", "Skipped", "How the finished runs ended"},
      .rows = {}};
  for (const VariantStatistics& variant : statistics.variants) {
    const auto count = [&](const std::string& status) {
      const auto found = variant.runs_by_status.find(status);
      return found == variant.runs_by_status.end() ? size_t{0} : found->second;
    };
    std::vector<std::string> endings;
    for (const auto& [status, runs] : variant.runs_by_status) {
      if (study::is_finished(status)) {
        endings.push_back(fmt::format("{} {}", status, runs));
      }
    }
    counts.rows.push_back({variant.name, std::to_string(variant.finished_runs),
                           std::to_string(count(study::kStatusFailed)),
                           std::to_string(count(study::kStatusPending)),
                           std::to_string(count(study::kStatusSkipped)), join(endings, ", ")});
  }
  Table runs{
      .alignment = "lrlll", .header = {"Variant", "Seed", "Status", "Run directory", "Error"}, .rows = {}};
  for (const study::RunRecord& run : results.runs) {
    runs.rows.push_back({run.variant, std::to_string(run.seed), run.status, run.run_dir, run.error});
  }
  return Section{.heading = "Runs", .paragraphs = {}, .tables = {counts, runs}, .figures = {}};
}

}  // namespace

Document build_document(const study::StudyResults& results, const StudyStatistics& statistics,
                        const Plots& plots) {
  return Document{
      .title = fmt::format("Study report: {}", statistics.study),
      .sections = {summary_section(results, statistics), variants_section(statistics),
                   metrics_section(statistics), changes_section(statistics), pareto_section(statistics),
                   plots_section(plots), runs_section(results, statistics)}};
}

Table paper_table(const StudyStatistics& statistics) {
  Table table{.alignment = "lrrrrr",
              .header = {"Variant", "n", "Acc. (%)", "Energy (kWh)", "ΔEnergy (%)", "ΔAcc. (pts)"},
              .rows = {}};
  for (const VariantStatistics& variant : statistics.variants) {
    if (variant.name == statistics.baseline) {
      table.rows.push_back(
          {variant.name, std::to_string(variant.finished_runs),
           format_mean_std(variant.summary(statistics.compared_accuracy), kPercentPerFraction),
           format_mean_std(variant.summary(Metric::energy_kwh), 1.0), "baseline", "baseline"});
      continue;
    }
    table.rows.push_back({variant.name, std::to_string(variant.finished_runs),
                          format_mean_std(variant.summary(statistics.compared_accuracy), kPercentPerFraction),
                          format_mean_std(variant.summary(Metric::energy_kwh), 1.0),
                          format_change_value(variant.energy_change_percent, kPercentDecimals),
                          format_change_value(variant.accuracy_change_points, kPointsDecimals)});
    // The intervals go on a row of their own, under their changes, which keeps the table page-wide.
    table.rows.push_back({"", "", "", "",
                          format_change_interval(variant.energy_change_percent, kPercentDecimals),
                          format_change_interval(variant.accuracy_change_points, kPointsDecimals)});
  }
  return table;
}

std::string paper_table_caption(const StudyStatistics& statistics) {
  return fmt::format(
      "Study {}: accuracy and energy per run as mean ± sample std over n finished seeds; ΔEnergy (percent "
      "change of the mean) and ΔAcc. (difference in points) vs the baseline {}, with their 95% confidence "
      "intervals in brackets below (ΔEnergy: delta method on the ratio of means; ΔAcc.: Welch t-interval; "
      "n/a with fewer than 2 runs on a side).",
      statistics.study, statistics.baseline);
}

}  // namespace greentune::report::detail
