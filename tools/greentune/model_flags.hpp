#pragma once
// The flags of commands that run a model: --model (directory or hub id), --revision, --vocab, --device,
// --threads,
// --max-length, --batch-size; and the start-up they share.

#include <CLI/CLI.hpp>
#include <string>

#include "greentune/model/pretrained.hpp"

namespace greentune::cli {

struct ModelFlags {
  std::string model;
  std::string revision = "main";
  std::string vocab;
  std::string device = "auto";  // model::resolve_device
  int threads = 0;
  size_t max_length = 0;  // 0: the model's max_position_embeddings
  size_t batch_size = 32;

  // Configures the CPU runtime, loads the model onto --device, and checks max_length against the model.
  model::PretrainedModel load();
  size_t effective_max_length(const model::ModelConfig& config) const;
};

void add_model_flags(CLI::App& command, ModelFlags& flags);

}  // namespace greentune::cli
