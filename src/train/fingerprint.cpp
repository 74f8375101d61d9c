#include "greentune/train/fingerprint.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "greentune/core/files.hpp"
#include "greentune/core/json.hpp"
#include "greentune/core/version.hpp"

namespace greentune::train {

namespace fs = std::filesystem;

namespace {

// A file option's value as what it names: an existing file's absolute path and size, an existing
// directory's path and the sizes of the files directly in it (a model's config.json and weights, an
// aclImdb folder's README), else the text as given (a hub id, "imdb", empty).
nlohmann::json file_identity(const std::string& value) {
  std::error_code ec;
  if (value.empty() || !fs::exists(value, ec))
    return value;
  const fs::path path = fs::weakly_canonical(value, ec);
  if (fs::is_regular_file(path, ec))
    return {{"path", path.string()}, {"bytes", fs::file_size(path, ec)}};
  nlohmann::json sizes = nlohmann::json::object();
  for (const auto& entry : fs::directory_iterator(path, ec)) {
    if (entry.is_regular_file(ec))
      sizes[entry.path().filename().string()] = entry.file_size(ec);
  }
  return {{"path", path.string()}, {"bytes", sizes}};
}

std::string describe(const nlohmann::json& value) {
  if (value.is_object() && value.contains("path")) {
    const nlohmann::json& bytes = value["bytes"];
    return bytes.is_number() ? fmt::format("{} ({} bytes)", value["path"].get<std::string>(), bytes.dump())
                             : value["path"].get<std::string>();
  }
  return value.dump();
}

void compare_section(const nlohmann::json& recorded, const nlohmann::json& now, const char* section,
                     std::vector<std::string>& changes) {
  if (!recorded.contains(section) || !recorded[section].is_object() || !now.contains(section))
    return;
  for (const auto& [key, value] : recorded[section].items()) {
    const nlohmann::json current = now[section].contains(key) ? now[section][key] : nlohmann::json();
    if (value != current) {
      // A directory whose files changed size: say so, as both spell the same path.
      const bool same_path = describe(value) == describe(current);
      changes.push_back(fmt::format("{}: {} -> {}{}", key, describe(value), describe(current),
                                    same_path ? " (its files changed)" : ""));
    }
  }
}

}  // namespace

nlohmann::json run_fingerprint(const TrainOptions& options) {
  nlohmann::json fingerprint = {{"greentune", std::string(kVersion)},
                                {"options", nlohmann::json::object()},
                                {"files", nlohmann::json::object()}};
  for (const Option<TrainOptions>& option : train_options()) {
    if (!option.changes_result)
      continue;
    const nlohmann::json value = option.get(options);
    if (option.path_kind != PathKind::none && value.is_string())
      fingerprint["files"][option.name] = file_identity(value.get<std::string>());
    else
      fingerprint["options"][option.name] = value;
  }
  return fingerprint;
}

std::vector<std::string> fingerprint_changes(const nlohmann::json& recorded, const nlohmann::json& now) {
  std::vector<std::string> changes;
  if (recorded.contains("greentune") && recorded["greentune"] != now["greentune"]) {
    changes.push_back(
        fmt::format("greentune: {} -> {}", recorded["greentune"].dump(), now["greentune"].dump()));
  }
  compare_section(recorded, now, "options", changes);
  compare_section(recorded, now, "files", changes);
  return changes;
}

std::optional<nlohmann::json> recorded_fingerprint(const fs::path& run_dir) {
  std::error_code ec;
  const auto read_object = [](const fs::path& file) -> std::optional<nlohmann::json> {
    const UntrustedJson parsed = parse_untrusted_json(read_file(file));
    return parsed.problem.empty() && parsed.value.is_object() ? std::optional(parsed.value) : std::nullopt;
  };
  if (fs::exists(run_dir / kFingerprintFile, ec))
    return read_object(run_dir / kFingerprintFile);
  if (!fs::exists(run_dir / "config.json", ec))
    return std::nullopt;
  const std::optional<nlohmann::json> config = read_object(run_dir / "config.json");
  if (!config)
    return std::nullopt;
  nlohmann::json fingerprint = {{"options", nlohmann::json::object()}};
  for (const Option<TrainOptions>& option : train_options()) {
    if (option.changes_result && option.path_kind == PathKind::none && config->contains(option.name))
      fingerprint["options"][option.name] = (*config)[option.name];
  }
  return fingerprint;
}

std::vector<fs::path> run_files_in(const fs::path& run_dir) {
  static const char* const kRunFiles[] = {"checkpoint.json", "metrics.jsonl", "result.json",
                                          "config.json",     "energy.json",   "emissions.csv",
                                          "model",           "tensorboard",   kFingerprintFile};
  std::vector<fs::path> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(run_dir, ec)) {
    const std::string name = entry.path().filename().string();
    const bool run_file = std::find(std::begin(kRunFiles), std::end(kRunFiles), name) != std::end(kRunFiles);
    if (run_file || name.starts_with("checkpoint-"))
      found.push_back(entry.path());
  }
  std::sort(found.begin(), found.end());
  return found;
}

}  // namespace greentune::train
