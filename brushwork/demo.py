"""Built-in demo images, so the main job runs without any files of the user's.

The content is scikit-image's `astronaut` photo (public domain, NASA). The style is painted
by code: streaks of noise smeared along a field of swirls (line-integral convolution),
coloured with a night-sky palette of blues and ochres — brush strokes without a file.
"""
from __future__ import annotations

import numpy as np
import torch
from scipy.ndimage import gaussian_filter, map_coordinates

from .image import array_to_tensor

_PALETTE = np.array([  # dark blue -> cobalt -> sky -> pale -> yellow -> ochre
    [0.05, 0.09, 0.25], [0.10, 0.24, 0.55], [0.28, 0.50, 0.78],
    [0.70, 0.80, 0.85], [0.95, 0.85, 0.35], [0.80, 0.55, 0.15]], dtype=np.float32)


def demo_content() -> torch.Tensor:
    """scikit-image's astronaut photograph, (1, 3, 512, 512)."""
    from skimage import data
    return array_to_tensor(data.astronaut())


def _swirl_field(h: int, w: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    vx = np.full((h, w), 0.6, np.float32)  # a gentle wind from the left
    vy = 0.25 * np.sin(xx / w * 2 * np.pi * 1.5).astype(np.float32)
    for _ in range(5):
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        r = rng.uniform(0.08, 0.2) * max(h, w)
        dy, dx = yy - cy, xx - cx
        fall = np.exp(-(dx ** 2 + dy ** 2) / (2 * r ** 2))
        spin = rng.choice([-1.0, 1.0]) * 2.5
        vx += spin * -dy / r * fall
        vy += spin * dx / r * fall
    norm = np.sqrt(vx ** 2 + vy ** 2) + 1e-6
    return vx / norm, vy / norm


def _lic(noise: np.ndarray, vx: np.ndarray, vy: np.ndarray, length: int) -> np.ndarray:
    """Average `noise` along the streamlines of (vx, vy), `length` px each way."""
    h, w = noise.shape
    acc = noise.copy()
    for sign in (1.0, -1.0):
        y, x = np.mgrid[0:h, 0:w].astype(np.float32)
        for _ in range(length):
            fx = map_coordinates(vx, [y, x], order=1, mode="wrap")
            fy = map_coordinates(vy, [y, x], order=1, mode="wrap")
            x, y = x + sign * fx, y + sign * fy
            acc += map_coordinates(noise, [y, x], order=1, mode="wrap")
    return acc / (2 * length + 1)


def demo_style(size: int = 384, seed: int = 7) -> torch.Tensor:
    """A swirling night-sky 'painting' with visible strokes, (1, 3, size, size)."""
    rng = np.random.default_rng(seed)
    vx, vy = _swirl_field(size, size, rng)
    grain = gaussian_filter(rng.random((size, size)).astype(np.float32), size / 400, mode="wrap")
    strokes = _lic(grain, vx, vy, length=max(6, size // 32))
    strokes = (strokes - strokes.mean()) / (strokes.std() + 1e-6)
    value = gaussian_filter(rng.random((size, size)).astype(np.float32), size / 10, mode="wrap")
    value = (value - value.min()) / (np.ptp(value) + 1e-6)
    value = _lic(value, vx, vy, length=max(6, size // 16))  # bands of colour follow the swirls
    t = np.clip(value * 0.85 + 0.12 * strokes, 0, 1) * (len(_PALETTE) - 1)
    lo = np.floor(t).astype(int).clip(0, len(_PALETTE) - 2)
    frac = (t - lo)[..., None]
    rgb = _PALETTE[lo] * (1 - frac) + _PALETTE[lo + 1] * frac
    rgb *= (1.0 + 0.12 * strokes)[..., None]  # light and shadow of the paint ridges
    return array_to_tensor(np.clip(rgb, 0, 1).astype(np.float32))

