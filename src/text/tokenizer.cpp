#include "greentune/text/tokenizer.hpp"

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>

#include "greentune/core/error.hpp"
#include "greentune/core/files.hpp"
#include "greentune/core/json.hpp"
#include "unicode.hpp"

namespace greentune::text {

namespace {

constexpr std::string_view continuation_prefix = "##";

// Per-byte classes for the ASCII fast path (most of English text).
enum AsciiClass : uint8_t { ascii_plain = 0, ascii_control = 1, ascii_whitespace = 2, ascii_punctuation = 4 };

constexpr std::array<uint8_t, 128> make_ascii_classes() {
  std::array<uint8_t, 128> classes{};
  for (char32_t c = 0; c < 128; ++c) {
    uint8_t flags = ascii_plain;
    // \t \n \r are whitespace, not control; \v and \f are both (clean_text drops them first).
    if (c < 0x20 || c == 0x7F) {
      if (c != '\t' && c != '\n' && c != '\r')
        flags |= ascii_control;
    }
    if ((c >= 0x09 && c <= 0x0D) || c == ' ')
      flags |= ascii_whitespace;
    if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)) {
      flags |= ascii_punctuation;
    }
    classes[c] = flags;
  }
  return classes;
}

constexpr std::array<uint8_t, 128> ascii_classes = make_ascii_classes();

int32_t require_token(const Vocab& vocab, const std::string& token) {
  const int32_t id = vocab.find(token);
  if (id == Vocab::npos) {
    throw Error(ErrorCode::invalid_data, vocab.origin(), "the vocabulary has no " + token + " token",
                "use a BERT-family vocab.txt, which lists [PAD], [UNK], [CLS], [SEP] and [MASK]");
  }
  return id;
}

// Builds the words of one text segment (normalization + pre-tokenization) and hands each finished word
// to WordPiece. A word is UTF-8 bytes plus its length in characters (WordPiece's limit is in characters).
class WordSplitter {
 public:
  void push_char(char32_t c) {
    unicode::append_utf8(word_, c);
    ++word_chars_;
  }
  void push_ascii(char c) {
    word_.push_back(c);
    ++word_chars_;
  }
  template <typename OnWord>
  void finish(OnWord&& on_word) {
    if (!word_.empty()) {
      on_word(std::string_view(word_), word_chars_);
      word_.clear();
      word_chars_ = 0;
    }
  }
  template <typename OnWord>
  void single(char32_t c, OnWord&& on_word) {
    finish(on_word);
    unicode::append_utf8(word_, c);
    word_chars_ = 1;
    finish(on_word);
  }

 private:
  std::string word_;
  size_t word_chars_ = 0;
};

}  // namespace

uint64_t TokenizerOptions::fingerprint() const {
  const std::string description =
      "lowercase=" + std::to_string(lowercase) + ";strip_accents=" + std::to_string(strip_accents) +
      ";clean_text=" + std::to_string(clean_text) + ";chinese=" + std::to_string(handle_chinese_chars) +
      ";max_chars=" + std::to_string(max_input_chars_per_word);
  return fnv1a64(description);
}

WordPieceTokenizer::WordPieceTokenizer(Vocab vocab, TokenizerOptions options)
    : vocab_(std::move(vocab)),
      options_(options),
      cls_id_(require_token(vocab_, "[CLS]")),
      sep_id_(require_token(vocab_, "[SEP]")),
      pad_id_(require_token(vocab_, "[PAD]")),
      unk_id_(require_token(vocab_, "[UNK]")),
      mask_id_(require_token(vocab_, "[MASK]")) {
  for (const char* token : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}) {
    special_tokens_.emplace_back(token, vocab_.find(token));
  }
}

WordPieceTokenizer WordPieceTokenizer::from_vocab_file(const std::filesystem::path& vocab_path,
                                                       TokenizerOptions options) {
  return WordPieceTokenizer(Vocab::load(vocab_path), options);
}

