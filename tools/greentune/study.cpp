// `greentune study FILE [--output DIR]`: every variant x seed of a study file trained one after another
// into DIR/runs/<variant>-seed<k>/ (a variant with a command: that command run and measured there),
// resumable at any moment; DIR/results.{csv,json} and the report.
#include <fmt/core.h>

#include <algorithm>
#include <map>
#include <memory>

#include "commands.hpp"
#include "config_file.hpp"
#include "greentune/core/error.hpp"
#include "greentune/core/log.hpp"
#include "greentune/model/device.hpp"
#include "greentune/report/report.hpp"
#include "greentune/study/external_run.hpp"
#include "greentune/study/runner.hpp"
#include "greentune/train/trainer.hpp"

namespace greentune::cli {

namespace {

struct StudyFlags {
  std::string file;
  std::string output;            // empty: studies/<the study's name>
  std::vector<std::string> set;  // KEY=VALUE: a train option for every variant, over the file's
  // The train options a study also takes as flags of its own (--KEY VALUE, the same as --set KEY=VALUE),
  // each with its value when given.
  std::map<std::string, std::string> passed;
  std::string shard = "0/1";  // i/N: this process's share of the runs
};

// Train options that are flags of `greentune study` too: how every run reports and where it pushes.
constexpr std::string_view kStudyFlagOptions[] = {"report-to", "prometheus-pushgateway"};

// --set KEY=VALUE entries, then the flags of kStudyFlagOptions given, as settings; Error(usage) for an entry
// without '=' or naming an option the study sets.
std::vector<study::Setting> settings_from_flags(const StudyFlags& flags) {
  std::vector<std::string> entries = flags.set;
  for (const auto& [key, value] : flags.passed)
    entries.push_back(key + "=" + value);
  std::vector<study::Setting> settings;
  for (const std::string& entry : entries) {
    const size_t equals = entry.find('=');
    if (equals == std::string::npos || equals == 0) {
      throw Error(ErrorCode::usage, "--set " + entry, "expected KEY=VALUE", "write e.g. --set data=imdb");
    }
    const std::string key = entry.substr(0, equals);
    if (study::is_reserved_study_option(key)) {
      throw Error(ErrorCode::usage, "--set " + entry, "is set by the study for every run",
                  "use --output for the study directory and seeds = [...] in the file");
    }
    settings.push_back({key, {entry.substr(equals + 1)}, entry.substr(equals + 1), 0});
  }
  return settings;
}

// The variant's settings with the command line's --set over them.
std::vector<study::Setting> merged_settings(const study::Variant& variant,
                                            const std::vector<study::Setting>& command_line) {
  std::vector<study::Setting> settings;
  for (const study::Setting& setting : variant.settings) {
    const bool replaced = std::any_of(command_line.begin(), command_line.end(),
                                      [&](const study::Setting& given) { return given.key == setting.key; });
    if (!replaced)
      settings.push_back(setting);
  }
  settings.insert(settings.end(), command_line.begin(), command_line.end());
  return settings;
}

// The trainer's options of one run: the defaults with the variant's settings and the command line's
// --set over them, read through the train option table as `greentune train --config` reads a file, then
// validated (but for an external variant, which takes only their energy and carbon options); errors name
// the study file's line and key.
train::TrainOptions run_options(const study::StudyPlan& plan, const study::Variant& variant,
                                const std::vector<study::Setting>& command_line, uint64_t seed,
                                const std::filesystem::path& run_dir) {
  train::TrainOptions options;
  for (const study::Setting& setting : merged_settings(variant, command_line)) {
    apply_setting(options, setting,
                  setting.line == 0
                      ? "--set " + setting.key
                      : fmt::format("{}:{}: key \"{}\"", plan.file.string(), setting.line, setting.key));
  }
  if (variant.external) {
    // Its command's {KEY}s are checked here too, before any run starts.
    study::external_command_line(plan, variant, merged_settings(variant, command_line), seed, run_dir);
    return options;
  }
  options.seed = seed;
  options.output = run_dir;
  options.resume = true;  // a run the study started before continues from its checkpoint
  try {
    train::validate(options);
  } catch (const Error& error) {
    throw Error(error.code(),
                fmt::format("{}:{}: variant \"{}\"", plan.file.string(), variant.line, variant.name),
                error.what(), "fix the variant's options (or [base]) in the study file");
  }
  return options;
}

void run_study_command(const StudyFlags& flags) {
  if (const train::LaunchEnvironment launch = train::read_launch_environment(); launch.distributed()) {
    throw Error(
        ErrorCode::usage, fmt::format("{} (rank {} of {})", launch.launcher, launch.rank, launch.world_size),
        "greentune study runs as one process, and this one was started as a rank of a data-parallel run",
        "spread a study over machines with --shard i/N (one per SLURM array task), or launch "
        "greentune train itself with torchrun, mpirun or srun");
  }
  const study::StudyPlan plan = study::read_study_file(flags.file);
  const std::vector<study::Setting> command_line = settings_from_flags(flags);
  const study::Shard shard = study::parse_shard(flags.shard);
  const std::filesystem::path study_dir = flags.output.empty() ? std::filesystem::path("studies") / plan.name
                                                               : std::filesystem::path(flags.output);
  // Every variant's options are checked before the first run starts.
  for (const study::Variant& variant : plan.variants)
    run_options(plan, variant, command_line, plan.seeds.front(), study_dir / "runs" / "check");
  log::info(fmt::format("study {}: {} variants x {} seeds into {}", plan.name, plan.variants.size(),
                        plan.seeds.size(), study_dir.string()));

  const study::StudyOutcome outcome = study::run_study(
      plan, study_dir,
      [&](const study::Variant& variant, uint64_t seed, const std::filesystem::path& run_dir) {
        const train::TrainOptions options = run_options(plan, variant, command_line, seed, run_dir);
        if (variant.external) {
          study::run_external(plan, variant, merged_settings(variant, command_line), options.metering, seed,
                              run_dir);
          return;
        }
        try {
          train::train(options);
        } catch (const Error&) {
          throw;
        } catch (const std::exception& unexpected) {
          throw Error(ErrorCode::internal, run_dir.string(), unexpected.what(),
                      "please report it with the study file; the other runs go on");
        }
      },
      shard,
      [&](const study::Variant& variant) -> std::optional<std::string> {
        if (!plan.skip_emulated_bf16 || variant.external)
          return std::nullopt;
        const train::TrainOptions options =
            run_options(plan, variant, command_line, plan.seeds.front(), study_dir / "runs" / "check");
        const torch::Device device = model::resolve_device(options.device);
        if (train::resolve_precision(options.precision, device) != train::Precision::bf16)
          return std::nullopt;
        const std::optional<std::string> emulated = train::emulated_bf16_reason(device);
        return emulated ? std::optional<std::string>(*emulated +
                                                     ", and the study file says skip-emulated-bf16 = true")
                        : std::nullopt;
      });
  const report::ReportFiles report = report::write_report(study_dir);
  size_t unfinished = 0;  // by this process or another shard
  for (const study::RunRecord& run : outcome.results.runs)
    unfinished += study::is_finished(run.status) || run.status == study::kStatusSkipped ? 0 : 1;
  fmt::print(
      "study          {}\nruns           {} trained now, {} already done, {} failed, {} skipped here\n",
      plan.name, outcome.ran, outcome.skipped, outcome.failed, outcome.left_out);
  fmt::print("results        {}\nreport         {}\n", (study_dir / "results.csv").string(),
             report.markdown.string());
  if (unfinished > outcome.failed)
    log::info(
        fmt::format("{} runs of the study are not finished yet (other shards)", unfinished - outcome.failed));
  if (outcome.failed > 0) {
    log::warn(fmt::format("{} runs failed: run the same command again to retry them", outcome.failed));
    command_exit_status() = static_cast<int>(ErrorCode::invalid_data);
  }
}

}  // namespace

void add_study_command(CLI::App& app) {
  auto flags = std::make_shared<StudyFlags>();
  CLI::App* command = app.add_subcommand(
      "study", "Run every variant x seed of a study file, resumably, and write the report");
  command->add_option("file", flags->file, "The study file (TOML)")->required()->check(CLI::ExistingFile);
  command->add_option("--output", flags->output, "Study directory (default: studies/<name>)");
  command
      ->add_option("--shard", flags->shard,
                   "i/N: run only every N-th run starting at i, for a job array sharing --output (0/1: all)")
      ->capture_default_str();
  command->add_option("--set", flags->set, "KEY=VALUE: a train option for every variant (e.g. data=imdb)");
  for (const std::string_view key : kStudyFlagOptions) {
    const auto& options = train::train_options();
    const auto option = std::find_if(options.begin(), options.end(),
                                     [&](const auto& candidate) { return candidate.name == key; });
    CLI::Option* flag = command->add_option_function<std::string>(
        option->flag(), [flags, key](const std::string& value) { flags->passed[std::string(key)] = value; },
        option->help + " (every run; the same as --set " + std::string(key) + "=...)");
    flag->type_name(option->type_name);
  }
  command->callback([flags] { run_study_command(*flags); });
}

}  // namespace greentune::cli
