#include "greentune/study/external_run.hpp"

#include <fmt/format.h>
#include <signal.h>

#include <algorithm>
#include <cmath>
#include <optional>

#include "greentune/core/error.hpp"
#include "greentune/core/files.hpp"
#include "greentune/core/json.hpp"
#include "greentune/core/log.hpp"

namespace greentune::study {

namespace fs = std::filesystem;

namespace {

constexpr size_t kQuotedOutputLines = 8;  // of command.log, in the error of a failed run

std::string where_in_plan(const StudyPlan& plan, const Variant& variant) {
  return fmt::format("{}:{}: variant \"{}\"", plan.file.string(), variant.line, variant.name);
}

// The value of {name} in a command word.
std::string placeholder_value(const StudyPlan& plan, const Variant& variant,
                              const std::vector<Setting>& settings, std::string_view name, uint64_t seed,
                              const fs::path& run_dir) {
  if (name == "seed")
    return std::to_string(seed);
  if (name == "run_dir")
    return run_dir.string();
  const auto setting =
      std::find_if(settings.begin(), settings.end(), [&](const Setting& given) { return given.key == name; });
  if (setting == settings.end()) {
    throw Error(ErrorCode::usage, where_in_plan(plan, variant),
                fmt::format("the command's {{{}}} is neither {{seed}}, {{run_dir}} nor an option [base] or "
                            "--set gives",
                            name),
                fmt::format("set {} in [base] (or --set {}=...), or write {{{{ and }}}} for literal braces",
                            name, name));
  }
  return setting->text;
}

bool is_placeholder_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

// The last lines of the command's output, indented, for an error message.
std::string output_tail(const fs::path& output_file) {
  std::error_code ec;
  if (!fs::exists(output_file, ec))
    return "";
  const std::string text = read_file(output_file);
  size_t start = text.size();
  for (size_t lines = 0; start > 0 && lines <= kQuotedOutputLines;) {
    --start;
    if (text[start] == '\n' && start + 1 < text.size())
      ++lines;
  }
  std::string tail = text.substr(start == 0 ? 0 : start + 1);
  while (!tail.empty() && tail.back() == '\n')
    tail.pop_back();
  if (tail.empty())
    return "";
  std::string indented;
  size_t from = 0;
  while (from <= tail.size()) {
    const size_t end = std::min(tail.find('\n', from), tail.size());
    indented += "\n    " + tail.substr(from, end - from);
    from = end + 1;
  }
  return "; its output ended with:" + indented;
}

// results[key] as a number, or nullopt when results lacks it; Error(invalid_data) for another type.
std::optional<double> number_at(const nlohmann::json& results, const std::string& key, const fs::path& path) {
  const auto found = results.find(key);
  if (found == results.end() || found->is_null())
    return std::nullopt;
  if (!found->is_number() || !std::isfinite(found->get<double>())) {
    throw Error(ErrorCode::invalid_data, fmt::format("{}: key \"{}\"", path.string(), key),
                fmt::format("{} where a number belongs", found->dump()), "write the metric as a number");
  }
  return found->get<double>();
}

double required_number_at(const nlohmann::json& results, const std::string& key, std::string_view study_key,
                          const fs::path& path) {
  const std::optional<double> value = number_at(results, key, path);
  if (!value) {
    std::vector<std::string> keys;
    for (const auto& [name, ignored] : results.items())
      keys.push_back(name);
    throw Error(ErrorCode::invalid_data, fmt::format("{}: key \"{}\"", path.string(), key), "no such key",
                fmt::format("set {} in the variant to the key the command writes (the file has: {})",
                            study_key, keys.empty() ? "no keys" : fmt::format("{}", fmt::join(keys, ", "))));
  }
  return *value;
}

void check_fraction(double accuracy, const std::string& key, const fs::path& path) {
  if (accuracy < 0.0 || accuracy > 1.0) {
    throw Error(ErrorCode::invalid_data, fmt::format("{}: key \"{}\"", path.string(), key),
                fmt::format("{} is not a fraction in [0, 1]", accuracy),
                "write accuracy as a fraction (0.91, not 91)");
  }
}

}  // namespace

std::vector<std::string> external_command_line(const StudyPlan& plan, const Variant& variant,
                                               const std::vector<Setting>& settings, uint64_t seed,
                                               const fs::path& run_dir) {
  std::vector<std::string> words;
  for (const std::string& word : variant.external->command) {
    std::string expanded;
    for (size_t at = 0; at < word.size();) {
      if (word.compare(at, 2, "{{") == 0 || word.compare(at, 2, "}}") == 0) {
        expanded += word[at];
        at += 2;
        continue;
      }
      const size_t close = word[at] == '{' ? word.find('}', at + 1) : std::string::npos;
      const std::string_view name = close == std::string::npos
                                        ? std::string_view()
                                        : std::string_view(word).substr(at + 1, close - at - 1);
      if (is_placeholder_name(name)) {
        expanded += placeholder_value(plan, variant, settings, name, seed, run_dir);
        at = close + 1;
      } else {
        expanded += word[at++];
      }
    }
    words.push_back(std::move(expanded));
  }
  return words;
}

train::RunResult external_run_result(const ExternalCommand& external, const energy::MeasuredCommand& measured,
                                     const nlohmann::json& results, const fs::path& results_path) {
  if (!results.is_object()) {
    throw Error(
        ErrorCode::invalid_data, results_path.string(), "expected a JSON object of metrics",
        "write e.g. {\"eval_accuracy\": 0.91, \"eval_loss\": 0.25}, as the Hugging Face Trainer does");
  }
  train::RunResult result;
  result.accuracy = required_number_at(results, external.accuracy_key, "accuracy-key", results_path);
  check_fraction(result.accuracy, external.accuracy_key, results_path);
  result.eval_loss = required_number_at(results, external.eval_loss_key, "eval-loss-key", results_path);
  result.f1 = number_at(results, external.f1_key, results_path);
  result.test_accuracy = number_at(results, external.test_accuracy_key, results_path);
  if (result.test_accuracy)
    check_fraction(*result.test_accuracy, external.test_accuracy_key, results_path);
  const auto count_at = [&](const std::string& key) -> std::optional<size_t> {
    const std::optional<double> value = number_at(results, key, results_path);
    if (!value)
      return std::nullopt;
    if (*value < 0.0 || *value > 1e15 || *value != std::floor(*value)) {
      throw Error(ErrorCode::invalid_data, fmt::format("{}: key \"{}\"", results_path.string(), key),
                  fmt::format("{} is not a count of examples", *value), "write a whole number of examples");
    }
    return static_cast<size_t>(*value);
  };
  result.n = count_at(external.eval_samples_key).value_or(0);
  result.train_samples = count_at(external.train_samples_key).value_or(0);
  result.best.metrics = {result.n, result.accuracy, result.f1.value_or(0.0), result.eval_loss};

  const energy::Measurement& run = measured.run;
  result.train_seconds = run.duration_s;
  result.peak_memory_mb = measured.exit.peak_memory_mb;
  result.energy_kwh = run.kwh;
  result.gpu_kwh = run.gpu_total_j() / energy::kJoulesPerKwh;
  result.cpu_kwh = run.cpu_j / energy::kJoulesPerKwh;
  result.dram_kwh = run.dram_j / energy::kJoulesPerKwh;
  result.ram_kwh = run.ram_j / energy::kJoulesPerKwh;
  result.co2_kg = run.co2_kg;
  result.average_w = run.average_w();
  if (result.train_samples > 0)
    result.joules_per_sample = run.total_j / static_cast<double>(result.train_samples);
  result.energy_methods = energy::methods_of(run);
  result.carbon = {measured.carbon.gco2_per_kwh, measured.carbon.zone, measured.carbon.reason};
  return result;
}

void run_external(const StudyPlan& plan, const Variant& variant, const std::vector<Setting>& settings,
                  const energy::MeteringOptions& metering, uint64_t seed, const fs::path& run_dir) {
  const ExternalCommand& external = *variant.external;
  const std::vector<std::string> command = external_command_line(plan, variant, settings, seed, run_dir);
  greentune::create_directories(run_dir, "pass --output with a writable directory");
  const fs::path results_path = run_dir / external.results_file;
  std::error_code ec;
  fs::remove(results_path, ec);  // an earlier, failed attempt's file must not pass for this one's
  const fs::path output_file = run_dir / kExternalOutputFile;
  log::info(fmt::format("running {} (its output goes to {})", fmt::join(command, " "), output_file.string()));

  energy::RunIdentity identity;
  identity.project_name = plan.name;
  identity.experiment_id = run_dir.filename().string();
  const energy::MeasuredCommand measured =
      energy::measure_command(command, metering, run_dir, identity, ChildOptions{output_file});
  const std::string where = where_in_plan(plan, variant);
  if (!measured.exit.started) {
    throw Error(ErrorCode::invalid_data, where,
                fmt::format("cannot run \"{}\": {}", command.front(), measured.exit.start_error),
                "give the program's path, or a program on PATH, as the command's first word");
  }
  if (const std::optional<int> received = measured.exit.received_signal;
      received && (*received == SIGINT || *received == SIGTERM || *received == SIGHUP)) {
    throw Error(ErrorCode::interrupted, run_dir.string(), "the command was stopped (Ctrl-C or SIGTERM)",
                "run the same study command again: this run starts over, finished runs are kept");
  }
  if (measured.exit.exit_status != 0) {
    throw Error(
        ErrorCode::invalid_data, where,
        fmt::format("the command exited with status {}{}", measured.exit.exit_status,
                    output_tail(output_file)),
        fmt::format("see {}; the run is tried again when the study runs again", output_file.string()));
  }
  if (!fs::exists(results_path, ec)) {
    throw Error(ErrorCode::invalid_data, where,
                fmt::format("the command ended well but wrote no {}{}", results_path.string(),
                            output_tail(output_file)),
                "have it write its metrics there ({run_dir} in the command is the run directory), or set "
                "results-file to the file it writes");
  }
  const UntrustedJson parsed = parse_untrusted_json(read_file(results_path));
  if (!parsed.problem.empty())
    throw Error(ErrorCode::invalid_data, results_path.string(), parsed.problem,
                "have the command write valid JSON");
  train::RunResult result = external_run_result(external, measured, parsed.value, results_path);
  result.config = {{"command", command}, {"results_file", external.results_file}, {"results", parsed.value}};
  write_file_atomically(run_dir / train::kRunResultFile, nlohmann::json(result).dump(2) + "\n");
}

}  // namespace greentune::study
