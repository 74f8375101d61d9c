// `greentune tokenize`: JSON lines with "text" in, {"ids": [...]} lines out, identical to Hugging Face.
#include <fmt/core.h>

#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>
#include <thread>

#include "commands.hpp"
#include "greentune/core/error.hpp"
#include "greentune/core/files.hpp"
#include "greentune/core/log.hpp"
#include "greentune/text/jsonl_tokenize.hpp"

namespace greentune::cli {

namespace {

struct TokenizeFlags {
  std::string vocab;
  std::string model;
  bool cased = false;
  size_t max_length = 512;
  std::string input;
  std::string output;
  unsigned threads = 1;
  bool show_tokens = false;
};

void run_tokenize(const TokenizeFlags& flags) {
  const text::WordPieceTokenizer tokenizer =
      flags.model.empty() ? text::WordPieceTokenizer::from_vocab_file(
                                flags.vocab, flags.cased ? text::TokenizerOptions::cased()
                                                         : text::TokenizerOptions::uncased())
                          : text::WordPieceTokenizer::from_model_dir(flags.model, flags.cased);

  std::string input;
  if (flags.input.empty() || flags.input == "-") {
    input.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    input = read_file(flags.input);
  }

  text::JsonlTokenizeOptions options;
  options.max_length = flags.max_length;
  options.threads = flags.threads;
  options.show_tokens = flags.show_tokens;
  options.input_name = flags.input.empty() ? "<stdin>" : flags.input;
  std::string output;
  const text::JsonlTokenizeReport report = text::tokenize_jsonl(tokenizer, input, output, options);

  if (flags.output.empty() || flags.output == "-") {
    std::cout.write(output.data(), static_cast<std::streamsize>(output.size()));
    std::cout.flush();
  } else {
    write_file_atomically(flags.output, output);
  }
  if (report.invalid_utf8_sequences > 0) {
    log::warn(fmt::format("{} invalid UTF-8 sequences in {} were replaced by U+FFFD and dropped",
                          report.invalid_utf8_sequences, options.input_name));
  }
  log::info(fmt::format("tokenized {} lines", report.lines));
}

}  // namespace

void add_tokenize_command(CLI::App& app) {
  auto flags = std::make_shared<TokenizeFlags>();
  CLI::App* command = app.add_subcommand(
      "tokenize", "Tokenize JSON lines ({\"text\": ...}) with BERT WordPiece, exactly as Hugging Face does");
  auto* vocab = command->add_option("--vocab", flags->vocab, "WordPiece vocab.txt")->check(CLI::ExistingFile);
  auto* model =
      command
          ->add_option("--model", flags->model, "Model directory with vocab.txt (and tokenizer_config.json)")
          ->check(CLI::ExistingDirectory);
  vocab->excludes(model);
  command->add_flag("--cased", flags->cased, "Keep case and accents (cased models)");
  command->add_option("--max-length", flags->max_length, "Maximum tokens per text, [CLS] and [SEP] included")
      ->check(CLI::Range(size_t{2}, size_t{1} << 20))
      ->capture_default_str();
  command->add_option("--input", flags->input, "JSON lines file (default: stdin)");
  command->add_option("--output", flags->output, "Output file, written atomically (default: stdout)");
  command->add_option("--threads", flags->threads, "Worker threads")
      ->check(CLI::Range(1u, 1024u))
      ->capture_default_str();
  command->add_flag("--show-tokens", flags->show_tokens, "Also write the pieces as \"tokens\"");
  command->callback([flags, vocab, model] {
    if (vocab->count() == 0 && model->count() == 0) {
      throw Error(ErrorCode::usage, "tokenize", "no vocabulary given",
                  "pass --vocab vocab.txt or --model DIR (a Hugging Face model directory)");
    }
    run_tokenize(*flags);
  });
}

}  // namespace greentune::cli
