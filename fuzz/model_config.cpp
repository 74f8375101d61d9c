// A Hugging Face config.json (from a hub repository or a model directory) through ModelConfig::load: JSON
// parsed with bounded nesting, then model_type, sizes, dropouts, activation and labels checked key by key.
// A config that loads must also save: to_json(), its dump() and loading that JSON back must succeed.

#include "greentune/model/model_config.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace greentune;
  const auto file = fuzz::write_scratch_file("config.json", fuzz::as_text(data, size));
  fuzz::read_untrusted([&] {
    const model::ModelConfig config = model::ModelConfig::load(file);
    try {
      const nlohmann::json saved = config.to_json();
      static_cast<void>(saved.dump());  // what save() writes
      const model::ModelConfig reloaded = model::ModelConfig::from_json(saved, "saved config");
      if (reloaded.id2label != config.id2label || reloaded.hidden_size != config.hidden_size) {
        std::fprintf(stderr, "fuzz: the saved config reads back differently\n");
        std::abort();
      }
    } catch (const std::exception& error) {  // greentune::Error included: greentune wrote this JSON itself
      std::fprintf(stderr, "fuzz: a config that loaded does not save and load again: %s\n", error.what());
      std::abort();
    }
  });
  return 0;
}
