#include "greentune/study/runner.hpp"

#include <fmt/format.h>

#include <chrono>
#include <optional>
#include <set>

#include "greentune/core/csv.hpp"
#include "greentune/core/error.hpp"
#include "greentune/core/files.hpp"
#include "greentune/core/json.hpp"
#include "greentune/core/log.hpp"
#include "greentune/core/parse.hpp"
#include "greentune/core/progress.hpp"

namespace greentune::study {

namespace fs = std::filesystem;

namespace {

constexpr const char* kFailureFile = "failure.json";  // written here when a run throws
constexpr const char* kSkippedFile = "skipped.json";  // written here when a run is left out: {"reason"}

// The trainer's stop_reason as a study status.
std::string status_of(const std::string& stop_reason) {
  if (stop_reason.empty())
    return kStatusDone;
  return "stopped-" + stop_reason;
}

// The string under key of a run's note: a failed run's failure.json ("error") or a skipped one's skipped.json
// ("reason"); for a damaged file, what is wrong with it.
std::string read_run_note(const fs::path& path, const std::string& key) {
  const UntrustedJson failure = parse_untrusted_json(read_file(path));
  const nlohmann::json& value = failure.value;
  if (failure.problem.empty() && value.is_object() && value.contains(key) && value[key].is_string())
    return value[key].get<std::string>();
  return fmt::format("{}: damaged: {}", path.string(),
                     failure.problem.empty() ? fmt::format("expected an object with a \"{}\" string", key)
                                             : failure.problem);
}

// record's status and result from its run directory, as they are now.
void read_run_record(const fs::path& study_dir, RunRecord& record) {
  const fs::path run_dir = study_dir / record.run_dir;
  std::error_code ec;
  if (fs::exists(run_dir / train::kRunResultFile, ec)) {
    record.result = train::read_run_result(run_dir);
    record.status = status_of(record.result->stop_reason);
  } else if (fs::exists(run_dir / kFailureFile, ec)) {
    record.status = kStatusFailed;
    record.error = read_run_note(run_dir / kFailureFile, "error");
  } else if (fs::exists(run_dir / kSkippedFile, ec)) {
    record.status = kStatusSkipped;
    record.error = read_run_note(run_dir / kSkippedFile, "reason");
  } else {
    record.status = kStatusPending;
  }
}

// A run that failed to write or read its files (a full disk, a directory gone): every run after it would
// fail the same way, so the study stops, with the results as they are and this run left unfailed, so that
// the same command, once the cause is fixed, continues it from its checkpoint.
[[noreturn]] void stop_on_io_error(const StudyPlan& plan, const fs::path& study_dir, const std::string& run,
                                   const Error& error) {
  try {
    write_results(collect_results(plan, study_dir), study_dir);
  } catch (const Error& also) {  // on a full disk, likely: the results of the finished runs stay as they were
    log::warn(fmt::format("the study's results were not updated: {}", also.what()));
  }
  log::warn(
      fmt::format("run {} stopped the study; once the error below is fixed, run the same command "
                  "again: finished runs are kept and this one continues from its checkpoint",
                  run));
  throw error;
}

// The runs of plan that shard owns, that skip keeps and that have no result.json yet: what this call of
// run_study runs.
size_t runs_to_run(const StudyPlan& plan, const fs::path& study_dir, Shard shard, const SkipFunction& skip) {
  size_t count = 0, position = 0;
  for (const Variant& variant : plan.variants) {
    const bool skipped = skip && skip(variant).has_value();
    for (const uint64_t seed : plan.seeds) {
      std::error_code ec;
      if (shard.owns(position++) && !skipped &&
          !fs::exists(study_dir / "runs" / run_name(variant.name, seed) / train::kRunResultFile, ec))
        ++count;
    }
  }
  return count;
}

// "18 runs to go" before the first run ends, then "4m12s elapsed, about 12m30s left (from the 2 runs done
// so far)": the rate of this call's runs (failed ones included) times the runs left.
std::string where_the_study_is(size_t done, size_t to_run, double elapsed_s) {
  const std::optional<double> left_s =
      eta_seconds(static_cast<double>(done), static_cast<double>(to_run), elapsed_s);
  if (!left_s)
    return fmt::format("{} run{} to go", to_run, to_run == 1 ? "" : "s");
  return fmt::format("{} elapsed, about {} left (from the {} run{} done so far)", format_duration(elapsed_s),
                     format_duration(*left_s), done, done == 1 ? "" : "s");
}

std::string number_text(double value) {
  return fmt::format("{}", value);
}

}  // namespace

StudyResults collect_results(const StudyPlan& plan, const fs::path& study_dir) {
  StudyResults results;
  results.study = plan.name;
  results.description = plan.description;
  results.baseline = plan.baseline;
  results.seeds = plan.seeds;
  for (const Variant& variant : plan.variants) {
    results.variants.push_back({variant.name, variant.overrides});
    for (const uint64_t seed : plan.seeds) {
      RunRecord record;
      record.variant = variant.name;
      record.seed = seed;
      record.run_dir = (fs::path("runs") / run_name(variant.name, seed)).string();
      record.overrides = variant.overrides;
      read_run_record(study_dir, record);
      results.runs.push_back(std::move(record));
    }
  }
  return results;
}

Shard parse_shard(std::string_view text) {
  const size_t slash = text.find('/');
  const auto index =
      slash == std::string_view::npos ? std::nullopt : parse_whole<size_t>(text.substr(0, slash));
  const auto count =
      slash == std::string_view::npos ? std::nullopt : parse_whole<size_t>(text.substr(slash + 1));
  if (!index || !count || *count == 0 || *index >= *count) {
    throw Error(ErrorCode::usage, "--shard", fmt::format("\"{}\" is not i/N with 0 <= i < N", text),
                "pass e.g. --shard $SLURM_ARRAY_TASK_ID/4 for a 4-task array");
  }
  return {*index, *count};
}

StudyResults refresh_results(const fs::path& study_dir) {
  StudyResults results = read_results(study_dir);
  for (RunRecord& record : results.runs) {
    const RunRecord identity = record;
    record = RunRecord{};
    record.variant = identity.variant;
    record.seed = identity.seed;
    record.run_dir = identity.run_dir;
    record.overrides = identity.overrides;
    read_run_record(study_dir, record);
  }
  write_results(results, study_dir);
  return results;
}

void write_results(const StudyResults& results, const fs::path& study_dir) {
  write_file_atomically(study_dir / "results.json", nlohmann::json(results).dump(2) + "\n");
  std::set<std::string> override_keys;
  for (const VariantSummary& variant : results.variants) {
    for (const auto& [key, value] : variant.overrides)
      override_keys.insert(key);
  }
  std::vector<std::string> header = {"variant", "seed", "status"};
  header.insert(header.end(), override_keys.begin(), override_keys.end());
  for (const MetricDefinition& metric : kMetrics)
    header.emplace_back(metric.key);
  std::string text = csv_line(header) + "\n";
  for (const RunRecord& run : results.runs) {
    std::vector<std::string> row = {run.variant, std::to_string(run.seed), run.status};
    for (const std::string& key : override_keys) {
      const auto value = run.overrides.find(key);
      row.push_back(value == run.overrides.end() ? "" : value->second);  // empty: [base]'s value
    }
    if (run.result) {
      for (const MetricDefinition& metric : kMetrics) {
        const std::optional<double> value = metric.of(*run.result);
        row.push_back(value ? number_text(*value) : "");
      }
    } else {
      row.resize(header.size());  // no result yet: empty fields, so the columns never shift
    }
    text += csv_line(row) + "\n";
  }
  write_file_atomically(study_dir / "results.csv", text);
}

StudyOutcome run_study(const StudyPlan& plan, const fs::path& study_dir, const RunFunction& run, Shard shard,
                       const SkipFunction& skip) {
  greentune::create_directories(study_dir / "runs", "pass --output with a writable directory");
  StudyOutcome outcome;
  const size_t total = plan.variants.size() * plan.seeds.size();
  const size_t to_run = runs_to_run(plan, study_dir, shard, skip);
  const auto started = std::chrono::steady_clock::now();
  size_t position = 0;
  for (const Variant& variant : plan.variants) {
    for (const uint64_t seed : plan.seeds) {
      if (!shard.owns(position++))
        continue;
      const std::string name = run_name(variant.name, seed);
      const fs::path run_dir = study_dir / "runs" / name;
      std::error_code ec;
      if (fs::exists(run_dir / train::kRunResultFile, ec)) {
        ++outcome.skipped;
        continue;
      }
      fs::remove(run_dir / kFailureFile, ec);  // a failed run is tried again
      fs::remove(run_dir / kSkippedFile, ec);  // and a skipped one asked again
      if (const std::optional<std::string> reason = skip ? skip(variant) : std::nullopt) {
        greentune::create_directories(run_dir, "pass --output with a writable directory");
        write_file_atomically(run_dir / kSkippedFile, nlohmann::json{{"reason", *reason}}.dump(2) + "\n");
        log::info(
            fmt::format("study {}: run {}/{}: {} skipped: {}", plan.name, position, total, name, *reason));
        ++outcome.left_out;
        continue;
      }
      const double elapsed_s =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      log::info(fmt::format("study {}: run {}/{}: variant {}, seed {}; {}", plan.name, position, total,
                            variant.name, seed,
                            where_the_study_is(outcome.ran + outcome.failed, to_run, elapsed_s)));
      try {
        run(variant, seed, run_dir);
        ++outcome.ran;
      } catch (const Error& error) {
        if (error.code() == ErrorCode::interrupted) {
          write_results(collect_results(plan, study_dir), study_dir);
          // The trainer's hint (--resume) is a train command's: a study continues its runs by itself.
          throw Error(
              ErrorCode::interrupted, run_dir.string(),
              fmt::format("study {} interrupted in run {}; its checkpoint was written", plan.name, name),
              fmt::format("run `greentune study {} --output {}` again, with the same --set options: it "
                          "keeps the finished runs and continues this one from its checkpoint",
                          plan.file.string(), study_dir.string()));
        }
        if (error.code() == ErrorCode::io)
          stop_on_io_error(plan, study_dir, name, error);
        greentune::create_directories(run_dir, "pass --output with a writable directory");
        write_file_atomically(run_dir / kFailureFile, nlohmann::json{{"error", error.what()}}.dump(2) + "\n");
        log::warn(fmt::format("run {} failed: {}; the study goes on", name, error.what()));
        ++outcome.failed;
      }
      write_results(collect_results(plan, study_dir), study_dir);
    }
  }
  outcome.results = collect_results(plan, study_dir);
  write_results(outcome.results, study_dir);
  return outcome;
}

}  // namespace greentune::study
