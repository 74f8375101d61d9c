#pragma once
// RUN/metrics.jsonl as the trainer writes it (private to the trainer).

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <system_error>

#include "greentune/core/files.hpp"
#include "greentune/model/eval_metrics.hpp"

namespace greentune::train {

// metrics.jsonl, a line appended per row. A checkpoint records how many bytes the file had then; a
// resumed run cuts it back to that (rows written after the checkpoint, a torn last line of a killed run
// included, are computed again, identically), and a new run removes an earlier run's file (the first
// row creates it again). An empty path writes nothing (the ranks other than 0).
class MetricsLog {
 public:
  explicit MetricsLog(std::filesystem::path path) : path_(std::move(path)) {}
  void add(const nlohmann::json& row) {
    if (path_.empty())
      return;
    const std::string line = row.dump() + "\n";
    append_to_file(path_, line);
    bytes_ += line.size();
  }
  void continue_at(uint64_t bytes) {
    bytes_ = bytes;
    if (path_.empty())
      return;
    std::error_code ignored;  // a missing file is what a new run wants
    bytes == 0 ? static_cast<void>(std::filesystem::remove(path_, ignored)) : truncate_file(path_, bytes);
  }
  uint64_t bytes() const { return bytes_; }

 private:
  std::filesystem::path path_;
  uint64_t bytes_ = 0;  // of the file, as this run has written it
};

// An evaluation's row.
inline nlohmann::json eval_row(int64_t step, double epoch, const model::EvalMetrics& metrics) {
  return {{"step", step},
          {"epoch", epoch},
          {"eval_loss", metrics.eval_loss},
          {"accuracy", metrics.accuracy},
          {"f1", metrics.macro_f1}};
}

}  // namespace greentune::train
