"""How a run is carried out, apart from what it optimises: one frozen object every recipe builds
from its keyword arguments and hands to the engine."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from ..errors import InputError
from ..features import Extractor

OPTIMIZERS = ("lbfgs", "adam")


@dataclass(frozen=True)
class RunSettings:
    """Optimiser, its step size and stopping tolerance, the seed of random inits, and the feature
    network's pooling, device and dtype (`auto`: cuda > mps > cpu; bf16 where the hardware has it).

    `padding` is the feature network's convolution padding: 'replicate', so that the image's
    borders are not painted to match the zeros VGG was trained with (see `VGG19Features`).

    `lr` is Adam's step size, or L-BFGS's first step (largest change, in optimiser units; None:
    the optimiser's default). A scale stops early when the objective improves by less than `tol`
    (relative) over 20 steps; 0 runs every step.
    """

    optimizer: str = "lbfgs"
    lr: float | None = None
    tol: float = 1e-4
    seed: int | None = None
    pooling: str = "max"
    device: str | torch.device = "auto"
    dtype: str | torch.dtype = "auto"
    padding: str = "replicate"

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise InputError(f"unknown optimizer {self.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")

    def features(self, taps: Sequence[str]) -> Extractor:
        """VGG-19 at these taps with this run's pooling, device, dtype and padding."""
        return Extractor(taps, self.pooling, self.device, self.dtype, self.padding)
