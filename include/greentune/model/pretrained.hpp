#pragma once
// Models in Hugging Face's layout, in and out: a directory (or hub id) with config.json,
// model.safetensors, vocab.txt and tokenizer_config.json. What greentune saves loads unchanged with
// AutoModelForSequenceClassification.from_pretrained(dir) and AutoTokenizer.from_pretrained(dir).

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "greentune/model/classifier.hpp"
#include "greentune/model/weights.hpp"
#include "greentune/text/tokenizer.hpp"

namespace greentune::model {

struct PretrainedOptions {
  std::string revision = "main";         // hub ids only
  uint64_t seed = 42;                    // draws the initialization of weights the checkpoint lacks
  std::vector<std::string> label_names;  // non-empty: the classifier's labels (replaces config's id2label)
  std::filesystem::path vocab;           // non-empty: this vocab.txt instead of the model directory's
};

struct PretrainedModel {
  std::filesystem::path dir;  // the local directory read (a hub snapshot for hub ids)
  SequenceClassifier model;
  text::WordPieceTokenizer tokenizer;
  LoadReport report;
  bool random_weights = false;  // the directory had no model.safetensors
};

// model: a local directory or a Hugging Face hub id (resolved through the hub cache, downloaded when
// missing). Weights the checkpoint lacks (the classifier head of a masked-LM checkpoint) are initialized
// like Hugging Face and listed in report.missing_keys; checkpoint tensors the classifier does not use are
// listed in report.unexpected_keys. A directory with only config.json gives seeded random weights.
PretrainedModel load_pretrained(const std::string& model, const PretrainedOptions& options = {});

// Writes config.json, model.safetensors, vocab.txt and tokenizer_config.json into dir (created).
void save_pretrained(const std::filesystem::path& dir, SequenceClassifierImpl& model,
                     const text::WordPieceTokenizer& tokenizer);

}  // namespace greentune::model
