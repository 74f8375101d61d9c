#pragma once
// JSON lines in, JSON lines out: the work behind `greentune tokenize`.

#include <string>
#include <string_view>

#include "greentune/text/tokenizer.hpp"

namespace greentune::text {

struct JsonlTokenizeOptions {
  size_t max_length = 512;             // tokens, [CLS] and [SEP] included
  unsigned threads = 1;                // 0: one per hardware thread
  bool show_tokens = false;            // also write "tokens": the pieces as strings
  std::string input_name = "<stdin>";  // for error messages
};

struct JsonlTokenizeReport {
  size_t lines = 0;                   // JSON lines tokenized (blank lines are skipped)
  size_t invalid_utf8_sequences = 0;  // repaired to U+FFFD, then dropped by clean_text
};

// The string field "text" of one JSON line. Invalid UTF-8 is repaired (U+FFFD) and counted in
// *utf8_repairs when given; a line that is not a JSON object with a string "text" is Error(parse) at
// input_name:line_number.
std::string text_of_json_line(std::string_view line, std::string_view input_name, size_t line_number,
                              size_t* utf8_repairs = nullptr);

// Each non-blank input line is a JSON object with a string "text"; each output line is
// {"ids": [...]} (and "tokens") in input order. The whole input is checked before output is returned,
// so a bad line (Error with input_name:line) leaves output untouched.
JsonlTokenizeReport tokenize_jsonl(const WordPieceTokenizer& tokenizer, std::string_view input,
                                   std::string& output, const JsonlTokenizeOptions& options);

}  // namespace greentune::text
