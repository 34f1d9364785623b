"""What the engine optimises: a canvas says how the variable is scaled for the optimiser, resized
between the scales of a schedule, kept valid, rendered into the signal the losses see, and laid
out in memory. `ImageCanvas` is an RGB (or luminance) image in [0, 1]."""
from __future__ import annotations

from typing import Callable, Protocol

import torch

from ..image import resize


class Canvas(Protocol):
    """How the optimised variable is scaled, resized between scales, kept valid and rendered."""

    scale: float                                   # optimiser units per signal unit (images: 255)

    def resize(self, x: torch.Tensor, size: tuple[int, ...]) -> torch.Tensor: ...

    def clamp(self, x: torch.Tensor) -> torch.Tensor: ...      # in signal units

    def render(self, x: torch.Tensor) -> torch.Tensor: ...     # the signal the losses see

    def layout(self, x: torch.Tensor, device: torch.device) -> torch.Tensor: ...


class ImageCanvas:
    """An image (N, C, H, W) in [0, 1], optimised in 0-255 units (the scale L-BFGS's and Adam's
    step sizes are tuned for). `render` maps it to the RGB image the losses see (default:
    itself), e.g. a 1-channel luminance expanded to grey RGB."""

    scale = 255.0

    def __init__(self, render: Callable[[torch.Tensor], torch.Tensor] | None = None):
        self._render = render

    def resize(self, x: torch.Tensor, size: tuple[int, ...]) -> torch.Tensor:
        return resize(x, size)

    def clamp(self, x: torch.Tensor) -> torch.Tensor:
        return x.clamp(0, 1)

    def render(self, x: torch.Tensor) -> torch.Tensor:
        return x if self._render is None else self._render(x)

    def layout(self, x: torch.Tensor, device: torch.device) -> torch.Tensor:
        """channels_last on CPU and CUDA: oneDNN and cuDNN convolve it fastest, and the Gram reads
        it without a copy."""
        if device.type in ("cpu", "cuda") and x.dim() == 4:
            return x.contiguous(memory_format=torch.channels_last)
        return x


def luminance_canvas() -> ImageCanvas:
    """A 1-channel luminance image that the losses see as grey RGB."""
    return ImageCanvas(lambda x: x.expand(-1, 3, -1, -1))
