#pragma once
// Private to the report module: the report as a format-free document (sections of plain-text paragraphs,
// tables and figures), built once and rendered as Markdown and HTML, so that both always say the same.

#include <filesystem>
#include <string>
#include <vector>

#include "greentune/report/statistics.hpp"
#include "greentune/study/results.hpp"
#include "plots.hpp"

namespace greentune::report::detail {

struct Table {
  std::string alignment;  // a letter per column, as LaTeX's: 'l' for text, 'r' for numbers
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;  // plain text
};

// Shown in this order: paragraphs, tables, figures.
struct Section {
  std::string heading;
  std::vector<std::string> paragraphs;
  std::vector<Table> tables;
  std::vector<Figure> figures;
};

struct Document {
  std::string title;
  std::vector<Section> sections;
};

Document build_document(const study::StudyResults& results, const StudyStatistics& statistics,
                        const Plots& plots);

// The paper's table: per variant n, accuracy and energy (mean ± std) and the changes vs the baseline.
Table paper_table(const StudyStatistics& statistics);
std::string paper_table_caption(const StudyStatistics& statistics);

// Figures link to their PNGs relative to study_dir.
std::string render_markdown(const Document& document, const std::filesystem::path& study_dir);
// One self-contained page: inline CSS, each figure's SVG inlined, nothing fetched, no script.
std::string render_html(const Document& document);
// A booktabs `table` environment (not a whole document): needs only \usepackage{booktabs}.
std::string render_latex_table(const Table& table, const std::string& caption, const std::string& label);

}  // namespace greentune::report::detail
