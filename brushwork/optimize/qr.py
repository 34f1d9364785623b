"""Stylized QR codes that scan (the idea of Su et al.'s ArtCoder, 2021, on the image-iteration engine).

A painting's style (Gram matrices at relu1_1 ... relu5_1) and a content image (by default the
painting itself, so the code looks like the painting) are combined with a code loss that judges
each module where a reader samples it and acts only on the modules read wrong
(`losses.ModuleCodeLoss`). The canvas draws the fixed patterns (finders, separators, timing,
alignment, format and version information) and the quiet zone exactly: a dark module there keeps
`DARK_GAIN` of the painting's colour, a light one is lifted to within `LIGHT_GAIN` of white, so
they read right at any scale and still carry the painting's hues.

The result is then verified, not hoped for: two decoders (zxing-cpp, OpenCV) read it under the
perturbation battery of `metrics.qr_robustness`; while it passes fewer cases than the plain code
does, the modules a blurred, downscaled reader would misread are repaired (their centres pushed
to the right luminance, a larger spot each round) and it is read again. A code that does not
decode unperturbed with both decoders is never returned.
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import BrushworkError, InputError
from ..image import ImageSource, fit, load_image, resize, save_image
from ..losses import ContentLoss, GramLoss, ModuleCodeLoss, TVLoss, gram
from ..metrics import QRRobustness, qr_robustness
from ..progress import Callback, Progress
from ..qrcode import SAMPLE_SIGMA, Code, make_code, module_index, read_code
from ..weights import non_negative
from .canvas import ImageCanvas
from .engine import Schedule, optimize
from .settings import RunSettings

STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
CONTENT_LAYER = "relu4_2"
BASE_STYLE = 100.0
BASE_CONTENT = 5.0
BASE_CODE = 1e8
BASE_TV = 1e-3
DARK_GAIN = 0.08      # a fixed dark module: colour × 0.08 (luminance at most 0.08)
LIGHT_GAIN = 0.1      # a fixed light module: 1 − 0.1 (1 − colour) (luminance at least 0.9)
REPAIR_LEVELS = (0.2, 0.8)   # a repaired spot's luminance: at most 0.2 (dark) or at least 0.8 (light)
MODULE_PX = 8         # the default size gives every module at least this many pixels
MIN_SIZE = 512


@dataclass(frozen=True)
class StyledCode:
    """A stylized QR code that decodes: the picture (1, 3, S, S) in [0, 1], its code, how robust it
    is (`robustness.pass_rate`: the share of the battery's readings that were right) and how many
    repair rounds it took."""

    image: torch.Tensor
    code: Code
    robustness: QRRobustness
    repairs: int

    def metadata(self) -> dict[str, str]:
        return {"qr:payload": self.code.payload, "qr:version": str(self.code.version), "qr:ec": self.code.ec,
                "qr:robustness": f"{self.robustness.pass_rate:.3f}", "Software": "brushwork qr"}

    def save(self, path: str | os.PathLike) -> Path:
        """Write the PNG (atomically) with the payload and robustness in its text chunks."""
        p = Path(path)
        if p.suffix.lower() != ".png":
            raise InputError(f"{p}: a stylized QR code is written as .png (lossless, with its payload in the metadata)")
        return save_image(self.image, p, text=self.metadata())


def _masks(code: Code) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per module, quiet zone included: dark target, fixed dark, fixed light (the quiet zone is light)."""
    dark = code.padded(code.dark, False)
    fixed_dark = code.padded(code.fixed & code.dark, False)
    fixed_light = code.padded(code.fixed & ~code.dark, True)
    return dark, fixed_dark, fixed_light


def _pixels(grid: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
    """A (side, side) module grid -> a (1, 1, H, W) float pixel mask."""
    side = grid.shape[0]
    g = torch.from_numpy(grid).float()
    return g[module_index(size[0], side)][:, module_index(size[1], side)][None, None]


def darken(x: torch.Tensor) -> torch.Tensor:
    return x * DARK_GAIN


def lighten(x: torch.Tensor) -> torch.Tensor:
    return 1 - (1 - x) * LIGHT_GAIN


def pattern_canvas(code: Code) -> ImageCanvas:
    """A canvas whose rendering draws the fixed patterns and the quiet zone exactly."""
    _, fd, fl = _masks(code)

    @functools.lru_cache(maxsize=8)
    def masks(h: int, w: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        return _pixels(fd, (h, w)).to(device), _pixels(fl, (h, w)).to(device)

    def render(x: torch.Tensor) -> torch.Tensor:
        md, ml = masks(x.shape[-2], x.shape[-1], x.device)
        return x + md * (darken(x) - x) + ml * (lighten(x) - x)

    return ImageCanvas(render)


# A reader that averages whole modules thresholds the averages between the code's dark and light
# ones, so their means need only be on the right side of the middle, with a margin.
AREA_LEVELS = dict(dark_below=0.42, light_above=0.58, dark_target=0.32, light_target=0.68)


def code_loss(code: Code, weight: float = 1.0, sigma: float | None = SAMPLE_SIGMA) -> ModuleCodeLoss:
    """The module loss of `code`'s free (data) modules, seen through a centre spot of σ `sigma`
    module widths, or (None) through the module's mean."""
    dark, fd, fl = _masks(code)
    judged = ~(fd | fl)
    return ModuleCodeLoss(torch.from_numpy(dark), torch.from_numpy(judged), weight, sigma,
                          **(AREA_LEVELS if sigma is None else {}))


# --- verification and repair ---------------------------------------------------------------------

def _round_sigma(k: int) -> float:
    """Repair round k judges with a wider window (a blurred, downscaled reader) ..."""
    return SAMPLE_SIGMA * (1.0 + 0.6 * k)


def _round_radius(k: int) -> float:
    """... and repaints a larger spot, in module widths (0.71: the whole module)."""
    return min(0.75, 0.24 + 0.12 * k)


def misread(image: torch.Tensor, code: Code, sigma: float = SAMPLE_SIGMA) -> torch.Tensor:
    """(side, side) bool: the free modules that a reader sampling a centre spot of σ `sigma`
    (module widths) or one averaging the module reads wrong or too close to the middle
    (ModuleCodeLoss's thresholds)."""
    with torch.no_grad():
        return torch.stack([loss.wrong(loss.samples(image.float()))[0]
                            for loss in (code_loss(code, sigma=sigma), code_loss(code, sigma=None))]).any(0)


def toward(x: torch.Tensor, dark: torch.Tensor, dark_level: float, light_level: float) -> torch.Tensor:
    """Each pixel darkened (where `dark`) to luminance at most `dark_level`, or lightened to at
    least `light_level`, by as little as that takes and keeping its hue: a dark pixel is scaled
    towards black, a light one towards white."""
    from ..image import luminance
    y = luminance(x).clamp(1e-4, 1 - 1e-4)
    down = x * (dark_level / y).clamp(max=1)
    up = 1 - (1 - x) * ((1 - light_level) / (1 - y)).clamp(max=1)
    return torch.where(dark, down, up)


def repair(image: torch.Tensor, code: Code, modules: torch.Tensor, radius: float = 0.3) -> torch.Tensor:
    """Push the centre spots (radius in module widths, clipped to the module) of `modules`
    (side, side bool) to their module's luminance (`REPAIR_LEVELS`, past the code loss's
    thresholds), with the painting's hue kept. Other pixels are unchanged."""
    h, w = image.shape[-2:]
    side = code.side
    dark, _, _ = _masks(code)
    ys = (torch.arange(h) + 0.5) * side / h
    xs = (torch.arange(w) + 0.5) * side / w
    dy = (ys - ys.floor() - 0.5)[:, None]
    dx = (xs - xs.floor() - 0.5)[None, :]
    spot = ((dy ** 2 + dx ** 2).sqrt() <= radius).float()
    chosen = _pixels(modules.cpu().numpy(), (h, w))[0, 0] * spot
    is_dark = _pixels(dark, (h, w))[0, 0]
    x = image.float()
    return x + chosen * (toward(x, is_dark.bool(), *REPAIR_LEVELS) - x)


def _verify(image: torch.Tensor, code: Code, reference: set, repairs: int,
            callback: Callback | None) -> tuple[torch.Tensor, QRRobustness, int]:
    """Read, and repair while the image passes fewer battery cases than the plain code."""
    total = repairs + 1
    for k in range(total):
        rob = qr_robustness(image, code.payload)
        if callback is not None:
            callback(Progress(k + 1, total, 1.0 - rob.pass_rate, {"robustness": rob.pass_rate},
                              size=tuple(image.shape[-2:]), image=image, phase="verify", unit="round"))
        if rob.decodes and rob.passed() >= reference:
            return image, rob, k
        if k == repairs:
            break
        bad = misread(image, code, _round_sigma(k)) | misread(image, code)
        if not bad.any():                       # every module reads right to the simulated reader
            bad = misread(image, code, _round_sigma(k + 2))
        image = repair(image, code, bad, _round_radius(k))
    if not rob.decodes:                         # the last resort: every free module repainted whole
        _, fd, fl = _masks(code)
        image = repair(image, code, torch.from_numpy(~(fd | fl)), 0.75)
        rob = qr_robustness(image, code.payload)
        if not rob.decodes:
            raise BrushworkError("the stylized code does not decode even after repair; "
                                 "try a higher --ec level, a larger --size or a lower --style-weight")
    return image, rob, repairs


# --- the recipe ----------------------------------------------------------------------------------

def _square(img: torch.Tensor) -> torch.Tensor:
    """The centred square crop."""
    h, w = img.shape[-2:]
    s = min(h, w)
    return img[..., (h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]


def _check_image(img: torch.Tensor, what: str) -> torch.Tensor:
    if min(img.shape[-2:]) < 16:
        raise InputError(f"a {what} image of {img.shape[-1]}x{img.shape[-2]} px is too small (at least 16 px a side)")
    return img


def qr(payload: str | None = None, style: ImageSource | None = None, *,
       code: ImageSource | None = None,
       content: ImageSource | None = None,
       version: int | None = None,
       ec: str | None = None,
       quiet_zone: int = 2,
       size: int | None = None,
       steps: int = 50,
       style_weight: float = 1.0,
       content_weight: float = 1.0,
       code_weight: float = 1.0,
       repairs: int = 4,
       optimizer: str = "lbfgs",
       lr: float | None = None,
       tol: float = 1e-4,
       seed: int | None = None,
       device: str | torch.device = "auto",
       dtype: str | torch.dtype = "auto",
       callback: Callback | None = None) -> StyledCode:
    """A QR code of `payload` painted in the style of `style`, verified to scan.

    `code` restyles an existing code picture instead (decoded, then regenerated at its version
    and level unless `version` / `ec` are given). `content` is the picture the code should look
    like (default: the painting itself, centre-cropped). `version` 1-40 (None: the smallest that
    holds the payload), `ec` L/M/Q/H (None: M, or the level of the `code` read), `quiet_zone`
    the light border in modules. `size` is the output's side in px (None: at least 512 and at
    least 8 px a module). `code_weight` balances readability against the painting; `repairs`
    bounds the verify-and-repair rounds. Returns a `StyledCode` (`.image`, `.robustness`,
    `.save(path)`); raises if it cannot make one that decodes.
    """
    settings = RunSettings(optimizer, lr, tol, seed, "max", device, dtype)
    for value, what in ((style_weight, "style weight"), (content_weight, "content weight"),
                        (code_weight, "code weight")):
        non_negative(value, what)
    if isinstance(repairs, bool) or not isinstance(repairs, int) or repairs < 0:
        raise InputError(f"repairs must be a whole number of at least 0, not {repairs!r}")
    if style is None:
        raise InputError("a style image (painting) is needed")
    if (payload is None) == (code is None):
        raise InputError("give the payload (text or link) or an existing code image (--code), not both"
                         if code is not None else "the QR payload is empty; give the text or link to encode")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or not 64 <= size <= 8192):
        raise InputError(f"size {size!r} must be 64 to 8192 px")
    the_code = (make_code(payload, version, ec or "M", quiet_zone) if code is None
                else read_code(code, version, ec, quiet_zone))
    painting = _check_image(load_image(style), "style")
    look = _square(_check_image(load_image(content), "content") if content is not None else painting)
    side = size or max(MIN_SIZE, MODULE_PX * the_code.side)
    if side < 2 * the_code.side:
        raise InputError(f"size {side} px gives a version-{the_code.version} code under 2 px a module; "
                         f"use at least {4 * the_code.side} px")

    def build(hw: tuple[int, int], ex) -> dict:
        losses: dict = {}
        s_feats = ex.targets(resize(painting, fit(painting.shape[-2:], max(hw))))
        for tap in STYLE_LAYERS:
            losses[f"style:{tap}"] = GramLoss(tap, gram(s_feats[tap]), BASE_STYLE * style_weight / len(STYLE_LAYERS))
        if content_weight > 0:
            c = ex.targets(resize(look, hw))[CONTENT_LAYER]
            losses["content"] = ContentLoss(CONTENT_LAYER, c, BASE_CONTENT * content_weight)
        losses["code"] = code_loss(the_code, BASE_CODE * code_weight)
        losses["code:area"] = code_loss(the_code, BASE_CODE * code_weight, sigma=None)
        losses["tv"] = TVLoss(BASE_TV)
        return losses

    schedule = Schedule.coarse_to_fine((side, side), steps, min_side=max(256, side // 2), coarse_steps=steps)
    taps = list(STYLE_LAYERS) + ([CONTENT_LAYER] if content_weight > 0 else [])
    start = resize(look, schedule.sizes[0])
    canvas = pattern_canvas(the_code)
    image = optimize(build, start, schedule, settings.features(taps), settings, canvas=canvas, callback=callback)
    reference = qr_robustness(the_code.plain(side), the_code.payload).passed()
    image, rob, rounds = _verify(image, the_code, reference, repairs, callback)
    return StyledCode(image, the_code, rob, rounds)
