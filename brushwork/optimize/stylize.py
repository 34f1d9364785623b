"""Neural style (Gatys et al. 2016) with the controls of Gatys et al. 2017.

Content is matched at relu4_2, style as Gram matrices at relu1_1 ... relu5_1, each term
relative to its target's energy (see `BASE_STYLE`). One knob, `style_weight`, sets the
style/content balance (β/α): 1 is the default, 0.3 keeps much of the photo, 10 and more paint
it over; raw per-layer weights are there for experts. The canvas is larger than the picture by a
mirrored margin (`margin`) that is cut off at the end, so no line or frame is painted along the
edges. Several styles blend by weight, masks confine a style to a region (guided Gram), and
colour can be preserved by luminance-only transfer or by matching the style's colour histogram
to the content.
"""
from __future__ import annotations

import dataclasses
import warnings
from typing import Sequence

import torch
import torch.nn.functional as F

from ..errors import InputError, InputWarning
from ..image import (ImageSource, Size, UpTo, combine_luminance, fit, load_image, luminance, match_histogram,
                     load_mask, match_luminance, parse_size, resize)
from ..losses import ContentLoss, GramLoss, TVLoss, gram, resize_mask
from ..progress import Callback
from ..weights import blend_weights, non_negative
from .builds import Build, combine
from .canvas import ImageCanvas, luminance_canvas
from .common import LayerSpec, initial_image, layer_weights
from .engine import Schedule, optimize
from .settings import RunSettings

CONTENT_LAYERS = ("relu4_2",)
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
# Every content and style term is relative: divided by its target's mean square, so a layer
# counts by how far the image is from the target there (the measure `metrics` reports), not by
# the size of its activations. On raw Grams relu4_1's term outweighed the rest by ~50x in value
# and ~100x in gradient (chicago x the_scream, 256 px): relu1_1 (colour) and relu5_1 were never
# matched, so the sky kept the photo's colours, raising the style weight only pushed relu4_1
# against the content (relu4_2), and the style distance stopped falling. The TV prior was 1e-8
# of the objective, i.e. off, which left per-pixel chroma speckle; on the relative scale 1e-3
# is about a fifth of the objective at the default weights and removes it.
BASE_CONTENT = 1.0
BASE_STYLE = 1.0
BASE_TV = 1e-3
COLOR_MODES = (None, "luminance", "histogram")
# However VGG pads its convolutions, the outermost pixels are seen unlike the others, and at high
# style weights the optimiser painted a line or frame there (zeros and replicate padding on the
# outermost row, reflect on the next; worse in bf16). The picture is instead the middle of a canvas
# with a mirrored margin of a 32nd of its long side (at least 8 px): the border effects land in the
# margin, which is cut off (BENCHMARKS.md, "Border lines"); about 15 % more pixels at 512 px.
MARGIN_SHARE, MIN_MARGIN = 1 / 32, 8


def margin(size: tuple[int, int]) -> int:
    """The mirrored margin, in px, around a picture of `size` (H, W) while it is optimised."""
    return min(max(MIN_MARGIN, round(max(size) * MARGIN_SHARE)), min(size) - 1)


def _mirror(t: torch.Tensor, m: int) -> torch.Tensor:
    return F.pad(t, (m, m, m, m), mode="reflect") if m > 0 else t


def _interior(img: torch.Tensor, m: int, canvas: tuple[int, int]) -> torch.Tensor:
    """The picture inside a canvas of `canvas` size with margin `m`, from `img` at any scale of it."""
    if m == 0:
        return img
    h, w = img.shape[-2:]
    top, left = round(m * h / canvas[0]), round(m * w / canvas[1])
    return img[..., top:h - top, left:w - left]


def _without_margin(callback: Callback | None, m: int, canvas: tuple[int, int]) -> Callback | None:
    """`callback`, shown the picture of each step without its margin."""
    if callback is None or m == 0:
        return callback

    def report(p):
        inner = _interior(p.image, m, canvas)
        return callback(dataclasses.replace(p, image=inner, size=tuple(inner.shape[-2:])))
    return report


def energy(t: torch.Tensor) -> float:
    """Mean square of a target: dividing a loss by it makes the loss relative (0 = matched,
    1 = an error as large as the target itself), the same on every layer."""
    return max(float(t.pow(2).mean()), 1e-12)


