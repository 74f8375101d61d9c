// --device as a torch::Device: the four forms, and one clear error for a CUDA device this process cannot use.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "greentune/core/error.hpp"
#include "greentune/model/device.hpp"

namespace greentune::model {
namespace {

using ::testing::HasSubstr;

Error device_error(std::string_view spec) {
  try {
    resolve_device(spec);
  } catch (const Error& error) {
    return error;
  }
  ADD_FAILURE() << spec << " was accepted";
  return Error(ErrorCode::internal, "", "none");
}

TEST(Device, CpuIsTheCpuAndAutoTheFirstGpuWhenThereIsOne) {
  EXPECT_EQ(resolve_device("cpu"), torch::Device(torch::kCPU));
  const torch::Device automatic = resolve_device("auto");
  if (torch::cuda::is_available())
    EXPECT_EQ(automatic, torch::Device(torch::kCUDA, 0));
  else
    EXPECT_EQ(automatic, torch::Device(torch::kCPU));
}

TEST(Device, CudaWithoutAUsableGpuIsOneErrorThatSaysWhatToDo) {
  if (torch::cuda::is_available())
    GTEST_SKIP() << "a CUDA GPU is visible: the error is for machines and builds without one";
  for (const char* spec : {"cuda", "cuda:0", "cuda:3"}) {
    SCOPED_TRACE(spec);
    const Error error = device_error(spec);
    EXPECT_EQ(error.code(), ErrorCode::usage);
    EXPECT_EQ(error.where(), "--device");
    EXPECT_THAT(error.what(), HasSubstr(std::string(spec) + " is not available"));
    EXPECT_THAT(error.what(), HasSubstr("(fix: use --device cpu"));
  }
}

TEST(Device, OtherTextIsAnUnknownDevice) {
  for (const char* spec : {"gpu", "CUDA", "cuda:", "cuda:-1", "cuda:x", "cuda:0:1", "", "mps"}) {
    SCOPED_TRACE(spec);
    const Error error = device_error(spec);
    EXPECT_EQ(error.code(), ErrorCode::usage);
    EXPECT_THAT(error.what(), HasSubstr("unknown device"));
  }
}

}  // namespace
}  // namespace greentune::model
