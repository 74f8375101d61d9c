// `greentune tokenize`: JSON lines with "text" in, {"ids": [...]} lines out, identical to Hugging Face.
#include <fmt/core.h>

#include <iostream>
#include <iterator>
#include <memory>

#include "commands.hpp"
#include "greentune/core/error.hpp"
#include "greentune/core/files.hpp"
#include "greentune/core/log.hpp"
#include "greentune/text/jsonl_tokenize.hpp"
#include "numeric_flags.hpp"
#include "tokenizer_flags.hpp"

namespace greentune::cli {

namespace {

struct TokenizeFlags {
  TokenizerFlags tokenizer;
  size_t max_length = 512;
  std::string input;
  std::string output;
  unsigned threads = 1;
  bool show_tokens = false;
};

void run_tokenize(const TokenizeFlags& flags) {
  const text::WordPieceTokenizer tokenizer = flags.tokenizer.load();

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
  add_tokenizer_flags(*command, flags->tokenizer, "WordPiece vocab.txt");
  command->add_option("--max-length", flags->max_length, "Maximum tokens per text, [CLS] and [SEP] included")
      ->check(in_range(whole_from_to(2, 1 << 20)))
      ->capture_default_str();
  command->add_option("--input", flags->input, "JSON lines file (default: stdin)");
  command->add_option("--output", flags->output, "Output file, written atomically (default: stdout)");
  command->add_option("--threads", flags->threads, "Worker threads")
      ->check(in_range(whole_from_to(1, 1024)))
      ->capture_default_str();
  command->add_flag("--show-tokens", flags->show_tokens, "Also write the pieces as \"tokens\"");
  command->callback([flags] {
    if (!flags->tokenizer.given()) {
      throw Error(ErrorCode::usage, "tokenize", "no vocabulary given",
                  "pass --vocab vocab.txt or --model DIR (a Hugging Face model directory)");
    }
    run_tokenize(*flags);
  });
}

}  // namespace greentune::cli