def _load_masks(masks: Sequence[ImageSource | None] | None, n_styles: int,
                shape: tuple[int, int]) -> list[torch.Tensor | None]:
    """One (1, 1, H, W) mask (or None) per style at the content's `shape`. A mask of another size
    but the content's aspect ratio (to a pixel) is resized, area-averaged or nearest, with an
    `InputWarning` saying so; another aspect ratio is refused."""
    if masks is None:
        return [None] * n_styles
    if len(masks) != n_styles:
        raise InputError(f"{len(masks)} masks given for {n_styles} style images; give one per style")
    out: list[torch.Tensor | None] = []
    h, w = shape
    for i, m in enumerate(masks, 1):
        if m is None:
            out.append(None)
            continue
        t = load_mask(m)
        mh, mw = t.shape[-2:]
        if (mh, mw) != (h, w):
            if abs(mh * w - h * mw) > max(w, mw):  # more than a pixel off the content's aspect
                raise InputError(f"mask {i} is {mw}x{mh} but the content is {w}x{h}: a mask must have "
                                 "the content's aspect ratio")
            warnings.warn(f"mask {i} is {mw}x{mh}; resized to the content's {w}x{h}", InputWarning, stacklevel=3)
            t = resize_mask(t, (h, w))
        out.append(t)
    return out