WordPieceTokenizer WordPieceTokenizer::from_model_dir(const std::filesystem::path& model_dir,
                                                      bool force_cased) {
  std::error_code ec;
  if (!std::filesystem::is_directory(model_dir, ec)) {
    throw Error(ErrorCode::not_found, model_dir.string(), "model directory does not exist",
                "give a directory holding vocab.txt (and tokenizer_config.json)");
  }
  TokenizerOptions options = TokenizerOptions::uncased();
  const std::filesystem::path config_path = model_dir / "tokenizer_config.json";
  if (std::filesystem::exists(config_path, ec)) {
    const UntrustedJson parsed = parse_untrusted_json(read_file(config_path));
    const nlohmann::json& config = parsed.value;
    if (!parsed.problem.empty() || !config.is_object()) {
      throw Error(ErrorCode::parse, config_path.string(),
                  parsed.problem.empty() ? "is not a JSON object" : "the file " + parsed.problem,
                  "fix the file or remove it to use the uncased defaults");
    }
    const auto read_bool = [&](const char* key, bool fallback) {
      const auto found = config.find(key);
      if (found == config.end() || found->is_null())
        return fallback;
      if (!found->is_boolean()) {
        throw Error(ErrorCode::parse, config_path.string() + ": key " + key, "expected true or false",
                    "set the key to a JSON boolean");
      }
      return found->get<bool>();
    };
    options.lowercase = read_bool("do_lower_case", true);
    options.strip_accents = read_bool("strip_accents", options.lowercase);
    options.handle_chinese_chars = read_bool("tokenize_chinese_chars", true);
  }
  if (force_cased) {
    options.lowercase = false;
    options.strip_accents = false;
  }
  return from_vocab_file(model_dir / "vocab.txt", options);
}

uint64_t WordPieceTokenizer::fingerprint() const {
  const uint64_t options_hash = options_.fingerprint();
  return fnv1a64(std::string_view(reinterpret_cast<const char*>(&options_hash), sizeof options_hash),
                 vocab_.fingerprint());
}

void WordPieceTokenizer::encode(std::string_view text, std::vector<int32_t>& ids, EncodeStats* stats) const {
  ids.push_back(cls_id_);
  // Special tokens written literally in the text are matched on the raw text before normalization,
  // exactly as Hugging Face's added-token splitting does (case-sensitive, anywhere in a word).
  size_t segment_start = 0;
  size_t search_from = 0;
  while (true) {
    const size_t bracket = text.find('[', search_from);
    if (bracket == std::string_view::npos)
      break;
    const std::pair<std::string, int32_t>* matched = nullptr;
    for (const auto& special : special_tokens_) {
      if (text.compare(bracket, special.first.size(), special.first) == 0 &&
          (matched == nullptr || special.first.size() > matched->first.size())) {
        matched = &special;
      }
    }
    if (matched == nullptr) {
      search_from = bracket + 1;
      continue;
    }
    encode_segment(text.substr(segment_start, bracket - segment_start), ids, stats);
    ids.push_back(matched->second);
    segment_start = bracket + matched->first.size();
    search_from = segment_start;
  }
  encode_segment(text.substr(segment_start), ids, stats);
  ids.push_back(sep_id_);
}

std::vector<int32_t> WordPieceTokenizer::encode(std::string_view text, size_t max_length,
                                                EncodeStats* stats) const {
  std::vector<int32_t> ids;
  encode(text, ids, stats);
  truncate_encoding(ids, max_length);
  return ids;
}

void WordPieceTokenizer::encode_segment(std::string_view segment, std::vector<int32_t>& ids,
                                        EncodeStats* stats) const {
  WordSplitter splitter;
  std::string scratch;
  const auto on_word = [&](std::string_view word, size_t char_count) {
    encode_word(word, char_count, ids, scratch);
  };
  const auto* bytes = reinterpret_cast<const unsigned char*>(segment.data());
  const size_t size = segment.size();
  size_t position = 0;
  while (position < size) {
    const unsigned char byte = bytes[position];
    if (byte < 0x80) {
      ++position;
      const uint8_t classes = ascii_classes[byte];
      if (options_.clean_text && (byte == 0 || (classes & ascii_control)))
        continue;
      if (classes & ascii_whitespace) {
        splitter.finish(on_word);
      } else if (classes & ascii_punctuation) {
        splitter.single(byte, on_word);
      } else {
        const bool upper = byte >= 'A' && byte <= 'Z';
        splitter.push_ascii(static_cast<char>(options_.lowercase && upper ? byte + ('a' - 'A') : byte));
      }
      continue;
    }
    char32_t c = 0;
    bool valid = true;
    position += unicode::decode(bytes + position, size - position, &c, &valid);
    if (!valid && stats != nullptr)
      ++stats->invalid_utf8_sequences;
    if (options_.clean_text) {
      if (c == 0xFFFD || unicode::is_control(c))
        continue;
      if (unicode::is_whitespace(c)) {
        splitter.finish(on_word);
        continue;
      }
    }
    if (options_.handle_chinese_chars && unicode::is_chinese_char(c)) {
      splitter.single(c, on_word);
      continue;
    }
    char32_t decomposed[8];
    size_t decomposed_count = 1;
    decomposed[0] = c;
    if (options_.strip_accents) {
      decomposed_count = unicode::decompose_canonical(c, decomposed);
    }
    for (size_t i = 0; i < decomposed_count; ++i) {
      if (options_.strip_accents && unicode::is_nonspacing_mark(decomposed[i]))
        continue;
      char32_t lowered[2];
      const size_t lowered_count = options_.lowercase ? unicode::to_lowercase(decomposed[i], lowered) : 1;
      if (!options_.lowercase)
        lowered[0] = decomposed[i];
      for (size_t j = 0; j < lowered_count; ++j) {
        const char32_t normalized = lowered[j];
        if (unicode::is_whitespace(normalized)) {
          splitter.finish(on_word);
        } else if (unicode::is_punctuation(normalized)) {
          splitter.single(normalized, on_word);
        } else {
          splitter.push_char(normalized);
        }
      }
    }
  }
  splitter.finish(on_word);
}

