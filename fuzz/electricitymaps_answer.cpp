// An answer of Electricity Maps' GET /v3/carbon-intensity/latest (energy::parse_latest_answer): any status
// and body a server, a proxy or a damaged cache file hands greentune. Promises checked: a figure is finite
// and within 0..2000 gCO2e/kWh, and an answer without one says why.

#include <fuzzer/FuzzedDataProvider.h>

#include <cmath>
#include <string>

#include "fuzz_support.hpp"
#include "greentune/energy/electricitymaps.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace greentune;
  FuzzedDataProvider input(data, size);
  const long status = input.ConsumeIntegralInRange<long>(100, 599);  // the input's last two bytes
  const std::string body = input.ConsumeRemainingBytesAsString();
  fuzz::read_untrusted([&] {
    const energy::LatestAnswer answer = energy::parse_latest_answer(status, body);
    if (answer.intensity) {
      const double figure = answer.intensity->gco2_per_kwh;
      if (!std::isfinite(figure) || figure < 0.0 || figure > 2000.0)
        fuzz::broken_promise("an implausible carbon intensity was accepted");
      if (status != 200)
        fuzz::broken_promise("a figure was read from an error status");
    } else if (answer.problem.empty()) {
      fuzz::broken_promise("an answer without a figure does not say why");
    }
  });
  return 0;
}
