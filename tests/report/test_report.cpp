// write_report on a synthetic study directory (results.json and each run's metrics.jsonl): the Markdown,
// LaTeX and HTML files and their contents, the plots when gnuplot is installed, and the report without
// gnuplot.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <regex>

#include "greentune/core/error.hpp"
#include "greentune/report/report.hpp"
#include "greentune/study/results.hpp"
#include "report_test_support.hpp"
#include "test_support.hpp"

namespace greentune::report {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::read_text;
using testing::TempDir;
using testing::write_text;

bool gnuplot_installed() {
  return std::system("command -v gnuplot > /dev/null 2>&1") == 0;
}

// Sets an environment variable for one test.
class ScopedEnvironment {
 public:
  ScopedEnvironment(const char* name, const char* value) : name_(name) { ::setenv(name, value, 1); }
  ~ScopedEnvironment() { ::unsetenv(name_); }
  ScopedEnvironment(const ScopedEnvironment&) = delete;
  ScopedEnvironment& operator=(const ScopedEnvironment&) = delete;

 private:
  const char* name_;
};

study::RunRecord run(const std::string& variant, uint64_t seed, const std::string& status, double accuracy,
                     double energy_kwh) {
  study::RunRecord record;
  record.variant = variant;
  record.seed = seed;
  record.status = status;
  record.run_dir = "runs/" + variant + "-seed" + std::to_string(seed);
  if (study::is_finished(status)) {
    record.result = finished_result(accuracy, energy_kwh);
  }
  return record;
}

// metrics.jsonl as training writes it: a training row per logged step, an evaluation row per evaluation.
std::string metrics_jsonl(double first_loss) {
  std::string rows;
  for (int step = 10; step <= 50; step += 10) {
    rows +=
        nlohmann::json{{"step", step}, {"epoch", step / 50.0}, {"loss", first_loss / (step / 10.0)}}.dump() +
        "\n";
  }
  return rows + nlohmann::json{{"step", 50}, {"eval_loss", 0.3}, {"accuracy", 0.9}}.dump() + "\n";
}

// base: 3 finished seeds; bf16_mixed: seed 1 failed, 2 and 3 finished, saving 29.2% energy at -0.1 points;
// sgd: seed 1 finished, 2 stopped early, 3 pending, no metrics.jsonl for its first seed; 8.3% more energy
// than base at 5 points less accuracy.
study::StudyResults write_study(const fs::path& study_dir) {
  study::StudyResults results;
  results.study = "demo_study";
  results.baseline = "base";
  results.seeds = {1, 2, 3};
  results.variants = {{"base", {}}, {"bf16_mixed", {{"precision", "bf16"}}}, {"sgd", {{"optimizer", "sgd"}}}};
  results.runs = {run("base", 1, study::kStatusDone, 0.90, 0.010),
                  run("base", 2, study::kStatusDone, 0.91, 0.012),
                  run("base", 3, study::kStatusDone, 0.92, 0.014),
                  run("bf16_mixed", 1, study::kStatusFailed, 0, 0),
                  run("bf16_mixed", 2, study::kStatusDone, 0.908, 0.008),
                  run("bf16_mixed", 3, study::kStatusDone, 0.910, 0.009),
                  run("sgd", 1, study::kStatusDone, 0.85, 0.012),
                  run("sgd", 2, study::kStatusEarlyStopping, 0.87, 0.014),
                  run("sgd", 3, study::kStatusPending, 0, 0)};
  results.runs[3].error = "out of memory at step 12";
  write_text(study_dir / "results.json", nlohmann::json(results).dump(2));
  fs::create_directories(study_dir / "runs/base-seed1");
  fs::create_directories(study_dir / "runs/bf16_mixed-seed2");
  write_text(study_dir / "runs/base-seed1/metrics.jsonl", metrics_jsonl(0.7));
  // A run killed while writing leaves a partial last line, which the curve skips.
  write_text(study_dir / "runs/bf16_mixed-seed2/metrics.jsonl", metrics_jsonl(0.6) + "{\"step\": 60, \"lo");
  return results;
}

TEST(Report, WritesMarkdownWithTheNumbersStatementAndRunStatuses) {
  TempDir dir;
  write_study(dir.path());
  const ReportFiles files = write_report(dir.path());
  EXPECT_EQ(files.markdown, dir / "report.md");
  const std::string markdown = read_text(files.markdown);
  EXPECT_THAT(markdown, HasSubstr("# Study report: demo_study"));
  // The statement: bf16_mixed saves (0.0085 / 0.012 - 1) = -29.2% at 90.9 vs 91.0 (-0.10 points).
  EXPECT_THAT(markdown, HasSubstr("Variants that save at least 10% energy"));
  EXPECT_THAT(markdown, HasSubstr("bf16_mixed (energy -29.2% (95% CI"));
  EXPECT_THAT(markdown, HasSubstr("accuracy -0.10 pts"));
  // Per-variant means and sample stds (accuracy in %, energy in kWh), failed and pending runs left out.
  EXPECT_THAT(markdown,
              HasSubstr("| Validation accuracy (%) | 91.00 ± 1.00 | 90.90 ± 0.14 | 86.00 ± 1.41 |"));
  EXPECT_THAT(markdown,
              HasSubstr("| Energy (kWh) | 0.01200 ± 0.00200 | 0.008500 ± 0.000707 | 0.01300 ± 0.00141 |"));
  EXPECT_THAT(markdown, HasSubstr("| Finished runs | 3 | 2 | 2 |"));
  // Changes: sgd uses 0.013 / 0.012 - 1 = 8.3% more energy and loses 5 points.
  EXPECT_THAT(markdown, HasSubstr("| sgd | +8.3 ["));
  EXPECT_THAT(markdown, HasSubstr("| -5.00 ["));
  // Runs: counts and every run, failed and pending included.
  EXPECT_THAT(markdown, HasSubstr("| bf16_mixed | 2 | 1 | 0 | 0 | done 2 |"));
  EXPECT_THAT(markdown, HasSubstr("| sgd | 2 | 0 | 1 | 0 | done 1, stopped-early-stopping 1 |"));
  EXPECT_THAT(markdown,
              HasSubstr("| bf16_mixed | 1 | failed | runs/bf16_mixed-seed1 | out of memory at step 12 |"));
  EXPECT_THAT(markdown, HasSubstr("| sgd | 3 | pending | runs/sgd-seed3 |"));
  // Pareto front: bf16_mixed (cheapest) and base (most accurate); sgd is beaten by base.
  const size_t front = markdown.find("## Accuracy-energy Pareto front");
  ASSERT_NE(front, std::string::npos);
  const std::string front_section = markdown.substr(front, markdown.find("## Plots") - front);
  EXPECT_THAT(front_section, HasSubstr("| bf16_mixed | 90.90 ± 0.14 |"));
  EXPECT_THAT(front_section, HasSubstr("| base | 91.00 ± 1.00 |"));
  EXPECT_LT(front_section.find("| bf16_mixed"), front_section.find("| base"));
  EXPECT_THAT(front_section, Not(HasSubstr("| sgd")));
  // sgd's first finished seed has no metrics.jsonl: said, not fatal.
  EXPECT_THAT(markdown, HasSubstr("No training-loss curve for sgd"));
}

// Runs skipped on this machine (bf16 where it is emulated) are counted, listed with why, and named in the
// summary, once per reason.
TEST(Report, TheSummaryNamesTheVariantsSkippedOnThisMachineAndWhy) {
  TempDir dir;
  study::StudyResults results = write_study(dir.path());
  results.variants.push_back({"fp16", {{"precision", "fp16"}}});
  for (uint64_t seed : {1, 2, 3}) {
    study::RunRecord skipped = run("fp16", seed, study::kStatusSkipped, 0, 0);
    skipped.error = "this CPU has no native fp16";
    results.runs.push_back(skipped);
  }
  write_text(dir / "results.json", nlohmann::json(results).dump(2));
  const std::string markdown = read_text(write_report(dir.path()).markdown);
  EXPECT_THAT(markdown,
              HasSubstr("Not run on this machine: fp16 (3 runs). Why: this CPU has no native fp16."));
  EXPECT_THAT(markdown, HasSubstr("| fp16 | 0 | 0 | 0 | 3 |  |"));
  EXPECT_THAT(markdown, HasSubstr("| fp16 | 2 | skipped | runs/fp16-seed2 | this CPU has no native fp16 |"));
  EXPECT_THAT(markdown, HasSubstr("This study has 2 to 3 finished runs per variant."));
}

// The study file's description (what the study is, what its size leaves out) opens the summary; a
// results.json written before descriptions existed still reads, without one.
TEST(Report, TheSummaryOpensWithTheStudysDescription) {
  TempDir dir;
  study::StudyResults results = write_study(dir.path());
  results.description = "A small study: 2 seeds on 4,000 reviews; Adam is left out.";
  write_text(dir / "results.json", nlohmann::json(results).dump(2));
  const std::string markdown = read_text(write_report(dir.path()).markdown);
  EXPECT_THAT(markdown,
              HasSubstr("## Summary\n\nA small study: 2 seeds on 4,000 reviews; Adam is left out.\n\n"));

  nlohmann::json old = results;
  old.erase("description");
  write_text(dir / "results.json", old.dump(2));
  EXPECT_EQ(study::read_results(dir.path()).description, "");
}

TEST(Report, WritesABooktabsTableWithEscapedText) {
  TempDir dir;
  write_study(dir.path());
  const std::string latex = read_text(write_report(dir.path()).latex);
  EXPECT_THAT(latex, HasSubstr("\\begin{table}"));
  EXPECT_THAT(latex, HasSubstr("\\toprule"));
  EXPECT_THAT(latex, HasSubstr("\\midrule"));
  EXPECT_THAT(latex, HasSubstr("\\bottomrule"));
  EXPECT_THAT(latex, HasSubstr("\\end{table}"));
  EXPECT_THAT(latex, Not(HasSubstr("\\documentclass")));
  EXPECT_THAT(latex, HasSubstr("bf16\\_mixed & 2 & 90.90 $\\pm$ 0.14"));
  EXPECT_THAT(latex, HasSubstr("$\\Delta$Energy (\\%)"));
  // The changes, and their intervals on the row below, with minus signs rather than hyphens.
  EXPECT_THAT(
      latex, HasSubstr("& $-$29.2 & $-$0.10 \\\\\n &  &  &  & {[}$-$54.8, $-$3.5{]} & {[}$-$2.49, +2.29{]}"));
  EXPECT_THAT(latex, HasSubstr("Study demo\\_study"));
  EXPECT_THAT(latex, HasSubstr("\\label{tab:greentune-demo-study}"));
  // Every _ and % is escaped, except the % that starts the comment line.
  const std::string body = latex.substr(latex.find('\n') + 1);
  EXPECT_FALSE(std::regex_search(body, std::regex(R"((^|[^\\])[_%])"))) << body;
  // Brackets are braced so that no row's \\ takes one as its optional argument.
  EXPECT_THAT(latex, HasSubstr("{[}"));
}

TEST(Report, HtmlIsSelfContainedWithInlinePlots) {
  TempDir dir;
  write_study(dir.path());
  const ReportFiles files = write_report(dir.path());
  const std::string html = read_text(files.html);
  EXPECT_THAT(html, HasSubstr("<style>"));
  EXPECT_THAT(html, HasSubstr("<table>"));
  EXPECT_THAT(html, HasSubstr("bf16_mixed (energy -29.2%"));
  EXPECT_THAT(html, Not(HasSubstr("http://")));
  EXPECT_THAT(html, Not(HasSubstr("https://")));
  EXPECT_THAT(html, Not(HasSubstr("<script")));
  EXPECT_THAT(html, Not(HasSubstr("<img")));
  if (!gnuplot_installed()) {
    GTEST_SKIP() << "gnuplot is not installed (sudo apt-get install gnuplot-nox): no inline plots to check";
  }
  size_t svg_count = 0;
  for (size_t at = html.find("<svg"); at != std::string::npos; at = html.find("<svg", at + 1)) {
    ++svg_count;
  }
  EXPECT_EQ(svg_count, 3u);
  // Each figure's ids carry its prefix, so the three figures' identical gnuplot ids do not collide.
  EXPECT_THAT(html, HasSubstr("id='accuracy_energy-gpPt0'"));
  EXPECT_THAT(html, HasSubstr("id='training_loss-gpPt0'"));
  EXPECT_THAT(html, Not(HasSubstr("id='gpPt0'")));
  // The loss curves are each variant's first finished seed: bf16_mixed's seed 1 failed.
  EXPECT_THAT(html, HasSubstr("bf16_mixed (seed 2)"));
  EXPECT_THAT(html, HasSubstr("base (seed 1)"));
}

TEST(Report, DrawsEveryPlotAsPngAndSvg) {
  if (!gnuplot_installed()) {
    GTEST_SKIP() << "gnuplot is not installed (sudo apt-get install gnuplot-nox)";
  }
  TempDir dir;
  write_study(dir.path());
  const ReportFiles files = write_report(dir.path());
  ASSERT_EQ(files.plots.size(), 6u);
  for (const std::string name : {"accuracy_energy", "energy_components", "training_loss"}) {
    const std::string png = read_text(dir / ("plots/" + name + ".png"));
    EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8)) << name;
    EXPECT_THAT(read_text(dir / ("plots/" + name + ".svg")), HasSubstr("<svg")) << name;
  }
  const std::string energy_plot = read_text(dir / "plots/energy_components.svg");
  for (const char* label : {"GPU", "CPU", "DRAM", "RAM", "bf16_mixed"}) {
    EXPECT_THAT(energy_plot, HasSubstr(label));
  }
  EXPECT_THAT(read_text(dir / "plots/accuracy_energy.svg"), HasSubstr("Pareto front"));
  // Nothing half-written is left behind: no temp files, no staging folder.
  for (const fs::directory_entry& entry : fs::recursive_directory_iterator(dir.path())) {
    EXPECT_THAT(entry.path().filename().string(), Not(HasSubstr(".tmp"))) << entry.path();
    EXPECT_THAT(entry.path().filename().string(), Not(HasSubstr(".staging"))) << entry.path();
  }
}

