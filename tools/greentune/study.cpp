// `greentune study FILE [--output DIR]`: every variant x seed of a study file trained one after another
// into DIR/runs/<variant>-seed<k>/ (a variant with a command: that command run and measured there),
// resumable at any moment; DIR/results.{csv,json} and the report.
#include <fmt/core.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>

#include "commands.hpp"
#include "config_file.hpp"
#include "greentune/core/error.hpp"
#include "greentune/core/files.hpp"
#include "greentune/core/log.hpp"
#include "greentune/core/version.hpp"
#include "greentune/energy/metering_options.hpp"
#include "greentune/model/device.hpp"
#include "greentune/model/hub.hpp"
#include "greentune/report/report.hpp"
#include "greentune/study/external_run.hpp"
#include "greentune/study/runner.hpp"
#include "greentune/train/fingerprint.hpp"
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
  bool redo_changed = false;  // runs made with other options than the file now gives are trained again
  bool dry_run = false;       // check every variant and print each one's options, without running
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
  // A study keeps each finished run's model and results, not its optimizer state, unless told otherwise.
  options.keep_checkpoints = train::KeepCheckpoints::none;
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
    // A value from the command line is blamed on its --set, not on the study file.
    const bool from_set =
        std::any_of(command_line.begin(), command_line.end(),
                    [&](const study::Setting& given) { return error.where() == "--" + given.key; });
    if (from_set)
      throw Error(error.code(), "--set " + error.where().substr(2), error.what(), "fix or drop that --set");
    throw Error(error.code(),
                fmt::format("{}:{}: variant \"{}\"", plan.file.string(), variant.line, variant.name),
                error.what(), "fix the variant's options (or [base]) in the study file");
  }
  return options;
}

// Every model the study trains is found (or downloaded) before the first run: a wrong name is one error
// now, naming the variant, instead of a failed run per variant and seed.
void find_models(const study::StudyPlan& plan, const std::vector<study::Setting>& command_line,
                 const std::filesystem::path& study_dir) {
  std::set<std::string> found;
  for (const study::Variant& variant : plan.variants) {
    if (variant.external)
      continue;
    const std::string model =
        run_options(plan, variant, command_line, plan.seeds.front(), study_dir / "runs" / "check").model;
    if (!found.insert(model).second)
      continue;
    try {
      model::resolve_model_dir(model);
    } catch (const Error& error) {
      throw Error(error.code(),
                  fmt::format("{}:{}: variant \"{}\": model", plan.file.string(), variant.line, variant.name),
                  error.what());
    }
  }
}

// What determines an external run's result, as train::run_fingerprint says it for greentune's runs: its
// command with every placeholder filled in, the energy and carbon options it is measured with, and
// greentune's version.
nlohmann::json external_fingerprint(const study::StudyPlan& plan, const study::Variant& variant,
                                    const std::vector<study::Setting>& command_line, uint64_t seed,
                                    const std::filesystem::path& run_dir) {
  const train::TrainOptions options = run_options(plan, variant, command_line, seed, run_dir);
  const std::vector<std::string> words =
      study::external_command_line(plan, variant, merged_settings(variant, command_line), seed, run_dir);
  nlohmann::json fingerprint = {{"greentune", std::string(kVersion)},
                                {"options", {{"command", fmt::format("{}", fmt::join(words, " "))}}}};
  for (const Option<energy::MeteringOptions>& option : energy::metering_options()) {
    if (option.changes_result)
      fingerprint["options"][option.name] = option.get(options.metering);
  }
  return fingerprint;
}

// The fingerprint a run of variant would have now.
nlohmann::json fingerprint_of(const study::StudyPlan& plan, const study::Variant& variant,
                              const std::vector<study::Setting>& command_line, uint64_t seed,
                              const std::filesystem::path& run_dir) {
  if (variant.external)
    return external_fingerprint(plan, variant, command_line, seed, run_dir);
  return train::run_fingerprint(run_options(plan, variant, command_line, seed, run_dir));
}

