"""`apply`: stylize a photo in one pass with a feed-forward network, at full resolution.

    out = apply("photo.jpg", preset="wave")                  # one of our named presets
    out = apply("photo.jpg", preset=7)                       # one of the 26 ONNX presets
    out = apply("photo.jpg", preset="3:0.5,12:0.5")          # a blend of presets
    out = apply("photo.jpg", style="painting.jpg")           # any image as the style
    out = apply("photo.jpg", style="painting.jpg", engine="adain", strength=0.6)  # our AdaIN decoder
    out = apply("photo.jpg", model="mine.bw", strength=0.6)  # one of our own trained networks

Around the stylizer's painter (see `base.py`) this does what every network needs: resizing,
tiling above a pixel budget (overlapping tiles with feathered seams, so memory stays bounded
on a 6000x4000 photo), reflect-padding each tile to the network's multiple, colour
preservation and strength, all per tile.

Stroke scale: a network paints strokes of a fixed size in pixels, so on a 3000 px photo its
style would shrink to fine noise. The photo is painted at a working size (by default a long
side of about STROKE_WORK px, where the networks' strokes look like the painting) and brought
back to full resolution guided by the photo itself (`guided.upsample_detail`): the strokes
keep their size relative to the picture, the edges get the full-size photo's sharpness.
"""
from __future__ import annotations

import operator
import os
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from ..batch import FolderResult, plan_folder, run_folder
from ..errors import InputError
from ..guided import upsample_detail
from ..image import ImageSource, combine_luminance, fit, load_image, match_histogram, parse_size, resize, tiled
from ..progress import Callback, Progress
from .base import Painter, Stylizer, as_stylizer
from .networks import pad_to_multiple
from .presets import (NAMED_MODEL, ArbitraryStylizer, PresetSpec, PresetStylizer, preset_weights, presets,
                      uses_names)

TILE_PIXELS = 1536 * 1536  # larger images are painted in tiles (a preset needs ~0.6 GB per MP on the CPU)
TILE = 1024                # tile side used above TILE_PIXELS
MIN_TILE = 64
MIN_SIDE = 16              # smaller photos are refused: the networks' reflect padding needs 8 px
COLOR_MODES = (None, "luminance", "histogram")
STROKE_WORK = 1000         # stroke_scale "auto": larger photos are painted at this long side and upsampled,
STROKE_SLACK = 1.25        # ... those up to 1.25x larger as they are (a 2 % change is not worth the upsampling)
STROKE_SCALES = (0.25, 16.0)  # the range of a numeric stroke_scale
UPSAMPLE_RADIUS, UPSAMPLE_EPS = 1, 1e-3  # the upsampler's window (working px) and ridge (BENCHMARKS.md)

# The networks that paint a style image (`engine`): the ONNX arbitrary-style network, and ours.
ADAIN_MODEL = Path(__file__).parent / "models" / "adain.bw"
ENGINES: dict[str, Path | None] = {"magenta": None, "adain": ADAIN_MODEL}


