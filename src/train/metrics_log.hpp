#pragma once
// RUN/metrics.jsonl as the trainer writes it (private to the trainer), and with --report-to tensorboard
// the same rows as TensorBoard scalars in RUN/tensorboard/.

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "greentune/core/tensorboard.hpp"
#include "greentune/model/eval_metrics.hpp"

namespace greentune::train {

inline constexpr std::string_view kTensorBoardDir = "tensorboard";  // in the run directory

// A row's key as a TensorBoard scalar: its tag (the Hugging Face Trainer's where it has one) and the factor
// from the row's unit to the tag's.
struct TensorBoardTag {
  std::string_view row_key;
  std::string_view tag;
  double scale = 1.0;
};
inline constexpr TensorBoardTag kTrainingRowTags[] = {
    {"loss", "train/loss"},
    {"lr", "train/learning_rate"},
    {"grad_norm", "train/grad_norm"},
    {"epoch", "train/epoch"},
    {"loss_scale", "train/loss_scale"},
    {"samples_per_s", "train/samples_per_second"},
    {"tokens_per_s", "train/tokens_per_second"},
    {"power_w", "energy/power_w"},
    {"energy_kwh", "energy/energy_kwh"},
    {"co2_kg", "energy/co2_g", 1000.0},
};
inline constexpr TensorBoardTag kEvalRowTags[] = {
    {"eval_loss", "eval/loss"},
    {"accuracy", "eval/accuracy"},
    {"f1", "eval/f1"},
    {"energy_kwh", "eval/energy_kwh"},
};

enum class RowKind { training, evaluation };

// metrics.jsonl, a line appended per row. A checkpoint records how many bytes the file had then; a
// resumed run cuts it back to that (rows written after the checkpoint, a torn last line of a killed run
// included, are computed again, identically), and a new run removes an earlier run's file (the first
// row creates it again). An empty path writes nothing (the ranks other than 0).
// With tensorboard, each process also writes an event file of its own: a new run first removes the earlier
// runs' files, a resumed one starts its file with a restart at the step after its checkpoint, so that
// TensorBoard drops what the earlier process logged after it.
class MetricsLog {
 public:
  MetricsLog(std::filesystem::path path, bool tensorboard)
      : path_(std::move(path)), tensorboard_(tensorboard) {}
  void add(const nlohmann::json& row, RowKind kind);
  // Before the first row: bytes of metrics.jsonl to keep (0: a new run), and the step they end at.
  void continue_at(uint64_t bytes, int64_t step);
  uint64_t bytes() const { return bytes_; }

 private:
  std::filesystem::path path_;
  bool tensorboard_ = false;
  std::optional<tensorboard::EventFileWriter> events_;
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
