"""Fast video: a one-pass painter per frame, made temporally consistent along the optical flow.

A feed-forward network paints each frame on its own, and small changes in the input change its
strokes: the video flickers. `Consistent` carries the previous OUTPUT along the flow into the
current frame and blends it in where the warp is reliable:

    out_t = painted_t + α · m · (warp(out_{t-1}) − painted_t)

m is the motion mask (Ruder et al.'s forward-backward consistency and motion-boundary tests,
times a check that the warped previous INPUT matches the current input), so disoccluded areas,
motion boundaries and mismatched flow take the fresh painting and leave no ghosts. Along a
motion path this is a recursive (exponential) average of the paintings: a stroke that would
flicker is averaged over about (1 + α) / (1 − α) frames (α = 0.7: ~6), which cuts the warping
error by about (1 − α), while each frame still follows its own painting. A scene cut resets
the history.

Still areas are carried exactly. A feed-forward network answers the faint noise of a still
camera (compression, sensor) with new fine strokes: averaged or not, static parts of the
picture would shimmer (BENCHMARKS.md, "Video: still areas"). Where the
input pixel has not changed (below STILL_LOW, averaged over 5x5 px, against the previous
input; no flow, whose sub-pixel noise would blur the strokes), the previous output is kept as
it is plus the input's own change (whole 8-bit levels, so nothing is lost to rounding: the
carried changes add up to the change since the pixel last moved, and a slow fade comes
through); a ramp up to STILL_HIGH hands over to the flow-guided blend. It needs nothing but
the previous frame, so a resumed run carries exactly what an uninterrupted one did.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from ..errors import InputError
from .motion import CUT_HISTOGRAM, CUT_RELIABLE, motion
from .flow import warp

# (1, 3, H, W) RGB in [0, 1] -> the stylized frame, same shape
FramePainter = Callable[[torch.Tensor], torch.Tensor]
Past = list[tuple[np.ndarray, np.ndarray]]  # (input frame, output frame) pairs, oldest first
# mean abs RGB change (0-1, 5x5 average) of the input: carried as still below LOW, painted above HIGH
STILL_LOW, STILL_HIGH = 0.01, 0.03


def to_tensor(frame: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, H, W) float in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1)[None].float().div_(255.0)


def to_array(img: torch.Tensor | np.ndarray) -> np.ndarray:
    """(1, 3, H, W) tensor in [0, 1] (or an (H, W, 3) float array) -> (H, W, 3) float32."""
    if isinstance(img, torch.Tensor):
        return img.detach().float().clamp(0, 1)[0].permute(1, 2, 0).cpu().numpy()
    a = np.asarray(img)
    return a.astype(np.float32) / 255.0 if a.dtype == np.uint8 else a.astype(np.float32)


def check_consistency(alpha: float) -> float:
    if not 0 <= alpha < 1:
        raise InputError(f"consistency {alpha} must be at least 0 (no blending) and below 1")
    return float(alpha)


def keep_texture(blend: np.ndarray, painted: np.ndarray, max_gain: float = 1.6) -> np.ndarray:
    """Give `blend` the local fine-detail energy of the fresh painting.

    Averaging two paintings whose strokes do not line up leaves softer strokes (less style).
    The detail (image minus a 5x5 Gaussian blur) of the blend is scaled, locally, to carry as
    much energy as the painting's own detail; where the two agree (static areas) the gain is 1,
    so nothing is amplified frame after frame: the reference is always this frame's painting.
    The gain varies slowly and is computed at a quarter of the size (~15 ms at 720p).
    """
    import cv2
    h, w = blend.shape[:2]
    small = (max(1, w // 4), max(1, h // 4))

    def detail(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        base = cv2.GaussianBlur(x, (5, 5), 0)
        return base, cv2.subtract(x, base)

    def energy(d: np.ndarray) -> np.ndarray:
        e = cv2.resize(cv2.multiply(d, d), small, interpolation=cv2.INTER_AREA).sum(-1)
        return cv2.GaussianBlur(e, (0, 0), 2.0)

    base, d_blend = detail(blend)
    gain = np.sqrt((energy(detail(painted)[1]) + 1e-6) / (energy(d_blend) + 1e-6))
    gain = cv2.resize(np.clip(gain, 1.0, max_gain), (w, h), interpolation=cv2.INTER_LINEAR)
    out = cv2.add(base, cv2.multiply(d_blend, cv2.merge([gain, gain, gain])))
    return np.clip(out, 0.0, 1.0, out=out)


def stillness(prev: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """(H, W) in [0, 1]: 1 where the input has not changed from `prev` to `cur` (float frames)."""
    import cv2
    change = cv2.blur(np.abs(cur - prev).mean(-1), (5, 5))
    return np.clip((STILL_HIGH - change) / (STILL_HIGH - STILL_LOW), 0.0, 1.0).astype(np.float32)


@dataclass
class Consistent:
    """Paint every frame with `painter`, then blend with the warped previous output (see module doc).

    `alpha` = 0 gives plain per-frame painting (no flow is computed).
    """

    painter: FramePainter
    alpha: float = 0.7
    flow_preset: str = "medium"
    cut_reliable: float = CUT_RELIABLE
    cut_histogram: float = CUT_HISTOGRAM
    name: str = ""
    history: int = field(default=1, init=False)

    def __post_init__(self) -> None:
        self.alpha = check_consistency(self.alpha)

    def settings(self) -> dict[str, Any]:
        return {"method": "fast", "painter": self.name or getattr(self.painter, "__qualname__", repr(self.painter)),
                "consistency": self.alpha, "flow": self.flow_preset}

    def paint(self, frame: np.ndarray) -> np.ndarray:
        out = self.painter(to_tensor(frame))
        if tuple(out.shape[-2:]) != frame.shape[:2]:
            raise ValueError(f"the painter returned a {tuple(out.shape[-2:])} frame for a {frame.shape[:2]} one")
        return to_array(out)

    def __call__(self, frame: np.ndarray, past: Past) -> tuple[np.ndarray, dict[str, Any]]:
        painted = self.paint(frame)
        if not past or self.alpha == 0:
            return painted, {}
        prev_in, prev_out = past[-1]
        m = motion(prev_in, frame, self.flow_preset, self.cut_reliable, self.cut_histogram)
        if m.cut:
            return painted, {"cut": True, "reliable": m.reliable}
        prev_out = to_array(prev_out)
        w = (self.alpha * m.mask)[..., None]
        moving = keep_texture(painted + w * (warp(prev_out, m.back) - painted), painted)
        cur, prev = to_array(frame), to_array(prev_in)
        still = stillness(prev, cur)[..., None]
        carried = np.clip(prev_out + (cur - prev), 0.0, 1.0)
        return moving + still * (carried - moving), {"reliable": m.reliable}
