"""Shared fixtures: tiny images that installed packages ship or that we make."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage import data

from brushwork.image import array_to_tensor, resize


def small(a: np.ndarray, side: int) -> torch.Tensor:
    t = array_to_tensor(a)
    h, w = t.shape[-2:]
    s = side / max(h, w)
    return resize(t, (round(h * s), round(w * s)))


@pytest.fixture(scope="session")
def content() -> torch.Tensor:
    """A 64-px photo (scikit-image's coffee)."""
    return small(data.coffee(), 64)


@pytest.fixture(scope="session")
def stripes() -> torch.Tensor:
    """A 64-px style: bold diagonal red/blue stripes — nothing like a photo."""
    yy, xx = np.mgrid[0:64, 0:64]
    band = ((xx + yy) // 6) % 2
    rgb = np.where(band[..., None] == 1, [0.9, 0.15, 0.1], [0.1, 0.2, 0.85]).astype(np.float32)
    return torch.from_numpy(rgb).permute(2, 0, 1)[None]


@pytest.fixture(scope="session")
def dots() -> torch.Tensor:
    """A second 64-px style: yellow dots on dark green."""
    yy, xx = np.mgrid[0:64, 0:64]
    on = ((xx % 8 - 4) ** 2 + (yy % 8 - 4) ** 2) < 6
    rgb = np.where(on[..., None], [0.95, 0.9, 0.2], [0.05, 0.3, 0.1]).astype(np.float32)
    return torch.from_numpy(rgb).permute(2, 0, 1)[None]
