#pragma once
// Runs a study's variants x seeds one after another in DIR/runs/<variant>-seed<k>/, resumably: a run with
// a result.json is done and skipped, an interrupted one continues from its checkpoint, so a study killed
// at any moment and started again ends with every run done exactly once. DIR/results.json and
// DIR/results.csv are rebuilt from the run directories after every run.

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "greentune/study/plan.hpp"
#include "greentune/study/results.hpp"

namespace greentune::study {

// Trains one run into run_dir (resuming what is there). Throws greentune::Error when the run fails.
using RunFunction =
    std::function<void(const Variant& variant, uint64_t seed, const std::filesystem::path& run_dir)>;

// Why a variant's runs are not run on this machine (a study's skip-emulated-bf16 on a CPU without native
// bf16, say); nullopt to run them.
using SkipFunction = std::function<std::optional<std::string>(const Variant& variant)>;

// This process's share of a study spread over machines (a SLURM job array): run k of the study
// (variant-major, then seed order, from 0) is shard k % count's.
struct Shard {
  size_t index = 0;
  size_t count = 1;
  bool owns(size_t run) const { return run % count == index; }
};
// "i/N" with 0 <= i < N; Error(usage) naming --shard otherwise.
Shard parse_shard(std::string_view text);

struct StudyOutcome {
  StudyResults results;
  size_t ran = 0;       // runs trained (or continued) by this call
  size_t skipped = 0;   // found done
  size_t failed = 0;    // failed in this call (the others went on)
  size_t left_out = 0;  // not run on this machine, as skip said (status skipped, error why)
};

// Runs every unfinished run of plan that shard owns with run. A failing run is recorded
// (DIR/runs/<run>/failure.json) and the study goes on; Error(interrupted) (Ctrl-C) and Error(io) (a full
// disk: every later run would fail too) stop it at once, the results written so far and the run left to
// continue when the same command runs again. Shards may share DIR: each writes the results of every run
// finished so far. A run whose variant skip gives a reason for is not run: DIR/runs/<run>/skipped.json
// records why, until a later call (on another machine) runs it.
StudyOutcome run_study(const StudyPlan& plan, const std::filesystem::path& study_dir, const RunFunction& run,
                       Shard shard = {}, const SkipFunction& skip = {});

// The results as the run directories hold them now: finished runs from their result.json, failed ones
// from failure.json, the others pending.
StudyResults collect_results(const StudyPlan& plan, const std::filesystem::path& study_dir);

// DIR/results.json with every run's status and metrics read again from its run directory: merges what
// the shards of a study finished. Throws what read_results throws.
StudyResults refresh_results(const std::filesystem::path& study_dir);

// DIR/results.json and DIR/results.csv (columns: variant, seed, status, every option some variant
// overrides, then the metrics), both written atomically.
void write_results(const StudyResults& results, const std::filesystem::path& study_dir);

}  // namespace greentune::study
