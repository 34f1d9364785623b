"""Deep Photo Style Transfer (Luan et al. 2017) as a recipe on the image-iteration engine.

`stylize` with the Gatys losses, each region's Gram matrices matched between the region of the
output and its paired region of the style (segmentation-masked Grams), plus the photorealism
term: the matting Laplacian's energy sum_c V_c^T L V_c of the output with the content as guide
(smooth.MattingLaplacian at each scale), which is low only where the output is locally an
affine function of the content's colours. The iteration starts from the 'stats' colour transfer,
so the colours are right from the first step and the steps go to the style's finer statistics.
"""
from __future__ import annotations

import torch
from torch import nn

from ..image import resize
from ..optimize.stylize import stylize
from ..progress import Callback
from .regions import Regions, usable
from .smooth import MattingLaplacian

# The photorealism term's weight on the matting energy per pixel. The output's energy per pixel
# is ~1e-4 when painted and ~3e-6 for a photo (BENCHMARKS.md, photoreal), so at 1e4 the term is
# on the scale of the content and style losses (each ~1 at the start).
PHOTOREAL_WEIGHT = 1e4
# Deep Photo keeps more content than painting does.
CONTENT_WEIGHT = 2.0
STEPS = 100


class PhotorealismLoss(nn.Module):
    """weight x sum over channels of x^T L x / pixels, L the matting Laplacian of the guide."""

    taps: tuple[str, ...] = ()

    def __init__(self, guide: torch.Tensor, weight: float):
        super().__init__()
        self.laplacian = MattingLaplacian(guide)
        self.weight = weight

    def forward(self, image: torch.Tensor, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        x = image[0].double()
        pixels = x.shape[-1] * x.shape[-2]
        return (self.weight * (x * (self.laplacian @ x)).sum() / pixels).float()


def deep_photo(content: torch.Tensor, style: torch.Tensor, regions: Regions | None, *,
               start: torch.Tensor, steps: int = STEPS, photoreal_weight: float = PHOTOREAL_WEIGHT,
               device: str | torch.device = "auto", callback: Callback | None = None) -> torch.Tensor:
    """`content` (1, 3, H, W) with `style`'s look, photorealistic; (1, 3, H, W) in [0, 1] at the
    content's size. Regions pair content and style areas (each unusable pair uses the whole style).
    `start` is the first image of the iteration (the colour-transferred content)."""
    if regions is None:
        styles, masks, style_masks = [style], None, None
    else:
        ok = usable(regions)
        styles = [style] * len(regions.names)
        masks = [(regions.content == k).float()[None, None] for k in range(len(regions.names))]
        style_masks = [(regions.style == k).float()[None, None] if ok[k] else None
                       for k in range(len(regions.names))]

    def photorealism(hw: tuple[int, ...], ex) -> dict:
        guide = resize(content, tuple(hw[-2:])).to(ex.device)
        return {"photorealism": PhotorealismLoss(guide, photoreal_weight)}

    # stylize blends styles to a sum of 1; each region gets the full style weight in its own mask
    return stylize(content, styles, size=None, steps=steps, style_weight=float(len(styles)),
                   content_weight=CONTENT_WEIGHT, masks=masks, style_masks=style_masks, init=start,
                   multiscale=False, seed=0, device=device, callback=callback, extra_losses=photorealism)
