#include "metrics_log.hpp"

#include <system_error>
#include <vector>

#include "greentune/core/files.hpp"

namespace greentune::train {

namespace fs = std::filesystem;

void MetricsLog::add(const nlohmann::json& row, RowKind kind) {
  if (path_.empty())
    return;
  const std::string line = row.dump() + "\n";
  append_to_file(path_, line);
  bytes_ += line.size();
  if (!events_)
    return;
  std::vector<tensorboard::Scalar> scalars;
  for (const TensorBoardTag& tag : kind == RowKind::training
                                       ? std::span<const TensorBoardTag>(kTrainingRowTags)
                                       : std::span<const TensorBoardTag>(kEvalRowTags)) {
    const auto value = row.find(tag.row_key);
    if (value != row.end() && value->is_number())
      scalars.push_back({std::string(tag.tag), static_cast<float>(value->get<double>() * tag.scale)});
  }
  events_->write(
      tensorboard::scalars_event(tensorboard::wall_time_now_s(), row.at("step").get<int64_t>(), scalars));
}

void MetricsLog::continue_at(uint64_t bytes, int64_t step) {
  bytes_ = bytes;
  if (path_.empty())
    return;
  std::error_code ignored;  // a missing file is what a new run wants
  bytes == 0 ? static_cast<void>(fs::remove(path_, ignored)) : truncate_file(path_, bytes);
  if (!tensorboard_)
    return;
  const fs::path dir = path_.parent_path() / kTensorBoardDir;
  if (bytes == 0) {
    for (const auto& entry : fs::directory_iterator(dir, ignored)) {
      if (entry.path().filename().string().starts_with("events.out.tfevents."))
        fs::remove(entry.path(), ignored);
    }
  }
  events_.emplace(dir);
  if (bytes != 0)
    events_->write(tensorboard::session_start_event(tensorboard::wall_time_now_s(), step + 1));
}

}  // namespace greentune::train