TEST(Report, WithoutGnuplotWritesTheReportAndSaysHowToInstallIt) {
  const ScopedEnvironment no_gnuplot("GREENTUNE_GNUPLOT", "/nonexistent/gnuplot");
  TempDir dir;
  write_study(dir.path());
  const ReportFiles files = write_report(dir.path());
  EXPECT_TRUE(files.plots.empty());
  ASSERT_FALSE(files.plot_notes.empty());
  EXPECT_THAT(files.plot_notes.front(), HasSubstr("sudo apt-get install gnuplot-nox"));
  EXPECT_THAT(read_text(files.markdown), HasSubstr("sudo apt-get install gnuplot-nox"));
  const std::string html = read_text(files.html);
  EXPECT_THAT(html, HasSubstr("sudo apt-get install gnuplot-nox"));
  EXPECT_THAT(html, Not(HasSubstr("<svg")));
  EXPECT_THAT(html, HasSubstr("Variants that save at least 10% energy"));
  EXPECT_FALSE(fs::exists(dir / "plots/accuracy_energy.png"));
}

// A results.json whose run lacks a metric (hand-edited, or from an older greentune) is an error naming the
// file and the metric: the report never shows it as 0.
TEST(Report, AResultsJsonRunWithoutAMetricIsAnErrorNamingItNotAZero) {
  TempDir dir;
  write_study(dir.path());
  nlohmann::json results = nlohmann::json::parse(read_text(dir / "results.json"));
  results["runs"][0]["result"].erase("energy_kwh");
  write_text(dir / "results.json", results.dump());
  try {
    write_report(dir.path());
    FAIL() << "expected an Error";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::parse);
    EXPECT_THAT(error.what(), HasSubstr((dir / "results.json").string()));
    EXPECT_THAT(error.what(), HasSubstr("energy_kwh"));
  }
  EXPECT_FALSE(fs::exists(dir / "report.md"));
}

TEST(Report, NeedsTheStudyResults) {
  TempDir dir;
  try {
    write_report(dir.path());
    FAIL() << "expected an Error";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::not_found);
    EXPECT_THAT(error.what(), HasSubstr("results.json"));
  }
}

}  // namespace
}  // namespace greentune::report
