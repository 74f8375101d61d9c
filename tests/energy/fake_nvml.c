/* A stand-in for libnvidia-ml.so.1 with two GPUs, so that the NVML code is tested on machines without one.
 * The tests steer it through environment variables, read at every call:
 *   FAKE_NVML_INIT_FAIL   set: nvmlInit_v2 fails with NVML_ERROR_DRIVER_NOT_LOADED
 *   FAKE_NVML_ENERGY_MJ_0 GPU 0's total-energy counter, mJ (default 5000000)
 *   FAKE_NVML_POWER_MW_0  GPU 0's power, mW (default 60000)
 *   FAKE_NVML_POWER_MW_1  GPU 1's power, mW (default 70000); GPU 1 has no energy counter (pre-Volta)
 *   FAKE_NVML_MIG         set: GPU 0 is in MIG mode with one MIG instance, kFakeMigUuid
 *   FAKE_NVML_LOST        set: every device query fails with NVML_ERROR_GPU_IS_LOST
 * fake_nvml_init_count() tells the tests whether nvmlShutdown balanced nvmlInit_v2. Values as in nvml.h. */

#include <stdlib.h>
#include <string.h>

typedef int nvmlReturn_t;
enum {
  NVML_SUCCESS = 0,
  NVML_ERROR_UNINITIALIZED = 1,
  NVML_ERROR_INVALID_ARGUMENT = 2,
  NVML_ERROR_NOT_SUPPORTED = 3,
  NVML_ERROR_NOT_FOUND = 6,
  NVML_ERROR_INSUFFICIENT_SIZE = 7,
  NVML_ERROR_DRIVER_NOT_LOADED = 9,
  NVML_ERROR_GPU_IS_LOST = 15,
};

struct nvmlDevice_st {
  unsigned index; /* of the GPU, or of the MIG instance's parent */
  int is_mig_instance;
};
typedef struct nvmlDevice_st* nvmlDevice_t;

enum { kGpuCount = 2 };
static struct nvmlDevice_st gpus[kGpuCount] = {{0, 0}, {1, 0}};
static struct nvmlDevice_st mig_instance = {0, 1};
static const char* const names[kGpuCount] = {"Fake A100", "Fake T4 (Turing)"};
/* Both start with "GPU-8f3" so that a too-short prefix is ambiguous. */
static const char* const uuids[kGpuCount] = {"GPU-8f3a1c2e-5b6d-4e7f-8091-a2b3c4d5e6f7",
                                             "GPU-8f3b9d10-1a2b-4c3d-9e4f-5a6b7c8d9e0f"};
static const char* const kFakeMigUuid = "MIG-5c3a0b1e-7d2f-5e4a-9b8c-1d2e3f4a5b6c";
static int init_count = 0;

static int flag(const char* name) {
  return getenv(name) != NULL;
}

static unsigned long long number(const char* name, unsigned long long fallback) {
  const char* value = getenv(name);
  return value == NULL ? fallback : strtoull(value, NULL, 10);
}

static nvmlReturn_t check_gpu(nvmlDevice_t device) {
  if (init_count == 0)
    return NVML_ERROR_UNINITIALIZED;
  if (device != &gpus[0] && device != &gpus[1] && device != &mig_instance)
    return NVML_ERROR_INVALID_ARGUMENT;
  if (flag("FAKE_NVML_LOST"))
    return NVML_ERROR_GPU_IS_LOST;
  return NVML_SUCCESS;
}

static nvmlReturn_t copy_string(const char* value, char* buffer, unsigned length) {
  if (strlen(value) + 1 > length)
    return NVML_ERROR_INSUFFICIENT_SIZE;
  strcpy(buffer, value);
  return NVML_SUCCESS;
}

int fake_nvml_init_count(void) {
  return init_count;
}

