#pragma once
// A WordPiece vocabulary read from a Hugging Face `vocab.txt`: one token per line, id = line index.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace greentune::text {

class Vocab {
 public:
  static constexpr int32_t npos = -1;

  // Throws Error(not_found/io) for an unreadable file, Error(parse) for an empty vocab or a duplicate
  // token (naming both lines).
  static Vocab load(const std::filesystem::path& path);
  // origin names the vocabulary in error messages.
  static Vocab from_tokens(std::vector<std::string> tokens, std::string_view origin = "<memory>");

  int32_t find(std::string_view token) const;  // npos when absent
  const std::string& token(int32_t id) const;  // Error(invalid_data) for an id outside the vocab
  size_t size() const { return tokens_.size(); }
  const std::string& origin() const { return origin_; }
  // Stable 64-bit hash of the token list, used to key tokenized caches.
  uint64_t fingerprint() const { return fingerprint_; }

 private:
  struct TransparentHash {
    using is_transparent = void;
    size_t operator()(std::string_view text) const noexcept { return std::hash<std::string_view>{}(text); }
  };

  std::vector<std::string> tokens_;
  std::unordered_map<std::string, int32_t, TransparentHash, std::equal_to<>> ids_;
  std::string origin_;
  uint64_t fingerprint_ = 0;
};

}  // namespace greentune::text
