#pragma once
// Private to the report module: the report's plots, drawn by gnuplot (run as a child process on a
// generated script and data files) into DIR/plots/ as PNG and SVG.

#include <filesystem>
#include <string>
#include <vector>

#include "greentune/report/statistics.hpp"
#include "greentune/study/results.hpp"

namespace greentune::report::detail {

struct Figure {
  std::string title;
  std::filesystem::path png;  // DIR/plots/<name>.png
  std::filesystem::path svg;  // DIR/plots/<name>.svg
};

struct Plots {
  std::vector<Figure> figures;     // the plots drawn, in the report's order
  std::vector<std::string> notes;  // what was not drawn and why (gnuplot missing, a run without loss rows)
};

// Draws accuracy vs energy (with the Pareto front), energy per component, and the training-loss curves of
// each variant's first finished seed. Never throws for gnuplot's sake: a missing or failing gnuplot
// gives no figures and a note (and a log::warn) instead.
Plots draw_plots(const std::filesystem::path& study_dir, const study::StudyResults& results,
                 const StudyStatistics& statistics);

}  // namespace greentune::report::detail
