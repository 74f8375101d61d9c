// A run's checkpoint files as `greentune train --resume` reads them: OUT/checkpoint.json, which names the
// checkpoint directory, and that directory's state.json, the loop state. (Its optimizer.pt and rng.pt are
// LibTorch archives, read by LibTorch in the LibTorch build only; model.safetensors has a target of its
// own.) The first line of the input is checkpoint.json, the rest state.json.

#include "checkpoint_state.hpp"

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace greentune;
  const std::string_view input = fuzz::as_text(data, size);
  const size_t line_end = std::min(input.find('\n'), input.size());
  fuzz::read_untrusted([&] { train::checkpoint_dir_of(input.substr(0, line_end), "run/checkpoint.json"); });
  fuzz::read_untrusted([&] {
    train::parse_loop_state(input.substr(std::min(line_end + 1, input.size())),
                            "run/checkpoint-1/state.json");
  });
  return 0;
}
