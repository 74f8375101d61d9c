// A labelled text dataset file read by data::load_dataset: JSON lines, CSV or TSV (RFC 4180 quoting, a
// header row), invalid UTF-8 repaired, labels as ints or strings, with and without given label names.
//
// Input: byte 0 chooses the format (its value mod 3: 'c' csv, 'j' jsonl, 't' tsv), byte 1 the spec (mod 4:
// no label names, {neg, pos}, {negative, neutral, positive}, a name given twice; bit 2 of it: the columns
// are "review" and "sentiment" instead of "text" and "label"), an optional '\n', then the file.

#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"
#include "greentune/data/dataset.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace greentune;
  if (size < 2)
    return 0;
  static constexpr data::Format formats[] = {data::Format::csv, data::Format::jsonl, data::Format::tsv};
  static constexpr std::string_view file_names[] = {"dataset.csv", "dataset.jsonl", "dataset.tsv"};
  const size_t format = data[0] % 3;
  const uint8_t spec_byte = data[1];
  std::string_view content = fuzz::as_text(data + 2, size - 2);
  if (content.starts_with('\n'))
    content.remove_prefix(1);

  data::DataSpec spec;
  spec.path = fuzz::write_scratch_file(file_names[format], content);
  spec.format = formats[format];
  switch (spec_byte % 4) {
    case 0:
      break;
    case 1:
      spec.label_names = {"neg", "pos"};
      break;
    case 2:
      spec.label_names = {"negative", "neutral", "positive"};
      break;
    case 3:
      spec.label_names = {"pos", "neg", "pos"};
      break;
  }
  if (spec_byte & 4) {
    spec.text_column = "review";
    spec.label_column = "sentiment";
  }
  fuzz::read_untrusted([&] {
    const data::RawDataset dataset = data::load_dataset(spec);
    // What every consumer relies on: labels index the names, texts and labels pair up.
    for (const data::TextSplit& split : dataset.splits) {
      if (split.texts.size() != split.labels.size())
        fuzz::broken_promise("texts and labels differ in number");
      for (const int32_t label : split.labels) {
        if (label < 0 || static_cast<size_t>(label) >= dataset.label_names.size())
          fuzz::broken_promise("a label outside the label names");
      }
    }
  });
  return 0;
}
