#pragma once
// The dataset flags every command that reads a labelled dataset shares: --data and how to read it
// (data::data_spec_options()), the validation split, and the tokenized cache. The command registers
// --threads itself (it may also run a model on them).

#include <CLI/CLI.hpp>
#include <string>

#include "greentune/data/dataset.hpp"
#include "greentune/data/split.hpp"

namespace greentune::cli {

struct DataFlags {
  data::DataSpec given;  // as the flags give it: the path may be "imdb"
  data::SplitOptions split;
  std::string cache_dir;
  unsigned threads = 0;  // tokenizer threads when building the cache (0: all cores); the command's --threads

  // The spec to read; "imdb" resolves to the cached download (fetched when missing).
  data::DataSpec spec() const;
};

void add_data_flags(CLI::App& command, DataFlags& flags);

}  // namespace greentune::cli
