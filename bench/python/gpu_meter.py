"""GPU facts for the bench/gpu scripts without pynvml: NVML through ctypes (libnvidia-ml.so.1) for the GPU's
name and its energy counter, and the peak dense bf16 FLOP/s by GPU name for MFU.

    meter = EnergyMeter(0); meter.start(); ...; numbers = meter.stop()   # {"gpu_kj", "average_w", ...}
"""
import ctypes
import time

# Peak dense bf16 tensor FLOP/s from NVIDIA's datasheets (T4 has no bf16: its fp16 peak). First match wins,
# so the more specific names come first. A GPU not listed gets MFU null.
PEAK_FLOPS = [
    ("H100 PCIe", 756e12),
    ("H200", 989e12),
    ("H100", 989e12),  # SXM
    ("A100", 312e12),
    ("L4", 121e12),
    ("T4", 65e12),     # fp16
]


def peak_flops(gpu_name):
    if not gpu_name:
        return None
    for key, flops in PEAK_FLOPS:
        if key in gpu_name:
            return flops
    return None


def mfu(parameters, real_tokens, seconds, gpu_name):
    """6 * parameters * real (non-pad) tokens / seconds over the GPU's peak; None when the peak is unknown."""
    peak = peak_flops(gpu_name)
    if peak is None or not seconds:
        return None
    return 6.0 * parameters * real_tokens / seconds / peak


class Nvml:
    """The few NVML calls the bench needs; available is False (with reason) where there is no NVML."""

    def __init__(self):
        self.available, self.reason, self._lib = False, "", None
        try:
            self._lib = ctypes.CDLL("libnvidia-ml.so.1")
            status = self._lib.nvmlInit_v2()
            if status != 0:
                raise OSError(f"nvmlInit_v2 returned {status}")
            self.available = True
        except (OSError, AttributeError) as error:
            self.reason = f"NVML unavailable: {error}"

    def handle(self, index):
        handle = ctypes.c_void_p()
        status = self._lib.nvmlDeviceGetHandleByIndex_v2(ctypes.c_uint(index), ctypes.byref(handle))
        if status != 0:
            raise OSError(f"nvmlDeviceGetHandleByIndex_v2({index}) returned {status}")
        return handle

    def name(self, index):
        buffer = ctypes.create_string_buffer(96)
        status = self._lib.nvmlDeviceGetName(self.handle(index), buffer, ctypes.c_uint(96))
        if status != 0:
            raise OSError(f"nvmlDeviceGetName returned {status}")
        return buffer.value.decode()

    def energy_mj(self, index):
        energy = ctypes.c_ulonglong()
        status = self._lib.nvmlDeviceGetTotalEnergyConsumption(self.handle(index), ctypes.byref(energy))
        if status != 0:
            raise OSError(f"nvmlDeviceGetTotalEnergyConsumption returned {status}")
        return energy.value


def physical_index(cuda_index=0):
    """NVML counts every GPU; CUDA_VISIBLE_DEVICES=3 makes cuda:0 NVML's 3 (numeric lists only)."""
    import os

    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")
    if visible and visible[0].strip().isdigit() and cuda_index < len(visible):
        return int(visible[cuda_index])
    return cuda_index


class EnergyMeter:
    def __init__(self, cuda_index=0):
        self.nvml = Nvml()
        self.index = physical_index(cuda_index)
        self.gpu_name, self.reason = None, self.nvml.reason
        if self.nvml.available:
            try:
                self.gpu_name = self.nvml.name(self.index)
            except OSError as error:
                self.reason = str(error)

    def start(self):
        self._start_s = time.perf_counter()
        self._start_mj = self._read()

    def _read(self):
        if not self.nvml.available:
            return None
        try:
            return self.nvml.energy_mj(self.index)
        except OSError as error:
            self.reason = str(error)
            return None

    def stop(self):
        seconds = time.perf_counter() - self._start_s
        end_mj = self._read()
        gpu_kj = None if end_mj is None or self._start_mj is None else (end_mj - self._start_mj) / 1e6
        return {"gpu_name": self.gpu_name, "gpu_kj": gpu_kj,
                "average_w": None if gpu_kj is None or seconds <= 0 else gpu_kj * 1e3 / seconds,
                "energy_method": "nvml_total_energy" if gpu_kj is not None else None,
                "energy_note": None if gpu_kj is not None else self.reason, "metered_seconds": seconds}
