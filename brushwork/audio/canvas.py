"""The spectrogram as the engine's canvas: a log-magnitude spectrogram (1, bins, frames) ≥ 0,
resized along time between scales, optimised in its own units."""
from __future__ import annotations

import torch
import torch.nn.functional as F


class SpectrogramCanvas:
    """log1p-magnitude values are O(1), the scale L-BFGS's first step is tuned for, so `scale` is 1."""

    scale = 1.0

    def resize(self, x: torch.Tensor, size: tuple[int, ...]) -> torch.Tensor:
        """`size` is (frames,) or (bins, frames); the bins never change."""
        frames = size[-1]
        if x.shape[-1] == frames:
            return x
        return F.interpolate(x, size=frames, mode="linear", align_corners=False)

    def clamp(self, x: torch.Tensor) -> torch.Tensor:
        return x.clamp_min(0)

    def render(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def layout(self, x: torch.Tensor, device: torch.device) -> torch.Tensor:
        return x.to(device).contiguous()
