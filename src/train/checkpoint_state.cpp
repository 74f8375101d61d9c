#include "checkpoint_state.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "greentune/core/error.hpp"
#include "greentune/core/json.hpp"

namespace greentune::train {

namespace {

constexpr std::string_view kCheckpointDirPrefix = "checkpoint-";
constexpr std::string_view kDamagedFix = "remove the checkpoint files to start over";

bool is_checkpoint_dir_name(std::string_view name) {
  const std::string_view step = name.substr(std::min(name.size(), kCheckpointDirPrefix.size()));
  return name.starts_with(kCheckpointDirPrefix) && !step.empty() &&
         std::all_of(step.begin(), step.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

nlohmann::json parse_checkpoint_json(std::string_view text, const std::filesystem::path& file) {
  UntrustedJson parsed = parse_untrusted_json(text);
  if (!parsed.problem.empty())
    throw Error(ErrorCode::parse, file.string(), "damaged checkpoint: the file " + parsed.problem,
                kDamagedFix);
  return std::move(parsed.value);
}

}  // namespace

std::string checkpoint_dir_name(int64_t step) {
  return fmt::format("{}{}", kCheckpointDirPrefix, step);
}

std::filesystem::path checkpoint_dir_of(std::string_view text, const std::filesystem::path& pointer_file) {
  const nlohmann::json pointer = parse_checkpoint_json(text, pointer_file);
  const auto dir = pointer.is_object() ? pointer.find("dir") : pointer.end();
  if (dir == pointer.end() || !dir->is_string() ||
      !is_checkpoint_dir_name(dir->get_ref<const std::string&>())) {
    throw Error(ErrorCode::parse, pointer_file.string() + ": key \"dir\"",
                "damaged checkpoint: expected the name of a checkpoint directory such as \"checkpoint-100\"",
                kDamagedFix);
  }
  return pointer_file.parent_path() / dir->get<std::string>();
}

LoopState parse_loop_state(std::string_view text, const std::filesystem::path& file) {
  return from_untrusted_json<LoopState>(parse_checkpoint_json(text, file), file, "checkpoint", kDamagedFix);
}

}  // namespace greentune::train
