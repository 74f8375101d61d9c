// Golden losses of `greentune train`: every training row's loss, grad_norm and lr and every evaluation's
// eval_loss, accuracy and f1 that metrics.jsonl logs for a few updates of fixed runs, compared with the
// figures committed in tests/cli/golden/. They pin the trainer's numerics as they were when the goldens were
// made, so that a restructuring of the training loop that changes any figure (an extra random draw, a
// different order of micro-batches, a loss divided at another point, ...) fails here.
//
// Each run is fp32 with --threads 1 (one thread: a fixed reduction order), dropout as the model has it,
// --log-every 1 and a few updates; every case exercises other code of the loop:
//   demo model (configs/demo-model, random weights drawn from the seed, the real bert-base-uncased vocab):
//     AdamW with linear warmup and weight decay, length bucketing; two micro-batches per update over an
//     epoch boundary; gradient checkpointing with a cosine schedule; SGD with Nesterov momentum and a
//     constant schedule; Adam with label smoothing, no clipping and the end-of-epoch evaluation;
//   the Hugging Face reference fixtures (distilbert_tiny, bert_tiny) as --model, with --eval-data.
//
// Regenerate the goldens (only when a change of the numbers is intended, and say so in the commit):
//   GREENTUNE_UPDATE_GOLDEN=1 ./build/tests/test_cli --gtest_filter='LossGolden*'
#include <gtest/gtest.h>
#include <torch/version.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace greentune::testing {
namespace {

namespace fs = std::filesystem;

// Where the goldens live: tests/cli/golden, beside tests/data_files.
fs::path golden_dir() {
  return test_data_dir().parent_path() / "cli" / "golden";
}

bool updating_goldens() {
  const char* value = std::getenv("GREENTUNE_UPDATE_GOLDEN");
  return value != nullptr && std::string(value) == "1";
}

// What decides the bits of a float computation besides the code: the CPU (its model name, family and model
// numbers, which OpenBLAS picks its kernels by, and the vector extensions LibTorch's kernels pick their code
// paths by) and the LibTorch the CLI is built with (the test is built with the same one). A virtual
// machine's model name can be as vague as "AMD EPYC" for several generations, hence the numbers.
//
// Bit-identity is demanded only on the machine the goldens were made on. Another CPU (one with or without
// AVX-512, say) makes OpenBLAS and LibTorch choose other kernels that sum in another order, so its losses
// differ in the last bits from the first update on, however correct the code; there the figures are
// compared within a relative 1e-4 instead (a check that the runs still compute the same thing), and the
// test says so in a message, not a failure. A refactoring whose figures must stay bit-identical is checked
// on the recorded CPU (or its goldens regenerated on the refactoring machine from the code before it).
struct Machine {
  std::string cpu;                // "model name" of /proc/cpuinfo
  std::string cpu_family_model;   // its "cpu family" and "model": "25/17"
  std::vector<std::string> simd;  // the vector extensions of its "flags" that select kernels
  std::string libtorch;           // TORCH_VERSION

