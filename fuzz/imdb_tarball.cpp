// The aclImdb_v1 archive as data::load_dataset reads it with Format::imdb: a .tar.gz (or plain .tar)
// streamed by libarchive, members [aclImdb/]train|test/neg|pos/<id>_<rating>.txt, never extracted.
//
// Input: the archive's bytes.

#include "fuzz_support.hpp"
#include "greentune/data/dataset.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace greentune;
  data::DataSpec spec;
  spec.path = fuzz::write_scratch_file("aclImdb_v1.tar.gz", fuzz::as_text(data, size));
  spec.format = data::Format::imdb;
  fuzz::read_untrusted([&] {
    const data::RawDataset dataset = data::load_dataset(spec);
    for (const data::TextSplit& split : dataset.splits) {
      for (const int32_t label : split.labels) {
        if (label < 0 || static_cast<size_t>(label) >= dataset.label_names.size())
          fuzz::broken_promise("a label outside the label names");
      }
    }
  });
  return 0;
}
