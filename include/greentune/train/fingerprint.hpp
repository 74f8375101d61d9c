#pragma once
// What determines a run's result, recorded in its directory (fingerprint.json) when it starts, so that a
// resumed run and a study started again can tell whether they would compute what the directory holds:
// every option that changes the result (the option table's changes_result), the files the run reads
// (model, data, vocab, evaluation and test data: path, and the sizes of what is there) instead of their
// spelling, and greentune's version.
//
//   {"greentune": "0.1.0", "options": {"lr": 0.001, ...}, "files": {"data": {"path": "/abs", "bytes": 123}}}

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "greentune/train/train_options.hpp"

namespace greentune::train {

inline constexpr const char* kFingerprintFile = "fingerprint.json";

nlohmann::json run_fingerprint(const TrainOptions& options);

// What changed from recorded to now, one entry per key: "lr: 0.001 -> 0.01", "data: /a.jsonl (1200 bytes)
// -> /b.jsonl (900 bytes)", "greentune: 0.1.0 -> 0.2.0". Keys recorded is missing (a run of an older
// greentune) are not compared.
std::vector<std::string> fingerprint_changes(const nlohmann::json& recorded, const nlohmann::json& now);

// The fingerprint run_dir records; for a run of a greentune that wrote none, the result-changing options
// of its config.json. nullopt when it holds neither (or they cannot be read).
std::optional<nlohmann::json> recorded_fingerprint(const std::filesystem::path& run_dir);

// The files a run leaves in its directory (checkpoints, metrics, results, model, energy, fingerprint): what
// a new run there would mix its own with.
std::vector<std::filesystem::path> run_files_in(const std::filesystem::path& run_dir);

}  // namespace greentune::train
