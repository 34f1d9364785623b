"""PhotoWCT's stylization step (Li et al. 2018): whitening and colouring, coarse to fine.

At relu4_1, relu3_1, relu2_1 and relu1_1 in turn, the current image's features take the mean and
covariance of the style photo's (region by region when regions are given) and the level's decoder
turns them back into an image, unpooling where the encoder's max-pools took their maxima. The
result still has the network's small artefacts; the smoothing step of `photo` removes them.
"""
from __future__ import annotations

from typing import Callable

import torch

from ..features.stats import wct
from .decoders import LEVELS, PhotoWCTDecoders
from .regions import Regions, resize_labels, usable

# Coarse to fine, as the paper.
ORDER = tuple(reversed(LEVELS))
# At a deep level a region covers few feature positions; below this many its statistics are
# not trusted and it takes the whole style's (the paper's fallback).
MIN_POSITIONS = 16


def _region_wct(cf: torch.Tensor, sf: torch.Tensor, regions: Regions | None, ok: list[bool]) -> torch.Tensor:
    """`cf` (1, C, h, w) with each region's features given its paired style region's statistics."""
    whole = wct(cf, sf)
    if regions is None:
        return whole
    lc = resize_labels(regions.content, tuple(cf.shape[-2:])).reshape(-1)
    ls = resize_labels(regions.style, tuple(sf.shape[-2:])).reshape(-1)
    out = whole.flatten(2).clone()
    c_flat, s_flat = cf.flatten(2), sf.flatten(2)
    for k in range(len(regions.names)):
        ci, si = lc == k, ls == k
        if not ok[k] or int(ci.sum()) < MIN_POSITIONS or int(si.sum()) < MIN_POSITIONS:
            continue
        out[:, :, ci] = wct(c_flat[:, :, ci][..., None], s_flat[:, :, si][..., None])[..., 0]
    return out.reshape(cf.shape)


@torch.no_grad()
def photowct(content: torch.Tensor, style: torch.Tensor, decoders: PhotoWCTDecoders,
             regions: Regions | None = None,
             report: Callable[[str], None] | None = None) -> torch.Tensor:
    """`content` (1, 3, H, W) with `style`'s feature statistics at every level, (1, 3, H, W) in [0, 1]."""
    ok = usable(regions) if regions is not None else []
    image = content
    for tap in ORDER:
        cf, pools = decoders.encode(image, tap)
        sf, _ = decoders.encode(style, tap)
        image = decoders.decode(_region_wct(cf, sf, regions, ok), pools, tap).clamp(0, 1)
        if report is not None:
            report(tap)
    return image