  nlohmann::json to_json() const {
    return {{"cpu", cpu}, {"cpu_family_model", cpu_family_model}, {"cpu_simd", simd}, {"libtorch", libtorch}};
  }
  bool operator==(const Machine&) const = default;
};

Machine this_machine() {
  Machine machine;
  machine.libtorch = TORCH_VERSION;
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string flags, family, model;
  for (std::string line; std::getline(cpuinfo, line);) {
    const auto colon = line.find(':');
    if (colon == std::string::npos)
      continue;
    std::string key = line.substr(0, colon);
    key.erase(key.find_last_not_of(" \t") + 1);
    std::string value = colon + 1 < line.size() ? line.substr(colon + 1) : "";
    value.erase(0, value.find_first_not_of(' '));
    if (key == "model name" && machine.cpu.empty())
      machine.cpu = value;
    if (key == "cpu family" && family.empty())
      family = value;
    if (key == "model" && model.empty())
      model = value;
    if (key == "flags" && flags.empty()) {
      flags = ' ';  // not " " + value + " ": g++ 12 warns of a false -Wrestrict overlap there
      flags += value;
      flags += ' ';
    }
  }
  for (const char* extension : {"sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512dq", "avx512bw",
                                "avx512vl", "avx512_vnni", "avx512_bf16", "amx_tile"}) {
    std::string word(1, ' ');
    word += extension;
    word += ' ';
    if (flags.find(word) != std::string::npos)
      machine.simd.emplace_back(extension);
  }
  machine.cpu_family_model = family + "/" + model;
  return machine;
}

Machine machine_of(const nlohmann::json& golden) {
  Machine machine;
  machine.cpu = golden.value("cpu", "");
  machine.cpu_family_model = golden.value("cpu_family_model", "");
  machine.simd = golden.value("cpu_simd", std::vector<std::string>{});
  machine.libtorch = golden.value("libtorch", "");
  return machine;
}

// One run: the model (the demo model or a fixture) and the flags that make it what it is.
struct GoldenCase {
  std::string name;   // the golden file is golden/loss_<name>.json
  std::string model;  // "demo" or the name of a fixture in shared/fixtures
  std::string flags;
};

void PrintTo(const GoldenCase& golden_case, std::ostream* out) {
  *out << golden_case.name;
}

// Every run: fp32, one thread, a row per update, small batches of at most 32 tokens padded to a multiple
// of 8 (so that bucketing makes batches of different lengths), a seed of its own.
const std::string kCommonFlags =
    "--precision fp32 --threads 1 --log-every 1 --seed 7 --max-length 32 --pad-to-multiple 8 --batch-size 8";

// Generated reviews in plain English words of the bert-base-uncased vocab: 48 reviews of 3 to 19 words
// (some longer than 32 tokens, so truncated), label 1 with a positive word, 0 with a negative one.
void write_demo_reviews(const fs::path& path) {
  const std::vector<std::string> fillers = {"the",  "movie", "was",    "plot",   "actors", "and",    "a",
                                            "film", "story", "really", "quite",  "very",   "ending", "music",
                                            "of",   "this",  "with",   "scenes", "is",     "cast"};
  const std::vector<std::string> positive = {"great", "wonderful", "superb", "moving", "brilliant"};
  const std::vector<std::string> negative = {"bad", "boring", "awful", "dull", "terrible"};
  std::string lines;
  for (size_t i = 0; i < 48; ++i) {
    const size_t words = 3 + (i * 7) % 17;
    const int label = static_cast<int>(i % 2);
    std::string text;
    for (size_t j = 0; j < words; ++j) {
      if (j == (i * 3) % words)
        text += (label == 1 ? positive : negative)[(i + j) % 5];
      else
        text += fillers[(i * 5 + j * 3) % fillers.size()];
      text += j + 1 < words ? " " : "";
    }
    lines += nlohmann::json{{"text", text}, {"label", label}}.dump() + "\n";
  }
  write_text(path, lines);
}

// The fixtures' 1000 tokens: the five specials, "the movie was great bad", then fillers w10..w999.
void write_fixture_vocab(const fs::path& path) {
  std::string vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\nmovie\nwas\ngreat\nbad\n";
  for (int filler = 10; filler < 1000; ++filler) {
    vocab += 'w';
    vocab += std::to_string(filler);
    vocab += '\n';
  }
  write_text(path, vocab);
}

// count reviews in the fixture vocab: "the movie was great w<n>" (1) and "bad movie w<n>" (0).
void write_fixture_reviews(const fs::path& path, int first, int count) {
  std::string reviews;
  for (int i = first; i < first + count; ++i) {
    reviews += i % 2 ? "{\"text\": \"the movie was great w" + std::to_string(100 + i) + "\", \"label\": 1}\n"
                     : "{\"text\": \"bad movie w" + std::to_string(100 + i) + "\", \"label\": 0}\n";
  }
  write_text(path, reviews);
}

// The figures of a run's metrics.jsonl that the goldens pin, row by row in file order; the timing and
// energy fields (different in every run) left out.
nlohmann::json pinned_rows(const fs::path& metrics) {
  nlohmann::json rows = nlohmann::json::array();
  for (const nlohmann::json& row : read_json_lines(metrics)) {
    nlohmann::json pinned;
    if (row.contains("loss")) {
      pinned["kind"] = "train";
      for (const char* key : {"step", "epoch", "loss", "grad_norm", "lr"})
        pinned[key] = row.at(key);
    } else if (row.contains("eval_loss")) {
      pinned["kind"] = "eval";
      for (const char* key : {"step", "epoch", "eval_loss", "accuracy", "f1"})
        pinned[key] = row.at(key);
    } else {
      continue;
    }
    rows.push_back(pinned);
  }
  return rows;
}

std::string full_precision(const nlohmann::json& value) {
  if (value.is_number_float()) {
    char text[64];
    std::snprintf(text, sizeof text, "%.17g", value.get<double>());
    return text;
  }
  return value.dump();
}

// The first difference between the golden rows and a run's, told readably; nullopt when they agree. Exact
// (==, every bit of every double) when exact, else numbers within a relative 1e-4 (integers exactly).
std::optional<std::string> first_difference(const nlohmann::json& golden, const nlohmann::json& actual,
                                            bool exact) {
  const size_t rows = std::min(golden.size(), actual.size());
  for (size_t i = 0; i < rows; ++i) {
    const nlohmann::json& expected_row = golden[i];
    const nlohmann::json& actual_row = actual[i];
    const std::string where = "row " + std::to_string(i) + " (" + expected_row.value("kind", "?") +
                              " row at step " + expected_row.value("step", nlohmann::json()).dump() + ")";
    for (const auto& [key, expected] : expected_row.items()) {
      if (!actual_row.contains(key))
        return where + ": the run's row has no \"" + key + "\": " + actual_row.dump();
      const nlohmann::json& value = actual_row.at(key);
      bool same = false;
      if (expected.is_number_float() || value.is_number_float()) {
        if (expected.is_number() && value.is_number()) {
          const double a = expected.get<double>(), b = value.get<double>();
          same = exact ? a == b : std::abs(a - b) <= 1e-4 * std::max(std::abs(a), std::abs(b));
        }
      } else {
        same = expected == value;
      }
      if (!same) {
        return where + ": " + key + " differs\n    golden:   " + full_precision(expected) +
               "\n    this run: " + full_precision(value) +
               (exact ? "\n    (bit-identity is required: this machine is the one the golden was made on)"
                      : "\n    (beyond the relative 1e-4 allowed on a machine other than the golden's)");
      }
    }
  }
  if (golden.size() != actual.size()) {
    return "the golden has " + std::to_string(golden.size()) + " rows, the run " +
           std::to_string(actual.size()) +
           (actual.size() > golden.size() ? "; the first extra one: " + actual[golden.size()].dump()
                                          : "; the first missing one: " + golden[actual.size()].dump());
  }
  return std::nullopt;
}

class LossGoldenCli : public ::testing::TestWithParam<GoldenCase> {};

TEST_P(LossGoldenCli, MetricsAreTheGoldenOnes) {
  const GoldenCase& golden_case = GetParam();
  GREENTUNE_REQUIRE_SHARED(shared);
  TempDir dir;
  std::string model_flags;
  if (golden_case.model == "demo") {
    const fs::path vocab = shared / "data/vocab/bert-base-uncased-vocab.txt";
    if (!fs::exists(vocab))
      GTEST_SKIP() << vocab << " not found: the demo model's runs need the real bert-base-uncased vocab";
    // configs/demo-model holds only config.json: load_pretrained draws its weights from the seed.
    const fs::path demo_model = test_data_dir().parent_path().parent_path() / "configs/demo-model";
    write_demo_reviews(dir / "reviews.jsonl");
    model_flags = " --model '" + demo_model.string() + "' --vocab '" + vocab.string() + "' --data '" +
                  (dir / "reviews.jsonl").string() + "'";  // a 10% share of it held out for evaluation
  } else {
    const fs::path fixture = shared / "fixtures" / golden_case.model;
    if (!fs::exists(fixture / "model.safetensors") || !fs::exists(fixture / "config.json"))
      GTEST_SKIP() << fixture << " not found: the reference fixtures are part of ../shared (fixtures/)";
    write_fixture_vocab(dir / "vocab.txt");
    write_fixture_reviews(dir / "reviews.jsonl", 0, 48);
    write_fixture_reviews(dir / "eval.jsonl", 48, 12);
    model_flags = " --model '" + fixture.string() + "' --vocab '" + (dir / "vocab.txt").string() +
                  "' --data '" + (dir / "reviews.jsonl").string() + "' --eval-data '" +
                  (dir / "eval.jsonl").string() + "'";
  }
  const fs::path run = dir / "run";
  const std::string flags = kCommonFlags + " " + golden_case.flags;
  const CommandResult result =
      run_cli("-q train" + model_flags + " --cache-dir '" + (dir / "cache").string() + "' --output '" +
              run.string() + "' " + flags);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const nlohmann::json rows = pinned_rows(run / "metrics.jsonl");
  ASSERT_FALSE(rows.empty()) << "no training or evaluation rows in " << run / "metrics.jsonl";

  const fs::path golden_path = golden_dir() / ("loss_" + golden_case.name + ".json");
  const Machine machine = this_machine();
  if (updating_goldens()) {
    nlohmann::json golden = machine.to_json();
    golden["case"] = golden_case.name;
    golden["model"] = golden_case.model;
    golden["flags"] = flags;
    golden["rows"] = rows;
    fs::create_directories(golden_dir());
    write_text(golden_path, golden.dump(2) + "\n");
    std::cout << "[  GOLDEN  ] wrote " << golden_path.string() << " (" << rows.size() << " rows)\n";
    return;
  }

  ASSERT_TRUE(fs::exists(golden_path))
      << golden_path << " is missing: make it with GREENTUNE_UPDATE_GOLDEN=1";
  const nlohmann::json golden = nlohmann::json::parse(read_text(golden_path));
  ASSERT_EQ(golden.at("flags").get<std::string>(), flags)
      << "the case's flags changed since " << golden_path.filename()
      << " was made: regenerate it (GREENTUNE_UPDATE_GOLDEN=1) from the code before the change";
  const Machine recorded = machine_of(golden);
  const bool exact = recorded == machine;
  if (!exact) {
    std::cout << "[   NOTE   ] " << golden_case.name
              << ": compared within a relative 1e-4 only; bit-identity "
              << "is checked only on the machine the golden was made on, " << recorded.to_json().dump()
              << ", and this is " << machine.to_json().dump() << "\n";
  }
  if (const auto difference = first_difference(golden.at("rows"), rows, exact)) {
    ADD_FAILURE() << golden_case.name << ": metrics.jsonl differs from " << golden_path.string() << "\n  "
                  << *difference;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Runs, LossGoldenCli,
    ::testing::Values(
        GoldenCase{"demo_adamw_linear_warmup_bucketed", "demo",
                   "--optimizer adamw --lr 1e-3 --schedule linear --warmup-steps 2 --weight-decay 0.01 "
                   "--bucketing length --max-steps 6 --eval-every 3"},
        GoldenCase{
            "demo_grad_accum_2", "demo",
            "--optimizer adamw --lr 1e-3 --grad-accum 2 --bucketing none --max-steps 4 --eval-every 2"},
        GoldenCase{"demo_grad_checkpointing", "demo",
                   "--optimizer adamw --lr 1e-3 --grad-checkpointing --schedule cosine --warmup-ratio 0.25 "
                   "--max-steps 4 --eval-every 2"},
        GoldenCase{"demo_sgd_nesterov", "demo",
                   "--optimizer sgd --lr 0.05 --momentum 0.9 --nesterov --schedule constant --max-steps 4 "
                   "--eval-every 2"},
        GoldenCase{"demo_label_smoothing_no_clipping", "demo",
                   "--optimizer adam --lr 1e-3 --label-smoothing 0.1 --max-grad-norm 0 --epochs 1"},
        GoldenCase{"distilbert_tiny", "distilbert_tiny",
                   "--optimizer adamw --lr 2e-3 --warmup-steps 1 --max-steps 5 --eval-every 2"},
        GoldenCase{"bert_tiny", "bert_tiny",
                   "--optimizer adamw --lr 2e-3 --warmup-steps 1 --max-steps 5 --eval-every 2"}),
    [](const ::testing::TestParamInfo<GoldenCase>& info) { return info.param.name; });

}  // namespace
}  // namespace greentune::testing
