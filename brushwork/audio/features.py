"""Random 1-D filters over a spectrogram: the feature network of Ulyanov & Lebedev (2016).

A spectrogram (bins, frames) is read as a one-row image with a channel per frequency bin; one
convolution over time with `filters` random kernels `width` frames wide, then a ReLU, gives
features whose Gram over time captures timbre and texture. Nothing is trained: the kernels
are Gaussian, drawn from `seed` (so a run, and a metric, is reproducible), with the
reference's He-style scale √2·√(2 / ((bins + filters)·width)).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..device import resolve_device, resolve_dtype
from ..errors import InputError

TAP = "conv"


class RandomFilters:
    """`Features` over spectrograms (N, bins, frames) -> {"conv": (N, filters, frames - width + 1)}."""

    taps = (TAP,)

    def __init__(self, bins: int, filters: int = 4096, width: int = 11, seed: int = 0,
                 device: str | torch.device = "auto", dtype: str | torch.dtype = "auto"):
        for value, what in ((bins, "frequency bins"), (filters, "filters"), (width, "filter width")):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"the number of {what} must be a whole number of at least 1, not {value!r}")
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self.width = width
        g = torch.Generator().manual_seed(int(seed))
        std = math.sqrt(2.0) * math.sqrt(2.0 / ((bins + filters) * width))
        self.weight = (torch.randn(filters, bins, width, generator=g) * std).to(self.device, self.dtype)

    @property
    def filters(self) -> int:
        return self.weight.shape[0]

    def __call__(self, spec: torch.Tensor) -> dict[str, torch.Tensor]:
        if spec.dim() == 2:
            spec = spec[None]
        if spec.shape[-1] < self.width:
            raise InputError(f"a spectrogram of {spec.shape[-1]} frames is shorter than the filters "
                             f"({self.width} frames)")
        return {TAP: F.relu(F.conv1d(spec.to(self.device, self.dtype), self.weight))}

    @torch.no_grad()
    def targets(self, spec: torch.Tensor) -> dict[str, torch.Tensor]:
        return {k: v.float() for k, v in self(spec).items()}
