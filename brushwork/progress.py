"""Progress reports: what long-running work hands to its callback."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch


@dataclass
class Progress:
    """One step of a long job: optimisation steps, training steps, tiles, images or frames.

    `step`/`total` count `unit`s (step, tile, image, frame) done in the current `phase`
    ("" for work of one phase; a video has 'paint', then 'encode'). For an image iteration,
    `stage`/`stages` say which scale of a multi-scale schedule is running and `size` its
    (H, W). `image` is the current result, (1, 3, H, W) in [0, 1], detached (copy it if you
    keep it).
    """

    step: int
    total: int
    loss: float
    losses: dict[str, float] = field(default_factory=dict)
    stage: int = 0
    stages: int = 1
    size: tuple[int, int] = (0, 0)
    elapsed: float = 0.0
    image: torch.Tensor | None = None
    phase: str = ""
    unit: str = "step"


# A callback may return True to stop the work early (the result so far is returned).
Callback = Callable[[Progress], bool | None]
