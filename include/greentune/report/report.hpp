#pragma once
// `greentune report DIR`: a study's paper-ready accuracy-energy report, written into the study directory:
// report.md, report.tex (a booktabs table), a self-contained report.html and plots/ (PNG and SVG, drawn
// by gnuplot when it is installed). Every file is written atomically.

#include <filesystem>
#include <string>
#include <vector>

namespace greentune::report {

struct ReportFiles {
  std::filesystem::path markdown;            // DIR/report.md
  std::filesystem::path latex;               // DIR/report.tex
  std::filesystem::path html;                // DIR/report.html
  std::vector<std::filesystem::path> plots;  // DIR/plots/*.png and *.svg; empty when none could be drawn
  std::vector<std::string> plot_notes;       // what could not be drawn and why; empty when everything was
};

// Reads DIR/results.json (study::read_results) and each plotted run's metrics.jsonl, and writes the
// report. gnuplot is found on PATH, or is the program $GREENTUNE_GNUPLOT names; without it the report is
// written without plots and says how to install it (log::warn too). Throws what read_results throws,
// Error(invalid_data) for results that contradict themselves, Error(io) when DIR is not writable.
ReportFiles write_report(const std::filesystem::path& study_dir);

}  // namespace greentune::report
