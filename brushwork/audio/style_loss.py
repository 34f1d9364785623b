"""The Gram style loss over time, computed without forming the C×C Gram when the sound is short.

With B = F / √T (C filters × T frames) the Gram is G = B Bᵀ and, for a style S = Bₛ Bₛᵀ,

    ‖G − S‖² = ‖Bᵀ B‖² − 2 ‖Bₛᵀ B‖² + ‖Bₛᵀ Bₛ‖²,

which costs C·T·(T + Tₛ) multiply-adds instead of C²·T (and C²·T again for the backward): for
4096 filters and a 10 s clip (421 feature frames) about a fifth. The identity is exact; the
three terms are summed in fp64 so the cancellation near a match costs no precision. When a
sound has more frames than filters the Gram itself is the smaller product and is used instead.
"""
from __future__ import annotations

import torch
from torch import nn


class TimeGramLoss(nn.Module):
    """weight · Σ (G − S)² with G = F Fᵀ / frames (Ulyanov & Lebedev's normalisation).

    `style` is either the style's features (1, C, Tₛ), kept when Tₛ ≤ C, or its Gram (C, C)
    in the same normalisation, for a long style summed chunk by chunk.
    """

    def __init__(self, tap: str, style: torch.Tensor, weight: float = 1.0):
        super().__init__()
        self.taps = (tap,)
        self.tap = tap
        self.weight = weight
        if style.dim() == 3:
            bs = style[0].float() / style.shape[-1] ** 0.5
            self.register_buffer("bs", bs)
            self.register_buffer("gram", None)
            self.energy = float((bs.T @ bs).double().pow(2).sum())
        else:
            self.register_buffer("bs", None)
            self.register_buffer("gram", style.float())
            self.energy = float(style.double().pow(2).sum())

    def _style_gram(self) -> torch.Tensor:
        return self.gram if self.gram is not None else self.bs @ self.bs.T

    def forward(self, signal: torch.Tensor, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        f = feats[self.tap]
        b = f[0].float() / f.shape[-1] ** 0.5
        c, t = b.shape
        if t > c:
            return self.weight * (b @ b.T - self._style_gram()).pow(2).sum()
        own = (b.T @ b).pow(2).sum().double()
        cross = ((self.bs.T @ b).pow(2).sum() if self.bs is not None
                 else (b * (self.gram @ b)).sum()).double()
        return (self.weight * (own - 2 * cross + self.energy)).float()
