"""Helpers the recipes share: layer specs and initial images."""
from __future__ import annotations

from typing import Mapping, Sequence

import torch

from ..errors import InputError
from ..features import check_taps
from ..image import ImageSource, load_image, resize
from ..weights import non_negative

LayerSpec = Sequence[str] | Mapping[str, float]


def layer_weights(spec: LayerSpec, what: str) -> dict[str, float]:
    """['relu1_1', ...] (equal weights) or {'relu1_1': 1.0, ...} -> validated dict."""
    weights = dict(spec) if isinstance(spec, Mapping) else {t: 1.0 for t in spec}
    if not weights:
        raise InputError(f"at least one {what} layer is needed")
    check_taps(list(weights))
    for tap, w in weights.items():
        non_negative(w, f"{what} layer weight for {tap}")
    return weights


def initial_image(init: str | ImageSource, size: tuple[int, int], content: torch.Tensor | None,
                  style: torch.Tensor | None, seed: int | None) -> torch.Tensor:
    """'content', 'noise', 'style', or an image/path, at `size`."""
    if isinstance(init, str) and init in ("content", "noise", "style"):
        if init == "noise":
            return noise_like((1, 3, *size), seed)
        src = content if init == "content" else style
        if src is None:
            raise InputError(f"init {init!r} needs a {init} image")
        return resize(src, size)
    return resize(load_image(init), size)


def noise_like(shape: tuple[int, ...], seed: int | None, scale: float = 0.1) -> torch.Tensor:
    """Mid-grey plus small Gaussian noise, reproducible with a seed."""
    g = torch.Generator().manual_seed(seed if seed is not None else torch.seed() % 2**63)
    return (0.5 + scale * torch.randn(shape, generator=g)).clamp(0, 1)
