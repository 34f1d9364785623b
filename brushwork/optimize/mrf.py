"""Patch-based style transfer: CNN + Markov random field (Li & Wand 2016, "CNNMRF").

Style is matched locally: every 3×3 patch of the result's relu3_1 / relu4_1 activations is
pulled towards its nearest style patch (normalised cross-correlation), so the result is painted
with the style's own strokes rather than its global statistics. Content is kept at relu4_2 and
smoothed by TV. Synthesis runs coarse-to-fine over `levels` scales (each ×2); the style image
is rescaled with the output and the patches are re-matched at every evaluation.
"""
from __future__ import annotations

import torch

from ..errors import InputError
from ..features import check_taps
from ..image import ImageSource, Size, UpTo, fit, load_image, parse_size, resize
from ..losses import ContentLoss, MRFLoss, TVLoss
from ..progress import Callback
from ..weights import non_negative
from .common import LayerSpec, initial_image, layer_weights
from .engine import Schedule, optimize
from .settings import RunSettings

STYLE_LAYERS = ("relu3_1", "relu4_1")
CONTENT_LAYER = "relu4_2"
# Calibrated base weights (CNNMRF's content 20 / MRF 1e-4 / TV 1e-3 restated for our mean-normalised
# losses is about 1 : 2-4 : 8 at 384 px; 3 copies whole style objects with our matcher, 1 paints the
# content with the style's strokes). The MRF weight of a level scales with its area relative to the
# output, as CNNMRF's unnormalised MRF gradient does: coarse levels keep the layout, fine ones paint.
BASE_CONTENT = 1.0
BASE_STYLE = 1.0
BASE_TV = 5.0


def _side_at(side: int, tap: str) -> int:
    """Side of a feature map at `tap` for an image side (VGG-19 pools with ceil mode)."""
    for _ in range(int(tap[4]) - 1):
        side = -(-side // 2)
    return side


def _levels(final: tuple[int, int], levels: int) -> list[tuple[int, int]]:
    h, w = final
    return [(max(1, round(h / 2**k)), max(1, round(w / 2**k))) for k in reversed(range(levels))]


def mrf(content: ImageSource, style: ImageSource, *,
        size: Size | str | None = UpTo(384),
        steps: int = 100,
        style_weight: float = 1.0,
        content_weight: float = 1.0,
        tv_weight: float = 1.0,
        style_layers: LayerSpec = STYLE_LAYERS,
        content_layer: str = CONTENT_LAYER,
        patch_size: int = 3,
        patch_stride: int = 1,
        levels: int = 3,
        style_scale: float = 1.0,
        init: str | ImageSource = "content",
        optimizer: str = "lbfgs",
        lr: float | None = None,
        tol: float = 1e-4,
        pooling: str = "max",
        seed: int | None = None,
        device: str | torch.device = "auto",
        dtype: str | torch.dtype = "auto",
        callback: Callback | None = None) -> torch.Tensor:
    """Paint `content` with the local patches of `style`; returns (1, 3, H, W) RGB in [0, 1].

    `size` is the output's long side (or (H, W) / 'WxH'; `None` keeps the content's size, the
    default `UpTo(384)` keeps it up to 384 px and shrinks a larger photo to that).
    `steps` L-BFGS iterations run at each of the `levels` scales (each half the next; a scale
    ends early once the loss improves by less than `tol`). The style image is resized to
    `style_scale` × the output's long side; `patch_stride` samples its patch bank sparsely (2
    makes the matching 4× cheaper). `style_weight` is the one knob: 1 is the calibrated balance,
    lower keeps more of the content; by 3 whole objects of the style are copied over it.

    Cost: matching grows with the product of the output's and the style's areas (shallow layers
    such as relu2_1 are far costlier). A 384-px default run (tubingen.jpg + starry_night.jpg)
    takes about 8 min on one free core of a 2-core AVX512 CPU and peaks at 1.1 GB of memory;
    the relu3_1 patch bank is 50 MB and its score maps are computed in 64 MB chunks.
    """
    settings = RunSettings(optimizer, lr, tol, seed, pooling, device, dtype)
    for value, what in ((style_weight, "style weight"), (content_weight, "content weight"),
                        (tv_weight, "tv weight")):
        non_negative(value, what)
    if style_weight == content_weight == tv_weight == 0:
        raise InputError("style, content and tv weights are all zero: there is nothing to optimise")
    if steps < 1:
        raise InputError(f"steps must be at least 1, not {steps}")
    if levels < 1:
        raise InputError(f"levels must be at least 1, not {levels}")
    if patch_size < 1 or patch_size % 2 == 0:
        raise InputError(f"patch size must be a positive odd number, not {patch_size}")
    if patch_stride < 1:
        raise InputError(f"patch stride must be at least 1, not {patch_stride}")
    if not style_scale > 0:
        raise InputError(f"style scale must be positive, not {style_scale}")
    s_layers = layer_weights(style_layers, "style")
    if not isinstance(content_layer, str):
        raise InputError(f"content layer must be one layer name, not {content_layer!r}")
    check_taps([content_layer])

    content_img = load_image(content)
    style_img = load_image(style)
    if min(style_img.shape[-2:]) < 16:
        raise InputError(f"a style image of {style_img.shape[-1]}x{style_img.shape[-2]} px is too small "
                         "(at least 16 px a side)")
    size = parse_size(size)
    out_size = tuple(content_img.shape[-2:]) if size is None else fit(content_img.shape[-2:], size)
    sizes = _levels(out_size, levels)

    def style_size(hw: tuple[int, int]) -> tuple[int, int]:
        return fit(style_img.shape[-2:], max(16, round(max(hw) * style_scale)))

    deepest = max(s_layers, key=lambda t: int(t[4]))
    for what, hw in (("output", sizes[0]), ("style", style_size(sizes[0]))):
        if _side_at(min(hw), deepest) < patch_size:
            raise InputError(f"the coarsest {what} image ({hw[1]}x{hw[0]} px) is too small for "
                             f"{patch_size}x{patch_size} patches at {deepest}; use fewer levels or a larger size")

    taps = list(s_layers) if style_weight > 0 else []
    if content_weight > 0:
        taps.append(content_layer)
    extractor = settings.features(taps)

    def build(hw: tuple[int, int], ex) -> dict:
        losses: dict = {}
        if content_weight > 0:
            target = ex.targets(resize(content_img, hw))[content_layer]
            losses[f"content:{content_layer}"] = ContentLoss(content_layer, target, BASE_CONTENT * content_weight)
        if style_weight > 0:
            s_feats = ex.targets(resize(style_img, style_size(hw)))
            area = hw[0] * hw[1] / (out_size[0] * out_size[1])
            for tap, w in s_layers.items():
                losses[f"mrf:{tap}"] = MRFLoss(tap, s_feats[tap], BASE_STYLE * style_weight * w * area,
                                               patch_size, patch_stride)
        if tv_weight > 0:
            losses["tv"] = TVLoss(BASE_TV * tv_weight)
        return losses

    start = initial_image(init, sizes[0], content_img, style_img, settings.seed)
    return optimize(build, start, Schedule(sizes, [steps] * levels), extractor, settings, callback=callback)