void WordPieceTokenizer::encode_word(std::string_view word, size_t char_count, std::vector<int32_t>& ids,
                                     std::string& scratch) const {
  if (char_count > options_.max_input_chars_per_word) {
    ids.push_back(unk_id_);
    return;
  }
  const size_t first_piece = ids.size();
  size_t start = 0;
  while (start < word.size()) {
    size_t end = word.size();
    int32_t found = Vocab::npos;
    while (end > start) {
      if (start == 0) {
        found = vocab_.find(word.substr(0, end));
      } else {
        scratch.assign(continuation_prefix);
        scratch.append(word.substr(start, end - start));
        found = vocab_.find(scratch);
      }
      if (found != Vocab::npos)
        break;
      // Step back one whole UTF-8 character.
      do {
        --end;
      } while (end > start && (static_cast<unsigned char>(word[end]) & 0xC0) == 0x80);
    }
    if (found == Vocab::npos) {  // any unmatchable remainder makes the whole word unknown
      ids.resize(first_piece);
      ids.push_back(unk_id_);
      return;
    }
    ids.push_back(found);
    start = end;
  }
}

std::string WordPieceTokenizer::decode(std::span<const int32_t> ids, bool skip_special_tokens) const {
  // Pieces are joined with spaces and "##" continuations glued on, then spaces before punctuation and
  // contractions are removed, as transformers' decode(clean_up_tokenization_spaces=True) does.
  static const std::pair<std::string_view, std::string_view> cleanups[] = {
      {" .", "."},     {" ?", "?"},   {" !", "!"},   {" ,", ","},     {" ' ", "'"},
      {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  std::string text;
  for (const int32_t id : ids) {
    if (skip_special_tokens && std::any_of(special_tokens_.begin(), special_tokens_.end(),
                                           [id](const auto& special) { return special.second == id; })) {
      continue;
    }
    const std::string& token = vocab_.token(id);
    if (!text.empty() && token.starts_with(continuation_prefix)) {
      text.append(token, continuation_prefix.size());
    } else {
      if (!text.empty())
        text += ' ';
      text += token;
    }
  }
  for (const auto& [from, to] : cleanups) {
    for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
      text.replace(at, from.size(), to);
    }
  }
  return text;
}

void truncate_encoding(std::vector<int32_t>& ids, size_t max_length) {
  if (max_length < 2 || ids.size() <= max_length) {
    return;
  }
  ids[max_length - 1] = ids.back();  // keep [SEP]
  ids.resize(max_length);
}

size_t sanitize_utf8(std::string& text) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  const size_t size = text.size();
  // Fast check first: most input is valid and needs no copy.
  size_t position = 0;
  while (position < size) {
    char32_t c;
    bool valid;
    const size_t consumed = unicode::decode(bytes + position, size - position, &c, &valid);
    if (!valid)
      break;
    position += consumed;
  }
  if (position == size) {
    return 0;
  }
  std::string repaired(text, 0, position);
  size_t replaced = 0;
  while (position < size) {
    char32_t c;
    bool valid;
    const size_t consumed = unicode::decode(bytes + position, size - position, &c, &valid);
    if (valid) {
      repaired.append(text, position, consumed);
    } else {
      unicode::append_utf8(repaired, 0xFFFD);
      ++replaced;
    }
    position += consumed;
  }
  text = std::move(repaired);
  return replaced;
}

}  // namespace greentune::text
