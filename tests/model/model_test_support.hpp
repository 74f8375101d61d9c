#pragma once
// The tiny Hugging Face reference models as complete model directories for the model tests.

#include <filesystem>
#include <string>

#include "test_support.hpp"

namespace greentune::testing {

// Copies tests/data_files/model/<name> (config.json, model.safetensors) into dir and adds a vocab.txt of
// the fixture's 1000 tokens: the five specials, then "the", "movie", "was", "great", "bad", then fillers.
// count JSONL reviews a tiny model learns quickly: odd lines "the movie was great w<n>" (label 1), even
// lines "bad movie w<n>" (label 0), each with its own number word.
inline void write_numbered_reviews(const std::filesystem::path& path, int count) {
  std::string reviews;
  for (int i = 0; i < count; ++i) {
    reviews += i % 2 ? "{\"text\": \"the movie was great w" + std::to_string(100 + i) + "\", \"label\": 1}\n"
                     : "{\"text\": \"bad movie w" + std::to_string(100 + i) + "\", \"label\": 0}\n";
  }
  write_text(path, reviews);
}

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
