"""Training precision: bf16 autocast where the hardware computes bf16 natively, fp32 elsewhere.

On a CPU, bf16 pays only with native bf16 instructions (AMX or AVX512-BF16, read from the CPU
flags); elsewhere oneDNN emulates it and a step is slower than in fp32. Results in bf16 stay
within the tolerance `tests/test_train.py` states of fp32's (BENCHMARKS.md "Training speed").
"""
from __future__ import annotations

import contextlib
from pathlib import Path

import torch

from ..errors import InputError

NATIVE_BF16_FLAGS = ("amx_bf16", "avx512_bf16")


def cpu_flags(cpuinfo: str | None = None) -> set[str]:
    """The CPU's feature flags, from /proc/cpuinfo's text (or `cpuinfo`, e.g. a fake one in a test)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:  # not Linux: no flags known
            return set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return set(value.split())
    return set()


def native_bf16(cpuinfo: str | None = None) -> bool:
    """Whether the CPU computes bf16 natively (AMX-BF16 or AVX512-BF16)."""
    return any(f in cpu_flags(cpuinfo) for f in NATIVE_BF16_FLAGS)


def training_dtype(device: torch.device, dtype: str | torch.dtype = "auto", cpuinfo: str | None = None) -> torch.dtype:
    """`auto`: bf16 on CUDA GPUs that support it and on CPUs with native bf16, else fp32."""
    if dtype == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
        return torch.bfloat16 if device.type == "cpu" and native_bf16(cpuinfo) else torch.float32
    if dtype in ("float32", torch.float32):
        return torch.float32
    if dtype in ("bfloat16", torch.bfloat16):
        return torch.bfloat16
    raise InputError(f"training dtype must be auto, float32 or bfloat16, not {dtype!r}")


def autocast(device: torch.device, dtype: torch.dtype) -> contextlib.AbstractContextManager:
    """The forward passes' context: autocast to `dtype` unless it is fp32."""
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)
