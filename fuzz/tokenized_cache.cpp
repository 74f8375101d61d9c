// The tokenized cache file as TokenizedDataset::open_or_build reads it: the payload (label names, then
// per split its name, labels, token offsets and token ids) behind a header that matches the request.
// The header and its checksum are made here with the reader's own cache_file helpers, so every fuzzed
// payload reaches the payload reader; the reader must then either map it (and every view it hands out
// stays inside the file and holds what the tokenizer could have written) or call it corrupt and rebuild
// the cache from the source, as documented.
//
// Input: the payload's bytes.

#include "greentune/data/tokenized_cache.hpp"

#include <filesystem>
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "greentune/text/tokenizer.hpp"
#include "tokenized_cache_file.hpp"

namespace {

namespace fs = std::filesystem;
using namespace greentune;

// The request every input answers: a small JSON-lines source (written once, so its fingerprint stays),
// a small vocabulary and a cache directory of the scratch dir.
struct Request {
  text::WordPieceTokenizer tokenizer{text::Vocab::from_tokens(
      {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "movie", "was", "great", "bad", "##s", "!"})};
  data::DataSpec spec;
  data::CacheOptions options;
  fs::path cache_path;
  data::cache_file::Header header{};

  Request() {
    spec.path = fuzz::write_scratch_file("reviews.jsonl",
                                         "{\"text\": \"The movie was great!\", \"label\": \"pos\"}\n"
                                         "{\"text\": \"bad movies\", \"label\": \"neg\"}\n");
    options.cache_dir = fuzz::scratch_dir() / "cache";
    options.threads = 1;
    fs::create_directories(options.cache_dir);
    header = data::cache_file::expected_header(spec, tokenizer);
    cache_path = data::cache_file::path_for(options.cache_dir, spec, header);
  }
};

// Reads every view the dataset hands out, as training does; ASan reports any read outside the mapping.
void use_every_view(const data::TokenizedDataset& dataset, size_t vocab_size) {
  const size_t label_count = dataset.label_names().size();
  for (const data::TokenizedSplit& split : dataset.splits()) {
    for (size_t index = 0; index < split.size(); ++index) {
      const int32_t label = split.label(index);
      if (label < 0 || static_cast<size_t>(label) >= label_count)
        fuzz::broken_promise("a mapped cache hands out a label outside its label names");
      for (const int32_t id : split.tokens(index)) {
        if (id < 0 || static_cast<size_t>(id) >= vocab_size)
          fuzz::broken_promise("a mapped cache hands out a token id outside the vocabulary");
      }
      const data::TruncatedTokens truncated = split.tokens(index, 2 + index % 8);
      std::vector<int32_t> copy = truncated.to_vector();
      if (copy.size() != truncated.size())
        fuzz::broken_promise("truncated tokens copied to a different length");
    }
    split.lengths();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Request request;
  const std::string file = data::cache_file::sealed_file(request.header, fuzz::as_text(data, size));
  fuzz::write_scratch_file(fs::relative(request.cache_path, fuzz::scratch_dir()).string(), file);
  fuzz::read_untrusted([&] {
    data::CacheReport report;
    const auto dataset =
        data::TokenizedDataset::open_or_build(request.spec, request.tokenizer, request.options, &report);
    use_every_view(dataset, request.tokenizer.vocab().size());
  });
  return 0;
}
