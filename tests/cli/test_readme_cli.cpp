// Every command line of the README runs as written, on small data: each line of a ```sh block that runs
// greentune ($B) is run by bash in a fresh directory holding small stand-ins for the files the README names
// (vocab.txt, path/to/model, reviews.csv, aclImdb_v1.tar.gz, ...), with "imdb" downloaded from a local
// server, hub ids found in a local Hugging Face cache, Electricity Maps answered by a local server, and
// `...` (the README's "the rest of your options") filled with a small model and data. A line that cannot
// run here says so in kExpectedRefusals below, with the error it must give instead.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "../model/model_test_support.hpp"
#include "http_server.hpp"
#include "test_support.hpp"

namespace greentune::testing {
namespace {

namespace fs = std::filesystem;

struct ReadmeLine {
  int number = 0;  // in README.md, 1-based
  std::string command;
};

// The lines of ```sh blocks that run greentune: they start with $B (or pipe into it), continuation lines
// joined.
std::vector<ReadmeLine> greentune_lines(const fs::path& readme) {
  std::vector<ReadmeLine> lines;
  std::istringstream text(read_text(readme));
  std::string line, pending;
  int number = 0, pending_number = 0;
  bool in_sh = false;
  while (std::getline(text, line)) {
    ++number;
    if (line.starts_with("```")) {
      in_sh = line == "```sh";
      continue;
    }
    if (!in_sh)
      continue;
    if (!pending.empty()) {
      pending += "\n" + line;
    } else if (line.starts_with("$B ") ||
               (line.starts_with("echo ") && line.find("| $B ") != std::string::npos)) {
      pending = line;
      pending_number = number;
    }
    if (!pending.empty() && !line.ends_with("\\")) {
      lines.push_back({pending_number, pending});
      pending.clear();
    }
  }
  return lines;
}

// What `...` stands for: a small run of the stand-in model, less the flags the line gives itself.
std::string fill_in_ellipsis(const std::string& command) {
  if (command.find(" ... ") == std::string::npos && !command.ends_with(" ..."))
    return command;
  const bool study = command.starts_with("$B study ");
  const std::vector<std::pair<std::string, std::string>> train_flags = {
      {"--model", "path/to/model"}, {"--data", "reviews.jsonl"}, {"--max-length", "32"},
      {"--batch-size", "8"},        {"--epochs", "1"},           {"--threads", "1"}};
  std::string filled;
  if (study) {
    filled = "--set data=imdb --set vocab=vocab.txt";
  } else {
    for (const auto& [flag, value] : train_flags) {
      if (command.find(flag + " ") == std::string::npos)
        filled += (filled.empty() ? "" : " ") + flag + " " + value;
    }
  }
  const size_t at = command.find("...");
  return command.substr(0, at) + filled + command.substr(at + 3);
}

// README lines that cannot run on a CPU-only machine, and the error each gives here instead.
struct ExpectedRefusal {
  std::string starts_with;
  int exit_code;
  std::string says;
};
const std::vector<ExpectedRefusal> kExpectedRefusals = {
    // The full grid has fp16 variants: GPUs only, and refused before any run.
    {"$B study configs/proposal.toml", 2, "fp16 needs a CUDA GPU"},
    // ... so that in a fresh directory there is no proposal study to report on.
    {"$B report studies/proposal", 3, "no study results here"},
};

void write_imdb_tarball(const fs::path& dir, const fs::path& tarball) {
  for (const char* split : {"train", "test"}) {
    for (const char* label : {"pos", "neg"}) {
      const fs::path folder = dir / "aclImdb" / split / label;
      fs::create_directories(folder);
      for (int i = 0; i < 12; ++i) {
        write_text(
            folder / (std::to_string(i) + "_" + (std::string(label) == "pos" ? "9" : "2") + ".txt"),
            std::string(label) == "pos" ? "A wonderful, moving film. Great acting." : "A dull, bad movie.");
      }
    }
  }
  const std::string command = "tar -czf '" + tarball.string() + "' -C '" + dir.string() + "' aclImdb";
  ASSERT_EQ(std::system(command.c_str()), 0);
}

// The Hugging Face cache layout of a snapshot holding model_dir's files, for hub id.
void cache_hub_model(const fs::path& hub, const std::string& id, const fs::path& model_dir) {
  const std::string commit = "0123456789abcdef0123456789abcdef01234567";
  const fs::path repo = hub / ("models--" + std::regex_replace(id, std::regex("/"), "--"));
  fs::create_directories(repo / "refs");
  write_text(repo / "refs/main", commit);
  fs::create_directories(repo / "snapshots" / commit);
  for (const auto& file : fs::directory_iterator(model_dir))
    fs::copy_file(file.path(), repo / "snapshots" / commit / file.path().filename());
}

TEST(Readme, EveryGreentuneCommandLineRunsAsWrittenOnSmallData) {
  GREENTUNE_REQUIRE_SHARED(shared);
  const fs::path root = fs::path(GREENTUNE_TEST_DATA_DIR).parent_path().parent_path();
  TempDir dir;
  const fs::path base = dir / "fixtures";
  fs::create_directories(base);
  fs::create_symlink(root / "configs", base / "configs");
  fs::create_symlink(root / "bench", base / "bench");
  // As in a checkout: build/greentune is the program ($B, and what bench/python/finetune.py runs).
  fs::create_symlink(fs::path(GREENTUNE_CLI_PATH).parent_path(), base / "build");
  fs::copy_file(shared / "data/vocab/bert-base-uncased-vocab.txt", base / "vocab.txt");
  std::string reviews, csv = "text,label,review,sentiment\n", texts;
  for (int i = 0; i < 40; ++i) {
    const std::string text = i % 2 ? "the movie was great and moving" : "a bad and boring movie";
    reviews += nlohmann::json{{"text", text}, {"label", i % 2}}.dump() + "\n";
    csv += text + "," + (i % 2 ? "pos" : "neg") + "," + text + "," + (i % 2 ? "pos" : "neg") + "\n";
  }
  for (const char* name : {"reviews.jsonl", "train.jsonl", "dev.jsonl", "test.jsonl"})
    write_text(base / name, reviews);
  write_text(base / "reviews.csv", csv);
  write_text(base / "texts.jsonl", "{\"text\": \"A wonderful film.\"}\n{\"text\": \"Two hours lost.\"}\n");
  write_text(base / "train.py", "import sys\nprint('training', sys.argv[1:])\n");
  write_text(base / "my_job", "#!/bin/sh\necho my job\n");
  fs::permissions(base / "my_job", fs::perms::owner_all);
  write_imdb_tarball(dir / "imdb-source", base / "aclImdb_v1.tar.gz");
  fs::copy_file(base / "aclImdb_v1.tar.gz", base / "aclImdb_v1_labeled.tar.gz");

  // The stand-in of every model the README names: the demo model (random init, 512 positions) after one
  // update, saved as a Hugging Face model directory.
  const CommandResult standin =
      run_cli("-q train --model '" + (root / "configs/demo-model").string() + "' --vocab '" +
              (base / "vocab.txt").string() + "' --data '" + (base / "reviews.jsonl").string() +
              "' --max-length 32 --batch-size 8 --max-steps 1 --threads 1 --output '" +
              (dir / "standin").string() + "'");
  ASSERT_EQ(standin.exit_code, 0) << standin.err;
  for (const char* path : {"path/to/model", "path/to/hf-model-dir"}) {
    fs::create_directories(base / path);
    fs::copy(dir / "standin/model", base / path, fs::copy_options::recursive);
  }
  for (const char* id : {"distilbert-base-uncased", "distilbert-base-uncased-finetuned-sst-2-english"})
    cache_hub_model(dir / "hub", id, dir / "standin/model");

  HttpServerOptions imdb_options;
  imdb_options.body = read_text(base / "aclImdb_v1.tar.gz");
  imdb_options.lifetime = std::chrono::seconds(3600);
  HttpServer imdb(imdb_options);
  HttpServerOptions maps_options;
  maps_options.lifetime = std::chrono::seconds(3600);
  for (const char* zone : {"FR", "DE", "US-CAL-CISO"}) {
    maps_options.routes[std::string("/v3/carbon-intensity/latest?zone=") + zone] =
        HttpRoute{200, {}, nlohmann::json{{"zone", zone}, {"carbonIntensity", 100}}.dump()};
  }
  HttpServer maps(maps_options);
  // The README's python3 is one that imports torch (bench/python/finetune.py needs it): the one on PATH,
  // else Debian's python3-torch's, put first on PATH.
  fs::create_directories(dir / "bin");
  for (const char* python : {"python3", "/usr/bin/python3"}) {
    if (std::system((std::string(python) + " -c 'import torch' > /dev/null 2>&1").c_str()) == 0) {
      const std::string link =
          "ln -s \"$(command -v " + std::string(python) + ")\" '" + (dir / "bin/python3").string() + "'";
      ASSERT_EQ(std::system(link.c_str()), 0);
      break;
    }
  }
  const bool has_torch_python = fs::exists(dir / "bin/python3");
  const std::string environment =
      "PATH='" + (dir / "bin").string() + "':\"$PATH\" B=build/greentune" + " HF_HUB_CACHE='" +
      (dir / "hub").string() + "' HF_HUB_OFFLINE=1" +
      " GREENTUNE_IMDB_URL=" + imdb.url("/aclImdb_v1.tar.gz") +
      " GREENTUNE_IMDB_SIZE=" + std::to_string(imdb_options.body.size()) +
      " GREENTUNE_IMDB_SHA256=" + sha256sum(base / "aclImdb_v1.tar.gz") + " GREENTUNE_CODECARBON_DATA='" +
      (shared / "data/energy-reference/codecarbon").string() + "' ELECTRICITYMAPS_API_TOKEN=t" +
      " GREENTUNE_ELECTRICITYMAPS_URL=" + maps.url("/v3") + " ";

  const std::vector<ReadmeLine> lines = greentune_lines(root / "README.md");
  ASSERT_GT(lines.size(), 30u) << "the README's command lines were not found";
  for (const ReadmeLine& line : lines) {
    SCOPED_TRACE("README.md:" + std::to_string(line.number) + ": " + line.command);
    if (line.command.find("demo-external.toml") != std::string::npos && !has_torch_python) {
      std::cerr << "README.md:" << line.number << " not run: no python3 imports torch (scripts/setup.sh "
                << "installs Debian's python3-torch)\n";
      continue;
    }
    // A directory of its own: each line runs as a user would run it alone.
    const fs::path here = dir / ("line-" + std::to_string(line.number));
    fs::create_directories(here);
    for (const auto& fixture : fs::directory_iterator(base))
      fs::create_symlink(fixture.path(), here / fixture.path().filename());
    const std::string command = fill_in_ellipsis(line.command);
    write_text(here / "command.sh", "set -o pipefail\n" + command + "\n");
    const std::string shell = "cd '" + here.string() + "' && " + environment + "GREENTUNE_DATA_DIR='" +
                              (here / "data").string() + "' XDG_CACHE_HOME='" + (here / "xdg").string() +
                              "' timeout 600 bash command.sh > output.log 2>&1";
    const int status = std::system(shell.c_str());
    const int exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    const std::string output = read_text(here / "output.log");
    const auto refusal =
        std::find_if(kExpectedRefusals.begin(), kExpectedRefusals.end(),
                     [&](const auto& expected) { return command.starts_with(expected.starts_with); });
    if (refusal != kExpectedRefusals.end()) {
      EXPECT_EQ(exit_code, refusal->exit_code) << output;
      EXPECT_THAT(output, ::testing::HasSubstr(refusal->says));
    } else {
      EXPECT_EQ(exit_code, 0) << command << "\n" << output;
    }
  }
}

}  // namespace
}  // namespace greentune::testing
