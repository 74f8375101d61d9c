#include "checkpoint.hpp"

#include <fmt/format.h>

#include <cstring>
#include <optional>
#include <sstream>

#include "greentune/core/error.hpp"
#include "greentune/core/files.hpp"
#include "greentune/core/log.hpp"
#include "greentune/model/device.hpp"
#include "greentune/model/weights.hpp"

namespace greentune::train {

namespace fs = std::filesystem;

namespace {

// A LibTorch archive of value, in memory: written to disk by write_file_atomically, whose errors name the
// file and the cause (ENOSPC on a full disk) where torch::save's would not.
template <typename Value>
std::string torch_archive(const Value& value) {
  std::ostringstream archive;
  torch::save(value, archive);
  return std::move(archive).str();
}

}  // namespace

void save_checkpoint(const fs::path& output, const LoopState& state, model::SequenceClassifierImpl& model,
                     torch::optim::Optimizer& optimizer, const torch::Tensor& rng_states, bool keep_older) {
  const std::string name = checkpoint_dir_name(state.step);
  const fs::path directory = output / name;
  const fs::path temporary = output / (name + ".tmp");
  std::error_code ec;
  fs::remove_all(temporary, ec);
  try {
    greentune::create_directories(temporary, "pass --output with a writable directory");
    model::save_weights(model, temporary / "model.safetensors");
    write_file_atomically(temporary / "optimizer.pt", torch_archive(optimizer));
    write_file_atomically(temporary / "rng.pt", torch_archive(rng_states));
    write_file_atomically(temporary / "state.json", nlohmann::json(state).dump() + "\n");
  } catch (const Error&) {
    // A checkpoint that could not be written whole (a full disk) gives its space back; checkpoint.json
    // still names the previous one, which stays as it was.
    fs::remove_all(temporary, ec);
    throw;
  }
  fs::remove_all(directory, ec);
  fs::rename(temporary, directory, ec);
  if (ec) {
    throw Error(ErrorCode::io, directory.string(), "cannot write the checkpoint: " + ec.message(),
                "check free disk space and permissions of --output");
  }
  write_file_atomically(output / "checkpoint.json",
                        nlohmann::json{{"dir", name}, {"step", state.step}}.dump() + "\n");
  if (keep_older)
    return;
  for (const auto& entry : fs::directory_iterator(output, ec)) {  // older checkpoints are superseded
    const std::string entry_name = entry.path().filename().string();
    if (entry_name.rfind("checkpoint-", 0) == 0 && entry_name != name)
      fs::remove_all(entry.path(), ec);
  }
}

uint64_t remove_checkpoints(const fs::path& output) {
  uint64_t freed = 0;
  std::error_code ec;
  fs::remove(output / "checkpoint.json", ec);  // first: no checkpoint is named while they go
  for (const auto& entry : fs::directory_iterator(output, ec)) {
    if (entry.path().filename().string().rfind("checkpoint-", 0) != 0)
      continue;
    for (const auto& file : fs::recursive_directory_iterator(entry.path(), ec)) {
      if (file.is_regular_file(ec))
        freed += file.file_size(ec);
    }
    fs::remove_all(entry.path(), ec);
  }
  return freed;
}

namespace {

// What every rank restores from a checkpoint besides the weights, as the files hold it.
struct CheckpointFiles {
  fs::path state_path;
  std::string state_json, optimizer_pt, rng_pt;
};

// Loads the newest checkpoint's weights of output into model and reads its other files; nullopt when
// there is none.
std::optional<CheckpointFiles> load_checkpoint_weights(const fs::path& output,
                                                       model::SequenceClassifierImpl& model) {
  std::error_code ec;
  if (!fs::exists(output / "checkpoint.json", ec))
    return std::nullopt;
  {
    const fs::path pointer = output / "checkpoint.json";
    const fs::path directory = checkpoint_dir_of(read_file(pointer), pointer);
    const model::LoadReport report =
        model::load_weights(model, model::SafetensorsFile::open(directory / "model.safetensors"));
    if (!report.missing_keys.empty()) {
      throw Error(ErrorCode::invalid_data, directory.string(),
                  "the checkpoint lacks " + report.missing_keys.front(),
                  "resume with the same model and labels, or start a new --output");
    }
    return CheckpointFiles{directory / "state.json", read_file(directory / "state.json"),
                           read_file(directory / "optimizer.pt"), read_file(directory / "rng.pt")};
  }
}

// Restores the loop state, the optimizer state (onto device) and this rank's generator state of device's
// type. rng.pt holds one state, or one row per rank of the run that wrote it.
void restore_checkpoint(const CheckpointFiles& files, int rank, int world, LoopState& state,
                        torch::optim::Optimizer& optimizer, torch::Device device, const fs::path& output) {
  try {
    state = parse_loop_state(files.state_json, files.state_path);
    std::istringstream optimizer_stream(files.optimizer_pt);
    torch::load(optimizer, optimizer_stream, device);
    const std::string device_type = device.is_cuda() ? "cuda" : "cpu";
    if (state.rng_device != device_type) {
      if (rank == 0) {
        log::warn(
            fmt::format("the checkpoint was written on {} and is resumed on {}: dropout masks will "
                        "differ from an uninterrupted run",
                        state.rng_device, device_type));
      }
      state.rng_device = device_type;
      return;
    }
    std::istringstream rng_stream(files.rng_pt);
    torch::Tensor rng;
    torch::load(rng, rng_stream);
    if (rng.dim() == 2) {
      if (rng.size(0) != world && rank == 0) {
        log::warn(
            fmt::format("the checkpoint was written by {} processes and is resumed by {}: dropout masks "
                        "will differ from an uninterrupted run",
                        rng.size(0), world));
      }
      rng = rng[rank % rng.size(0)].contiguous();
    }
    model::set_rng_state(device, rng);
  } catch (const c10::Error& error) {
    throw Error(ErrorCode::parse, output.string(),
                std::string("damaged checkpoint: ") + error.what_without_backtrace(),
                "remove the checkpoint files to start over");
  }
}

}  // namespace

bool resume_from_checkpoint(ProcessGroup& group, const fs::path& output, LoopState& state,
                            model::SequenceClassifierImpl& model, torch::optim::Optimizer& optimizer,
                            torch::Device device) {
  std::optional<CheckpointFiles> files;
  if (group.is_root())
    files = load_checkpoint_weights(output, model);
  std::string found = files ? "1" : "0";
  group.broadcast(found, 0);
  if (found != "1")
    return false;
  if (!files)
    files.emplace();
  group.broadcast(files->state_json, 0);
  group.broadcast(files->optimizer_pt, 0);
  group.broadcast(files->rng_pt, 0);
  restore_checkpoint(*files, group.rank(), group.size(), state, optimizer, device, output);
  return true;
}

torch::Tensor gather_rng_states(ProcessGroup& group, torch::Device device) {
  const torch::Tensor mine = model::rng_state(device).contiguous();
  if (group.size() == 1)
    return mine;
  std::vector<torch::Tensor> states;
  for (const std::string& bytes : group.all_gather(
           std::string(static_cast<const char*>(mine.data_ptr()), static_cast<size_t>(mine.nbytes())))) {
    torch::Tensor state = torch::empty_like(mine);
    std::memcpy(state.data_ptr(), bytes.data(), std::min(bytes.size(), static_cast<size_t>(state.nbytes())));
    states.push_back(state);
  }
  return torch::stack(states);
}

}  // namespace greentune::train
