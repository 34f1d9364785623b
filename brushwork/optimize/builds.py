"""Loss builds: `build(size, features) -> {name: loss}` says which losses a recipe uses for a
signal of that size; each loss is called as `loss(signal, feats)`. Builds compose with `combine`,
so a recipe adds terms (temporal, ...) to another's without hooking into it."""
from __future__ import annotations

from typing import Callable

import torch

from ..features import Features

Loss = Callable[[torch.Tensor, dict[str, torch.Tensor]], torch.Tensor]
Build = Callable[[tuple[int, ...], Features], dict[str, Loss]]


def combine(*builds: Build) -> Build:
    """One build whose losses are the union of `builds`' losses; a name given twice is an error."""

    def build(size: tuple[int, ...], features: Features) -> dict[str, Loss]:
        out: dict[str, Loss] = {}
        for b in builds:
            losses = b(size, features)
            clash = sorted(out.keys() & losses.keys())
            if clash:
                raise ValueError(f"combined loss builds both define {', '.join(map(repr, clash))}")
            out.update(losses)
        return out

    return build
