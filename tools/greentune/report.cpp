// `greentune report DIR`: refreshes DIR/results.{json,csv} from the run directories (merging what the
// shards of a study finished), writes the report (report.md, report.tex, report.html, plots/) into DIR and
// prints where each file is.
#include "greentune/report/report.hpp"

#include <fmt/core.h>

#include <memory>

#include "commands.hpp"
#include "greentune/study/runner.hpp"

namespace greentune::cli {

namespace {

void run_report(const std::string& study_dir) {
  study::refresh_results(study_dir);
  const report::ReportFiles files = report::write_report(study_dir);
  fmt::print("{}\n{}\n{}\n", files.markdown.string(), files.latex.string(), files.html.string());
  for (const std::filesystem::path& plot : files.plots) {
    fmt::print("{}\n", plot.string());
  }
}

}  // namespace

void add_report_command(CLI::App& app) {
  auto study_dir = std::make_shared<std::string>();
  CLI::App* command = app.add_subcommand(
      "report",
      "Write a study's accuracy-energy report (Markdown, LaTeX table, HTML, plots) into its directory");
  command->add_option("dir", *study_dir, "The study's output directory (holds results.json)")->required();
  command->callback([study_dir] { run_report(*study_dir); });
}

}  // namespace greentune::cli
