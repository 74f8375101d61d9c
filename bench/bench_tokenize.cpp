// Target: tokenize the 25,000 IMDB train reviews, JSON lines in and out, in ≤ 3 s single-threaded on a
// 2-core machine, and close to 2x faster with 2 threads. This is exactly `greentune tokenize`'s work
// (tokenize_jsonl) minus reading and writing the files.
#include <benchmark/benchmark.h>

#include <nlohmann/json.hpp>

#include "bench_support.hpp"
#include "greentune/data/dataset.hpp"
#include "greentune/text/jsonl_tokenize.hpp"

namespace {

struct ImdbTrainJsonl {
  std::string jsonl;
  size_t reviews = 0;
};

const ImdbTrainJsonl& imdb_train_jsonl() {
  static const ImdbTrainJsonl input = [] {
    greentune::data::DataSpec spec;
    spec.path = greentune::bench::shared_file("data/imdb/aclImdb_v1_labeled.tar.gz");
    const auto dataset = greentune::data::load_dataset(spec);
    const auto* train = dataset.find_split("train");
    ImdbTrainJsonl result;
    for (size_t i = 0; i < train->size(); ++i) {
      result.jsonl += nlohmann::json{{"text", train->texts[i]}, {"label", train->labels[i]}}.dump() + "\n";
    }
    result.reviews = train->size();
    return result;
  }();
  return input;
}

const greentune::text::WordPieceTokenizer& bert_uncased() {
  static const auto tokenizer = greentune::text::WordPieceTokenizer::from_vocab_file(
      greentune::bench::shared_file("data/vocab/bert-base-uncased-vocab.txt"));
  return tokenizer;
}

void BM_TokenizeImdbTrainJsonl(benchmark::State& state) {
  const auto& input = imdb_train_jsonl();
  const auto& tokenizer = bert_uncased();
  greentune::text::JsonlTokenizeOptions options;
  options.threads = static_cast<unsigned>(state.range(0));
  std::string output;
  for (auto _ : state) {
    const auto report = greentune::text::tokenize_jsonl(tokenizer, input.jsonl, output, options);
    benchmark::DoNotOptimize(report.lines);
  }
  state.counters["reviews"] = static_cast<double>(input.reviews);
  state.counters["reviews_per_s"] =
      benchmark::Counter(static_cast<double>(input.reviews), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["input_MB"] = static_cast<double>(input.jsonl.size()) / 1e6;
  state.counters["threads"] = static_cast<double>(options.threads);
}

BENCHMARK(BM_TokenizeImdbTrainJsonl)
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(2.0);

}  // namespace

BENCHMARK_MAIN();
