"""VGG-19 features at a fixed device and dtype: the `Features` every image recipe and metric uses."""
from __future__ import annotations

from typing import Sequence

import torch

from ..device import resolve_device, resolve_dtype
from . import vgg


class Extractor:
    """VGG-19 taps at a fixed device/dtype (`auto` resolved); targets come back as fp32 without grad.

    The input is moved to the device and dtype; with no taps it returns no features (a recipe
    made of pixel losses only). `padding` is the convolutions' (see `VGG19Features`).
    """

    def __init__(self, taps: Sequence[str], pooling: str = "max", device: str | torch.device = "auto",
                 dtype: str | torch.dtype = "auto", padding: str = "zeros"):
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self.taps = tuple(taps)
        self.net = vgg.vgg19(self.taps, pooling, self.device, self.dtype, padding) if self.taps else None

    def __call__(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.net is None:
            return {}
        return self.net(x.to(self.device, self.dtype))

    @torch.no_grad()
    def targets(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {k: v.float() for k, v in self(x).items()}
