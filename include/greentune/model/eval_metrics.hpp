#pragma once
// What an evaluation measures, torch-free so that the study and the report read it without LibTorch.

#include <cstddef>
#include <nlohmann/json.hpp>

namespace greentune::model {

struct EvalMetrics {
  size_t n = 0;
  double accuracy = 0.0;
  double macro_f1 = 0.0;   // F1 averaged over the labels present in the gold labels or the predictions
  double eval_loss = 0.0;  // mean cross-entropy (never smoothed), nats per example
};

// {"accuracy", "f1", "eval_loss", "n"}: the keys of metrics.jsonl's evaluation rows and of result.json.
inline void to_json(nlohmann::json& json, const EvalMetrics& metrics) {
  json = {{"accuracy", metrics.accuracy},
          {"f1", metrics.macro_f1},
          {"eval_loss", metrics.eval_loss},
          {"n", metrics.n}};
}

inline void from_json(const nlohmann::json& json, EvalMetrics& metrics) {
  json.at("accuracy").get_to(metrics.accuracy);
  json.at("f1").get_to(metrics.macro_f1);
  json.at("eval_loss").get_to(metrics.eval_loss);
  json.at("n").get_to(metrics.n);
}

}  // namespace greentune::model
