#pragma once
// The tokenizer flags every command that reads text shares: --vocab FILE | --model DIR, and --cased.

#include <CLI/CLI.hpp>
#include <string>

#include "greentune/text/tokenizer.hpp"

namespace greentune::cli {

struct TokenizerFlags {
  std::string vocab;
  std::string model;
  bool cased = false;

  bool given() const { return !vocab.empty() || !model.empty(); }
  text::WordPieceTokenizer load() const;
};

// vocab_help says what the vocabulary is used for in this command.
void add_tokenizer_flags(CLI::App& command, TokenizerFlags& flags, const std::string& vocab_help);

}  // namespace greentune::cli
