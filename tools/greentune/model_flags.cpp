#include "model_flags.hpp"

#include <fmt/format.h>

#include <chrono>

#include "greentune/core/error.hpp"
#include "greentune/core/log.hpp"
#include "greentune/model/device.hpp"
#include "greentune/model/runtime.hpp"
#include "numeric_flags.hpp"

namespace greentune::cli {

model::PretrainedModel ModelFlags::load() {
  const torch::Device on = model::resolve_device(device);  // fail before any work
  const model::CpuRuntime runtime = model::configure_cpu_runtime(threads);
  log::info(fmt::format("LibTorch on {} CPU threads, BLAS {}, malloc {}", runtime.threads,
                        runtime.blas.empty() ? "unknown" : runtime.blas,
                        runtime.malloc.empty() ? "glibc's" : runtime.malloc));
  model::PretrainedOptions options;
  options.revision = revision;
  options.vocab = vocab;
  const auto started = std::chrono::steady_clock::now();
  model::PretrainedModel loaded = model::load_pretrained(model, options);
  int64_t parameters = 0;
  for (const auto& parameter : loaded.model->parameters())
    parameters += parameter.numel();
  log::info(fmt::format("loaded {} ({:.1f}M parameters) in {:.2f} s", loaded.dir.string(), parameters / 1e6,
                        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()));
  effective_max_length(loaded.model->config());  // fail before any work
  model::prepare_device(on);
  loaded.model->to(on);
  return loaded;
}

size_t ModelFlags::effective_max_length(const model::ModelConfig& config) const {
  const auto positions = static_cast<size_t>(config.max_position_embeddings);
  if (max_length == 0)
    return positions;
  if (max_length > positions) {
    throw Error(ErrorCode::usage, "--max-length",
                fmt::format("{} is more than the model's {} positions", max_length, positions),
                fmt::format("pass --max-length {} or less", positions));
  }
  return max_length;
}

void add_model_flags(CLI::App& command, ModelFlags& flags) {
  command
      .add_option("--model", flags.model,
                  "Model directory (config.json, model.safetensors, vocab.txt) or Hugging Face hub id")
      ->required();
  command.add_option("--revision", flags.revision, "Hub revision: branch, tag or commit")
      ->capture_default_str();
  command.add_option("--vocab", flags.vocab, "vocab.txt to use instead of the model's")
      ->check(CLI::ExistingFile);
  command.add_option("--device", flags.device, model::kDeviceHelp)->capture_default_str();
  command.add_option("--threads", flags.threads, "CPU threads (0: all cores)")
      ->check(in_range(whole_from_to(0, 4096)))
      ->capture_default_str();
  command
      .add_option("--max-length", flags.max_length,
                  "Tokens per text, [CLS] and [SEP] included (default: the model's)")
      ->check(in_range(whole_from_to(2, 1 << 20)));
  command.add_option("--batch-size", flags.batch_size, "Texts per forward pass")
      ->check(in_range(whole_from_to(1, 65536)))
      ->capture_default_str();
}

}  // namespace greentune::cli
