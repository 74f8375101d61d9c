#pragma once
// The device the model tests that compare with Hugging Face run on: GREENTUNE_TEST_DEVICE (cpu, cuda, cuda:N,
// auto; default cpu), so that bench/gpu/check.sh runs the same tests and tolerances on a GPU. The model and
// its inputs go there; results come back to the CPU for the comparison. A device this build or machine
// cannot use is resolve_device's usage error.

#include <torch/torch.h>

#include <cstdlib>
#include <string>

#include "greentune/model/device.hpp"

namespace greentune::testing {

inline torch::Device test_device() {
  const char* value = std::getenv("GREENTUNE_TEST_DEVICE");
  return model::resolve_device(value != nullptr && *value != '\0' ? std::string(value) : std::string("cpu"));
}

}  // namespace greentune::testing
