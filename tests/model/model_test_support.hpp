#pragma once
// The tiny Hugging Face reference models as complete model directories for the model tests.

#include <filesystem>
#include <string>

#include "test_support.hpp"

namespace greentune::testing {

// Copies tests/data_files/model/<name> (config.json, model.safetensors) into dir and adds a vocab.txt of
// the fixture's 1000 tokens: the five specials, then "the", "movie", "was", "great", "bad", then fillers.
inline void write_tiny_model_dir(const std::filesystem::path& dir, const std::string& name) {
  std::filesystem::create_directories(dir);
  for (const char* file : {"config.json", "model.safetensors"}) {
    std::filesystem::copy_file(test_data_dir() / "model" / name / file, dir / file,
                               std::filesystem::copy_options::overwrite_existing);
  }
  std::string vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\nmovie\nwas\ngreat\nbad\n";
  for (int filler = 10; filler < 1000; ++filler) {
    vocab += 'w';
    vocab += std::to_string(filler);
    vocab += '\n';
  }
  write_text(dir / "vocab.txt", vocab);
}

}  // namespace greentune::testing
