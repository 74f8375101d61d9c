#include "greentune/study/results.hpp"

#include "greentune/core/error.hpp"
#include "greentune/core/files.hpp"

namespace greentune::study {

bool is_finished(const std::string& status) {
  return status != kStatusFailed && status != kStatusPending;
}

void to_json(nlohmann::json& json, const RunRecord& record) {
  json = {{"variant", record.variant},
          {"seed", record.seed},
          {"status", record.status},
          {"error", record.error},
          {"run_dir", record.run_dir},
          {"overrides", record.overrides},
          {"accuracy", record.accuracy},
          {"f1", record.f1},
          {"eval_loss", record.eval_loss},
          {"test_accuracy", record.test_accuracy ? nlohmann::json(*record.test_accuracy) : nlohmann::json()},
          {"train_seconds", record.train_seconds},
          {"gpu_kwh", record.gpu_kwh},
          {"cpu_kwh", record.cpu_kwh},
          {"dram_kwh", record.dram_kwh},
          {"ram_kwh", record.ram_kwh},
          {"energy_kwh", record.energy_kwh},
          {"co2_kg", record.co2_kg},
          {"joules_per_sample", record.joules_per_sample},
          {"peak_memory_mb", record.peak_memory_mb},
          {"skipped_steps", record.skipped_steps}};
}

void from_json(const nlohmann::json& json, RunRecord& record) {
  json.at("variant").get_to(record.variant);
  json.at("seed").get_to(record.seed);
  json.at("status").get_to(record.status);
  record.error = json.value("error", "");
  json.at("run_dir").get_to(record.run_dir);
  record.overrides = json.value("overrides", std::map<std::string, std::string>{});
  read_run_metrics(json, record);
}

void read_run_metrics(const nlohmann::json& json, RunRecord& record) {
  record.accuracy = json.value("accuracy", 0.0);
  record.f1 = json.value("f1", 0.0);
  record.eval_loss = json.value("eval_loss", 0.0);
  const auto test = json.find("test_accuracy");
  record.test_accuracy =
      test != json.end() && test->is_number() ? std::optional<double>(test->get<double>()) : std::nullopt;
  record.train_seconds = json.value("train_seconds", 0.0);
  record.gpu_kwh = json.value("gpu_kwh", 0.0);
  record.cpu_kwh = json.value("cpu_kwh", 0.0);
  record.dram_kwh = json.value("dram_kwh", 0.0);
  record.ram_kwh = json.value("ram_kwh", 0.0);
  record.energy_kwh = json.value("energy_kwh", 0.0);
  record.co2_kg = json.value("co2_kg", 0.0);
  record.joules_per_sample = json.value("joules_per_sample", 0.0);
  record.peak_memory_mb = json.value("peak_memory_mb", 0.0);
  record.skipped_steps = json.value("skipped_steps", int64_t{0});
}

void to_json(nlohmann::json& json, const VariantSummary& variant) {
  json = {{"name", variant.name}, {"overrides", variant.overrides}};
}

void from_json(const nlohmann::json& json, VariantSummary& variant) {
  json.at("name").get_to(variant.name);
  variant.overrides = json.value("overrides", std::map<std::string, std::string>{});
}

void to_json(nlohmann::json& json, const StudyResults& results) {
  json = {{"study", results.study},
          {"baseline", results.baseline},
          {"seeds", results.seeds},
          {"variants", results.variants},
          {"runs", results.runs}};
}

void from_json(const nlohmann::json& json, StudyResults& results) {
  json.at("study").get_to(results.study);
  json.at("baseline").get_to(results.baseline);
  json.at("seeds").get_to(results.seeds);
  json.at("variants").get_to(results.variants);
  json.at("runs").get_to(results.runs);
}

StudyResults read_results(const std::filesystem::path& study_dir) {
  const std::filesystem::path path = study_dir / "results.json";
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    throw Error(ErrorCode::not_found, path.string(), "no study results here",
                "pass the --output directory of a `greentune study` run");
  }
  try {
    return nlohmann::json::parse(read_file(path)).get<StudyResults>();
  } catch (const nlohmann::json::exception& error) {
    throw Error(ErrorCode::parse, path.string(), std::string("damaged study results: ") + error.what(),
                "run `greentune study` on the same file and directory again to rewrite it");
  }
}

}  // namespace greentune::study
