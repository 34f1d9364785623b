"""`photo`: the colours, light and mood of one photo on another, which stays a photo.

Every method makes the look at a work size (512 px long side), region by region (the regions
from segmentation maps, or found automatically); the result is smoothed with the content as
guide, and local affine colour models fitted at the work size carry it to the photo's full
resolution, where they are applied to the photo's own pixels: every edge and texture of the
original stays. The methods:

- 'stats' (training-free, the default): each region takes the colour statistics of its paired
  region of the style (MKL in Lab), the per-region maps blended through edge-aware soft masks;
- 'wct': PhotoWCT, whitening and colouring of VGG-19 features with our trained decoders (wct.py);
- 'optimize': Deep Photo Style Transfer, image iteration from the 'stats' result (deep_photo.py).
"""
from __future__ import annotations

import os
import time

import torch

from ..device import resolve_device
from ..errors import InputError
from ..guided import guided_filter, upsample_affine
from ..image import ImageSource, fit, load_image, resize
from ..progress import Callback, Progress
from ..feedforward.modelfile import load_model
from .colour import lab_to_rgb, mkl, rgb_to_lab
from .decoders import PhotoWCTModel, shipped_decoders
from .deep_photo import deep_photo
from .regions import Regions, auto_regions, load_segmentation, pair_segmentations, resize_labels, usable
from .smooth import matting_pixels_check, matting_smooth
from .wct import photowct

METHODS = ("auto", "stats", "wct", "optimize")
SMOOTHERS = ("guided", "matting", "none")
MIN_SIDE = 8
# Guided smoothing: the window's radius as a share of the work size's long side, and the ridge
# that lets a window's fit ignore colour changes its content does not explain (seams, grain).
SMOOTH_RADIUS = 1 / 64
SMOOTH_EPS = 1e-4
# Soft region masks: a wider guided filter of each hard mask, so regions meet in a gradual,
# edge-following blend rather than along a seam. Automatic regions, whose borders follow no
# edge (they cut skies), blend far wider and barely edge-aware: a 1/32 blend left a visible
# band across a sky.
MASK_RADIUS, MASK_EPS = 1 / 32, 1e-2
AUTO_MASK_RADIUS, AUTO_MASK_EPS = 1 / 8, 1e-1
# What 'auto' runs, at every size and on every machine measured so far: the statistics keep the
# photo's edges best on the Deep Photo pairs (gradient correlation 0.95-0.98 against PhotoWCT's
# 0.74-0.88 and Deep Photo's 0.80-0.91), match the style per region as PhotoWCT does, and take
# ~2 s at 1 MP where PhotoWCT takes 7-8 s and Deep Photo three minutes (BENCHMARKS.md,
# "Photorealistic stylization").
AUTO_METHOD = "stats"
# Automatic regions are a guess: each keeps this share of the whole style's map, so a poor
# pairing shifts colours gently instead of repainting a sky in the ground's colours.
AUTO_MIX = 0.5


def _check_photo(img: torch.Tensor, what: str) -> None:
    h, w = img.shape[-2:]
    if min(h, w) < MIN_SIDE:
        raise InputError(f"the {what} is {w}x{h} px; a photo needs at least {MIN_SIDE} px a side")


def _regions(content: torch.Tensor, style: torch.Tensor, content_low: torch.Tensor, style_low: torch.Tensor,
             content_seg: ImageSource | None, style_seg: ImageSource | None,
             auto: bool, clusters: int) -> Regions | None:
    if (content_seg is None) != (style_seg is None):
        raise InputError("give both segmentation maps (content and style) or neither")
    if content_seg is not None:
        what = f"segmentation {content_seg if isinstance(content_seg, str) else ''}".strip()
        pair = pair_segmentations(load_segmentation(content_seg, tuple(content.shape[-2:]), "the content segmentation"),
                                  load_segmentation(style_seg, tuple(style.shape[-2:]), "the style segmentation"),
                                  what)
        return Regions(resize_labels(pair.content, tuple(content_low.shape[-2:])),
                       resize_labels(pair.style, tuple(style_low.shape[-2:])), pair.names)
    if auto and clusters > 1:
        return auto_regions(content_low, style_low, clusters)
    return None


def _transfer(content_low: torch.Tensor, style_low: torch.Tensor, regions: Regions | None,
              automatic: bool) -> torch.Tensor:
    """The content at the work size with each region's colours mapped onto its pair's (RGB)."""
    lab_c = rgb_to_lab(content_low)[0].reshape(3, -1)
    lab_s = rgb_to_lab(style_low)[0].reshape(3, -1)
    whole = mkl(lab_c, lab_s)
    if regions is None:
        out = whole(lab_c)
    else:
        h, w = content_low.shape[-2:]
        radius, eps = (AUTO_MASK_RADIUS, AUTO_MASK_EPS) if automatic else (MASK_RADIUS, MASK_EPS)
        mix = AUTO_MIX if automatic else 0.0
        r = max(1, round(max(h, w) * radius))
        masks = torch.stack([(regions.content == k).float() for k in range(len(regions.names))])[None]
        soft = guided_filter(content_low, masks, r, eps).clamp_min(0)[0].reshape(len(regions.names), -1)
        soft = soft / soft.sum(0, keepdim=True).clamp_min(1e-6)
        out = torch.zeros_like(lab_c)
        ok = usable(regions)
        for k in range(len(regions.names)):
            if not bool((soft[k] > 0).any()):
                continue
            region_map = whole if not ok[k] else mkl(lab_c[:, regions.content.reshape(-1) == k],
                                                     lab_s[:, regions.style.reshape(-1) == k])
            mapped = region_map(lab_c) if mix == 0 or not ok[k] else (1 - mix) * region_map(lab_c) + mix * whole(lab_c)
            out += soft[k] * mapped
    return lab_to_rgb(out.reshape(1, 3, *content_low.shape[-2:]))


