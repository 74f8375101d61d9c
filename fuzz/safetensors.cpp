// A model.safetensors from a hub repository or a checkpoint directory: SafetensorsFile::open memory-maps
// the file and validates its 8-byte header size, the JSON header (dtypes, shapes, data_offsets covering the
// buffer exactly, __metadata__), then every tensor is looked up by name and converted with to_floats (F32,
// F16 and BF16 converted; other dtypes rejected).

#include "greentune/model/safetensors.hpp"

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace greentune;
  const auto file = fuzz::write_scratch_file("model.safetensors", fuzz::as_text(data, size));
  fuzz::read_untrusted([&] {
    const model::SafetensorsFile safetensors = model::SafetensorsFile::open(file);
    for (const model::SafetensorsTensor& tensor : safetensors.tensors()) {
      if (&safetensors.tensor(tensor.name) != &tensor ||
          tensor.bytes.size() != tensor.element_count() * model::dtype_size(tensor.dtype)) {
        std::abort();  // the index or the layout disagrees with what open() validated
      }
      fuzz::read_untrusted([&] { model::to_floats(tensor); });
    }
  });
  return 0;
}
