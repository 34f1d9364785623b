"""Fashion design by image iteration: patterns painted into garment regions of a photo.

One optimisation paints every region: each pattern's Gram matrices (relu1_1 ... relu5_1) are
matched inside its garment's mask only (guided Gram, Gatys et al. 2017) and, with `mrf_weight`,
its local patches at relu4_1 too (masked MRF, Li & Wand 2016: the pattern's motifs, not only its
statistics), while the content is kept at relu4_2 with a high weight so the new fabric follows the
garment's outline, seams and colour areas. This is `stylize` (its masks and blends) with the MRF
terms composed in through `combine`.

The content given here is the garment photo with its shading divided out (`garments.flatten`):
the painted result is the fabric's albedo, and the caller drapes the photo's shading back onto it.
"""
from __future__ import annotations

from typing import Sequence

import torch

from ..errors import InputError
from ..image import fit, match_histogram, resize
from ..losses import MRFLoss
from ..progress import Callback
from ..weights import non_negative
from .stylize import energy, stylize

MRF_LAYER = "relu4_1"
# Calibrated for a 512 px garment photo (BENCHMARKS.md, fashion): content 3x stylize's default
# keeps folds, seams and the silhouette under the pattern; the MRF term at relu4_1 (stride 2)
# sharpens the pattern's motifs for ~25 % more time a step.
CONTENT_WEIGHT = 2.0
STYLE_WEIGHT = 5.0
MRF_WEIGHT = 1.0
MRF_STRIDE = 2


def _recoloured(image: torch.Tensor, mask: torch.Tensor, pattern: torch.Tensor) -> torch.Tensor:
    """`image` with the pixels inside `mask` given the pattern's colour mean and covariance."""
    inside = mask[0, 0] >= 0.5
    out = image.clone()
    out[0][:, inside] = match_histogram(image[0][:, inside][None, :, None], pattern)[0, :, 0]
    return out


def paint_garments(content: torch.Tensor, patterns: Sequence[torch.Tensor], masks: Sequence[torch.Tensor], *,
                   size: int | None = 512,
                   steps: int = 150,
                   style_weight: float = STYLE_WEIGHT,
                   content_weight: float = CONTENT_WEIGHT,
                   mrf_weight: float = MRF_WEIGHT,
                   pattern_scale: float = 0.5,
                   seed: int | None = 0,
                   device: str | torch.device = "auto",
                   dtype: str | torch.dtype = "auto",
                   callback: Callback | None = None) -> torch.Tensor:
    """Paint pattern i inside mask i of `content` (1, 3, H, W); returns the painted image at the
    long side `size` (None: the content's), (1, 3, h, w) RGB in [0, 1].

    `pattern_scale` is a pattern's long side relative to the output's: smaller prints smaller
    motifs. The regions share one optimisation; outside every mask only the content term acts.
    """
    if len(patterns) != len(masks) or not patterns:
        raise InputError(f"{len(masks)} masks for {len(patterns)} patterns: give one pattern a garment")
    non_negative(mrf_weight, "mrf weight")
    if not pattern_scale > 0:
        raise InputError(f"pattern scale must be positive, not {pattern_scale}")
    n = len(patterns)
    out_size = tuple(content.shape[-2:]) if size is None else fit(content.shape[-2:], size)

    def motifs(hw: tuple[int, int], ex) -> dict:
        losses: dict = {}
        area = hw[0] * hw[1] / (out_size[0] * out_size[1])   # as mrf: coarse scales keep the layout
        side = max(16, round(max(hw) * pattern_scale))
        for i, (pattern, mask) in enumerate(zip(patterns, masks)):
            target = ex.targets(resize(pattern, fit(pattern.shape[-2:], side)))[MRF_LAYER]
            # relative, as stylize's content and Gram terms are: divided by the target's energy
            losses[f"mrf{i}:{MRF_LAYER}"] = MRFLoss(MRF_LAYER, target, mrf_weight * area / energy(target), 3,
                                                   MRF_STRIDE,
                                                   mask=resize(mask, hw).to(ex.device))
        return losses

    # The start is the garment recoloured to its pattern's colour mean and covariance: the colours
    # are then right from the first step, and the steps go to the pattern's strokes and motifs.
    start = content
    for pattern, mask in zip(patterns, masks):
        start = start + mask * (_recoloured(content, mask, pattern) - start)
    # stylize blends styles to a sum of 1; each region's pattern gets the full weight in its own mask
    return stylize(content, list(patterns), size=size, steps=steps, style_weight=style_weight * n,
                   content_weight=content_weight, style_scale=pattern_scale, masks=list(masks),
                   init=start, seed=seed, device=device, dtype=dtype, callback=callback,
                   extra_losses=motifs if mrf_weight > 0 else None)
