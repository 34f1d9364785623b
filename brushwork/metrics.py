"""Quality numbers for a result: how close it is to its content image and to its style.

Every function accepts any ImageSource and returns a Python float; VGG features are computed
in fp32 so results are deterministic and comparable across devices.

- `ssim`: structural similarity of the luminances (1 = identical, higher = closer).
- `content_distance`: VGG activation MSE relative to the content's activation energy (0 = identical).
- `gram_distance`: squared Gram-matrix distance relative to the style Gram's energy (0 = same statistics).
- `sliced_wasserstein`: distance between the distributions of VGG feature vectors, relative to
  the style's feature magnitude (0 = same distribution).

- `qr_robustness`: for a QR code, the share of a battery of perturbations (scale 0.25-1x, blur,
  JPEG q50-90, small perspective, brightness +-30 %) under which two independent decoders
  (zxing-cpp, OpenCV) still read its payload (1 = every reading right).
- `temporal_error`: for videos, the warping error of Lai et al. 2018: output frame t against
  output t-1 warped along the flow of the INPUT frames, mean squared RGB difference (0-1 units)
  where Ruder et al.'s consistency check trusts the flow (0 = perfectly steady).
- `static_change`: for videos, how much the output changes per frame where the input stays
  still (mean absolute RGB change, 0-1 units, over pixels whose input changed less than
  STATIC_THRESHOLD): shimmer that the warping error, dominated by moving areas, hides.
- `stroke_frequency`: the typical spatial frequency of an image's strokes, in cycles per image
  width (the centroid of its gradient-energy spectrum): the same at any output size when the
  strokes scale with the image.

`evaluate` computes all that apply with one VGG pass per image; `evaluate_video` averages them
over sampled frames and adds `temporal_error`; `format_table` prints them.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from collections.abc import Iterable, Iterator, Sequence
from numbers import Integral
import numpy as np

import torch
import torch.nn.functional as F

from .device import resolve_device
from .errors import InputError
from .features import Extractor, check_taps
from .features.stats import gram
from .image import ImageSource, fit, load_image, luminance, resize

CONTENT_LAYER = "relu4_2"
STYLE_LAYERS: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_C1 = 0.01 ** 2  # (K1·L)² with K1 = 0.01 and data range L = 1
SSIM_C2 = 0.03 ** 2  # (K2·L)² with K2 = 0.03

MEANINGS = {
    "ssim": "higher = closer to content structure (1 = identical)",
    "content_distance": "lower = closer to content (0 = identical)",
    "gram_distance": "lower = closer to style statistics (0 = same)",
    "sliced_wasserstein": "lower = closer to style feature distribution (0 = same)",
    "temporal_error": "lower = steadier along the input's motion (0 = no flicker)",
    "static_change": "lower = stiller where the input is still (0 = no shimmer)",
}

Features = dict[str, torch.Tensor]


# --- validation and loading -------------------------------------------------------------------

def _layers(layers: str | Sequence[str]) -> tuple[str, ...]:
    out = (layers,) if isinstance(layers, str) else tuple(layers)
    if not out:
        raise InputError("at least one layer is needed")
    check_taps(out)
    return out


def _layer(layer: str) -> str:
    check_taps([layer])
    return layer


def _projections(projections: int) -> int:
    if isinstance(projections, bool) or not isinstance(projections, Integral) or projections < 1:
        raise InputError(f"projections must be a whole number of at least 1, not {projections!r}")
    return int(projections)


def _load(src: ImageSource, device: torch.device) -> torch.Tensor:
    img = load_image(src)
    if img.shape[0] != 1:
        raise InputError(f"metrics compare single images, not a batch of {img.shape[0]}")
    return img.to(device, torch.float32)


def _same_size(img: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """`img` resized to exactly `like`'s (H, W)."""
    return resize(img, tuple(like.shape[-2:]))