def overlap_for(tile: int) -> int:
    """Pixels shared by neighbouring tiles. The networks' output depends on a tile's padding up to
    ~64 px from its edge; the feathering ignores a quarter of the overlap at each edge, so 256 px
    makes the tiles agree with an untiled run (given shared statistics, see `ImageNetwork`)."""
    return min(256, tile // 2)


def check_strength(strength: float) -> float:
    try:
        s = float(strength)
    except (TypeError, ValueError):
        raise InputError(f"strength {strength!r} is not a number between 0 and 1") from None
    if not 0 <= s <= 1:
        raise InputError(f"strength {strength} must be between 0 (the photo) and 1 (full style)")
    return s


def check_preserve_color(mode: bool | str | None) -> str | None:
    """None (off), 'luminance' (True too: the stylized luminance with the photo's chroma, YIQ) or
    'histogram' (the result recoloured to the photo's colour mean and covariance)."""
    if mode is None or mode is False or mode == "":
        return None
    if mode is True:
        return "luminance"
    if mode not in COLOR_MODES:
        raise InputError(f"unknown colour preservation {mode!r}; choose 'luminance' or 'histogram'")
    return mode


def check_stroke_scale(scale: float | str | None) -> float | str:
    """'auto' (None too) or a number in STROKE_SCALES: how many times the network's own stroke
    size (in output pixels) the strokes are painted."""
    if scale is None or (isinstance(scale, str) and scale.strip().lower() == "auto"):
        return "auto"
    try:
        value = float(scale)
    except (TypeError, ValueError):
        raise InputError(f"stroke scale {scale!r} is not 'auto' or a number") from None
    lo, hi = STROKE_SCALES
    if not lo <= value <= hi:
        raise InputError(f"stroke scale {scale} must be between {lo:g} and {hi:g} (or auto)")
    return value


def working_size(hw: tuple[int, int], stroke_scale: float | str) -> tuple[int, int]:
    """The (H, W) a network paints an (H, W) photo at for `stroke_scale` (checked): the photo's
    size divided by the scale; 'auto' is long side / STROKE_WORK above STROKE_SLACK x STROKE_WORK,
    1 below. The short side never goes below MIN_SIDE."""
    h, w = hw
    if stroke_scale == "auto":
        factor = max(h, w) / STROKE_WORK if max(h, w) > STROKE_SLACK * STROKE_WORK else 1.0
    else:
        factor = float(stroke_scale)
    factor = min(factor, min(h, w) / MIN_SIDE)
    return (h, w) if abs(factor - 1) < 1e-6 else (max(MIN_SIDE, round(h / factor)), max(MIN_SIDE, round(w / factor)))


def check_tile(tile: int | None) -> int | None:
    """None: automatic; 0: never tile; otherwise the tile side in px (at least MIN_TILE)."""
    if tile is None:
        return None
    try:
        side = operator.index(tile) if not isinstance(tile, bool) else -1
    except TypeError:
        side = -1
    if side != 0 and side < MIN_TILE:
        raise InputError(f"tile {tile!r} must be 0 (never tile) or a side of at least {MIN_TILE} px")
    return side


def load_stylizer(preset: PresetSpec | None = None, style: ImageSource | Sequence[ImageSource] | None = None,
                  model: Any = None, device: str = "auto", style_weights: Sequence[float] | None = None,
                  masks: Sequence[ImageSource] | None = None, engine: str | None = None) -> Stylizer:
    """The stylizer for a preset (or a blend), a style image, or a model. Load once, then pass it
    as `model=` to stylize many photos.

    A preset is one of ours by name (`"wave"`, `"starry_night:0.5,the_scream:0.5"`: our
    multistyle network `NAMED_MODEL`) or one of the 26 ONNX ones by number (`7`, `"3:0.5,12:0.5"`).

    A style image alone is painted by the ONNX arbitrary-style network (`engine` "magenta"), by
    one of ours that ships (`engine`: a name in ENGINES), or by a `model` that takes a style (an
    AdaIN decoder, a student of the ONNX network, or a student's `.onnx` export, which paints in
    the ONNX network's place). With an AdaIN `model`,
    strength is its α, and several styles blend by `style_weights` or paint the regions of
    `masks`, one per style.

    `model` is a `.bw` file (brushwork.feedforward.modelfile.load_model), a Stylizer or a torch
    network. A model that takes a style image (AdaIN: it has `with_style`) is given `style` too;
    a multistyle model (it has `with_weights`) takes `preset`: its own styles by number or name,
    or a blend of them (`"wave:0.7,udnie:0.3"`).
    """
    if isinstance(style, (list, tuple)) and len(style) == 1:
        style = style[0]
    if engine is not None:
        model = engine_model(engine, preset, style, model)
    if isinstance(model, (str, os.PathLike)) and Path(model).suffix.lower() == ".onnx" and style is not None:
        # a student's ONNX export, in the ONNX transform network's place
        if isinstance(style, (list, tuple)) or style_weights is not None or masks is not None:
            raise InputError(f"{Path(model).name} paints one style image; several style images, style weights "
                             "and masks need --engine adain")
        return ArbitraryStylizer(style, device, transform=model)
    given = [name for name, v in (("preset", preset), ("style", style), ("model", model)) if v is not None]
    if given == ["preset"] and uses_names(preset):
        given, model = ["preset", "model"], NAMED_MODEL
    several = isinstance(style, (list, tuple))
    if (style_weights is not None or masks is not None or several) and given != ["style", "model"]:
        raise InputError("several style images, style weights and masks need --engine adain or an AdaIN --model")
    if given == ["style", "model"]:
        loaded = _loaded(model, device)
        if not hasattr(loaded, "with_style"):
            raise InputError(f"{getattr(loaded, 'name', 'this model')} paints its own style; give a style image "
                             "only with an AdaIN model (or give --style without --model)")
        return as_stylizer(loaded.with_style(style, style_weights, masks), device)
    if given == ["preset", "model"]:
        loaded = load_multistyle(model, device)
        weights = preset_weights(preset, len(loaded.weights), loaded.styles)
        return as_stylizer(loaded.with_weights(weights.tolist()), device)
    if len(given) != 1:
        what = "none" if not given else " and ".join(given)
        raise InputError(f"give one of a preset, a style image or a model (--preset, --style, --model); got {what}")
    if preset is not None:
        return PresetStylizer(preset, device)
    if style is not None:
        return ArbitraryStylizer(style, device)
    return as_stylizer(_loaded(model, device), device)


def engine_model(engine: str, preset: Any, style: Any, model: Any) -> Path | None:
    """The shipped model file of an engine for a style image (None: the ONNX network)."""
    if engine not in ENGINES:
        raise InputError(f"unknown engine {engine!r}; the engines for --style: {', '.join(ENGINES)}")
    if model is not None:
        raise InputError(f"give --engine or --model, not both (engine {engine} is a shipped model)")
    if style is None:
        source = "a preset" if preset is not None else "no style image"
        raise InputError(f"engine {engine} paints a --style image, and {source} was given "
                         "(presets have networks of their own)")
    return ENGINES[engine]


def _loaded(model: Any, device: str) -> Any:
    """A model given as a `.bw` path, loaded; anything else as it is."""
    return load_model_file(model, device) if isinstance(model, (str, os.PathLike)) else model


def load_multistyle(model: Any, device: str = "auto") -> Any:
    """A multistyle model (a `.bw` path or a loaded one: it has `with_weights` and `styles`)."""
    loaded = _loaded(model, device)
    if not hasattr(loaded, "with_weights"):
        raise InputError(f"{getattr(loaded, 'name', 'this model')} has one style; picking styles (--preset) "
                         "needs a multistyle model")
    return loaded


def load_model_file(path: str | os.PathLike, device: str = "auto") -> Stylizer:
    """A network we trained, from its `.bw` file (brushwork.feedforward.modelfile, which checks the path)."""
    from .modelfile import load_model
    return as_stylizer(load_model(path, device), device, name=Path(path).name)


def _tile_painter(paint: Painter, multiple: int, strength: float, pixel_blend: bool,
                  luminance_only: bool) -> Painter:
    """Pad, paint, crop, then luminance-only colour and the strength blend: all per tile."""
    def tile_fn(tile: torch.Tensor) -> torch.Tensor:
        h, w = tile.shape[-2:]
        out = paint(pad_to_multiple(tile, multiple)[0])[..., :h, :w].to("cpu", torch.float32).clamp(0, 1)
        if luminance_only:
            out = combine_luminance(out, tile)
        if pixel_blend and strength < 1:
            out = torch.lerp(tile, out, strength)
        return out
    return tile_fn


def apply(content: ImageSource, preset: PresetSpec | None = None, style: ImageSource | None = None,
          model: Any = None, strength: float = 1.0, preserve_color: bool | str | None = False,
          size: int | tuple[int, int] | str | None = None, stroke_scale: float | str = "auto",
          tile: int | None = None, device: str = "auto", callback: Callback | None = None,
          engine: str | None = None) -> torch.Tensor:
    """Stylize `content` in one pass; returns (1, 3, H, W) RGB in [0, 1] at the photo's size.

    Give exactly one style source:
      preset   one of our named presets ("wave"), an ONNX preset 0-25, or a blend of either:
               "wave:0.7,the_scream:0.3", "3:0.5,12:0.5" or {3: 0.5, 12: 0.5}
      style    any image (path, PIL, array, tensor): its style is read once, the photo is
               painted at full resolution (the network is not run at a fixed 384 px)
      model    a trained network: a `.bw` file, a Stylizer (see `load_stylizer`) or a torch module
    engine          for a style image: the network that paints it, a name in ENGINES ("magenta",
                    the default: the ONNX arbitrary-style network)

    strength        0 returns the photo unchanged, 1 the full style, 0.5 about half-way (style and
                    content distances move evenly). It blends the painting with the photo; for a
                    style image the painting's style vector also moves from the photo's own to
                    the style's.
    preserve_color  keep the photo's colours: 'luminance' (or True) paints only the luminance
                    (YIQ: the photo's chroma); 'histogram' recolours the result to the photo's
                    colour mean and covariance (Gatys et al. 2017), keeping the strokes' shading.
    size            resize the photo first: long side in px, or (H, W), or "WxH". Default: as is.
    stroke_scale    stroke size as a multiple of the network's own (in output pixels): the photo is
                    painted at its size divided by this and upsampled, guided by the photo. 'auto'
                    keeps the strokes relative to the picture: photos larger than 1.25 x STROKE_WORK
                    px are painted at STROKE_WORK px long side (smaller ones as they are).
    tile            None: tile automatically above TILE_PIXELS (tiles of TILE px); 0: never;
                    or the tile side in px. Tiles overlap by min(256, tile / 2) px, are feathered,
                    and share the whole image's normalisation statistics (no seams, no patches).
    device          auto (cuda > mps > cpu), cpu, cuda or mps.
    callback        gets a Progress after each tile (step = tiles done); it cannot stop the work.
    """
    strength = check_strength(strength)
    preserve_color = check_preserve_color(preserve_color)
    stroke_scale = check_stroke_scale(stroke_scale)
    tile = check_tile(tile)
    size = parse_size(size)
    stylizer = load_stylizer(preset, style, model, device, engine=engine)
    return run_stylizer(stylizer, load_content(content, size), strength, preserve_color, tile, callback,
                        stroke_scale)


def apply_folder(folder: str | os.PathLike, output: str | os.PathLike, preset: PresetSpec | None = None,
                 style: ImageSource | None = None, model: Any = None, strength: float = 1.0,
                 preserve_color: bool | str | None = False, size: int | tuple[int, int] | str | None = None,
                 stroke_scale: float | str = "auto", tile: int | None = None, device: str = "auto",
                 overwrite: bool = False, callback: Callback | None = None,
                 on_skip: Callable[[Path, InputError], None] | None = None, engine: str | None = None) -> FolderResult:
    """`apply` to every photo directly inside `folder`, each saved as `output`/<name>.png.

    Everything is checked before the first photo is painted (the options, the output folder,
    every photo's header, two photos with one name, a result that would replace its photo:
    allowed with `overwrite`). A photo found damaged while painting is skipped (`on_skip`
    is told) and the others are written; see `batch.run_folder` for `callback`.
    """
    strength = check_strength(strength)
    preserve_color = check_preserve_color(preserve_color)
    stroke_scale = check_stroke_scale(stroke_scale)
    tile = check_tile(tile)
    size = parse_size(size)
    pairs = plan_folder(folder, output, overwrite=overwrite)
    stylizer = load_stylizer(preset, style, model, device, engine=engine)

    def paint(photo: torch.Tensor) -> torch.Tensor:
        return run_stylizer(stylizer, load_content(photo, size), strength, preserve_color, tile,
                            stroke_scale=stroke_scale)
    return run_folder(pairs, paint, callback, on_skip)


def load_content(content: ImageSource, size: int | tuple[int, int] | None = None) -> torch.Tensor:
    """The photo as (1, 3, H, W), refused below MIN_SIDE px a side, resized when `size` is given."""
    image = load_image(content)
    h, w = image.shape[-2:]
    if min(h, w) < MIN_SIDE:
        name = content if isinstance(content, (str, os.PathLike)) else "content image"
        raise InputError(f"{name}: {w}x{h} is too small (at least {MIN_SIDE} px a side)")
    return image if size is None else resize(image, fit((h, w), size))


def run_stylizer(stylizer: Stylizer, image: torch.Tensor, strength: float = 1.0,
                 preserve_color: bool | str | None = None, tile: int | None = None,
                 callback: Callback | None = None, stroke_scale: float | str = 1.0) -> torch.Tensor:
    """The work behind `apply`, for an already loaded stylizer and image (validated by the caller;
    `stroke_scale` 1 paints at the image's own size, as `apply(stroke_scale=1)`)."""
    if strength == 0:
        return image.clone()
    mode = check_preserve_color(preserve_color)
    hw = tuple(image.shape[-2:])
    work = working_size(hw, check_stroke_scale(stroke_scale))
    if work == hw:
        out = _paint(stylizer, image, strength, mode == "luminance", tile, callback)
    else:
        out = _rescaled(_paint(stylizer, resize(image, work), strength, False, tile, callback), image)
        out = combine_luminance(out, image) if mode == "luminance" else out
    # whole-image colour statistics: per tile they would differ and show the seams
    return match_histogram(out, image) if mode == "histogram" else out


def _rescaled(painted: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """A painting of `image` made at another size, brought to `image`'s size: larger, upsampled
    with the photo's own full-size detail where the painting follows the photo (`upsample_detail`:
    sharp edges, the strokes as painted); smaller, by area averaging."""
    h, w = image.shape[-2:]
    if painted.shape[-2] < h:
        return upsample_detail(resize(image, tuple(painted.shape[-2:])), painted, image,
                               UPSAMPLE_RADIUS, UPSAMPLE_EPS)
    return resize(painted, (h, w)).clamp_(0, 1)


def _paint(stylizer: Stylizer, image: torch.Tensor, strength: float, luminance_only: bool, tile: int | None,
           callback: Callback | None) -> torch.Tensor:
    h, w = image.shape[-2:]
    multiple = max(1, int(stylizer.multiple))
    if tile is None:
        tile = TILE if h * w > TILE_PIXELS else 0
    side = max(h, w) if tile == 0 else max(MIN_TILE, tile - tile % multiple)
    tiles = h > side or w > side
    paint = stylizer.painter(overview(image, multiple) if tiles else image, strength, tiled=tiles)
    tile_fn = _tile_painter(paint, multiple, strength, not stylizer.native_strength, luminance_only)
    start = time.perf_counter()

    def progress(done: int, total: int) -> None:
        if callback is not None:
            callback(Progress(step=done, total=total, loss=0.0, size=(h, w), elapsed=time.perf_counter() - start,
                              unit="tile"))

    if not tiles:
        return tiled(image, tile_fn, side, 0, progress).clamp_(0, 1)
    # Tiles start on the network's pixel grid: pad the image as an untiled run would, crop after.
    padded = pad_to_multiple(image, multiple)[0]
    return tiled(padded, tile_fn, side, overlap_for(side), progress, align=multiple).clamp_(0, 1)[..., :h, :w]


def overview(image: torch.Tensor, multiple: int = 4, pixels: int = TILE_PIXELS) -> torch.Tensor:
    """The whole image within the pixel budget, sides multiples of `multiple`: what a stylizer
    computes whole-image statistics from before painting tiles."""
    h, w = image.shape[-2:]
    if h * w <= pixels:
        return pad_to_multiple(image, multiple)[0]
    scale = (pixels / (h * w)) ** 0.5
    return resize(image, (max(multiple, int(h * scale) // multiple * multiple),
                          max(multiple, int(w * scale) // multiple * multiple)))


def preset_sheet(content: ImageSource, tile: int = 256, columns: int = 7, work: int = 512,
                 device: str = "auto", model: Any = None) -> torch.Tensor:
    """All presets on one labelled contact sheet: the photo, our named presets, then presets 0-25;
    with a multistyle `model` (a `.bw` path or a loaded one), the photo and each of its styles.

    Each style paints the photo at `work` px (long side), shown shrunk to `tile` px, so the
    strokes look as they would on a mid-sized photo rather than blown up.
    """
    import numpy as np
    from PIL import Image, ImageDraw, ImageFont

    from ..image import to_pil
    styles = load_multistyle(model, device) if model is not None else None
    image = load_content(content)
    photo = resize(image, fit(image.shape[-2:], work))
    thumb_hw = fit(image.shape[-2:], tile)
    if styles is None:
        painted = [(p.key, apply(photo, preset=p.key, tile=0, device=device)) for p in presets()]
    else:
        painted = [(f"{i} {name}", apply(photo, model=styles.with_weights(i), tile=0))
                   for i, name in enumerate(styles.styles)]
    tiles = [("photo", photo)] + painted
    th, tw = thumb_hw
    pad, label = 6, 20
    rows = -(-len(tiles) // columns)
    sheet = Image.new("RGB", (columns * (tw + pad) + pad, rows * (th + label + pad) + pad), "white")
    draw = ImageDraw.Draw(sheet)
    try:
        font = ImageFont.load_default(size=15)
    except TypeError:  # Pillow < 10.1: the fixed bitmap font
        font = ImageFont.load_default()
    for n, (name, img) in enumerate(tiles):
        r, c = divmod(n, columns)
        x, y = pad + c * (tw + pad), pad + r * (th + label + pad)
        sheet.paste(to_pil(resize(img, thumb_hw)), (x, y + label))
        draw.text((x + 2, y + 2), name, fill="black", font=font)
    return torch.from_numpy(np.asarray(sheet, np.float32) / 255.0).permute(2, 0, 1)[None]
