#include "greentune/study/results.hpp"

#include "greentune/core/error.hpp"
#include "greentune/core/files.hpp"
#include "greentune/core/json.hpp"

namespace greentune::study {

bool is_finished(const std::string& status) {
  return status != kStatusFailed && status != kStatusPending && status != kStatusSkipped;
}

void to_json(nlohmann::json& json, const VariantSummary& variant) {
  json = {{"name", variant.name}, {"overrides", variant.overrides}};
}

void from_json(const nlohmann::json& json, VariantSummary& variant) {
  json.at("name").get_to(variant.name);
  variant.overrides = json.value("overrides", std::map<std::string, std::string>{});
}

void to_json(nlohmann::json& json, const StudyResults& results) {
  json = {{"study", results.study}, {"description", results.description}, {"baseline", results.baseline},
          {"seeds", results.seeds}, {"variants", results.variants},       {"runs", results.runs}};
}

void from_json(const nlohmann::json& json, StudyResults& results) {
  json.at("study").get_to(results.study);
  results.description = json.value("description", std::string());  // absent in older results.json files
  json.at("baseline").get_to(results.baseline);
  json.at("seeds").get_to(results.seeds);
  json.at("variants").get_to(results.variants);
  json.at("runs").get_to(results.runs);
}

nlohmann::json json_shape(std::type_identity<StudyResults>) {
  StudyResults results;
  results.seeds = {0};
  results.variants.emplace_back();
  nlohmann::json shape = results;
  shape["description"] = nullptr;  // optional: results.json files written before it existed lack it
  nlohmann::json run = RunRecord{};
  run["result"] = json_shape_of<train::RunResult>();
  shape["runs"] = nlohmann::json::array({run});
  return shape;
}

StudyResults read_results(const std::filesystem::path& study_dir) {
  const std::filesystem::path path = study_dir / "results.json";
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    throw Error(ErrorCode::not_found, path.string(), "no study results here",
                "pass the --output directory of a `greentune study` run");
  }
  return read_json_file<StudyResults>(
      path, "study results", "run `greentune study` on the same file and directory again to rewrite it");
}

}  // namespace greentune::study