// Runs this shard owns that were made with other options, files or greentune than the study now gives
// (their fingerprint.json against the one they would have now): an error naming each and what changed,
// unless redo asks for them to be trained again, and then their directories are deleted first, so that old
// results never mix with new ones.
void redo_or_refuse_changed_runs(const study::StudyPlan& plan,
                                 const std::vector<study::Setting>& command_line,
                                 const std::filesystem::path& study_dir, study::Shard shard, bool redo) {
  std::vector<std::string> changed;
  std::vector<std::filesystem::path> changed_dirs;
  size_t position = 0;
  for (const study::Variant& variant : plan.variants) {
    for (const uint64_t seed : plan.seeds) {
      const std::filesystem::path run_dir = study_dir / "runs" / study::run_name(variant.name, seed);
      if (!shard.owns(position++))
        continue;
      const std::optional<nlohmann::json> recorded = train::recorded_fingerprint(run_dir);
      if (!recorded)
        continue;
      const std::vector<std::string> changes =
          train::fingerprint_changes(*recorded, fingerprint_of(plan, variant, command_line, seed, run_dir));
      if (changes.empty())
        continue;
      changed.push_back(
          fmt::format("variant \"{}\" seed {}: {}", variant.name, seed, fmt::join(changes, ", ")));
      changed_dirs.push_back(run_dir);
    }
  }
  if (changed.empty())
    return;
  if (!redo) {
    throw Error(ErrorCode::usage, study_dir.string(),
                fmt::format("{} run{} here {} made with other options than {} now gives: {}", changed.size(),
                            changed.size() == 1 ? "" : "s", changed.size() == 1 ? "was" : "were",
                            plan.file.string(), fmt::join(changed, "; ")),
                "pass --redo-changed to train them again (their results are deleted first), put the study's "
                "old options back, or pass another --output");
  }
  for (size_t i = 0; i < changed_dirs.size(); ++i) {
    std::error_code ec;
    std::filesystem::remove_all(changed_dirs[i], ec);
    if (ec) {
      throw Error(ErrorCode::io, changed_dirs[i].string(),
                  "cannot delete it for --redo-changed: " + ec.message(),
                  "check the study directory's permissions");
    }
    log::info(fmt::format("--redo-changed: deleted {}, made with other options ({})",
                          changed_dirs[i].string(), changed[i]));
  }
}

void run_study_command(const StudyFlags& flags) {
  if (const train::LaunchEnvironment launch = train::read_launch_environment(); launch.distributed()) {
    throw Error(
        ErrorCode::usage, fmt::format("{} (rank {} of {})", launch.launcher, launch.rank, launch.world_size),
        "greentune study runs as one process, and this one was started as a rank of a data-parallel run",
        "spread a study over machines with --shard i/N (one per SLURM array task), or launch "
        "greentune train itself with torchrun, mpirun or srun");
  }
  study::StudyPlan plan = study::read_study_file(flags.file);
  // Paths in the file are relative to it; --set's, typed on the command line, to the current directory.
  const std::filesystem::path file_dir = std::filesystem::absolute(plan.file).parent_path();
  for (study::Variant& variant : plan.variants) {
    for (study::Setting& setting : variant.settings)
      setting = relative_to_file(setting, file_dir);
    if (variant.external) {
      for (std::string& word : variant.external->command) {  // a script beside the file, say
        std::error_code ec;
        if (!word.empty() && !std::filesystem::path(word).is_absolute() &&
            word.find('{') == std::string::npos && std::filesystem::exists(file_dir / word, ec))
          word = (file_dir / word).lexically_normal().string();
      }
    }
  }
  const std::vector<study::Setting> command_line = settings_from_flags(flags);
  const study::Shard shard = study::parse_shard(flags.shard);
  const std::filesystem::path study_dir = flags.output.empty() ? std::filesystem::path("studies") / plan.name
                                                               : std::filesystem::path(flags.output);
  // Every variant's options are checked before the first run starts.
  for (const study::Variant& variant : plan.variants)
    run_options(plan, variant, command_line, plan.seeds.front(), study_dir / "runs" / "check");
  find_models(plan, command_line, study_dir);
  if (flags.dry_run) {
    nlohmann::json variants = nlohmann::json::array();
    for (const study::Variant& variant : plan.variants) {
      const std::filesystem::path run_dir =
          study_dir / "runs" / study::run_name(variant.name, plan.seeds.front());
      variants.push_back(
          {{"name", variant.name},
           {"options", run_options(plan, variant, command_line, plan.seeds.front(), run_dir)}});
    }
    fmt::print("{}\n",
               nlohmann::json{{"study", plan.name}, {"seeds", plan.seeds}, {"variants", variants}}.dump(2));
    return;
  }
  redo_or_refuse_changed_runs(plan, command_line, study_dir, shard, flags.redo_changed);
  log::info(fmt::format("study {}: {} variants x {} seeds into {}", plan.name, plan.variants.size(),
                        plan.seeds.size(), study_dir.string()));

  const study::StudyOutcome outcome = study::run_study(
      plan, study_dir,
      [&](const study::Variant& variant, uint64_t seed, const std::filesystem::path& run_dir) {
        const train::TrainOptions options = run_options(plan, variant, command_line, seed, run_dir);
        if (variant.external) {
          greentune::create_directories(run_dir, "pass --output with a writable directory");
          write_file_atomically(
              run_dir / train::kFingerprintFile,
              external_fingerprint(plan, variant, command_line, seed, run_dir).dump(2) + "\n");
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
  command->add_flag("--dry-run", flags->dry_run,
                    "Check every variant's options and model, and print each variant's options (JSON) "
                    "without running anything");
  command->add_flag(
      "--redo-changed", flags->redo_changed,
      "Train again the runs made with other options, files or greentune than the study now "
      "gives (deleting their results first); without it such runs stop the study before it starts");
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
