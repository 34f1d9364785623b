"""Optical flow, warping and the reliability masks of Ruder et al. 2016.

Flow comes from OpenCV's DIS (Kroeger et al. 2016): no learned weights, ~60 ms for a 720p
pair at the MEDIUM preset on a CPU. Conventions, as in OpenCV: `flow(a, b)` is defined on
`a`'s pixel grid and a(x) ≈ b(x + flow(x)). So with `back = flow(frame_t, frame_prev)`,
`warp(prev_output, back)` brings the previous output onto frame t (backward warping with
bilinear sampling).

Frames are (H, W, 3) uint8 or float arrays; flows are (H, W, 2) float32 (dx, dy) in pixels;
masks are (H, W) float32 in [0, 1], 1 where the warped previous frame can be trusted.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..errors import InputError

PRESETS = ("ultrafast", "fast", "medium")
MAX_FLOW_SIDE = 1280  # larger frames get their flow computed at this long side and scaled up


def _grey(frame: np.ndarray) -> np.ndarray:
    import cv2
    a = np.asarray(frame)
    if a.dtype != np.uint8:
        a = (np.clip(a, 0, 1) * 255.0 + 0.5).astype(np.uint8)
    return cv2.cvtColor(a, cv2.COLOR_RGB2GRAY) if a.ndim == 3 else a


def _dis(preset: str):
    import cv2
    if preset not in PRESETS:
        raise InputError(f"unknown flow preset {preset!r}; choose one of {', '.join(PRESETS)}")
    code = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
            "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}[preset]
    return cv2.DISOpticalFlow_create(code)


def flow(a: np.ndarray, b: np.ndarray, preset: str = "medium", max_side: int = MAX_FLOW_SIDE) -> np.ndarray:
    """Dense flow from frame `a` to frame `b` on `a`'s grid: a(x) ≈ b(x + flow(x)).

    Frames larger than `max_side` (long side) are matched at that size and the flow scaled up.
    """
    import cv2
    ga, gb = _grey(a), _grey(b)
    if ga.shape != gb.shape:
        raise ValueError(f"frames differ in size: {ga.shape} and {gb.shape}")
    h, w = ga.shape
    scale = min(1.0, max_side / max(h, w))
    if scale < 1.0:
        sw, sh = max(8, round(w * scale)), max(8, round(h * scale))
        ga = cv2.resize(ga, (sw, sh), interpolation=cv2.INTER_AREA)
        gb = cv2.resize(gb, (sw, sh), interpolation=cv2.INTER_AREA)
    f = _dis(preset).calc(ga, gb, None)
    return resize_flow(f, (h, w)) if scale < 1.0 else f.astype(np.float32, copy=False)


def resize_flow(f: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A flow field resampled to (H, W), its vectors scaled to that grid's pixels."""
    import cv2
    h, w = size
    out = cv2.resize(f, (w, h), interpolation=cv2.INTER_LINEAR)
    out[..., 0] *= w / f.shape[1]
    out[..., 1] *= h / f.shape[0]
    return out.astype(np.float32, copy=False)


@lru_cache(maxsize=4)
def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    gx.flags.writeable = gy.flags.writeable = False
    return gx, gy


def _maps(f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    gx, gy = _grid(*f.shape[:2])
    return gx + f[..., 0], gy + f[..., 1]


def warp(image: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Sample `image` at x + f(x) for every pixel x of f's grid (bilinear, edges replicated).

    `image` is (H, W) or (H, W, C) on any grid of f's size; returns float32 (uint8 stays uint8).
    """
    import cv2
    mx, my = _maps(f)
    src = image if image.dtype == np.uint8 else image.astype(np.float32, copy=False)
    return cv2.remap(src, mx, my, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def occlusion(fwd: np.ndarray, back: np.ndarray) -> np.ndarray:
    """Pixels of the second frame's grid that the first frame does not show (disocclusions).

    `fwd` = flow(a, b) and `back` = flow(b, a). Following a pixel of b back to a and forward
    again should return to it: it is flagged when |ŵ + w̃|² > 0.01 (|ŵ|² + |w̃|²) + 0.5, with ŵ
    the backward flow and w̃ the forward flow sampled where ŵ points (Ruder et al. 2016, eq. 4
    after Sundaram et al. 2010). Pixels whose backward flow leaves the frame are flagged too.
    Returns a bool (H, W) array on b's grid.
    """
    w_t = warp(fwd, back)
    s = back + w_t
    bad = (s ** 2).sum(-1) > 0.01 * ((back ** 2).sum(-1) + (w_t ** 2).sum(-1)) + 0.5
    mx, my = _maps(back)
    h, w = back.shape[:2]
    bad |= (mx < 0) | (mx > w - 1) | (my < 0) | (my > h - 1)
    return bad


def motion_boundaries(back: np.ndarray) -> np.ndarray:
    """Pixels on motion boundaries of `back`: |∇u|² + |∇v|² > 0.01 |w|² + 0.002 (Ruder et al. 2016)."""
    grad = np.zeros(back.shape[:2], np.float32)
    for c in range(2):
        gy, gx = np.gradient(back[..., c])
        grad += gx ** 2 + gy ** 2
    return grad > 0.01 * (back ** 2).sum(-1) + 0.002


def consistency(fwd: np.ndarray, back: np.ndarray) -> np.ndarray:
    """Ruder et al.'s weights c on the second frame's grid: 1 where warping the first frame onto
    it is trustworthy, 0 at disocclusions and motion boundaries. float32 (H, W)."""
    return (~(occlusion(fwd, back) | motion_boundaries(back))).astype(np.float32)
