#include "greentune/report/report.hpp"

#include <fmt/format.h>

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

namespace {

// What the study's directory holds on disk (its files' sizes, the report's own before it is rewritten), and
// how much of it is checkpoints.
std::string disk_use_paragraph(const std::filesystem::path& study_dir) {
  uint64_t total_bytes = 0, checkpoint_bytes = 0;
  std::error_code ec;
  for (auto entry = std::filesystem::recursive_directory_iterator(study_dir, ec);
       !ec && entry != std::filesystem::recursive_directory_iterator(); entry.increment(ec)) {
    if (!entry->is_regular_file(ec))
      continue;
    const uint64_t bytes = entry->file_size(ec);
    total_bytes += bytes;
    for (const auto& part : std::filesystem::relative(entry->path(), study_dir, ec)) {
      if (part.string().starts_with("checkpoint-")) {
        checkpoint_bytes += bytes;
        break;
      }
    }
  }
  return fmt::format(
      "On disk the study takes {:.1f} MB, {:.1f} MB of it in checkpoints (what resuming a run needs; a study "
      "deletes those of its finished runs unless --keep-checkpoints last or all is set).",
      static_cast<double>(total_bytes) / 1e6, static_cast<double>(checkpoint_bytes) / 1e6);
}

}  // namespace

ReportFiles write_report(const std::filesystem::path& study_dir) {
  const study::StudyResults results = study::read_results(study_dir);
  const StudyStatistics statistics = compute_statistics(results);
  const detail::Plots plots = detail::draw_plots(study_dir, results, statistics);
  detail::Document document = detail::build_document(results, statistics, plots);
  document.sections.front().paragraphs.push_back(disk_use_paragraph(study_dir));

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
