#include "greentune/text/vocab.hpp"

#include "greentune/core/error.hpp"
#include "greentune/core/files.hpp"
#include "greentune/core/strings.hpp"

namespace greentune::text {

Vocab Vocab::load(const std::filesystem::path& path) {
  const std::string contents = read_file(path);
  std::vector<std::string> tokens;
  std::string_view rest(contents);
  size_t line_number = 0;
  while (!rest.empty()) {
    ++line_number;
    const size_t newline = rest.find('\n');
    const std::string_view raw_line = rest.substr(0, newline);
    rest = newline == std::string_view::npos ? std::string_view{} : rest.substr(newline + 1);
    // Trailing blanks, CRLF endings included, are not part of a token; other white space is.
    const std::string_view token = trim_end(raw_line, " \t\r");
    if (token.empty()) {
      throw Error(ErrorCode::parse, location(path.string(), line_number), "empty line in vocabulary",
                  "a vocab.txt has exactly one token per line; remove the blank line");
    }
    tokens.emplace_back(token);
  }
  return from_tokens(std::move(tokens), path.string());
}

Vocab Vocab::from_tokens(std::vector<std::string> tokens, std::string_view origin) {
  if (tokens.empty()) {
    throw Error(ErrorCode::parse, origin, "vocabulary is empty",
                "give the model's vocab.txt (one WordPiece token per line)");
  }
  Vocab vocab;
  vocab.origin_ = origin;
  vocab.ids_.reserve(tokens.size());
  uint64_t hash = fnv1a64("greentune-vocab-v1");
  for (size_t id = 0; id < tokens.size(); ++id) {
    auto [existing, inserted] = vocab.ids_.emplace(tokens[id], static_cast<int32_t>(id));
    if (!inserted) {
      throw Error(
          ErrorCode::parse, location(origin, id + 1),
          "duplicate token '" + tokens[id] + "' (first on line " + std::to_string(existing->second + 1) + ")",
          "each token must appear once; ids are line numbers, so the file is probably damaged");
    }
    hash = fnv1a64(tokens[id], hash);
    hash = fnv1a64("\n", hash);
  }
  vocab.tokens_ = std::move(tokens);
  vocab.fingerprint_ = hash;
  return vocab;
}

int32_t Vocab::find(std::string_view token) const {
  const auto found = ids_.find(token);
  return found == ids_.end() ? npos : found->second;
}

const std::string& Vocab::token(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= tokens_.size()) {
    throw Error(ErrorCode::invalid_data, origin_,
                "token id " + std::to_string(id) + " is outside the vocabulary of " +
                    std::to_string(tokens_.size()) + " tokens",
                "use ids produced with this vocabulary");
  }
  return tokens_[static_cast<size_t>(id)];
}

}  // namespace greentune::text