def stylize(content: ImageSource, styles: ImageSource | Sequence[ImageSource], *,
            size: Size | None = UpTo(512),
            steps: int = 150,
            style_weight: float = 1.0,
            content_weight: float = 1.0,
            tv_weight: float = 1.0,
            style_blend: Sequence[float] | None = None,
            style_scale: float = 1.0,
            content_layers: LayerSpec = CONTENT_LAYERS,
            style_layers: LayerSpec = STYLE_LAYERS,
            preserve_color: str | None = None,
            masks: Sequence[ImageSource | None] | None = None,
            style_masks: Sequence[torch.Tensor | None] | None = None,
            init: str | ImageSource = "content",
            multiscale: bool = True,
            min_side: int | None = None,
            coarse_steps: int | None = 100,
            optimizer: str = "lbfgs",
            lr: float | None = None,
            tol: float = 1e-4,
            pooling: str = "max",
            seed: int | None = None,
            device: str | torch.device = "auto",
            dtype: str | torch.dtype = "auto",
            callback: Callback | None = None,
            extra_losses: Build | None = None) -> torch.Tensor:
    """Paint `content` in the style of `styles`; returns (1, 3, H, W) RGB in [0, 1].

    `style_weight` is the one knob: 1 is the balanced default, 10 much more style, 0.3 mostly
    content (the style distance falls and the content distance rises with it). `size` is the long side (or (H, W)) of the output; `None` keeps the content's size,
    and the default `UpTo(512)` too up to 512 px (a larger photo is shrunk, a smaller one never
    enlarged: upscaling adds no detail, only time).
    `masks` (one per style, white = this style; resized to the content if they have its aspect
    ratio) confine styles to regions. `style_masks` (one (1, 1, h, w) map per style image, or None)
    take each style's statistics from a region of it only (Deep Photo's segmentation-masked Grams).
    `preserve_color` is 'luminance' (style only the luminance) or 'histogram' (recolour styles).
    `multiscale` starts at a long side of `min_side` and doubles up to the output, running
    `coarse_steps` at each smaller scale. The default, a quarter of the output's side but at least
    512 px, keeps outputs up to 512 px on one scale: a smaller start lets VGG's receptive field
    rearrange the composition, and a half-size start leaves a 512 px result visibly softer.
    `extra_losses(size, features) -> {name: loss}` is a build combined with the recipe's own
    (`optimize.combine`: video adds its temporal loss this way); its losses see the image the
    others see, and their names must differ from theirs. With extra losses the canvas has no
    margin (their targets are the picture's size).
    """
    settings = RunSettings(optimizer, lr, tol, seed, pooling, device, dtype)
    style_list = list(styles) if isinstance(styles, (list, tuple)) else [styles]
    if not style_list:
        raise InputError("at least one style image is needed")
    if preserve_color not in COLOR_MODES:
        raise InputError(f"unknown colour preservation {preserve_color!r}; choose 'luminance' or 'histogram'")
    for value, what in ((style_weight, "style weight"), (content_weight, "content weight"),
                        (tv_weight, "tv weight")):
        non_negative(value, what)
    if not style_scale > 0:
        raise InputError(f"style scale must be positive, not {style_scale}")
    size = parse_size(size)
    c_layers = layer_weights(content_layers, "content")
    s_layers = layer_weights(style_layers, "style")
    blend = blend_weights(style_blend, len(style_list))

    content_full = load_image(content)
    style_imgs = [load_image(s) for s in style_list]
    for s in style_imgs:
        if min(s.shape[-2:]) < 16:
            raise InputError(f"a style image of {s.shape[-1]}x{s.shape[-2]} px is too small (at least 16 px a side)")
    mask_list = _load_masks(masks, len(style_list), tuple(content_full.shape[-2:]))
    style_mask_list = list(style_masks) if style_masks is not None else [None] * len(style_list)
    if len(style_mask_list) != len(style_list):
        raise InputError(f"{len(style_mask_list)} style masks given for {len(style_list)} style images")
    out_size = tuple(content_full.shape[-2:]) if size is None else fit(content_full.shape[-2:], size)
    pad = margin(out_size) if extra_losses is None else 0
    canvas_size = (out_size[0] + 2 * pad, out_size[1] + 2 * pad)

    canvas = ImageCanvas()
    if preserve_color == "luminance":
        style_imgs = [match_luminance(s, content_full) for s in style_imgs]
        content_work = luminance(content_full).expand(-1, 3, -1, -1).contiguous()
        canvas = luminance_canvas()
    elif preserve_color == "histogram":
        style_imgs = [match_histogram(s, content_full) for s in style_imgs]
        content_work = content_full
    else:
        content_work = content_full
    picture = resize(content_work, out_size)
    content_work = _mirror(picture, pad)
    mask_list = [None if k is None else _mirror(resize_mask(k, out_size), pad) for k in mask_list]

    def gatys(hw: tuple[int, int], ex) -> dict:
        losses: dict = {}
        c_feats = ex.targets(resize(content_work, hw))
        for tap, w in c_layers.items():
            losses[f"content:{tap}"] = ContentLoss(tap, c_feats[tap], BASE_CONTENT * content_weight * w
                                                   / energy(c_feats[tap]))
        # the style is seen at the picture's scale (the canvas's margin is not part of it)
        style_side = max(16, round(max(hw) * max(out_size) / max(canvas_size) * style_scale))
        for i, (img, b, mask, s_mask) in enumerate(zip(style_imgs, blend, mask_list, style_mask_list)):
            if b == 0:
                continue
            s_feats = ex.targets(resize(img, fit(img.shape[-2:], style_side)))
            m = None if mask is None else resize(mask, hw).to(ex.device)
            for tap, w in s_layers.items():
                name = f"style{i}:{tap}" if len(style_imgs) > 1 else f"style:{tap}"
                sm = None if s_mask is None else resize_mask(s_mask, s_feats[tap].shape[-2:]).to(s_feats[tap])
                target = gram(s_feats[tap], sm)
                losses[name] = GramLoss(tap, target, BASE_STYLE * style_weight * b * w / energy(target), m)
        if tv_weight > 0:
            losses["tv"] = TVLoss(BASE_TV * tv_weight)
        return losses

    if min_side is None:
        min_side = max(512, max(out_size) // 4)
    schedule = (Schedule.coarse_to_fine(canvas_size, steps, min_side, coarse_steps=coarse_steps)
                if multiscale else Schedule([canvas_size], [steps]))
    if isinstance(init, str) and init == "noise":
        start = initial_image(init, schedule.sizes[0], None, None, settings.seed)
    else:
        start = initial_image(init, out_size, picture, style_imgs[0], settings.seed)
        start = resize(_mirror(start, pad), schedule.sizes[0])
    if preserve_color == "luminance":
        start = luminance(start)
    build = gatys if extra_losses is None else combine(gatys, extra_losses)
    result = optimize(build, start, schedule, settings.features(list(c_layers) + list(s_layers)), settings,
                      canvas=canvas, callback=_without_margin(callback, pad, canvas_size))
    result = _interior(result, pad, canvas_size)
    if preserve_color == "luminance":
        result = combine_luminance(result, content_full)
    return result
