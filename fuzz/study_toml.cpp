// A study file and a `greentune train --config` file: TOML read by toml++ behind greentune's own guard and
// bounds (non-ASCII outside strings, variants x seeds), then checked key by key.

#include "fuzz_support.hpp"
#include "greentune/study/plan.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace greentune;
  const auto file = fuzz::write_scratch_file("study.toml", fuzz::as_text(data, size));
  fuzz::read_untrusted([&] { study::read_study_file(file); });
  fuzz::read_untrusted([&] { study::read_option_file(file); });
  return 0;
}