def _decoders(path: str | os.PathLike | None) -> PhotoWCTModel:
    if path is None:
        return shipped_decoders()
    model = load_model(path, "cpu")
    if not isinstance(model, PhotoWCTModel):
        raise InputError(f"{path}: a {model.card['kind']} model, not PhotoWCT decoders "
                         "(make them with `brushwork train photowct`)")
    return model


def photo(content: ImageSource, style: ImageSource, *,
          method: str = "auto",
          decoders: str | os.PathLike | None = None,
          content_seg: ImageSource | None = None,
          style_seg: ImageSource | None = None,
          auto_regions: bool = True,
          regions: int = 3,
          strength: float = 1.0,
          smooth: str = "guided",
          work_size: int | None = 512,
          device: str | torch.device = "auto",
          callback: Callback | None = None) -> torch.Tensor:
    """Give `content` the look of `style` and keep it a photo; returns (1, 3, H, W) RGB in [0, 1]
    at the content's full resolution.

    `method`: 'stats' (training-free colour statistics in Lab), 'wct' (PhotoWCT: whitening and
    colouring of VGG features with our trained decoders, `decoders` a photowct .bw file or None
    for the shipped ones), 'optimize' (Deep Photo Style Transfer: image iteration with masked
    Grams and the matting-Laplacian photorealism term; minutes) or 'auto' (`AUTO_METHOD`). `content_seg`/`style_seg`: colour label maps of each photo (same
    size as it), region k of the content taking the look of the style's region of the same
    colour; without them, `auto_regions` pairs `regions` clusters of both photos' deep features
    (off: one region, the whole photo). Regions too small or too unequal in share
    take the whole style's look. `strength` in [0, 1] blends with the photo (0 returns it
    exactly). `smooth`: 'guided' (edge-aware, any size), 'matting' (the exact matting-Laplacian
    solution, up to smooth.MATTING_MAX_PIXELS at the work size) or 'none'. `work_size` is the
    long side the look is computed at (None: full size); local affine colour models carry it to
    the photo's full resolution. A greyscale style works: it gives a monochrome photo in the
    style's tones. `callback` gets a Progress after each phase ('photo', counted in phases),
    each step of the matting solve ('matting', its loss the relative residual; returning True
    there stops the solve early) and, for 'optimize', each step of the iteration.
    """
    if method not in METHODS:
        raise InputError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if smooth not in SMOOTHERS:
        raise InputError(f"unknown smoothing {smooth!r}; choose one of {', '.join(SMOOTHERS)}")
    if not 0 <= strength <= 1:
        raise InputError(f"strength must be between 0 and 1, not {strength}")
    if not 1 <= regions <= 16:
        raise InputError(f"regions must be between 1 and 16, not {regions}")
    if work_size is not None and work_size < 16:
        raise InputError(f"work size {work_size} is too small: at least 16 px")
    dev = resolve_device(device)
    content_full = load_image(content)
    style_full = load_image(style)
    _check_photo(content_full, "content photo")
    _check_photo(style_full, "style photo")
    shape = tuple(content_full.shape[-2:])
    work = shape if work_size is None or max(shape) <= work_size else fit(shape, work_size)
    if smooth == "matting":
        matting_pixels_check(work)
    content_low = resize(content_full, work)
    style_low = style_full if work_size is None or max(style_full.shape[-2:]) <= work_size else \
        resize(style_full, fit(style_full.shape[-2:], work_size))
    method = AUTO_METHOD if method == "auto" else method
    model = _decoders(decoders) if method == "wct" else None
    found = _regions(content_full, style_full, content_low, style_low, content_seg, style_seg,
                     auto_regions, regions)
    if strength == 0:
        return content_full

    start = time.perf_counter()
    phases = 3 + (smooth == "matting")

    def report(step: int) -> None:
        if callback is not None:
            callback(Progress(step, phases, 0.0, size=shape, elapsed=time.perf_counter() - start,
                              phase="photo", unit="phase"))

    def cg_report(step: int, total: int, residual: float) -> bool | None:
        if callback is None:
            return None
        return callback(Progress(step, total, residual, {"residual": residual}, size=work,
                                 elapsed=time.perf_counter() - start, phase="matting"))

    if model is not None:
        result = photowct(content_low.to(model.device), style_low.to(model.device), model.network, found).cpu()
    else:
        result = _transfer(content_low, style_low, found, automatic=content_seg is None)
        if method == "optimize":  # Deep Photo starts from the statistics' colours
            result = deep_photo(content_low, style_low, found, start=result, device=dev, callback=callback)
    report(1)
    r = max(1, round(max(work) * SMOOTH_RADIUS))
    if smooth == "matting":
        guided = guided_filter(content_low, result, r, SMOOTH_EPS).clamp(0, 1)
        report(2)
        result = matting_smooth(content_low, result, start=guided, progress=cg_report)
        report(3)
        out = upsample_affine(content_low.to(dev), result.to(dev), content_full.to(dev))
    elif smooth == "guided":
        report(2)
        out = upsample_affine(content_low.to(dev), result.to(dev), content_full.to(dev), radius=r, eps=SMOOTH_EPS)
    else:
        report(2)
        out = result if work == shape else upsample_affine(content_low.to(dev), result.to(dev),
                                                           content_full.to(dev))
    out = out.cpu()
    if strength < 1:
        out = content_full + strength * (out - content_full)
    report(phases)
    return out.clamp(0, 1)
