// A Hugging Face model directory's tokenizer files and a text to encode: vocab.txt (one WordPiece token a
// line) and tokenizer_config.json (do_lower_case, strip_accents, tokenize_chinese_chars) read by
// text::WordPieceTokenizer::from_model_dir, then the text encoded (whole and truncated) and decoded.
//
// Input: vocab.txt, tokenizer_config.json and the text, separated by lines "--8<--". An empty config part
// means no tokenizer_config.json; a fourth part (any content) asks for force_cased.

#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"
#include "greentune/text/tokenizer.hpp"

namespace {

constexpr std::string_view part_separator = "\n--8<--\n";

std::vector<std::string_view> split_parts(std::string_view input) {
  std::vector<std::string_view> parts;
  while (true) {
    const size_t separator = input.find(part_separator);
    parts.push_back(input.substr(0, separator));
    if (separator == std::string_view::npos)
      return parts;
    input.remove_prefix(separator + part_separator.size());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace greentune;
  const std::vector<std::string_view> parts = split_parts(fuzz::as_text(data, size));
  const std::string_view vocab = parts[0];
  const std::string_view config = parts.size() > 1 ? parts[1] : std::string_view{};
  const std::string_view text = parts.size() > 2 ? parts[2] : std::string_view{};
  const bool force_cased = parts.size() > 3;

  const auto model_dir = fuzz::scratch_dir() / "model";
  std::filesystem::create_directories(model_dir);
  fuzz::write_scratch_file("model/vocab.txt", vocab);
  std::filesystem::remove(model_dir / "tokenizer_config.json");
  if (!config.empty())
    fuzz::write_scratch_file("model/tokenizer_config.json", config);

  fuzz::read_untrusted([&] {
    const auto tokenizer = text::WordPieceTokenizer::from_model_dir(model_dir, force_cased);
    std::vector<int32_t> ids;
    text::EncodeStats stats;
    tokenizer.encode(text, ids, &stats);
    // Every id encode produces is the vocabulary's, so decoding its own output must not throw.
    try {
      tokenizer.decode(ids, /*skip_special_tokens=*/true);
      tokenizer.decode(ids, /*skip_special_tokens=*/false);
    } catch (const Error& error) {
      fuzz::broken_promise(std::string("decode of encode's ids: ") + error.what());
    }
    const size_t max_length = 2 + text.size() % 16;
    const std::vector<int32_t> truncated = tokenizer.encode(text, max_length);
    if (truncated.size() > max_length)
      fuzz::broken_promise("encode(text, max_length) is too long");
  });
  return 0;
}
