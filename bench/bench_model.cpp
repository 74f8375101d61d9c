// DistilBERT-base (random init) training step and predict cold start.
// - Forward + backward at batch 8 × 128 tokens on 2 threads, fp32 and bf16 autocast. bench/python/
//   distilbert_step.py runs the same model written in PyTorch-Python at the same threads, and prints the
//   ratio (bench/run.sh does both).
// - `greentune predict` on a 66M-parameter model.safetensors, whole process: target ≤ 1 s.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "greentune/model/pretrained.hpp"
#include "greentune/model/runtime.hpp"
#include "greentune/model/torch_compat.hpp"

namespace {

namespace fs = std::filesystem;
using greentune::model::ModelConfig;

constexpr int64_t batch_size = 8, sequence_length = 128;
constexpr int threads = 2;

void train_step(benchmark::State& state, bool bf16) {
  greentune::model::configure_cpu_runtime(threads);
  torch::manual_seed(0);
  const ModelConfig config;  // the defaults are distilbert-base-uncased's
  auto model = greentune::model::make_classifier(config);
  model->train();
  const torch::Tensor input_ids =
      torch::randint(1000, config.vocab_size, {batch_size, sequence_length}, torch::kLong);
  const torch::Tensor attention_mask = torch::ones({batch_size, sequence_length}, torch::kLong);
  const torch::Tensor labels = torch::randint(0, 2, {batch_size}, torch::kLong);
  for (auto _ : state) {
    torch::Tensor loss;
    if (bf16) {
      greentune::model::compat::AutocastGuard autocast(c10::DeviceType::CPU, torch::kBFloat16);
      loss = torch::cross_entropy_loss(model->forward(input_ids, attention_mask).logits.to(torch::kFloat),
                                       labels);
    } else {
      loss = torch::cross_entropy_loss(model->forward(input_ids, attention_mask).logits, labels);
    }
    loss.backward();
    for (auto& parameter : model->parameters())
      parameter.mutable_grad().reset();
  }
  state.counters["threads"] = threads;
  state.counters["tokens_per_s"] = benchmark::Counter(static_cast<double>(batch_size * sequence_length),
                                                      benchmark::Counter::kIsIterationInvariantRate);
}

void BM_DistilBertBaseTrainStepFp32(benchmark::State& state) {
  train_step(state, false);
}
void BM_DistilBertBaseTrainStepBf16(benchmark::State& state) {
  train_step(state, true);
}

// A distilbert-base-sized classifier with random weights and the real BERT vocab, saved once.
fs::path base_model_dir() {
  const fs::path dir = fs::temp_directory_path() / "greentune-bench-distilbert-base";
  if (!fs::exists(dir / "model.safetensors")) {
    torch::manual_seed(0);
    auto model = greentune::model::make_classifier(ModelConfig{});
    const auto tokenizer = greentune::text::WordPieceTokenizer::from_vocab_file(
        greentune::bench::shared_file("data/vocab/bert-base-uncased-vocab.txt"));
    greentune::model::save_pretrained(dir, *model, tokenizer);
  }
  return dir;
}

void BM_PredictColdStart(benchmark::State& state) {
  const std::vector<std::string> predict = {GREENTUNE_CLI_PATH,
                                            "-q",
                                            "predict",
                                            "--threads",
                                            "2",
                                            "--model",
                                            base_model_dir().string(),
                                            "--text",
                                            "A wonderful, moving film."};
  for (auto _ : state) {
    if (greentune::bench::run_command(predict, "> /dev/null") != 0)
      state.SkipWithError("greentune predict failed");
  }
  uint64_t parameters = 0;
  const auto checkpoint = greentune::model::SafetensorsFile::open(base_model_dir() / "model.safetensors");
  for (const auto& tensor : checkpoint.tensors())
    parameters += tensor.element_count();
  state.counters["parameters_M"] = static_cast<double>(parameters) / 1e6;
}

BENCHMARK(BM_DistilBertBaseTrainStepFp32)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(5.0);
BENCHMARK(BM_DistilBertBaseTrainStepBf16)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(5.0);
BENCHMARK(BM_PredictColdStart)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(5);

}  // namespace

BENCHMARK_MAIN();
