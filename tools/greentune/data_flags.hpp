#pragma once
// The dataset flags every command that reads a labelled dataset shares: --data and how to read it, the
// validation split, and the tokenized cache. The command registers --threads itself (it may also run a
// model on them).

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "greentune/data/dataset.hpp"
#include "greentune/data/split.hpp"

namespace greentune::cli {

struct DataFlags {
  std::string data;
  std::string format = "auto";
  std::string text_column = "text";
  std::string label_column = "label";
  std::vector<std::string> labels;
  double validation_fraction = 0.1;
  uint64_t seed = 42;
  std::string cache_dir;
  unsigned threads = 0;  // tokenizer threads when building the cache (0: all cores); the command's --threads

  // The spec to read; "imdb" resolves to the cached download (fetched when missing).
  data::DataSpec spec() const;
  data::SplitOptions split() const { return {validation_fraction, seed}; }
};

void add_data_flags(CLI::App& command, DataFlags& flags);

}  // namespace greentune::cli
