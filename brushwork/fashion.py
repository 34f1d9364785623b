"""Fashion design: a pattern painted onto a garment in a photo, keeping its shape, folds and shading.

    out = brushwork.fashion("dress.jpg", "pattern.jpg")                       # garment found by GrabCut
    out = brushwork.fashion("look.jpg", ["a.jpg", "b.jpg"], masks=["top.png", "skirt.png"], method="fast")

Each garment is a mask and a pattern. The garment's shading (its luminance over its smoothed mean:
the folds) is divided out of the photo, the flat garment is repainted with the pattern by one of two
methods, the shading is multiplied back onto the painted fabric, and the result is blended into
the photo through a feathered mask. Every pixel outside the masks is the photo's, bit for bit, at
the photo's full size; the painting itself runs at `size`.

Methods: `iterate` (image iteration, `optimize.fashion`: masked Gram + masked MRF with a high
content weight; minutes on a CPU) and `fast` (the any-style one-pass network of `feedforward`,
seconds). This module dispatches between two producers, so it is an application, like `video/`.
"""
from __future__ import annotations

from typing import Sequence

import torch

from .errors import InputError
from .garments import composite, drape, feathered, find_garment, flatten, load_garment_mask, resize_field, shading
from .image import ImageSource, fit, load_image, parse_size, resize
from .progress import Callback

METHODS = ("iterate", "fast")


def garment_mask(photo: ImageSource) -> torch.Tensor:
    """The garment of a product shot (plain background around it), found without any model:
    (1, 1, H, W) in [0, 1] at the photo's size. Save it with `save_image` to correct it by hand."""
    return find_garment(load_image(photo))


def _as_list(x: ImageSource | Sequence[ImageSource] | None) -> list:
    if x is None:
        return []
    return list(x) if isinstance(x, (list, tuple)) else [x]


def fashion(photo: ImageSource, patterns: ImageSource | Sequence[ImageSource], *,
            masks: ImageSource | Sequence[ImageSource] | None = None,
            method: str = "iterate",
            size: int | tuple[int, int] | str | None = 512,
            steps: int = 150,
            style_weight: float = 5.0,
            content_weight: float = 2.0,
            mrf_weight: float = 1.0,
            pattern_scale: float = 0.5,
            shading_strength: float = 1.0,
            feather: int | None = None,
            seed: int | None = 0,
            device: str = "auto",
            dtype: str = "auto",
            callback: Callback | None = None) -> torch.Tensor:
    """Paint each pattern onto its garment in `photo`; returns (1, 3, H, W) RGB in [0, 1] at the
    photo's size.

    `masks`: one per pattern (white = the garment), the photo's size or its aspect ratio; without
    them a single pattern goes onto the garment `garment_mask` finds. `method`: 'iterate' or
    'fast'. `size`: the long side the painting runs at (None: the photo's). `steps`,
    `style_weight`, `content_weight` (high: the garment's seams and outline stay), `mrf_weight`
    (the pattern's motifs) and `pattern_scale` (a pattern's size relative to the painting's long
    side) are image iteration's; `fast` paints each pattern as the network reads it.
    `shading_strength`: 1 carries the garment's folds fully onto the pattern, 0 not at all.
    `feather`: px over which the painting fades in inside a mask's edge (None: 1/200 of the long side).
    """
    if method not in METHODS:
        raise InputError(f"unknown method {method!r}; choose {' or '.join(METHODS)}")
    if not 0 <= shading_strength <= 1:
        raise InputError(f"shading strength must be between 0 and 1, not {shading_strength}")
    if feather is not None and feather < 0:
        raise InputError(f"feather must be zero or more px, not {feather}")
    size = parse_size(size)
    pattern_list, mask_list = _as_list(patterns), _as_list(masks)
    if not pattern_list:
        raise InputError("at least one pattern image is needed")
    if mask_list and len(mask_list) != len(pattern_list):
        raise InputError(f"{len(mask_list)} masks for {len(pattern_list)} patterns: give one mask a pattern")
    if not mask_list and len(pattern_list) > 1:
        raise InputError(f"{len(pattern_list)} patterns need a mask each (--mask), one per garment; only one "
                         "garment is found automatically")
    image = load_image(photo)
    shape = tuple(image.shape[-2:])
    pattern_imgs = [load_image(p) for p in pattern_list]
    for p in pattern_imgs:
        if min(p.shape[-2:]) < 16:
            raise InputError(f"a pattern of {p.shape[-1]}x{p.shape[-2]} px is too small (at least 16 px a side)")
    if mask_list:
        many = len(mask_list) > 1
        regions = [load_garment_mask(m, shape, f"mask {i + 1}" if many else "the mask")
                   for i, m in enumerate(mask_list)]
    else:
        regions = [find_garment(image)]

    ratio = torch.ones_like(image[:, :1])
    for m in regions:   # a later mask wins where masks overlap, as in the composite
        ratio = torch.where(m >= 0.5, shading(image, m) ** shading_strength, ratio)
    flat = flatten(image, ratio)
    work = shape if size is None else fit(shape, size)
    flat_work = resize(flat, work)
    masks_work = [resize_field(m, work).clamp(0, 1) for m in regions]
    painted = _paint(method, flat_work, pattern_imgs, masks_work, steps=steps, style_weight=style_weight,
                     content_weight=content_weight, mrf_weight=mrf_weight, pattern_scale=pattern_scale,
                     seed=seed, device=device, dtype=dtype, callback=callback)
    radius = max(1, round(max(shape) / 200)) if feather is None else feather
    out = image
    for layer, m in zip(painted, regions):
        out = composite(out, drape(resize(layer, shape), ratio), feathered(m, radius))
    return out


def _paint(method: str, flat: torch.Tensor, patterns: list[torch.Tensor], masks: list[torch.Tensor],
           callback: Callback | None, device: str, **iteration) -> list[torch.Tensor]:
    """The flat garments repainted: one layer per pattern (image iteration paints all regions in one
    optimisation, so its one result serves every region)."""
    if method == "iterate":
        from .optimize.fashion import paint_garments
        painted = paint_garments(flat, patterns, masks, size=None, device=device, callback=callback, **iteration)
        return [painted] * len(patterns)
    from .feedforward.apply import apply
    return [apply(flat, style=p, device=device, callback=callback) for p in patterns]
