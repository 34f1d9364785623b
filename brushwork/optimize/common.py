"""Helpers the recipes share: weights, layer specs, initial images."""
from __future__ import annotations

from typing import Mapping, Sequence

import torch

from ..errors import InputError
from ..features import check_taps
from ..image import ImageSource, load_image, resize
from .engine import noise_like

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


def non_negative(value: float, what: str) -> float:
    if not (value >= 0):  # also catches NaN
        raise InputError(f"{what} must be zero or positive, not {value}")
    return float(value)


def blend_weights(weights: Sequence[float] | None, n: int) -> list[float]:
    """Per-style blend weights, normalised to sum to 1 (equal when not given)."""
    if weights is None:
        return [1.0 / n] * n
    if len(weights) != n:
        raise InputError(f"{len(weights)} style weights given for {n} style images")
    ws = [non_negative(w, "a style blend weight") for w in weights]
    if sum(ws) <= 0:
        raise InputError("style blend weights must not all be zero")
    return [w / sum(ws) for w in ws]


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


def tap_order(taps: Sequence[str]) -> list[str]:
    """Unique taps in the order they were named."""
    return list(dict.fromkeys(taps))
