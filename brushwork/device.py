"""Device and dtype selection: explicit parameters with an `auto` default."""
from __future__ import annotations

import torch

from .errors import InputError

DEVICES = ("auto", "cpu", "cuda", "mps")
DTYPES = ("auto", "float32", "bfloat16", "float16")


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Pick cuda > mps > cpu for `auto`; refuse a device that is not present."""
    if isinstance(device, torch.device):
        return device
    name = str(device).lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InputError("device 'cuda' was asked for but no CUDA GPU is available")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise InputError("device 'mps' was asked for but Apple MPS is not available")
    if not (name == "cpu" or name == "mps" or name.startswith("cuda")):
        raise InputError(f"unknown device {device!r}; choose one of {', '.join(DEVICES)}")
    return torch.device(name)


def cpu_has_bf16() -> bool:
    """True when this CPU has native bfloat16 dot products (AVX512-BF16 or AMX)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_dtype(dtype: str | torch.dtype, device: torch.device) -> torch.dtype:
    """Compute dtype for the feature network: `auto` is bf16 on GPUs and bf16-capable CPUs.

    On a CPU with AVX512-BF16/AMX a VGG step is ~1.7x faster in bf16 and reaches the same
    objective (BENCHMARKS.md); losses and the image itself stay in fp32.
    """
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in DTYPES:
        raise InputError(f"unknown dtype {dtype!r}; choose one of {', '.join(DTYPES)}")
    if dtype == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        if device.type == "cpu" and cpu_has_bf16():
            return torch.bfloat16
        return torch.float32
    return getattr(torch, dtype)
