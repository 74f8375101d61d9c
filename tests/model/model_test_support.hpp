#pragma once
// The tiny Hugging Face reference models as complete model directories for the model tests.

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "greentune/model/safetensors.hpp"
#include "test_support.hpp"

namespace greentune::testing {

// Copies tests/data_files/model/<name> (config.json, model.safetensors) into dir and adds a vocab.txt of
// the fixture's 1000 tokens: the five specials, then "the", "movie", "was", "great", "bad", then fillers.
// count JSONL reviews a tiny model learns quickly: odd lines "the movie was great w<n>" (label 1), even
// lines "bad movie w<n>" (label 0), each with its own number word.
inline void write_numbered_reviews(const std::filesystem::path& path, int count) {
  std::string reviews;
  for (int i = 0; i < count; ++i) {
    reviews += i % 2 ? "{\"text\": \"the movie was great w" + std::to_string(100 + i) + "\", \"label\": 1}\n"
                     : "{\"text\": \"bad movie w" + std::to_string(100 + i) + "\", \"label\": 0}\n";
  }
  write_text(path, reviews);
}

inline void write_tiny_model_dir(const std::filesystem::path& dir, const std::string& name) {
  std::filesystem::create_directories(dir);
  for (const char* file : {"config.json", "model.safetensors"}) {
    std::filesystem::copy_file(test_data_dir() / "model" / name / file, dir / file,
                               std::filesystem::copy_options::overwrite_existing);
  }
  std::string vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\nmovie\nwas\ngreat\nbad\n";
  for (int filler = 10; filler < 1000; ++filler) {
    vocab += 'w';
    vocab += std::to_string(filler);
    vocab += '\n';
  }
  write_text(dir / "vocab.txt", vocab);
}

// One row of a tiny fixture's reference batch (reference.safetensors, computed by Hugging Face
// transformers) and what transformers computed for it.
struct ReferenceRow {
  std::vector<int64_t> input_ids;  // the row's real tokens (attention mask 1), padding left out
  int64_t label = 0;
  std::vector<double> logits;      // (num_labels), model.eval()
  std::vector<std::string> vocab;  // 1000 tokens laid out so that the tokenizer turns text into input_ids
  std::string text;

  // Mean cross-entropy of this one row: logsumexp(logits) - logits[label].
  double loss() const {
    const double largest = *std::max_element(logits.begin(), logits.end());
    double sum = 0.0;
    for (const double logit : logits)
      sum += std::exp(logit - largest);
    return largest + std::log(sum) - logits[static_cast<size_t>(label)];
  }
  // softmax(logits)[label_id]
  double probability(size_t label_id) const {
    double sum = 0.0;
    for (const double logit : logits)
      sum += std::exp(logit - logits[label_id]);
    return 1.0 / sum;
  }
};

// Row `row` (0, 1 or 2) of tests/data_files/model/<name>/reference.safetensors. The reference rows are
// random ids, each starting and ending with an id of its own, so each row gets a vocabulary in which
// [CLS] and [SEP] take the ids its first and last tokens have and every other id i is the word "w<i>":
// with that vocab.txt the tokenizer gives exactly the row's input_ids for its text, and predict, eval and
// train see what transformers saw.
inline ReferenceRow reference_row(const std::string& name, size_t row) {
  const auto reference =
      model::SafetensorsFile::open(test_data_dir() / "model" / name / "reference.safetensors");
  const auto integers = [&](const std::string& key) {
    const model::SafetensorsTensor& tensor = reference.tensor(key);
    std::vector<int64_t> values(tensor.bytes.size() / sizeof(int64_t));
    std::memcpy(values.data(), tensor.bytes.data(), tensor.bytes.size());
    return std::pair{values, tensor.shape};
  };
  const auto [ids, shape] = integers("input_ids");  // (3, 16)
  const auto mask = integers("attention_mask").first;
  const auto labels = integers("labels").first;
  const std::vector<float> logits = model::to_floats(reference.tensor("logits"));  // (3, num_labels)
  const size_t length = static_cast<size_t>(shape.at(1));
  const size_t num_labels = logits.size() / labels.size();

  ReferenceRow result;
  for (size_t position = 0; position < length; ++position) {
    if (mask.at(row * length + position) == 1)
      result.input_ids.push_back(ids.at(row * length + position));
  }
  result.label = labels.at(row);
  result.logits.assign(logits.begin() + static_cast<std::ptrdiff_t>(row * num_labels),
                       logits.begin() + static_cast<std::ptrdiff_t>((row + 1) * num_labels));

  constexpr size_t vocab_size = 1000;
  for (size_t id = 0; id < vocab_size; ++id) {
    std::string word(1, 'w');  // not "w" + ...: g++ 12 warns of a false -Wrestrict overlap there
    word += std::to_string(id);
    result.vocab.push_back(std::move(word));
  }
  result.vocab.at(static_cast<size_t>(result.input_ids.front())) = "[CLS]";
  result.vocab.at(static_cast<size_t>(result.input_ids.back())) = "[SEP]";
  const std::set<int64_t> used(result.input_ids.begin(), result.input_ids.end());
  size_t free_id = 0;
  for (const char* special : {"[PAD]", "[UNK]", "[MASK]"}) {
    while (used.count(static_cast<int64_t>(free_id)) != 0)
      ++free_id;
    result.vocab.at(free_id++) = special;
  }
  for (size_t position = 1; position + 1 < result.input_ids.size(); ++position) {
    // A literal "[CLS]" or "[SEP]" in a text maps to its id too, as in Hugging Face.
    result.text +=
        (position > 1 ? " " : "") + result.vocab.at(static_cast<size_t>(result.input_ids[position]));
  }
  return result;
}

inline void write_vocab(const std::filesystem::path& path, const std::vector<std::string>& tokens) {
  std::string text;
  for (const std::string& token : tokens)
    text += token + "\n";
  write_text(path, text);
}

}  // namespace greentune::testing
