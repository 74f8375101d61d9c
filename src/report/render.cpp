// The document's renderers: Markdown, self-contained HTML, and the LaTeX table.
#include <fmt/core.h>

#include <algorithm>
#include <cctype>
#include <iterator>
#include <utility>

#include "document.hpp"
#include "greentune/core/error.hpp"
#include "greentune/core/files.hpp"

namespace greentune::report::detail {

namespace {

namespace fs = std::filesystem;

std::string markdown_cell(const std::string& text) {
  std::string cell;
  for (const char c : text) {
    cell += c == '|' ? std::string("\\|") : std::string(1, c);
  }
  return cell;
}

std::string markdown_row(const std::vector<std::string>& cells) {
  std::string row = "|";
  for (const std::string& cell : cells) {
    row += fmt::format(" {} |", markdown_cell(cell));
  }
  return row + "\n";
}

std::string markdown_table(const Table& table) {
  std::string rule = "|";
  for (const char alignment : table.alignment) {
    rule += alignment == 'r' ? "---:|" : "---|";
  }
  std::string text = markdown_row(table.header) + rule + "\n";
  for (const std::vector<std::string>& row : table.rows) {
    text += markdown_row(row);
  }
  return text;
}

std::string html_escape(std::string_view text) {
  std::string escaped;
  for (const char c : text) {
    switch (c) {
      case '&':
        escaped += "&amp;";
        break;
      case '<':
        escaped += "&lt;";
        break;
      case '>':
        escaped += "&gt;";
        break;
      case '"':
        escaped += "&quot;";
        break;
      default:
        escaped += c;
    }
  }
  return escaped;
}

std::string html_row(const std::vector<std::string>& cells, const std::string& alignment,
                     std::string_view tag) {
  std::string row = "<tr>";
  for (size_t column = 0; column < cells.size(); ++column) {
    row += fmt::format("<{} class=\"{}\">{}</{}>", tag, alignment[column] == 'r' ? "number" : "text",
                       html_escape(cells[column]), tag);
  }
  return row + "</tr>\n";
}

std::string html_table(const Table& table) {
  std::string html = "<div class=\"scroll\"><table>\n<thead>" +
                     html_row(table.header, table.alignment, "th") + "</thead>\n<tbody>\n";
  for (const std::vector<std::string>& row : table.rows) {
    html += html_row(row, table.alignment, "td");
  }
  return html + "</tbody></table></div>\n";
}

void replace_all(std::string& text, std::string_view from, std::string_view to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
}

// gnuplot's SVG file made fit to sit inside HTML: the XML prolog and the namespace declarations go (HTML
// puts <svg> in the SVG namespace by itself, and the page must name no URL), and every id and reference to
// one gets the figure's prefix, since each figure defines the same ids (gpPt0, gnuplot_canvas, ...).
std::string inline_svg(const fs::path& svg_path) {
  std::string svg = read_file(svg_path);
  const size_t svg_start = svg.find("<svg");
  if (svg_start == std::string::npos) {
    throw Error(ErrorCode::invalid_data, svg_path.string(), "has no <svg> element",
                "delete the plots folder and run greentune report again");
  }
  svg.erase(0, svg_start);
  const size_t tag_end = svg.find('>');
  std::string opening_tag = svg.substr(0, tag_end);
  for (size_t at = opening_tag.find("xmlns"); at != std::string::npos; at = opening_tag.find("xmlns", at)) {
    const size_t value_start = opening_tag.find_first_of("\"'", at);
    const size_t value_end = opening_tag.find(opening_tag[value_start], value_start + 1);
    opening_tag.erase(at, value_end + 1 - at);  // xmlns="..." and xmlns:xlink="..."
  }
  svg.replace(0, tag_end, opening_tag);
  const std::string prefix = svg_path.stem().string() + "-";
  for (const std::string_view reference : {" id='", " id=\"", "href='#", "href=\"#", "url(#"}) {
    replace_all(svg, reference, std::string(reference) + prefix);
  }
  return svg;
}

constexpr const char* kStyle = R"css(
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: #1d2330; background: #f6f7f9; margin: 0; line-height: 1.45; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 32px 48px; background: #ffffff; }
h1 { font-size: 1.7em; margin: 0.2em 0 0.6em; }
h2 { font-size: 1.25em; margin: 1.6em 0 0.5em; border-bottom: 1px solid #d8dce3; padding-bottom: 0.2em; }
p { max-width: 70em; }
.scroll { overflow-x: auto; margin: 0.6em 0 1.2em; }
table { border-collapse: collapse; font-size: 0.9em; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 10px; border-bottom: 1px solid #e3e6eb; white-space: nowrap; }
.number { text-align: right; }
.text { text-align: left; }
thead th { border-bottom: 2px solid #1d2330; background: #f0f2f5; }
tbody tr:nth-child(even) { background: #fafbfc; }
figure { margin: 1em 0 2em; }
figure svg { width: 100%; max-width: 960px; height: auto; display: block; border: 1px solid #e3e6eb; }
figcaption { font-weight: 600; margin-bottom: 0.4em; }
)css";

constexpr std::pair<std::string_view, std::string_view> kLatexSymbols[] = {{"±", "$\\pm$"},
                                                                           {"Δ", "$\\Delta$"}};

std::string latex_escape(std::string_view text) {
  std::string escaped;
  for (size_t at = 0; at < text.size(); ++at) {
    const char c = text[at];
    switch (c) {
      case '\\':
        escaped += "\\textbackslash{}";
        break;
      case '&':
      case '%':
      case '$':
      case '#':
      case '_':
      case '{':
      case '}':
        escaped += std::string("\\") + c;
        break;
      case '~':
        escaped += "\\textasciitilde{}";
        break;
      case '^':
        escaped += "\\textasciicircum{}";
        break;
      case '[':  // braced: after a row's \\ a bare [ would be read as its optional argument
      case ']':
        escaped += std::string("{") + c + "}";
        break;
      case '-': {  // a minus sign, not a hyphen, before a number that starts a word or an interval
        const bool starts_number = at + 1 < text.size() &&
                                   std::isdigit(static_cast<unsigned char>(text[at + 1])) &&
                                   (at == 0 || text[at - 1] == ' ' || text[at - 1] == '[');
        escaped += starts_number ? "$-$" : "-";
        break;
      }
      case '<':
        escaped += "\\textless{}";
        break;
      case '>':
        escaped += "\\textgreater{}";
        break;
      default: {
        // The non-ASCII symbols the report's text uses, as math-mode symbols that need no package.
        const auto symbol =
            std::find_if(std::begin(kLatexSymbols), std::end(kLatexSymbols),
                         [&](const auto& pair) { return text.substr(at).starts_with(pair.first); });
        if (symbol != std::end(kLatexSymbols)) {
          escaped += symbol->second;
          at += symbol->first.size() - 1;
        } else {
          escaped += c;
        }
      }
    }
  }
  return escaped;
}

std::string latex_row(const std::vector<std::string>& cells) {
  std::string row;
  for (size_t column = 0; column < cells.size(); ++column) {
    row += (column == 0 ? "" : " & ") + latex_escape(cells[column]);
  }
  return row + " \\\\\n";
}

}  // namespace

std::string render_markdown(const Document& document, const fs::path& study_dir) {
  std::string markdown = "# " + document.title + "\n";
  for (const Section& section : document.sections) {
    markdown += "\n## " + section.heading + "\n\n";
    for (const std::string& paragraph : section.paragraphs) {
      markdown += paragraph + "\n\n";
    }
    for (const Table& table : section.tables) {
      markdown += markdown_table(table) + "\n";
    }
    for (const Figure& figure : section.figures) {
      markdown +=
          fmt::format("![{}]({})\n\n", figure.title, figure.png.lexically_relative(study_dir).string());
    }
  }
  return markdown;
}

std::string render_html(const Document& document) {
  std::string html = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n"
      "<style>{}</style>\n</head>\n<body>\n<main>\n<h1>{}</h1>\n",
      html_escape(document.title), kStyle, html_escape(document.title));
  for (const Section& section : document.sections) {
    html += "<section>\n<h2>" + html_escape(section.heading) + "</h2>\n";
    for (const std::string& paragraph : section.paragraphs) {
      html += "<p>" + html_escape(paragraph) + "</p>\n";
    }
    for (const Table& table : section.tables) {
      html += html_table(table);
    }
    for (const Figure& figure : section.figures) {
      html += "<figure>\n<figcaption>" + html_escape(figure.title) + "</figcaption>\n" +
              inline_svg(figure.svg) + "\n</figure>\n";
    }
    html += "</section>\n";
  }
  return html + "</main>\n</body>\n</html>\n";
}

std::string render_latex_table(const Table& table, const std::string& caption, const std::string& label) {
  std::string latex =
      "% Written by greentune report; needs \\usepackage{booktabs}.\n"
      "\\begin{table}[htbp]\n\\centering\n\\small\n\\setlength{\\tabcolsep}{4pt}\n";
  latex += "\\caption{" + latex_escape(caption) + "}\n";
  latex += "\\label{" + label + "}\n";
  latex += "\\begin{tabular}{" + table.alignment + "}\n\\toprule\n";
  latex += latex_row(table.header) + "\\midrule\n";
  for (const std::vector<std::string>& row : table.rows) {
    latex += latex_row(row);
  }
  return latex + "\\bottomrule\n\\end{tabular}\n\\end{table}\n";
}

}  // namespace greentune::report::detail