def _long_side_as(img: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """`img` resized, keeping its aspect, so its long side equals `like`'s long side."""
    return resize(img, fit(img.shape[-2:], max(like.shape[-2:])))


def _extractor(taps: Sequence[str], device: torch.device) -> Extractor:
    return Extractor(tuple(dict.fromkeys(taps)), "max", device, torch.float32)


# --- the measures on tensors and features ------------------------------------------------------

def _gaussian_window(device: torch.device) -> torch.Tensor:
    x = torch.arange(SSIM_WINDOW, dtype=torch.float64) - (SSIM_WINDOW - 1) / 2
    g = torch.exp(-x.pow(2) / (2 * SSIM_SIGMA ** 2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).to(device, torch.float32)[None, None]


def _ssim(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean SSIM (Wang et al. 2004) of the Y channels of two same-size images.

    Gaussian 11×11 window with σ = 1.5, population statistics, 'valid' filtering (no padding,
    as in the authors' reference code); the data range is 1.
    """
    if min(a.shape[-2:]) < SSIM_WINDOW:
        raise InputError(f"ssim needs images of at least {SSIM_WINDOW} px a side, not {a.shape[-1]}x{a.shape[-2]}")
    x, y = luminance(a).double(), luminance(b).double()
    w = _gaussian_window(a.device).double()
    mx, my = F.conv2d(x, w), F.conv2d(y, w)
    vx = F.conv2d(x * x, w) - mx * mx
    vy = F.conv2d(y * y, w) - my * my
    cxy = F.conv2d(x * y, w) - mx * my
    s = ((2 * mx * my + SSIM_C1) * (2 * cxy + SSIM_C2)) / ((mx * mx + my * my + SSIM_C1) * (vx + vy + SSIM_C2))
    return float(s.mean())


def _relative_mse(f: torch.Tensor, target: torch.Tensor) -> float:
    """mean((f - target)²) / mean(target²); 0 when both are zero, inf when only the target is."""
    err = float((f - target).pow(2).mean())
    energy = float(target.pow(2).mean())
    if energy > 0:
        return err / energy
    return float("inf") if err > 0 else 0.0


def _content(fi: Features, fc: Features, layer: str) -> float:
    return _relative_mse(fi[layer], fc[layer])


def _gram(fi: Features, fs: Features, layers: Sequence[str]) -> float:
    return sum(_relative_mse(gram(fi[t]), gram(fs[t])) for t in layers) / len(layers)


def _quantiles(sorted_values: torch.Tensor, n: int) -> torch.Tensor:
    """(M, K) column-sorted samples -> (n, K) values at the quantile levels (i + ½)/n, linearly interpolated."""
    m = sorted_values.shape[0]
    if m == n:
        return sorted_values
    pos = ((torch.arange(n, device=sorted_values.device, dtype=torch.float64) + 0.5) * m / n - 0.5).clamp(0, m - 1)
    lo = pos.floor().long()
    hi = (lo + 1).clamp(max=m - 1)
    frac = (pos - lo).to(sorted_values.dtype)[:, None]
    return sorted_values[lo] * (1 - frac) + sorted_values[hi] * frac


def _swd_layer(fi: torch.Tensor, fs: torch.Tensor, projections: int, seed: int) -> float:
    """Relative sliced 2-Wasserstein distance between the feature vectors at all positions."""
    c = fi.shape[1]
    dirs = torch.randn(c, projections, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    dirs = (dirs / dirs.norm(dim=0, keepdim=True)).to(fi.device, torch.float32)
    pi = (fi[0].reshape(c, -1).T @ dirs).sort(dim=0).values
    ps = (fs[0].reshape(c, -1).T @ dirs).sort(dim=0).values
    n = max(pi.shape[0], ps.shape[0])
    qi, qs = _quantiles(pi, n), _quantiles(ps, n)
    return _relative_mse(qi, qs) ** 0.5


def _swd(fi: Features, fs: Features, layers: Sequence[str], projections: int, seed: int) -> float:
    return sum(_swd_layer(fi[t], fs[t], projections, seed) for t in layers) / len(layers)


# --- public API --------------------------------------------------------------------------------

def ssim(a: ImageSource, b: ImageSource, device: str | torch.device = "auto") -> float:
    """SSIM of the luminances (Y of YIQ); `b` is resized to `a`'s size. 1 = identical.

    Gaussian 11×11 window (σ = 1.5), K1 = 0.01, K2 = 0.03 for data range 1, no padding.
    """
    dev = resolve_device(device)
    x = _load(a, dev)
    return _ssim(x, _same_size(_load(b, dev), x))


def psnr(a: ImageSource, b: ImageSource) -> float:
    """Peak signal-to-noise ratio in dB of RGB images in [0, 1] (`b` resized to `a`'s size)."""
    x = _load(a, torch.device("cpu"))
    mse = float(F.mse_loss(x, _same_size(_load(b, torch.device("cpu")), x)))
    return math.inf if mse == 0 else 10 * math.log10(1 / mse)


def content_distance(image: ImageSource, content: ImageSource, layer: str = CONTENT_LAYER,
                     device: str | torch.device = "auto") -> float:
    """VGG content loss relative to the content's activation energy: ‖Fᵢ − F꜀‖² / ‖F꜀‖² at `layer`.

    The content is resized to the image's size. 0 = identical activations; 1 = an error as
    large as the content's own activations (e.g. an all-black image's).
    """
    layer = _layer(layer)
    dev = resolve_device(device)
    x = _load(image, dev)
    ext = _extractor([layer], dev)
    return _content(ext.targets(x), ext.targets(_same_size(_load(content, dev), x)), layer)


def gram_distance(image: ImageSource, style: ImageSource, layers: str | Sequence[str] = STYLE_LAYERS,
                  device: str | torch.device = "auto") -> float:
    """Mean over layers of ‖G(image) − G(style)‖²_F / ‖G(style)‖²_F, Gram matrices as in `losses.gram`.

    The style is resized so its long side equals the image's long side (aspect kept).
    """
    layers = _layers(layers)
    dev = resolve_device(device)
    x = _load(image, dev)
    ext = _extractor(layers, dev)
    return _gram(ext.targets(x), ext.targets(_long_side_as(_load(style, dev), x)), layers)


def sliced_wasserstein(image: ImageSource, style: ImageSource, layers: str | Sequence[str] = STYLE_LAYERS,
                       projections: int = 64, seed: int = 0, device: str | torch.device = "auto") -> float:
    """Sliced 2-Wasserstein distance between the sets of VGG feature vectors, averaged over layers.

    Per layer every position's C-dim feature vector is projected on `projections` random unit
    directions (drawn from `seed`, the same for every layer of a given width, so a layer's term
    does not depend on which other layers are asked for); the sorted projections of both images
    are compared at the quantile levels (i + ½)/n, n the larger count, interpolating the smaller
    set linearly. The per-layer distance sqrt(mean (qᵢ − qₛ)²) is divided by the style's
    projected RMS sqrt(mean qₛ²) so layers and images are comparable. The style is resized so
    its long side equals the image's long side.
    """
    layers = _layers(layers)
    projections = _projections(projections)
    dev = resolve_device(device)
    x = _load(image, dev)
    ext = _extractor(layers, dev)
    return _swd(ext.targets(x), ext.targets(_long_side_as(_load(style, dev), x)), layers, projections, seed)


def evaluate(image: ImageSource, content: ImageSource | None = None,
             style: ImageSource | Sequence[ImageSource] | None = None, device: str | torch.device = "auto", *,
             content_layer: str = CONTENT_LAYER, style_layers: str | Sequence[str] = STYLE_LAYERS,
             projections: int = 64, seed: int = 0) -> dict[str, float]:
    """Every metric that applies, with one VGG pass per image.

    With `content`: `ssim` and `content_distance`. With `style`: `gram_distance` and
    `sliced_wasserstein`. `style` may be a list: then `gram_distance[1]`, `gram_distance[2]`, ...
    (1-based, in the order given) are reported per style and the unsuffixed keys hold their mean.
    """
    styles = list(style) if isinstance(style, (list, tuple)) else [] if style is None else [style]
    if content is None and not styles:
        raise InputError("evaluate needs a content image, a style image or both")
    content_layer = _layer(content_layer)
    style_layers = _layers(style_layers)
    projections = _projections(projections)
    dev = resolve_device(device)
    x = _load(image, dev)  # every input is loaded (and refused if bad) before the network is built
    c = None if content is None else _same_size(_load(content, dev), x)
    style_imgs = [_long_side_as(_load(s, dev), x) for s in styles]
    taps = ([content_layer] if c is not None else []) + (list(style_layers) if styles else [])
    ext = _extractor(taps, dev)
    fx = ext.targets(x)
    out: dict[str, float] = {}
    if c is not None:
        out["ssim"] = _ssim(x, c)
        out["content_distance"] = _content(fx, ext.targets(c), content_layer)
    per_style: list[tuple[float, float]] = []
    for s in style_imgs:
        fs = ext.targets(s)
        per_style.append((_gram(fx, fs, style_layers), _swd(fx, fs, style_layers, projections, seed)))
    if per_style:
        out["gram_distance"] = sum(g for g, _ in per_style) / len(per_style)
        out["sliced_wasserstein"] = sum(w for _, w in per_style) / len(per_style)
    if len(per_style) > 1:
        for i, (g, w) in enumerate(per_style, 1):
            out[f"gram_distance[{i}]"] = g
            out[f"sliced_wasserstein[{i}]"] = w
    return out


# --- video -------------------------------------------------------------------------------------

Frames = str | os.PathLike | Iterable[ImageSource]


def _frames(src: Frames, size: tuple[int, int] | None = None) -> Iterator[np.ndarray]:
    """A clip, frame folder or sequence of images as (H, W, 3) uint8 frames (resized to `size`)."""
    from .video.io import _resize, read_frames
    if isinstance(src, (str, os.PathLike)):
        yield from read_frames(src, size)
        return
    for item in src:
        t = load_image(item)
        a = (t[0].permute(1, 2, 0).numpy() * 255.0 + 0.5).astype(np.uint8)
        yield _resize(a, size)


def temporal_errors(output: Frames, content: Frames, flow_preset: str = "medium") -> list[float]:
    """Per frame t >= 1, the masked mean squared difference of output t and output t-1 warped
    onto it, with the flow and mask computed on the `content` (input) frames, resized to the
    output's size. Pairs where less than 1% of the frame can be trusted (scene cuts) are nan.
    """
    from .video.flow import consistency, flow, warp
    out_it = _frames(output)
    first = next(out_it, None)
    if first is None:
        raise InputError("the output video has no frames")
    in_it = _frames(content, first.shape[:2])
    errors: list[float] = []
    prev_o = prev_i = None
    o = first
    while o is not None:
        i = next(in_it, None)
        if i is None:
            raise InputError(f"the output has more frames than the input ({len(errors) + 1}+); "
                             "compare a video with the clip it was made from")
        if tuple(o.shape[:2]) != tuple(first.shape[:2]):
            raise InputError("the output's frames differ in size")
        if prev_o is not None:
            back = flow(i, prev_i, flow_preset)
            mask = consistency(flow(prev_i, i, flow_preset), back)
            if mask.mean() < 0.01:
                errors.append(float("nan"))
            else:
                d = warp(prev_o.astype(np.float32) / 255.0, back) - o.astype(np.float32) / 255.0
                errors.append(float((mask * (d ** 2).mean(-1)).sum() / mask.sum()))
        prev_o, prev_i = o, i
        o = next(out_it, None)
    if not errors:
        raise InputError("a temporal error needs at least two frames")
    return errors


def temporal_error(output: Frames, content: Frames, flow_preset: str = "medium") -> float:
    """The mean of `temporal_errors` over the frame pairs (scene cuts left out); lower is steadier.

    `output` and `content` are clips, frame folders or sequences of images of equal length.
    """
    errors = [e for e in temporal_errors(output, content, flow_preset) if e == e]
    if not errors:
        raise InputError("no frame pair of the input could be matched by optical flow")
    return float(np.mean(errors))


STATIC_THRESHOLD = 0.01  # mean abs RGB change (0-1) of the input below which a pixel counts as still


def static_changes(output: Frames, content: Frames,
                   threshold: float = STATIC_THRESHOLD) -> list[tuple[float, float, float]]:
    """Per frame t >= 1: (output change, input change, still fraction) over the pixels where the
    input changed by less than `threshold` (mean absolute RGB difference of frames t-1 and t,
    averaged over 5x5 px); the changes are mean absolute RGB differences in 0-1 units, nan for
    a pair with no still pixel."""
    import cv2
    out_it = _frames(output)
    first = next(out_it, None)
    if first is None:
        raise InputError("the output video has no frames")
    in_it = _frames(content, first.shape[:2])
    rows: list[tuple[float, float, float]] = []
    prev_o = prev_i = None
    for o in (first, *out_it):
        i = next(in_it, None)
        if i is None:
            raise InputError("the output has more frames than the input; compare a video with the clip it was "
                             "made from")
        o, i = o.astype(np.float32) / 255.0, i.astype(np.float32) / 255.0
        if prev_o is not None:
            di = cv2.blur(np.abs(i - prev_i).mean(-1), (5, 5))
            still = di < threshold
            if still.any():
                rows.append((float(np.abs(o - prev_o).mean(-1)[still].mean()), float(di[still].mean()),
                             float(still.mean())))
            else:
                rows.append((float("nan"), float("nan"), 0.0))
        prev_o, prev_i = o, i
    if not rows:
        raise InputError("a static change needs at least two frames")
    return rows


def static_change(output: Frames, content: Frames, threshold: float = STATIC_THRESHOLD) -> float:
    """The mean of `static_changes`' output change over the frame pairs with still pixels
    (lower is stiller; the input's own change there is below `threshold`)."""
    values = [r[0] for r in static_changes(output, content, threshold) if r[0] == r[0]]
    if not values:
        raise InputError("no part of the input stays still between frames")
    return float(np.mean(values))


def stroke_frequency(image: ImageSource) -> float:
    """The radial centroid of the luminance's gradient-energy spectrum (power times frequency
    squared, Hann-windowed, over the whole 2-D spectrum), in cycles per image width: a pattern with a period of p
    px scores about W / p. Strokes painted at a fixed pixel size score in proportion to the
    image's width; strokes relative to the image score alike at any size."""
    y = luminance(load_image(image)[:1].double())[0, 0]
    h, w = y.shape
    window = torch.hann_window(h, periodic=False, dtype=y.dtype)[:, None] * \
        torch.hann_window(w, periodic=False, dtype=y.dtype)[None]
    power = torch.fft.rfft2((y - y.mean()) * window).abs().square()
    fy = torch.fft.fftfreq(h, dtype=y.dtype)[:, None] * w      # cycles per image width
    fx = torch.fft.rfftfreq(w, dtype=y.dtype)[None] * w
    f2 = fx.square() + fy.square()
    energy = power * f2
    energy[:, 1:-1 if w % 2 == 0 else None] *= 2                 # rfft keeps one of each +-fx pair
    return float((energy * f2.sqrt()).sum() / energy.sum().clamp_min(1e-30))


def evaluate_video(output: str | os.PathLike, content: str | os.PathLike | None = None,
                   style: ImageSource | Sequence[ImageSource] | None = None, device: str | torch.device = "auto",
                   samples: int = 8) -> dict[str, float]:
    """`evaluate` averaged over `samples` evenly spread frames, plus `temporal_error` (needs `content`,
    the clip the output was made from; its frames are resized to the output's)."""
    from .video.io import probe
    info = probe(output)
    cinfo = probe(content) if content is not None else None
    if content is None and style is None:
        raise InputError("give the input clip (--content) and/or a style image (--style) to compare with")
    out: dict[str, float] = {}
    if cinfo is not None:
        out["temporal_error"] = temporal_error(info.path, cinfo.path)
    n = info.frames
    picks = sorted({round(k * (n - 1) / max(1, samples - 1)) for k in range(min(samples, n))})
    pairs: list[tuple[np.ndarray, np.ndarray | None]] = []
    outs = _frames(info.path)
    ins = _frames(cinfo.path, (info.height, info.width)) if cinfo is not None else None
    for t, o in enumerate(outs):
        i = next(ins, None) if ins is not None else None
        if t in picks:
            pairs.append((o, i))
    sums: dict[str, float] = {}
    for o, i in pairs:
        r = evaluate(o, content=i, style=style, device=device)
        for k, v in r.items():
            sums[k] = sums.get(k, 0.0) + v
    out.update({k: v / len(pairs) for k, v in sums.items()})
    return out


def format_table(results: dict[str, float]) -> str:
    """An aligned text table: metric, value, and what the value means."""
    rows = [("metric", "value", "meaning")]
    rows += [(k, f"{v:.4g}", MEANINGS.get(k.split("[")[0], "")) for k, v in results.items()]
    wk = max(len(r[0]) for r in rows)
    wv = max(len(r[1]) for r in rows)
    lines = [f"{k:<{wk}}  {v:>{wv}}  {m}".rstrip() for k, v, m in rows]
    lines.insert(1, "-" * max(len(line) for line in lines))
    return "\n".join(lines)


# --- QR codes ---------------------------------------------------------------------------------

def _scaled(f: float):
    def scale(img):
        from PIL import Image
        w, h = img.size
        return img.resize((max(8, round(w * f)), max(8, round(h * f))), Image.BOX)
    return scale


def _blurred(px_at_512: float):
    def blur(img):
        from PIL import ImageFilter
        return img.filter(ImageFilter.GaussianBlur(px_at_512 * max(img.size) / 512))
    return blur


def _jpeg(quality: int):
    def jpeg(img):
        import io

        from PIL import Image
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=quality)
        buf.seek(0)
        return Image.open(buf).convert("RGB")
    return jpeg


def _perspective(edge: str, amount: float = 0.06):
    """A small tilt: one edge of the picture shortened by `amount` of the side at each end."""
    def tilt(img):
        import cv2
        from PIL import Image
        w, h = img.size
        src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
        d = amount * max(w, h)
        dst = src.copy()
        if edge == "top":
            dst[0, 0] += d
            dst[1, 0] -= d
        else:
            dst[0, 1] += d
            dst[3, 1] -= d
        pad = round(d)
        m = cv2.getPerspectiveTransform(src, dst + pad)
        out = cv2.warpPerspective(np.asarray(img), m, (w + 2 * pad, h + 2 * pad), flags=cv2.INTER_LINEAR,
                                  borderValue=(255, 255, 255))
        return Image.fromarray(out)
    return tilt


def _brightness(f: float):
    def bright(img):
        from PIL import Image
        return Image.fromarray(np.clip(np.asarray(img).astype(np.float32) * f, 0, 255).astype(np.uint8))
    return bright


# The battery a stylized QR code must survive: (name, perturbation of an RGB PIL image).
QR_BATTERY = (
    ("clean", lambda img: img),
    ("scale 0.75", _scaled(0.75)), ("scale 0.5", _scaled(0.5)), ("scale 0.25", _scaled(0.25)),
    ("blur 1 px", _blurred(1.0)), ("blur 2 px", _blurred(2.0)),
    ("jpeg q90", _jpeg(90)), ("jpeg q70", _jpeg(70)), ("jpeg q50", _jpeg(50)),
    ("perspective top", _perspective("top")), ("perspective left", _perspective("left")),
    ("brightness -30%", _brightness(0.7)), ("brightness +30%", _brightness(1.3)),
)


@dataclass(frozen=True)
class QRRobustness:
    """`cases[name][decoder]`: whether that decoder read the payload after that perturbation."""

    cases: dict[str, dict[str, bool]]

    @property
    def pass_rate(self) -> float:
        results = [ok for by in self.cases.values() for ok in by.values()]
        return sum(results) / len(results)

    @property
    def decodes(self) -> bool:
        """Both decoders read the unperturbed picture."""
        return all(self.cases["clean"].values())

    def passed(self) -> set[tuple[str, str]]:
        return {(c, d) for c, by in self.cases.items() for d, ok in by.items() if ok}


def qr_robustness(image: ImageSource, payload: str) -> QRRobustness:
    """Decode a QR code picture with zxing-cpp and OpenCV under every perturbation of `QR_BATTERY`."""
    from .image import to_pil
    from .qrcode import DECODERS

    pil = to_pil(load_image(image))
    cases = {}
    for name, perturb in QR_BATTERY:
        grey = np.asarray(perturb(pil).convert("L"))
        cases[name] = {d: decode(grey) == payload for d, decode in DECODERS.items()}
    return QRRobustness(cases)
