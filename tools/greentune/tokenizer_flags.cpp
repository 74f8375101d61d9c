#include "tokenizer_flags.hpp"

namespace greentune::cli {

text::WordPieceTokenizer TokenizerFlags::load() const {
  if (!model.empty()) {
    return text::WordPieceTokenizer::from_model_dir(model, cased);
  }
  return text::WordPieceTokenizer::from_vocab_file(
      vocab, cased ? text::TokenizerOptions::cased() : text::TokenizerOptions::uncased());
}

void add_tokenizer_flags(CLI::App& command, TokenizerFlags& flags, const std::string& vocab_help) {
  auto* vocab = command.add_option("--vocab", flags.vocab, vocab_help)->check(CLI::ExistingFile);
  auto* model =
      command
          .add_option("--model", flags.model, "Model directory with vocab.txt (and tokenizer_config.json)")
          ->check(CLI::ExistingDirectory);
  vocab->excludes(model);
  command.add_flag("--cased", flags.cased, "Keep case and accents (cased models)");
}

}  // namespace greentune::cli
