"""Random 1-D filters over a spectrogram: the feature network of Ulyanov & Lebedev (2016).

A spectrogram (bins, frames) is read as a one-row image with a channel per frequency bin; one
convolution over time with `filters` random kernels `width` frames wide, then a ReLU, gives
features whose Gram over time captures timbre and texture. Nothing is trained: the kernels
are Gaussian, drawn from `seed` (so a run, and a metric, is reproducible), with the
reference's He-style scale √2·√(2 / ((bins + filters)·width)).

The convolution is computed as one matrix product, filters × (width·bins) by (width·bins) ×
frames over the unfolded spectrogram: the same numbers as `conv1d`, in 0.74–0.82 of its CPU
time forward and backward at 1024–4096 filters (BENCHMARKS.md, Audio).
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
        self.width, self.bins = width, bins
        g = torch.Generator().manual_seed(int(seed))
        std = math.sqrt(2.0) * math.sqrt(2.0 / ((bins + filters) * width))
        weight = torch.randn(filters, bins, width, generator=g) * std
        # (filters, width·bins), frame offset major: the order `unfold` lays out below
        self.matrix = weight.permute(0, 2, 1).reshape(filters, width * bins).to(self.device, self.dtype)

    @property
    def filters(self) -> int:
        return self.matrix.shape[0]

    @property
    def weight(self) -> torch.Tensor:
        """The kernels as `conv1d` takes them: (filters, bins, width)."""
        return self.matrix.view(self.filters, self.width, self.bins).permute(0, 2, 1)

    def __call__(self, spec: torch.Tensor) -> dict[str, torch.Tensor]:
        if spec.dim() == 2:
            spec = spec[None]
        if spec.shape[-1] < self.width:
            raise InputError(f"a spectrogram of {spec.shape[-1]} frames is shorter than the filters "
                             f"({self.width} frames)")
        if spec.shape[-2] != self.bins:
            raise InputError(f"a spectrogram of {spec.shape[-2]} frequency bins does not fit filters over {self.bins}")
        x = spec.to(self.device, self.dtype)
        n, frames = x.shape[0], x.shape[-1] - self.width + 1
        windows = x.unfold(2, self.width, 1).permute(0, 3, 1, 2).reshape(n, self.width * self.bins, frames)
        return {TAP: F.relu(self.matrix @ windows)}

    @torch.no_grad()
    def targets(self, spec: torch.Tensor) -> dict[str, torch.Tensor]:
        return {k: v.float() for k, v in self(spec).items()}
