"""Motion between two input frames: where the previous frame, warped, can stand in for this one.

`motion(prev, cur)` computes both flows, Ruder et al.'s consistency weights, a photometric check
(the warped previous INPUT must look like the current input where we trust the warp: flow that
is merely consistent but wrong, as on fast or textureless motion, fails it) and decides whether
the two frames are separated by a scene cut. Everything a temporally consistent pipeline needs
to blend or constrain its outputs lives in the returned `Motion`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .flow import consistency, flow, resize_flow, warp

PHOTO_LOW, PHOTO_HIGH = 0.06, 0.16  # mean abs RGB error (0-1) of the warped input: trusted below, not above
CUT_RELIABLE = 0.15                 # a cut when less than this fraction of the frame can be warped ...
CUT_HISTOGRAM = 0.4                  # ... or the colour histograms differ by more than this (L1 / 2, 0-1)
FEATHER = 0.012                     # the mask ramps from 0 to 1 over this fraction of the long side
# Flows and masks are computed at this long side and scaled up: flow is smooth, and at 720p this
# makes the consistency step ~4x cheaper (0.29 -> 0.07 s a frame on 2 cores), a fifth of painting.
MOTION_SIDE = 640


@dataclass
class Motion:
    """How frame t relates to frame t-1 (all arrays on frame t's grid)."""

    back: np.ndarray        # flow(cur, prev): warp(prev_thing, back) aligns it with cur
    mask: np.ndarray        # (H, W) float32 in [0, 1]: 1 where the warped previous frame is reliable
    reliable: float         # fraction of the frame with mask > 0.5
    histogram: float        # colour-histogram distance of the two inputs, 0 (same) to 1 (disjoint)
    cut: bool               # a scene cut: nothing of the previous frame should be carried over


def _float(a: np.ndarray) -> np.ndarray:
    return a.astype(np.float32) / 255.0 if a.dtype == np.uint8 else a.astype(np.float32, copy=False)


def histogram_distance(a: np.ndarray, b: np.ndarray, bins: int = 8) -> float:
    """Half the L1 distance between the joint RGB histograms (bins³ cells) of two frames, in [0, 1]
    (large frames are subsampled to about 65k pixels: plenty for a histogram)."""
    step = max(1, int((a.shape[0] * a.shape[1] / 65536) ** 0.5))

    def hist(x: np.ndarray) -> np.ndarray:
        q = (np.clip(_float(x[::step, ::step]), 0, 1 - 1e-6) * bins).astype(np.int64)
        idx = (q[..., 0] * bins + q[..., 1]) * bins + q[..., 2]
        return np.bincount(idx.ravel(), minlength=bins ** 3) / idx.size
    return float(0.5 * np.abs(hist(a) - hist(b)).sum())


def photometric(prev: np.ndarray, cur: np.ndarray, back: np.ndarray) -> np.ndarray:
    """(H, W) in [0, 1]: 1 where prev warped by `back` matches cur (error below PHOTO_LOW), 0 above PHOTO_HIGH."""
    import cv2
    err = np.abs(warp(_float(prev), back) - _float(cur)).mean(-1)
    err = cv2.blur(err, (3, 3))
    return np.clip((PHOTO_HIGH - err) / (PHOTO_HIGH - PHOTO_LOW), 0.0, 1.0).astype(np.float32)


def feather(mask: np.ndarray, ramp: float | None = None) -> np.ndarray:
    """Soften a reliability mask without letting it leak: 0 stays 0, and a pixel's weight rises
    linearly with its distance from the nearest unreliable pixel, reaching its own value after
    `ramp` px (default FEATHER of the long side). Blends then leave no seams, and specks of
    'reliable' pixels inside unreliable areas (flow noise) count for little."""
    import cv2
    r = ramp if ramp is not None else max(2.0, FEATHER * max(mask.shape))
    dist = cv2.distanceTransform((mask > 0.5).astype(np.uint8), cv2.DIST_L2, 3)
    return (mask * np.clip(dist / r, 0.0, 1.0)).astype(np.float32)


def shrink(frame: np.ndarray, side: int) -> np.ndarray:
    """A frame scaled (area averaging) so that its long side is at most `side`."""
    import cv2
    h, w = frame.shape[:2]
    scale = side / max(h, w)
    if scale >= 1.0:
        return frame
    return cv2.resize(frame, (max(8, round(w * scale)), max(8, round(h * scale))), interpolation=cv2.INTER_AREA)


def motion(prev: np.ndarray, cur: np.ndarray, preset: str = "medium", cut_reliable: float = CUT_RELIABLE,
           cut_histogram: float = CUT_HISTOGRAM, max_side: int = MOTION_SIDE) -> Motion:
    """Flow, reliability mask and scene-cut decision from input frame `prev` to `cur`, computed at
    a long side of at most `max_side` and returned at the frames' size."""
    import cv2
    h, w = cur.shape[:2]
    p, c = shrink(prev, max_side), shrink(cur, max_side)
    fwd, back = flow(p, c, preset), flow(c, p, preset)
    mask = feather(consistency(fwd, back) * photometric(p, c, back))
    reliable = float((mask > 0.5).mean())
    if c.shape[:2] != (h, w):
        back = resize_flow(back, (h, w))
        mask = cv2.resize(mask, (w, h), interpolation=cv2.INTER_LINEAR)
    hist = histogram_distance(prev, cur)
    return Motion(back, mask, reliable, hist, reliable < cut_reliable or hist > cut_histogram)
