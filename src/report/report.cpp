#include "greentune/report/report.hpp"

#include <cctype>

#include "document.hpp"
#include "greentune/core/files.hpp"
#include "greentune/report/statistics.hpp"
#include "greentune/study/results.hpp"
#include "plots.hpp"

namespace greentune::report {

namespace {

// A \label key from the study's name: letters, digits and '-' only, so any name makes a valid key.
std::string latex_label(const std::string& study) {
  std::string label = "tab:greentune-";
  for (const char c : study) {
    label += std::isalnum(static_cast<unsigned char>(c)) ? c : '-';
  }
  return label;
}

}  // namespace

ReportFiles write_report(const std::filesystem::path& study_dir) {
  const study::StudyResults results = study::read_results(study_dir);
  const StudyStatistics statistics = compute_statistics(results);
  const detail::Plots plots = detail::draw_plots(study_dir, results, statistics);
  const detail::Document document = detail::build_document(results, statistics, plots);

  ReportFiles files{.markdown = study_dir / "report.md",
                    .latex = study_dir / "report.tex",
                    .html = study_dir / "report.html",
                    .plots = {},
                    .plot_notes = plots.notes};
  write_file_atomically(files.markdown, detail::render_markdown(document, study_dir));
  write_file_atomically(files.latex, detail::render_latex_table(detail::paper_table(statistics),
                                                                detail::paper_table_caption(statistics),
                                                                latex_label(statistics.study)));
  write_file_atomically(files.html, detail::render_html(document));
  for (const detail::Figure& figure : plots.figures) {
    files.plots.push_back(figure.png);
    files.plots.push_back(figure.svg);
  }
  return files;
}

}  // namespace greentune::report
