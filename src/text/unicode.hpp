#pragma once
// Character classes and UTF-8 coding as Hugging Face tokenizers' BERT normalizer and pre-tokenizer see
// them. Private to the text module.

#include <cstddef>
#include <cstdint>
#include <string>

namespace greentune::text::unicode {

// Decodes one code point at bytes[0..size). Returns the number of bytes consumed (≥ 1). An ill-formed
// sequence yields U+FFFD and consumes its maximal well-formed prefix (at least one byte), as Python's
// errors="replace" and the Unicode standard's recommended practice do; *valid is set accordingly.
size_t decode(const unsigned char* bytes, size_t size, char32_t* code_point, bool* valid);

void append_utf8(std::string& out, char32_t code_point);

// Rust's char::is_whitespace (the White_Space property); tokenizers also counts \t \n \r.
bool is_whitespace(char32_t c);
// tokenizers' is_control: categories Cc, Cf and Co (not Cn), except \t \n \r.
bool is_control(char32_t c);
// ASCII punctuation (BERT counts $ + < = > ^ ` | ~ too) or Unicode categories Pc Pd Pe Pf Pi Po Ps.
bool is_punctuation(char32_t c);
// The CJK ideograph blocks BERT surrounds with spaces.
bool is_chinese_char(char32_t c);
bool is_nonspacing_mark(char32_t c);

// Canonical decomposition (NFD) of one code point, Hangul included. Returns the count written to out
// (out holds at least 8).
size_t decompose_canonical(char32_t c, char32_t* out);

// Lowercase mapping as Rust's char::to_lowercase: one code point, except U+0130 -> "i\u0307".
// Returns the count written to out (at most 2).
size_t to_lowercase(char32_t c, char32_t* out);

}  // namespace greentune::text::unicode
