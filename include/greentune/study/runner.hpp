#pragma once
// Runs a study's variants x seeds one after another in DIR/runs/<variant>-seed<k>/, resumably: a run with
// a result.json is done and skipped, an interrupted one continues from its checkpoint, so a study killed
// at any moment and started again ends with every run done exactly once. DIR/results.json and
// DIR/results.csv are rebuilt from the run directories after every run.

#include <filesystem>
#include <functional>

#include "greentune/study/plan.hpp"
#include "greentune/study/results.hpp"

namespace greentune::study {

// Trains one run into run_dir (resuming what is there). Throws greentune::Error when the run fails.
using RunFunction =
    std::function<void(const Variant& variant, uint64_t seed, const std::filesystem::path& run_dir)>;

struct StudyOutcome {
  StudyResults results;
  size_t ran = 0;      // runs trained (or continued) by this call
  size_t skipped = 0;  // found done
  size_t failed = 0;   // failed in this call (the others went on)
};

// Runs every unfinished run of plan with run. A failing run is recorded (DIR/runs/<run>/failure.json)
// and the study goes on; Error(interrupted) (Ctrl-C) stops it at once, the results written so far.
StudyOutcome run_study(const StudyPlan& plan, const std::filesystem::path& study_dir, const RunFunction& run);

// The results as the run directories hold them now: finished runs from their result.json, failed ones
// from failure.json, the others pending.
StudyResults collect_results(const StudyPlan& plan, const std::filesystem::path& study_dir);

// DIR/results.json and DIR/results.csv (columns: variant, seed, status, every option some variant
// overrides, then the metrics), both written atomically.
void write_results(const StudyResults& results, const std::filesystem::path& study_dir);

}  // namespace greentune::study
