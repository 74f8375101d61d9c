// One training epoch of `make demo`'s model (configs/demo-model: DistilBERT, 2 layers of width 128, random
// init) on 2,000 IMDB training reviews at 128 tokens, batch 16, in fp32 and bf16, with length-bucketed and
// with plain shuffled batches. Each configuration runs `greentune train` in its own process, so its peak
// RSS is its own, and reports what that run's result.json says. The benchmark time is train_seconds.
//
// Data-parallel scaling (BM_DemoEpochRanks/1 and /2): the same epoch in fp32 with an update of 32 examples,
// by one process (batch 16, grad_accum 2) and by two ranks on loopback (batch 16 each), the threads split
// between them; samples/s and the run's joules per sample, every rank's energy included.
//
// Threads: --threads=N after the benchmark flags; every core by default.
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "bench_support.hpp"
#include "greentune/core/files.hpp"
#include "greentune/core/random.hpp"
#include "greentune/data/dataset.hpp"
#include "greentune/train/run_result.hpp"

namespace {

namespace fs = std::filesystem;

constexpr size_t reviews_per_label = 1000;  // neg and pos: 2,000 reviews in all
constexpr uint64_t draw_seed = 42;

// reviews_per_label reviews of each label drawn with draw_seed from IMDB's train split, in a seeded order,
// written as {"text": ..., "label": "neg"|"pos"} lines.
void write_balanced_reviews(const fs::path& imdb_tarball, const fs::path& output) {
  greentune::data::DataSpec spec;
  spec.path = imdb_tarball;
  spec.format = greentune::data::Format::imdb;
  const greentune::data::RawDataset imdb = greentune::data::load_dataset(spec);
  const greentune::data::TextSplit& train = *imdb.find_split("train");
  std::vector<std::vector<size_t>> indices_by_label(imdb.label_names.size());
  for (size_t index = 0; index < train.size(); ++index)
    indices_by_label[train.labels[index]].push_back(index);
  std::mt19937_64 engine = greentune::random::seeded_engine(draw_seed, 0);
  std::vector<size_t> drawn;
  for (std::vector<size_t>& indices : indices_by_label) {
    greentune::random::fisher_yates_shuffle(indices, engine);
    indices.resize(std::min(indices.size(), reviews_per_label));
    drawn.insert(drawn.end(), indices.begin(), indices.end());
  }
  greentune::random::fisher_yates_shuffle(drawn, engine);  // labels mixed in file order too
  greentune::AtomicFile file(output);
  for (const size_t index : drawn) {
    const nlohmann::json line = {{"text", train.texts[index]},
                                 {"label", imdb.label_names[train.labels[index]]}};
    file.stream() << line.dump() << '\n';
  }
  file.commit();
}

// The last non-empty line of a log: greentune reports an error as one line on stderr.
std::string last_line(const fs::path& log) {
  std::ifstream stream(log);
  std::string line, last;
  while (std::getline(stream, line)) {
    if (!line.empty())
      last = line;
  }
  return last;
}

class DemoEpochBenchmarks {
 public:
  DemoEpochBenchmarks(fs::path scratch_dir, int threads)
      : scratch_dir_(std::move(scratch_dir)), threads_(threads) {}

  void run(benchmark::State& state, std::string_view precision, std::string_view bucketing) {
    const std::optional<std::vector<std::string>> train =
        train_command(state, fmt::format("run-{}-{}", precision, bucketing),
                      {"--batch-size=16", fmt::format("--precision={}", precision),
                       fmt::format("--bucketing={}", bucketing), fmt::format("--threads={}", threads_)});
    if (!train)
      return;
    const fs::path log = scratch_dir_ / fmt::format("run-{}-{}.log", precision, bucketing);
    run_and_record(state, *train, "> " + greentune::bench::shell_quoted(log) + " 2>&1", log,
                   fmt::format("run-{}-{}", precision, bucketing));
  }

  // ranks processes started as torchrun starts them, on 127.0.0.1, each with its share of the threads.
  void run_ranks(benchmark::State& state, int ranks) {
    const std::string name = fmt::format("ranks-{}", ranks);
    const int threads_per_rank = std::max(1, threads_ / ranks);
    const std::optional<std::vector<std::string>> train =
        train_command(state, name,
                      {"--batch-size=16", fmt::format("--grad-accum={}", 2 / ranks),
                       fmt::format("--threads={}", threads_per_rank)});
    if (!train)
      return;
    // One shell line: every rank in the background with its environment and log, then wait for each.
    const int port = 29500 + static_cast<int>(getpid() % 1000);
    std::string script;
    for (int rank = 0; rank < ranks; ++rank) {
      script += fmt::format("WORLD_SIZE={} RANK={} LOCAL_RANK={} MASTER_ADDR=127.0.0.1 MASTER_PORT={} ",
                            ranks, rank, rank, port);
      for (const std::string& argument : *train)
        script += greentune::bench::shell_quoted(argument) + " ";
      script += fmt::format("> {} 2>&1 & pid{}=$!\n",
                            greentune::bench::shell_quoted(rank_log(name, rank).string()), rank);
    }
    script += "status=0\n";
    for (int rank = 0; rank < ranks; ++rank)
      script += fmt::format("wait $pid{} || status=$?\n", rank);
    script += "exit $status\n";
    run_and_record(state, {"/bin/sh", "-c", script}, "", rank_log(name, 0), name);
    state.counters["ranks"] = ranks;
    state.counters["threads_per_rank"] = threads_per_rank;
  }

 private:
  fs::path rank_log(const std::string& name, int rank) const {
    return scratch_dir_ / fmt::format("{}-rank{}.log", name, rank);
  }

