"""What every feature extractor offers: named taps computed on a signal, on a device, in a dtype.

Feature convention: an extractor returns its network's raw activations (for VGG-19: caffe
weights on 0-255 input). Losses in image iteration are calibrated on those. Consumers that want
every tap on a similar scale (training, AdaIN) divide by `vgg.FEATURE_SCALE`, the one table of
typical activations, through `vgg.normalised`.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch


@runtime_checkable
class Features(Protocol):
    """A frozen feature network: `features(x) -> {tap: activation}` for the taps it was built for."""

    taps: tuple[str, ...]
    device: torch.device
    dtype: torch.dtype

    def __call__(self, x: torch.Tensor) -> dict[str, torch.Tensor]: ...
