/* A stand-in for ROCm's libamd_smi.so with two GPUs on one socket, so that the AMD SMI code is tested on
 * machines without one. Environment variables, read at every call:
 *   FAKE_AMDSMI_INIT_FAIL    set: amdsmi_init fails with AMDSMI_STATUS_INIT_ERROR
 *   FAKE_AMDSMI_WATTS_0      GPU 0's draw, W (default 500): its power, and how fast its energy
 *                            accumulator (15.259 uJ per count) runs since amdsmi_init
 *   FAKE_AMDSMI_COUNTER_X_0  GPU 0's accumulator runs this many times too fast (default 1): implausible
 *   FAKE_AMDSMI_WATTS_1      GPU 1's power, W (default 120); GPU 1 has no energy accumulator
 * Values and struct layouts as in ROCm 6.1+'s amdsmi.h. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef int amdsmi_status_t;
enum {
  AMDSMI_STATUS_SUCCESS = 0,
  AMDSMI_STATUS_INVAL = 1,
  AMDSMI_STATUS_NOT_SUPPORTED = 2,
  AMDSMI_STATUS_INIT_ERROR = 32
};

typedef struct {
  uint64_t socket_power;
  uint32_t current_socket_power;
  uint32_t average_socket_power;
  uint64_t gfx_voltage, soc_voltage, mem_voltage;
  uint32_t power_limit;
  uint64_t reserved[18];
} amdsmi_power_info_t;

typedef struct {
  char market_name[256];
  uint32_t vendor_id;
} amdsmi_asic_info_t;

enum { kGpuCount = 2 };
static int gpus[kGpuCount] = {0, 1};
static int socket = 0;
static const char* const names[kGpuCount] = {"AMD Instinct MI300X", "AMD Radeon PRO W7900"};
static const char* const uuids[kGpuCount] = {"GPU-0a1b2c3d4e5f6071", "GPU-1f2e3d4c5b6a7988"};
static const float kResolutionUj = 15.259f;
static struct timespec started;

static double env_number(const char* name, double fallback) {
  const char* value = getenv(name);
  return value != NULL && *value != '\0' ? atof(value) : fallback;
}

static double seconds_since_init(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)(now.tv_sec - started.tv_sec) + 1e-9 * (double)(now.tv_nsec - started.tv_nsec);
}

static double watts_of(int gpu) {
  return gpu == 0 ? env_number("FAKE_AMDSMI_WATTS_0", 500) : env_number("FAKE_AMDSMI_WATTS_1", 120);
}

amdsmi_status_t amdsmi_init(uint64_t flags) {
  (void)flags;
  if (getenv("FAKE_AMDSMI_INIT_FAIL") != NULL)
    return AMDSMI_STATUS_INIT_ERROR;
  clock_gettime(CLOCK_MONOTONIC, &started);
  return AMDSMI_STATUS_SUCCESS;
}

amdsmi_status_t amdsmi_shut_down(void) {
  return AMDSMI_STATUS_SUCCESS;
}

amdsmi_status_t amdsmi_status_code_to_string(amdsmi_status_t status, const char** text) {
  *text = status == AMDSMI_STATUS_NOT_SUPPORTED ? "AMDSMI_STATUS_NOT_SUPPORTED: Feature not supported"
                                                : "AMDSMI_STATUS: fake error";
  return AMDSMI_STATUS_SUCCESS;
}

amdsmi_status_t amdsmi_get_socket_handles(uint32_t* count, void** handles) {
  if (handles != NULL && *count >= 1)
    handles[0] = &socket;
  *count = 1;
  return AMDSMI_STATUS_SUCCESS;
}

amdsmi_status_t amdsmi_get_processor_handles(void* socket_handle, uint32_t* count, void** handles) {
  if (socket_handle != NULL && socket_handle != &socket)
    return AMDSMI_STATUS_INVAL;
  if (handles != NULL) {
    for (uint32_t i = 0; i < kGpuCount && i < *count; ++i)
      handles[i] = &gpus[i];
  }
  *count = kGpuCount;
  return AMDSMI_STATUS_SUCCESS;
}

amdsmi_status_t amdsmi_get_gpu_asic_info(void* gpu, amdsmi_asic_info_t* info) {
  memset(info, 0, sizeof *info);
  strcpy(info->market_name, names[*(int*)gpu]);
  info->vendor_id = 0x1002;
  return AMDSMI_STATUS_SUCCESS;
}

amdsmi_status_t amdsmi_get_gpu_device_uuid(void* gpu, unsigned* length, char* uuid) {
  const char* id = uuids[*(int*)gpu];
  if (*length < strlen(id) + 1)
    return AMDSMI_STATUS_INVAL;
  strcpy(uuid, id);
  *length = (unsigned)strlen(id) + 1;
  return AMDSMI_STATUS_SUCCESS;
}

amdsmi_status_t amdsmi_get_power_info(void* gpu, amdsmi_power_info_t* info) {
  memset(info, 0, sizeof *info);
  info->current_socket_power = (uint32_t)watts_of(*(int*)gpu);
  info->power_limit = 750;
  return AMDSMI_STATUS_SUCCESS;
}

amdsmi_status_t amdsmi_get_energy_count(void* gpu, uint64_t* accumulator, float* resolution,
                                        uint64_t* timestamp) {
  if (*(int*)gpu != 0)
    return AMDSMI_STATUS_NOT_SUPPORTED;
  const double joules = seconds_since_init() * watts_of(0) * env_number("FAKE_AMDSMI_COUNTER_X_0", 1);
  *accumulator = (uint64_t)(joules * 1e6 / kResolutionUj);
  *resolution = kResolutionUj;
  *timestamp = (uint64_t)(seconds_since_init() * 1e9);
  return AMDSMI_STATUS_SUCCESS;
}