nvmlReturn_t nvmlInit_v2(void) {
  if (flag("FAKE_NVML_INIT_FAIL"))
    return NVML_ERROR_DRIVER_NOT_LOADED;
  ++init_count;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlShutdown(void) {
  if (init_count == 0)
    return NVML_ERROR_UNINITIALIZED;
  --init_count;
  return NVML_SUCCESS;
}

const char* nvmlErrorString(nvmlReturn_t result) {
  switch (result) {
    case NVML_SUCCESS:
      return "Success";
    case NVML_ERROR_UNINITIALIZED:
      return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT:
      return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED:
      return "Not Supported";
    case NVML_ERROR_NOT_FOUND:
      return "Not Found";
    case NVML_ERROR_INSUFFICIENT_SIZE:
      return "Insufficient Size";
    case NVML_ERROR_DRIVER_NOT_LOADED:
      return "Driver Not Loaded";
    case NVML_ERROR_GPU_IS_LOST:
      return "GPU is lost";
    default:
      return "Unknown Error";
  }
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned* count) {
  if (init_count == 0)
    return NVML_ERROR_UNINITIALIZED;
  *count = kGpuCount;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned index, nvmlDevice_t* device) {
  if (init_count == 0)
    return NVML_ERROR_UNINITIALIZED;
  if (index >= kGpuCount)
    return NVML_ERROR_INVALID_ARGUMENT;
  *device = &gpus[index];
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetHandleByUUID(const char* uuid, nvmlDevice_t* device) {
  if (init_count == 0)
    return NVML_ERROR_UNINITIALIZED;
  for (unsigned index = 0; index < kGpuCount; ++index) {
    if (strcmp(uuid, uuids[index]) == 0) {
      *device = &gpus[index];
      return NVML_SUCCESS;
    }
  }
  if (flag("FAKE_NVML_MIG") && strcmp(uuid, kFakeMigUuid) == 0) {
    *device = &mig_instance;
    return NVML_SUCCESS;
  }
  return NVML_ERROR_NOT_FOUND;
}

nvmlReturn_t nvmlDeviceGetDeviceHandleFromMigDeviceHandle(nvmlDevice_t mig_device, nvmlDevice_t* device) {
  nvmlReturn_t status = check_gpu(mig_device);
  if (status != NVML_SUCCESS)
    return status;
  if (!mig_device->is_mig_instance)
    return NVML_ERROR_INVALID_ARGUMENT;
  *device = &gpus[mig_device->index];
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char* name, unsigned length) {
  nvmlReturn_t status = check_gpu(device);
  return status != NVML_SUCCESS ? status : copy_string(names[device->index], name, length);
}

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char* uuid, unsigned length) {
  nvmlReturn_t status = check_gpu(device);
  if (status != NVML_SUCCESS)
    return status;
  return copy_string(device->is_mig_instance ? kFakeMigUuid : uuids[device->index], uuid, length);
}

nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t device, unsigned long long* energy_mj) {
  nvmlReturn_t status = check_gpu(device);
  if (status != NVML_SUCCESS)
    return status;
  if (device->index != 0)
    return NVML_ERROR_NOT_SUPPORTED;
  *energy_mj = number("FAKE_NVML_ENERGY_MJ_0", 5000000);
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t device, unsigned* power_mw) {
  nvmlReturn_t status = check_gpu(device);
  if (status != NVML_SUCCESS)
    return status;
  *power_mw = (unsigned)(device->index == 0 ? number("FAKE_NVML_POWER_MW_0", 60000)
                                            : number("FAKE_NVML_POWER_MW_1", 70000));
  return NVML_SUCCESS;
}

/* MIG needs Ampere: the Turing GPU does not support the query. */
nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t device, unsigned* current_mode, unsigned* pending_mode) {
  nvmlReturn_t status = check_gpu(device);
  if (status != NVML_SUCCESS)
    return status;
  if (device->index != 0)
    return NVML_ERROR_NOT_SUPPORTED;
  *current_mode = *pending_mode = flag("FAKE_NVML_MIG") ? 1 : 0;
  return NVML_SUCCESS;
}
