#pragma once
// BERT WordPiece tokenization, identical to Hugging Face tokenizers' BertWordPieceTokenizer
// (= transformers' BertTokenizerFast): BertNormalizer -> BertPreTokenizer -> WordPiece -> [CLS] ... [SEP].

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "greentune/text/vocab.hpp"

namespace greentune::text {

struct TokenizerOptions {
  bool lowercase = true;             // uncased models; false for cased ones
  bool strip_accents = true;         // NFD then drop nonspacing marks (Mn); HF's default follows lowercase
  bool clean_text = true;            // drop NUL, U+FFFD and control characters, map whitespace to ' '
  bool handle_chinese_chars = true;  // put spaces around CJK ideographs
  size_t max_input_chars_per_word = 100;  // longer words become [UNK]

  static TokenizerOptions uncased() { return {}; }
  static TokenizerOptions cased() { return {false, false, true, true, 100}; }
  uint64_t fingerprint() const;
};

// Counts of what encoding had to repair; never an error.
struct EncodeStats {
  size_t invalid_utf8_sequences = 0;  // each became U+FFFD, then clean_text dropped it
};

class WordPieceTokenizer {
 public:
  WordPieceTokenizer(Vocab vocab, TokenizerOptions options = {});

  static WordPieceTokenizer from_vocab_file(const std::filesystem::path& vocab_path,
                                            TokenizerOptions options = {});
  // A Hugging Face model directory: vocab.txt, plus tokenizer_config.json for do_lower_case and
  // strip_accents when present. force_cased overrides the config.
  static WordPieceTokenizer from_model_dir(const std::filesystem::path& model_dir, bool force_cased = false);

  // Appends [CLS] pieces... [SEP] for text, untruncated. Literal special tokens in the text
  // ("[CLS]", "[SEP]", "[MASK]", "[UNK]", "[PAD]") map to their ids, as in Hugging Face.
  void encode(std::string_view text, std::vector<int32_t>& ids, EncodeStats* stats = nullptr) const;
  // [CLS] + the first max_length-2 pieces + [SEP].
  std::vector<int32_t> encode(std::string_view text, size_t max_length, EncodeStats* stats = nullptr) const;

  // Pieces joined back into text for display ("##" continuations merged, spaces before punctuation
  // cleaned up as Hugging Face's WordPiece decoder does).
  std::string decode(std::span<const int32_t> ids, bool skip_special_tokens = true) const;

  const Vocab& vocab() const { return vocab_; }
  const TokenizerOptions& options() const { return options_; }
  int32_t cls_id() const { return cls_id_; }
  int32_t sep_id() const { return sep_id_; }
  int32_t pad_id() const { return pad_id_; }
  int32_t unk_id() const { return unk_id_; }
  int32_t mask_id() const { return mask_id_; }
  // Vocab and options together: what a tokenized cache must match.
  uint64_t fingerprint() const;

 private:
  void encode_segment(std::string_view segment, std::vector<int32_t>& ids, EncodeStats* stats) const;
  // Greedy longest-match-first WordPiece; scratch is reused for "##" lookups.
  void encode_word(std::string_view word, size_t char_count, std::vector<int32_t>& ids,
                   std::string& scratch) const;

  Vocab vocab_;
  TokenizerOptions options_;
  int32_t cls_id_, sep_id_, pad_id_, unk_id_, mask_id_;
  std::vector<std::pair<std::string, int32_t>> special_tokens_;  // matched literally in raw text
};

// Cuts a full encoding ([CLS] ... [SEP]) to max_length tokens (≥ 2), keeping its final [SEP].
void truncate_encoding(std::vector<int32_t>& ids, size_t max_length);

// Replaces every invalid UTF-8 sequence (overlong forms, surrogates, stray or truncated bytes) with
// U+FFFD, as Python's errors="replace" does; returns how many were replaced.
size_t sanitize_utf8(std::string& text);

}  // namespace greentune::text