  // `greentune train` for one epoch of the demo model on the 2,000 reviews, into scratch/<name>, plus
  // extra flags; nullopt (the benchmark skipped with the reason) when an input is missing.
  std::optional<std::vector<std::string>> train_command(benchmark::State& state, const std::string& name,
                                                        const std::vector<std::string>& extra) {
    const fs::path vocab = greentune::bench::shared_path("data/vocab/bert-base-uncased-vocab.txt");
    const fs::path imdb_tarball = greentune::bench::shared_path("data/imdb/aclImdb_v1_labeled.tar.gz");
    for (const fs::path& input : {vocab, imdb_tarball}) {
      if (!fs::exists(input)) {
        state.SkipWithError(greentune::bench::missing_input_message(input).c_str());
        return std::nullopt;
      }
    }
    fs::path reviews;
    try {
      reviews = reviews_file(imdb_tarball);
    } catch (const std::exception& error) {
      state.SkipWithError(error.what());
      return std::nullopt;
    }
    // The reviews are tokenized once, by the first configuration and outside its train_seconds, into a
    // cache of this run's own rather than the user's.
    std::vector<std::string> train = {GREENTUNE_CLI_PATH,
                                      "train",
                                      "--model",
                                      GREENTUNE_DEMO_MODEL_DIR,
                                      "--vocab",
                                      vocab.string(),
                                      "--data",
                                      reviews.string(),
                                      "--epochs=1",
                                      "--max-length=128",
                                      "--validation-fraction=0.05",
                                      "--output",
                                      (scratch_dir_ / name).string(),
                                      "--log-every=1000",
                                      "--cache-dir",
                                      (scratch_dir_ / "cache").string()};
    train.insert(train.end(), extra.begin(), extra.end());
    return train;
  }

  void run_and_record(benchmark::State& state, const std::vector<std::string>& command,
                      const std::string& redirection, const fs::path& log, const std::string& name) {
    const fs::path run_dir = scratch_dir_ / name;
    for (auto _ : state) {
      if (const int status = greentune::bench::run_command(command, redirection); status != 0) {
        state.SkipWithError(
            fmt::format("greentune train exited with {}: {}", status, last_line(log)).c_str());
        break;
      }
      record_result(state, greentune::train::read_run_result(run_dir));
    }
    fs::remove_all(run_dir);  // its saved model and checkpoint: tens of MB per configuration
  }

  // The 2,000 reviews as JSON lines, written on the first call. Throws what load_dataset throws.
  const fs::path& reviews_file(const fs::path& imdb_tarball) {
    if (!reviews_file_) {
      const fs::path path = scratch_dir_ / "imdb-train-2000.jsonl";
      write_balanced_reviews(imdb_tarball, path);
      reviews_file_ = path;
    }
    return *reviews_file_;
  }

  void record_result(benchmark::State& state, const greentune::train::RunResult& result) const {
    state.SetIterationTime(result.train_seconds);
    state.counters["samples_per_s"] = result.train_samples_per_s;
    state.counters["tokens_per_s"] = result.train_tokens_per_s;
    state.counters["peak_tensor_mb"] = result.peak_tensor_memory_mb;
    state.counters["padding_fraction"] = result.padding_fraction;
    state.counters["peak_rss_mb"] = result.peak_memory_mb;
    state.counters["train_seconds"] = result.train_seconds;
    state.counters["threads"] = threads_;
    state.counters["joules_per_sample"] = result.joules_per_sample.value_or(0.0);
    state.counters["energy_kwh"] = result.energy_kwh;
  }

  fs::path scratch_dir_;
  int threads_;
  std::optional<fs::path> reviews_file_;
};

// --threads=N, removed from argv; hardware concurrency when absent. nullopt for a value that is not a
// positive integer.
std::optional<int> take_threads_flag(int& argc, char** argv) {
  constexpr std::string_view prefix = "--threads=";
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string_view argument = argv[i];
    if (!argument.starts_with(prefix)) {
      argv[kept++] = argv[i];
      continue;
    }
    const std::string_view value = argument.substr(prefix.size());
    const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), threads);
    if (error != std::errc() || end != value.data() + value.size() || threads <= 0)
      return std::nullopt;
  }
  argc = kept;
  return threads;
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  const std::optional<int> threads = take_threads_flag(argc, argv);
  if (!threads) {
    std::fprintf(stderr, "--threads must be a positive integer, e.g. --threads=2\n");
    return 2;
  }
  if (benchmark::ReportUnrecognizedArguments(argc, argv))
    return 2;

  const fs::path scratch_dir = fs::temp_directory_path() / fmt::format("greentune-bench-train-{}", getpid());
  fs::create_directories(scratch_dir);
  DemoEpochBenchmarks benchmarks(scratch_dir, *threads);
  for (const std::string_view precision : {"fp32", "bf16"}) {
    for (const std::string_view bucketing : {"length", "none"}) {
      benchmark::RegisterBenchmark(fmt::format("BM_DemoEpoch/{}/{}", precision, bucketing).c_str(),
                                   [&benchmarks, precision, bucketing](benchmark::State& state) {
                                     benchmarks.run(state, precision, bucketing);
                                   })
          ->Iterations(1)
          ->UseManualTime()
          ->Unit(benchmark::kSecond);
    }
  }
  for (const int ranks : {1, 2}) {
    benchmark::RegisterBenchmark(
        fmt::format("BM_DemoEpochRanks/{}", ranks).c_str(),
        [&benchmarks, ranks](benchmark::State& state) { benchmarks.run_ranks(state, ranks); })
        ->Iterations(1)
        ->UseManualTime()
        ->Unit(benchmark::kSecond);
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  fs::remove_all(scratch_dir);
  return 0;
}
