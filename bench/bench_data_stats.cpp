// Target: `greentune data stats` on the IMDB tarball with the BERT vocab, first run (cache build:
// read the .tar.gz, tokenize 50,000 reviews, write the cache) in ≤ 10 s on a 2-core machine. The warm run
// memory-maps the cache. Both do exactly what the command does, minus printing.
#include <benchmark/benchmark.h>

#include <filesystem>

#include "bench_support.hpp"
#include "greentune/data/stats.hpp"
#include "greentune/data/tokenized_cache.hpp"

namespace {

namespace fs = std::filesystem;

greentune::data::DataSpec imdb_spec() {
  greentune::data::DataSpec spec;
  spec.path = greentune::bench::shared_file("data/imdb/aclImdb_v1_labeled.tar.gz");
  return spec;
}

const greentune::text::WordPieceTokenizer& bert_uncased() {
  static const auto tokenizer = greentune::text::WordPieceTokenizer::from_vocab_file(
      greentune::bench::shared_file("data/vocab/bert-base-uncased-vocab.txt"));
  return tokenizer;
}

fs::path bench_cache_dir() {
  return fs::temp_directory_path() / "greentune-bench-cache";
}

void stats_run(benchmark::State& state, bool cold) {
  const auto spec = imdb_spec();
  const auto& tokenizer = bert_uncased();
  const greentune::data::CacheOptions cache{bench_cache_dir(), 0};
  size_t examples = 0;
  for (auto _ : state) {
    if (cold) {
      state.PauseTiming();
      fs::remove_all(cache.cache_dir);
      state.ResumeTiming();
    }
    greentune::data::CacheReport report;
    const auto dataset = greentune::data::TokenizedDataset::open_or_build(spec, tokenizer, cache, &report);
    if (report.built != cold)
      state.SkipWithError("cache state is not the one this benchmark measures");
    const auto stats = greentune::data::token_stats(dataset, spec, {});
    benchmark::DoNotOptimize(stats);
    examples = 0;
    for (const auto& split : dataset.splits())
      examples += split.size();
  }
  state.counters["examples"] = static_cast<double>(examples);
}

void BM_DataStatsImdbFirstRun(benchmark::State& state) {
  stats_run(state, /*cold=*/true);
}
void BM_DataStatsImdbCachedRun(benchmark::State& state) {
  stats_run(state, /*cold=*/false);
}

BENCHMARK(BM_DataStatsImdbFirstRun)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
BENCHMARK(BM_DataStatsImdbCachedRun)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);

}  // namespace

BENCHMARK_MAIN();
