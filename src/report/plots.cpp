#include "plots.hpp"

#include <fcntl.h>
#include <fmt/core.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "greentune/core/error.hpp"
#include "greentune/core/files.hpp"
#include "greentune/core/log.hpp"
#include "greentune/core/strings.hpp"

extern char** environ;

namespace greentune::report::detail {

namespace {

namespace fs = std::filesystem;
using study::Metric;

// PNG and SVG share one size (pixels; the SVG scales to its container) and font (points).
constexpr const char* kCanvas = "size 960,600 noenhanced font 'sans,11'";

// A plot: its file name (without extension), its data files and the gnuplot commands that draw it.
struct PlotSpec {
  std::string name;
  std::string title;
  std::vector<std::pair<std::string, std::string>> data_files;  // file name, contents
  std::string commands;  // refer to data files as DATA(<file name>), replaced by their quoted paths
};

// A gnuplot single-quoted string: nothing inside is special but the quote, which is doubled.
std::string gnuplot_quote(std::string_view text) {
  std::string quoted = "'";
  for (const char c : text) {
    quoted += c == '\'' ? std::string("''") : std::string(1, c);
  }
  return quoted + "'";
}

// A data-file string column: double-quoted, so names with spaces stay one column; gnuplot has no escape
// for a double quote there, so one becomes a single quote.
std::string data_label(std::string_view text) {
  std::string label = "\"";
  for (const char c : text) {
    label += c == '"' ? '\'' : c;
  }
  return label + "\"";
}

// The staging directory gnuplot writes into, removed with whatever is left in it when the report is done;
// finished plots are renamed out of it, so DIR/plots/ never holds a half-drawn one.
class StagingDirectory {
 public:
  explicit StagingDirectory(fs::path path) : path_(std::move(path)) {
    create_directories(path_, "make the study directory writable");
  }
  ~StagingDirectory() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  StagingDirectory(const StagingDirectory&) = delete;
  StagingDirectory& operator=(const StagingDirectory&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

struct LossCurve {
  std::string variant;
  uint64_t seed = 0;
  std::vector<std::pair<double, double>> step_loss;
};

// The training rows ("loss" present) of run's metrics.jsonl; nullopt with a note when there are none.
std::optional<LossCurve> read_loss_curve(const fs::path& study_dir, const study::RunRecord& run,
                                         std::vector<std::string>& notes) {
  const fs::path metrics_path = study_dir / run.run_dir / "metrics.jsonl";
  std::error_code ec;
  if (!fs::exists(metrics_path, ec)) {
    notes.push_back(
        fmt::format("No training-loss curve for {}: {} does not exist.", run.variant, metrics_path.string()));
    return std::nullopt;
  }
  LossCurve curve{.variant = run.variant, .seed = run.seed, .step_loss = {}};
  size_t damaged_lines = 0;
  std::istringstream lines(read_file(metrics_path));
  for (std::string line; std::getline(lines, line);) {
    if (is_blank(line)) {
      continue;
    }
    const nlohmann::json row = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (row.is_discarded() || !row.is_object()) {
      ++damaged_lines;  // e.g. the last line of a run killed while writing it
      continue;
    }
    const auto loss = row.find("loss");
    const auto step = row.find("step");
    if (loss != row.end() && loss->is_number() && step != row.end() && step->is_number()) {
      curve.step_loss.emplace_back(step->get<double>(), loss->get<double>());
    }
  }
  if (damaged_lines > 0) {
    log::warn(fmt::format("{}: skipped {} line(s) that are not JSON objects", metrics_path.string(),
                          damaged_lines));
  }
  if (curve.step_loss.empty()) {
    notes.push_back(fmt::format("No training-loss curve for {}: {} has no rows with \"loss\".", run.variant,
                                metrics_path.string()));
    return std::nullopt;
  }
  return curve;
}

std::vector<LossCurve> read_loss_curves(const fs::path& study_dir, const study::StudyResults& results,
                                        const StudyStatistics& statistics, std::vector<std::string>& notes) {
  std::vector<LossCurve> curves;
  for (const VariantStatistics& variant : statistics.variants) {
    // Runs are in seed order within a variant, so the first finished one is the first finished seed.
    for (const study::RunRecord& run : results.runs) {
      if (run.variant == variant.name && study::is_finished(run.status)) {
        if (std::optional<LossCurve> curve = read_loss_curve(study_dir, run, notes)) {
          curves.push_back(std::move(*curve));
        }
        break;
      }
    }
  }
  return curves;
}

PlotSpec accuracy_energy_plot(const StudyStatistics& statistics,
                              const std::vector<const VariantStatistics*>& shown) {
  std::string variants_data = "# variant  energy_kwh  accuracy_%  energy_std_kwh  accuracy_std_%\n";
  for (const VariantStatistics* variant : shown) {
    variants_data +=
        fmt::format("{} {} {} {} {}\n", data_label(variant->name), variant->summary(Metric::energy_kwh).mean,
                    variant->summary(statistics.compared_accuracy).mean * 100.0,
                    variant->summary(Metric::energy_kwh).std_dev.value_or(0.0),
                    variant->summary(statistics.compared_accuracy).std_dev.value_or(0.0) * 100.0);
  }
  std::string front_data = "# energy_kwh  accuracy_%, by energy\n";
  for (const std::string& name : statistics.pareto_front) {
    const VariantStatistics& variant = *statistics.find(name);
    front_data += fmt::format("{} {}\n", variant.summary(Metric::energy_kwh).mean,
                              variant.summary(statistics.compared_accuracy).mean * 100.0);
  }
  return PlotSpec{.name = "accuracy_energy",
                  .title = "Accuracy vs energy",
                  .data_files = {{"variants.dat", variants_data}, {"pareto.dat", front_data}},
                  .commands =
                      "set title 'Accuracy vs energy (mean ± std over finished seeds)'\n"
                      "set xlabel 'Energy per run (kWh)'\n"
                      "set ylabel '" +
                      std::string(compared_accuracy_name(statistics)) +
                      " (%)'\n"
                      "set grid\n"
                      "set key bottom right box opaque\n"
                      "set offsets graph 0.12, graph 0.12, graph 0.12, graph 0.12\n"
                      "plot DATA(variants.dat) using 2:3:4:5 with xyerrorbars pointtype 7 pointsize 1.3 "
                      "linecolor rgb '#1f77b4' title 'variant (bars: ± std)', \\\n"
                      "     DATA(pareto.dat) using 1:2 with linespoints linewidth 2 dashtype 2 pointtype 6 "
                      "pointsize 2 linecolor rgb '#d62728' title 'Pareto front', \\\n"
                      "     DATA(variants.dat) using 2:3:1 with labels left offset character 1, character 1 "
                      "notitle\n"};
}

PlotSpec energy_components_plot(const std::vector<const VariantStatistics*>& shown) {
  std::string data = "# variant  gpu_kwh  cpu_kwh  dram_kwh  ram_kwh (means)\n";
  for (const VariantStatistics* variant : shown) {
    data += fmt::format("{} {} {} {} {}\n", data_label(variant->name), variant->summary(Metric::gpu_kwh).mean,
                        variant->summary(Metric::cpu_kwh).mean, variant->summary(Metric::dram_kwh).mean,
                        variant->summary(Metric::ram_kwh).mean);
  }
  return PlotSpec{.name = "energy_components",
                  .title = "Energy per component",
                  .data_files = {{"components.dat", data}},
                  .commands =
                      "set title 'Energy per component (mean per run)'\n"
                      "set ylabel 'Energy per run (kWh)'\n"
                      "set style data histograms\n"
                      "set style histogram rowstacked\n"
                      "set style fill solid 0.85 border -1\n"
                      "set boxwidth 0.6 relative\n"
                      "set key outside right top\n"
                      "set grid ytics\n"
                      "set yrange [0:*]\n"
                      "set xtics rotate by -25 left\n"
                      "plot DATA(components.dat) using 2:xtic(1) title 'GPU' linecolor rgb '#2ca02c', \\\n"
                      "     DATA(components.dat) using 3 title 'CPU' linecolor rgb '#1f77b4', \\\n"
                      "     DATA(components.dat) using 4 title 'DRAM' linecolor rgb '#ff7f0e', \\\n"
                      "     DATA(components.dat) using 5 title 'RAM' linecolor rgb '#9467bd'\n"};
}

PlotSpec training_loss_plot(const std::vector<LossCurve>& curves) {
  std::string data;
  std::string plot_command = "plot ";
  for (size_t index = 0; index < curves.size(); ++index) {
    // Blocks separated by two blank lines are gnuplot's indexed data sets.
    data += fmt::format("# {} seed {}: step loss\n", curves[index].variant, curves[index].seed);
    for (const auto& [step, loss] : curves[index].step_loss) {
      data += fmt::format("{} {}\n", step, loss);
    }
    data += "\n\n";
    plot_command +=
        fmt::format("{}DATA(loss.dat) index {} using 1:2 with lines linewidth 1.5 title {}",
                    index == 0 ? "" : ", \\\n     ", index,
                    gnuplot_quote(fmt::format("{} (seed {})", curves[index].variant, curves[index].seed)));
  }
  return PlotSpec{.name = "training_loss",
                  .title = "Training loss",
                  .data_files = {{"loss.dat", data}},
                  .commands =
                      "set title 'Training loss (first finished seed of each variant)'\n"
                      "set xlabel 'Optimizer step'\n"
                      "set ylabel 'Training loss'\n"
                      "set grid\n"
                      "set key top right\n" +
                      plot_command + "\n"};
}

// Replaces each DATA(<file>) in commands with the quoted path of that file in directory.
std::string with_data_paths(std::string commands, const fs::path& directory) {
  for (size_t start = commands.find("DATA("); start != std::string::npos;
       start = commands.find("DATA(", start)) {
    const size_t end = commands.find(')', start);
    const std::string file = commands.substr(start + 5, end - start - 5);
    const std::string quoted_path = gnuplot_quote((directory / file).string());
    commands.replace(start, end + 1 - start, quoted_path);
    start += quoted_path.size();
  }
  return commands;
}

// One script draws every plot twice: PNG (pngcairo when this gnuplot has it, else libgd's png) and SVG.
std::string gnuplot_script(const std::vector<PlotSpec>& plots, const fs::path& staging) {
  std::string script =
      "# Written by greentune report.\n"
      "png_terminal = strstrt(GPVAL_TERMINALS, 'pngcairo') > 0 ? 'pngcairo' : 'png'\n";
  for (const PlotSpec& plot : plots) {
    script += fmt::format(
        "\n# {}\nreset\nset terminal @png_terminal {}\nset output {}\n{}"
        "set terminal svg {} dynamic background '#ffffff'\nset output {}\nreplot\nunset output\n",
        plot.title, kCanvas, gnuplot_quote((staging / (plot.name + ".png")).string()),
        with_data_paths(plot.commands, staging), kCanvas,
        gnuplot_quote((staging / (plot.name + ".svg")).string()));
  }
  return script;
}

// Runs `program script` with stdin from /dev/null and stdout and stderr into log_path. Returns why it did
// not draw (with the fix), or nullopt when it ran and exited 0.
std::optional<std::string> run_gnuplot(const std::string& program, const fs::path& script,
                                       const fs::path& log_path) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  std::string program_argument = program, script_argument = script.string();
  char* argv[] = {program_argument.data(), script_argument.data(), nullptr};
  pid_t child = 0;
  const int spawn_error = posix_spawnp(&child, program.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawn_error == ENOENT) {
    return fmt::format(
        "gnuplot is not installed (\"{}\" was not found); install it with "
        "`sudo apt-get install gnuplot-nox` and run greentune report again",
        program);
  }
  if (spawn_error != 0) {
    return fmt::format(
        "gnuplot (\"{}\") cannot be run: {}; check the program, or point GREENTUNE_GNUPLOT at "
        "a working gnuplot",
        program, std::strerror(spawn_error));
  }
  int status = 0;
  while (waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) {
      throw Error(ErrorCode::internal, "waitpid", std::strerror(errno), "please report this");
    }
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return fmt::format("gnuplot failed on {} ({}): {}", script.string(),
                       WIFEXITED(status) ? fmt::format("exit status {}", WEXITSTATUS(status))
                                         : fmt::format("signal {}", WTERMSIG(status)),
                       read_file(log_path));
  }
  return std::nullopt;
}

// gnuplot can exit 0 without drawing (a warning instead of an error): names the first file it left out.
std::optional<std::string> missing_output(const std::vector<PlotSpec>& specs, const fs::path& staging,
                                          const fs::path& log_path) {
  for (const PlotSpec& spec : specs) {
    for (const char* extension : {".png", ".svg"}) {
      std::error_code ec;
      if (!fs::exists(staging / (spec.name + extension), ec)) {
        return fmt::format("gnuplot drew no {}{}: {}", spec.name, extension, read_file(log_path));
      }
    }
  }
  return std::nullopt;
}

}  // namespace

Plots draw_plots(const fs::path& study_dir, const study::StudyResults& results,
                 const StudyStatistics& statistics) {
  Plots plots;
  std::vector<const VariantStatistics*> shown;  // variants with a mean to plot
  for (const VariantStatistics& variant : statistics.variants) {
    if (variant.finished_runs > 0) {
      shown.push_back(&variant);
    }
  }
  if (shown.empty()) {
    plots.notes.push_back("No plots: no run has finished yet.");
    return plots;
  }
  std::vector<PlotSpec> specs = {accuracy_energy_plot(statistics, shown), energy_components_plot(shown)};
  const std::vector<LossCurve> curves = read_loss_curves(study_dir, results, statistics, plots.notes);
  if (!curves.empty()) {
    specs.push_back(training_loss_plot(curves));
  }

  const fs::path plots_dir = study_dir / "plots";
  const StagingDirectory staging(plots_dir / fmt::format(".staging-{}", ::getpid()));
  for (const PlotSpec& spec : specs) {
    for (const auto& [file_name, contents] : spec.data_files) {
      write_file_atomically(staging.path() / file_name, contents);
    }
  }
  const fs::path script = staging.path() / "plots.gp";
  write_file_atomically(script, gnuplot_script(specs, staging.path()));
  const fs::path log_path = staging.path() / "gnuplot.log";
  std::optional<std::string> problem = run_gnuplot(env_or("GREENTUNE_GNUPLOT", "gnuplot"), script, log_path);
  if (!problem) {
    problem = missing_output(specs, staging.path(), log_path);
  }
  if (problem) {
    log::warn("the report has no plots: " + *problem);
    plots.notes.insert(plots.notes.begin(), "No plots: " + *problem);
    return plots;
  }
  for (const PlotSpec& spec : specs) {
    Figure figure{.title = spec.title,
                  .png = plots_dir / (spec.name + ".png"),
                  .svg = plots_dir / (spec.name + ".svg")};
    for (const fs::path& output : {figure.png, figure.svg}) {
      std::error_code ec;
      fs::rename(staging.path() / output.filename(), output, ec);
      if (ec) {
        throw Error(ErrorCode::io, output.string(), "cannot move the drawn plot here: " + ec.message(),
                    "make the study directory writable");
      }
    }
    plots.figures.push_back(std::move(figure));
  }
  return plots;
}

}  // namespace greentune::report::detail
