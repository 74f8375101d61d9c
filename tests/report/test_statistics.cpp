// The report's statistics against hand-computed answers: means and sample standard deviations, percent
// changes with delta-method intervals, accuracy differences with Welch intervals, Student t quantiles
// against table values, the Pareto front, and the energy-saving statement. Reference intervals were
// computed with mpmath (the t quantile from its regularized incomplete beta) from the formulas in
// statistics.hpp.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "greentune/core/error.hpp"
#include "greentune/report/statistics.hpp"
#include "report_test_support.hpp"

namespace greentune::report {
namespace {

using study::Metric;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

study::RunRecord finished_run(const std::string& variant, uint64_t seed, double accuracy, double energy_kwh) {
  study::RunRecord run;
  run.variant = variant;
  run.seed = seed;
  run.status = study::kStatusDone;
  run.run_dir = "runs/" + variant + "-seed" + std::to_string(seed);
  run.result = finished_result(accuracy, energy_kwh);
  return run;
}

study::RunRecord unfinished_run(const std::string& variant, uint64_t seed, const std::string& status) {
  study::RunRecord run = finished_run(variant, seed, 0.0, 100.0);  // numbers that would wreck any mean
  run.status = status;
  run.error = status == study::kStatusFailed ? "out of memory" : "";
  return run;
}

// A study of a baseline and other variants; each variant's runs given as (accuracy, energy) pairs.
study::StudyResults make_study(
    const std::vector<std::pair<std::string, std::vector<std::pair<double, double>>>>& variants) {
  study::StudyResults results;
  results.study = "unit";
  results.baseline = variants.front().first;
  for (const auto& [name, runs] : variants) {
    results.variants.push_back({name, {}});
    uint64_t seed = 1;
    for (const auto& [accuracy, energy] : runs) {
      results.runs.push_back(finished_run(name, seed++, accuracy, energy));
    }
  }
  return results;
}

const VariantStatistics& variant_named(const StudyStatistics& statistics, const std::string& name) {
  const VariantStatistics* variant = statistics.find(name);
  if (variant == nullptr) {
    throw std::runtime_error("no variant " + name);
  }
  return *variant;
}

TEST(StudentTQuantile, MatchesPrintedTables) {
  EXPECT_NEAR(student_t_quantile(0.975, 2), 4.303, 5e-4);
  EXPECT_NEAR(student_t_quantile(0.975, 4), 2.776, 5e-4);
  EXPECT_NEAR(student_t_quantile(0.975, 30), 2.042, 5e-4);
  EXPECT_NEAR(student_t_quantile(0.95, 10), 1.812, 5e-4);
  EXPECT_NEAR(student_t_quantile(0.995, 5), 4.032, 5e-4);
}

TEST(StudentTQuantile, MatchesHighPrecisionValues) {
  EXPECT_NEAR(student_t_quantile(0.975, 1), 12.7062047361747, 1e-9);  // Cauchy: tan(0.475 pi)
  EXPECT_NEAR(student_t_quantile(0.975, 2), 4.30265272974946, 1e-10);
  EXPECT_NEAR(student_t_quantile(0.975, 4), 2.77644510519779, 1e-10);
  EXPECT_NEAR(student_t_quantile(0.975, 30), 2.04227245630124, 1e-10);
  EXPECT_NEAR(student_t_quantile(0.9995, 3), 12.923978636688, 1e-8);
  EXPECT_NEAR(student_t_quantile(0.975, 1000), 1.96233908082641, 1e-10);
  // Welch-Satterthwaite degrees of freedom are fractional.
  EXPECT_NEAR(student_t_quantile(0.975, 2.5), 3.57465484200368, 1e-10);
  EXPECT_NEAR(student_t_quantile(0.975, 3.4845), 2.94618682221055, 1e-10);
}

TEST(StudentTQuantile, IsSymmetricAndRejectsNonsense) {
  EXPECT_DOUBLE_EQ(student_t_quantile(0.5, 3), 0.0);
  EXPECT_NEAR(student_t_quantile(0.025, 4), -2.77644510519779, 1e-10);
  EXPECT_THROW(student_t_quantile(1.0, 4), Error);
  EXPECT_THROW(student_t_quantile(0.0, 4), Error);
  EXPECT_THROW(student_t_quantile(0.975, 0), Error);
}

TEST(Statistics, MeanAndSampleStandardDeviation) {
  const StudyStatistics statistics = compute_statistics(
      make_study({{"base", {{0.90, 1.0}, {0.91, 1.2}, {0.92, 1.4}}}, {"single", {{0.88, 0.5}}}}));
  const VariantStatistics& base = variant_named(statistics, "base");
  EXPECT_EQ(base.finished_runs, 3u);
  EXPECT_EQ(base.summary(Metric::energy_kwh).n, 3u);
  EXPECT_NEAR(base.summary(Metric::energy_kwh).mean, 1.2, 1e-12);
  ASSERT_TRUE(base.summary(Metric::energy_kwh).std_dev);
  EXPECT_NEAR(*base.summary(Metric::energy_kwh).std_dev, 0.2, 1e-12);  // sqrt((0.04 + 0 + 0.04) / (3 - 1))
  EXPECT_NEAR(base.summary(Metric::accuracy).mean, 0.91, 1e-12);
  EXPECT_NEAR(*base.summary(Metric::accuracy).std_dev, 0.01, 1e-12);
  EXPECT_NEAR(base.summary(Metric::f1).mean, 0.90, 1e-12);
  EXPECT_NEAR(base.summary(Metric::cpu_kwh).mean, 0.9, 1e-12);
  EXPECT_NEAR(*base.summary(Metric::cpu_kwh).std_dev, 0.15, 1e-12);
  EXPECT_NEAR(base.summary(Metric::co2_kg).mean, 0.48, 1e-12);
  EXPECT_NEAR(base.summary(Metric::train_seconds).mean, 1200.0, 1e-9);
  EXPECT_EQ(base.summary(Metric::test_accuracy).n, 0u);  // no run has a test split

  const VariantStatistics& single = variant_named(statistics, "single");
  EXPECT_NEAR(single.summary(Metric::energy_kwh).mean, 0.5, 1e-12);
  EXPECT_FALSE(single.summary(Metric::energy_kwh).std_dev);  // one run has no spread
  ASSERT_TRUE(single.energy_change_percent);
  EXPECT_NEAR(single.energy_change_percent->value, (0.5 / 1.2 - 1.0) * 100.0, 1e-9);
  EXPECT_FALSE(single.energy_change_percent->ci95);  // fewer than 2 runs on a side
  EXPECT_FALSE(single.accuracy_change_points->ci95);
}

TEST(Statistics, TestAccuracyIsOverTheRunsThatHaveIt) {
  study::StudyResults results = make_study({{"base", {{0.9, 1.0}, {0.9, 1.0}, {0.9, 1.0}}}});
  results.runs[0].result->test_accuracy = 0.80;
  results.runs[2].result->test_accuracy = 0.84;
  const StudyStatistics statistics = compute_statistics(results);
  const VariantStatistics& base = variant_named(statistics, "base");
  EXPECT_EQ(base.summary(Metric::test_accuracy).n, 2u);
  EXPECT_NEAR(base.summary(Metric::test_accuracy).mean, 0.82, 1e-12);
}

// Where every finished run has a test accuracy, the changes compare it rather than the validation accuracy;
// one untested run is enough to fall back to validation accuracy everywhere.
TEST(Statistics, AccuracyChangesCompareTestAccuracyWhenEveryRunHasOne) {
  study::StudyResults results =
      make_study({{"base", {{0.90, 1.0}, {0.90, 1.0}}}, {"bf16", {{0.70, 0.5}, {0.70, 0.5}}}});
  const double test_accuracies[] = {0.80, 0.82, 0.85, 0.87};  // base, base, bf16, bf16
  for (size_t run = 0; run < results.runs.size(); ++run)
    results.runs[run].result->test_accuracy = test_accuracies[run];
  const StudyStatistics tested = compute_statistics(results);
  EXPECT_EQ(tested.compared_accuracy, Metric::test_accuracy);
  EXPECT_EQ(compared_accuracy_name(tested), "Test accuracy");
  // (0.86 - 0.81) x 100; validation accuracy would give -20.
  EXPECT_NEAR(variant_named(tested, "bf16").accuracy_change_points->value, 5.0, 1e-9);
  EXPECT_TRUE(tested.accuracy_losers.empty());
  EXPECT_EQ(tested.energy_savers, std::vector<std::string>{"bf16"});

  results.runs[3].result->test_accuracy.reset();
  const StudyStatistics untested = compute_statistics(results);
  EXPECT_EQ(untested.compared_accuracy, Metric::accuracy);
  EXPECT_EQ(compared_accuracy_name(untested), "Validation accuracy");
  EXPECT_NEAR(variant_named(untested, "bf16").accuracy_change_points->value, -20.0, 1e-9);
}

TEST(Statistics, PercentChangeWithDeltaMethodIntervalOnEqualSpread) {
  // Same coefficient of variation and n on both sides: the Welch-Satterthwaite df is exactly 4.
  // R = 0.9 / 1.2 = 0.75; Var(R) = 0.75^2 * 2 * (1/6)^2 / 3; half-width t(0.975, 4) * sqrt(Var(R)).
  const StudyStatistics statistics =
      compute_statistics(make_study({{"base", {{0.90, 1.0}, {0.91, 1.2}, {0.92, 1.4}}},
                                     {"bf16", {{0.89, 0.75}, {0.90, 0.9}, {0.91, 1.05}}}}));
  const VariantStatistics& bf16 = variant_named(statistics, "bf16");
  ASSERT_TRUE(bf16.energy_change_percent);
  EXPECT_NEAR(bf16.energy_change_percent->value, -25.0, 1e-9);
  ASSERT_TRUE(bf16.energy_change_percent->ci95);
  EXPECT_NEAR(bf16.energy_change_percent->ci95->low, -53.336974194094, 1e-7);
  EXPECT_NEAR(bf16.energy_change_percent->ci95->high, 3.336974194094, 1e-7);
  // CO2 and time are proportional to energy here, so their changes are the same.
  EXPECT_NEAR(bf16.co2_change_percent->value, -25.0, 1e-9);
  EXPECT_NEAR(bf16.co2_change_percent->ci95->low, -53.336974194094, 1e-7);
  EXPECT_NEAR(bf16.train_seconds_change_percent->ci95->high, 3.336974194094, 1e-7);
  // Accuracy: -1 point; SE = sqrt(1/3 + 1/3) points with df 4.
  ASSERT_TRUE(bf16.accuracy_change_points);
  EXPECT_NEAR(bf16.accuracy_change_points->value, -1.0, 1e-9);
  EXPECT_NEAR(bf16.accuracy_change_points->ci95->low, -3.2669579355275227, 1e-8);
  EXPECT_NEAR(bf16.accuracy_change_points->ci95->high, 1.266957935527521, 1e-8);
  // The baseline is not compared with itself.
  EXPECT_FALSE(variant_named(statistics, "base").energy_change_percent);
  EXPECT_FALSE(variant_named(statistics, "base").accuracy_change_points);
}

TEST(Statistics, WelchSatterthwaiteWithUnequalSpreadAndCounts) {
  // Fractional degrees of freedom: 3.853 for the energy ratio, 4.492 for the accuracy difference.
  const StudyStatistics statistics =
      compute_statistics(make_study({{"base", {{0.90, 1.0}, {0.91, 1.2}, {0.92, 1.4}}},
                                     {"sgd", {{0.88, 0.8}, {0.90, 0.9}, {0.91, 1.0}, {0.93, 1.1}}}}));
  const VariantStatistics& sgd = variant_named(statistics, "sgd");
  EXPECT_NEAR(sgd.energy_change_percent->value, -20.833333333333325, 1e-9);
  EXPECT_NEAR(sgd.energy_change_percent->ci95->low, -47.11935447735631, 1e-7);
  EXPECT_NEAR(sgd.energy_change_percent->ci95->high, 5.45268781068966, 1e-7);
  EXPECT_NEAR(sgd.accuracy_change_points->value, -0.5, 1e-9);
  EXPECT_NEAR(sgd.accuracy_change_points->ci95->low, -3.666609398550857, 1e-7);
  EXPECT_NEAR(sgd.accuracy_change_points->ci95->high, 2.666609398550856, 1e-7);
}

TEST(Statistics, FailedAndPendingRunsAreCountedButNotSummarized) {
  study::StudyResults results = make_study({{"base", {{0.90, 1.0}, {0.91, 1.2}, {0.92, 1.4}}}});
  results.runs.push_back(unfinished_run("base", 4, study::kStatusFailed));
  results.runs.push_back(unfinished_run("base", 5, study::kStatusPending));
  results.runs[1].status = study::kStatusEarlyStopping;  // stopped early still counts as finished
  const StudyStatistics statistics = compute_statistics(results);
  const VariantStatistics& base = variant_named(statistics, "base");
  EXPECT_EQ(base.finished_runs, 3u);
  EXPECT_NEAR(base.summary(Metric::energy_kwh).mean, 1.2, 1e-12);
  EXPECT_NEAR(*base.summary(Metric::energy_kwh).std_dev, 0.2, 1e-12);
  EXPECT_EQ(base.runs_by_status, (std::map<std::string, size_t>{{study::kStatusDone, 2},
                                                                {study::kStatusEarlyStopping, 1},
                                                                {study::kStatusFailed, 1},
                                                                {study::kStatusPending, 1}}));
}

TEST(Statistics, VariantWithoutFinishedRunsHasNoChangeAndIsOffTheFront) {
  study::StudyResults results = make_study({{"base", {{0.90, 1.0}}}});
  results.variants.push_back({"broken", {}});
  results.runs.push_back(unfinished_run("broken", 1, study::kStatusFailed));
  const StudyStatistics statistics = compute_statistics(results);
  const VariantStatistics& broken = variant_named(statistics, "broken");
  EXPECT_EQ(broken.finished_runs, 0u);
  EXPECT_EQ(broken.summary(Metric::energy_kwh).n, 0u);
  EXPECT_FALSE(broken.energy_change_percent);
  EXPECT_FALSE(broken.accuracy_change_points);
  EXPECT_THAT(statistics.pareto_front, ElementsAre("base"));
}

TEST(ParetoFront, KeepsTheNonDominatedPointsByEnergy) {
  const std::vector<AccuracyEnergyPoint> points = {
      {0.90, 1.0},  // 0: beaten by 2 (more accurate, same energy)
      {0.85, 0.5},  // 1: cheapest
      {0.92, 1.0},  // 2
      {0.95, 2.0},  // 3: most accurate
      {0.91, 2.5},  // 4: beaten by 3 on both
      {0.85, 0.7},  // 5: beaten by 1 (same accuracy, more energy)
  };
  EXPECT_THAT(pareto_front(points), ElementsAre(1, 2, 3));
  EXPECT_THAT(pareto_front(std::vector<AccuracyEnergyPoint>{{0.9, 1.0}, {0.9, 1.0}}), ElementsAre(0, 1));
  EXPECT_TRUE(pareto_front({}).empty());
}

TEST(ParetoFront, ComesFromTheVariantMeans) {
  const StudyStatistics statistics = compute_statistics(make_study({{"base", {{0.90, 1.0}, {0.92, 1.0}}},
                                                                    {"cheap", {{0.88, 0.5}}},
                                                                    {"worse", {{0.90, 1.5}}},
                                                                    {"best", {{0.95, 2.0}}}}));
  EXPECT_THAT(statistics.pareto_front, ElementsAre("cheap", "base", "best"));
}

TEST(EnergySavingStatement, NamesTheVariantsThatQualify) {
  // bf16: -25% energy, -0.30 points: saves enough and stays within 0.5 points.
  // sgd: -30% energy but -2 points. slow: +10% energy.
  const StudyStatistics statistics =
      compute_statistics(make_study({{"base", {{0.90, 1.0}, {0.91, 1.2}, {0.92, 1.4}}},
                                     {"bf16", {{0.897, 0.75}, {0.907, 0.9}, {0.917, 1.05}}},
                                     {"sgd", {{0.88, 0.84}, {0.89, 0.84}}},
                                     {"slow", {{0.95, 1.32}, {0.95, 1.32}}}}));
  EXPECT_THAT(statistics.energy_savers, ElementsAre("bf16"));
  const std::string statement = energy_saving_statement(statistics);
  EXPECT_THAT(statement,
              HasSubstr("Variants that save at least 10% energy with a mean accuracy no more than 0.5 "
                        "points below the baseline \"base\""));
  EXPECT_THAT(statement, HasSubstr("bf16 (energy -25.0% (95% CI -53.3% to +3.3%), accuracy -0.30 pts"));
  EXPECT_THAT(statement, Not(HasSubstr("sgd")));
  EXPECT_THAT(statement, Not(HasSubstr("slow")));
}

TEST(EnergySavingStatement, SaysNoneQualifiesAndNamesTheLargestSaving) {
  // sgd saves 30% but loses 2 points; lite loses nothing but saves only 5%.
  const StudyStatistics statistics = compute_statistics(make_study({{"base", {{0.90, 1.2}, {0.92, 1.2}}},
                                                                    {"sgd", {{0.89, 0.84}, {0.89, 0.84}}},
                                                                    {"lite", {{0.91, 1.14}, {0.91, 1.14}}}}));
  EXPECT_TRUE(statistics.energy_savers.empty());
  const std::string statement = energy_saving_statement(statistics);
  EXPECT_THAT(statement, HasSubstr("No variant saves at least 10% energy"));
  EXPECT_THAT(statement, HasSubstr("The largest saving is sgd's: energy -30.0%"));
  EXPECT_THAT(statement, HasSubstr("accuracy -2.00 pts"));
}

TEST(AccuracyLossStatement, NamesTheVariantsWhoseIntervalIsBelowZero) {
  // at-chance: -30.00 points; Welch: SE sqrt(0.5/2 + 0.5/2) = 0.7071 points at 2 degrees of freedom,
  // t = 4.303, so the interval is -30 +- 3.04. same: the baseline's accuracies, interval around 0.
  const StudyStatistics statistics = compute_statistics(make_study({{"base", {{0.80, 1.0}, {0.81, 1.0}}},
                                                                    {"at-chance", {{0.50, 1.0}, {0.51, 1.0}}},
                                                                    {"same", {{0.81, 0.5}, {0.80, 0.5}}},
                                                                    {"single", {{0.40, 1.0}}}}));
  EXPECT_THAT(statistics.accuracy_losers, ElementsAre("at-chance"));  // single: no interval from 1 run
  EXPECT_EQ(accuracy_loss_statement(statistics),
            "Less accurate than the baseline \"base\" beyond seed-to-seed variation (95% interval below 0): "
            "at-chance (accuracy -30.00 pts (95% CI -33.04 pts to -26.96 pts)).");
  EXPECT_EQ(accuracy_loss_statement(compute_statistics(
                make_study({{"base", {{0.80, 1.0}, {0.81, 1.0}}}, {"same", {{0.81, 0.5}, {0.80, 0.5}}}}))),
            "");
}

// The accuracy intervals of the two tests above: half-widths 2.26696 (bf16) and 3.16661 (sgd), median
// 2.71678 points.
TEST(StudyLimitsStatement, NamesTheRunsPerVariantAndTheSmallestAccuracyChangeItCanShow) {
  const StudyStatistics statistics =
      compute_statistics(make_study({{"base", {{0.90, 1.0}, {0.91, 1.2}, {0.92, 1.4}}},
                                     {"bf16", {{0.89, 0.75}, {0.90, 0.9}, {0.91, 1.05}}},
                                     {"sgd", {{0.88, 0.8}, {0.90, 0.9}, {0.91, 1.0}, {0.93, 1.1}}}}));
  const std::string statement = study_limits_statement(statistics);
  EXPECT_THAT(statement, HasSubstr("This study has 3 to 4 finished runs per variant. An accuracy change "
                                   "smaller than about 2.72 points (the median half-width of the 95% "
                                   "intervals here) cannot be told from seed-to-seed variation"));
  EXPECT_THAT(statement, HasSubstr("The numbers hold for this model, data size and machine"));
  // One run a variant: no interval at all.
  EXPECT_THAT(
      study_limits_statement(compute_statistics(make_study({{"base", {{0.9, 1.0}}}, {"b", {{0.8, 1.0}}}}))),
      HasSubstr("This study has 1 finished run per variant. With fewer than 2 on a side no change"));
}

TEST(EnergySavingStatement, SaysWhenTheBaselineHasNoFinishedRun) {
  study::StudyResults results = make_study({{"base", {}}, {"bf16", {{0.9, 0.5}}}});
  results.runs.push_back(unfinished_run("base", 1, study::kStatusPending));
  EXPECT_THAT(energy_saving_statement(compute_statistics(results)),
              HasSubstr("the baseline \"base\" has no finished runs"));
}

TEST(Statistics, RejectsResultsThatContradictThemselves) {
  study::StudyResults unknown_baseline = make_study({{"base", {{0.9, 1.0}}}});
  unknown_baseline.baseline = "nope";
  EXPECT_THROW(compute_statistics(unknown_baseline), Error);
  study::StudyResults stray_run = make_study({{"base", {{0.9, 1.0}}}});
  stray_run.runs.push_back(finished_run("ghost", 1, 0.9, 1.0));
  try {
    compute_statistics(stray_run);
    FAIL() << "expected an Error";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::invalid_data);
    EXPECT_THAT(error.what(), HasSubstr("\"ghost\""));
  }
}

}  // namespace
}  // namespace greentune::report
