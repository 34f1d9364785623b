"""What the training loop runs: a recipe owns its networks, optimizers and schedulers, and
`train_step` does one step's forward and backward passes and updates itself (the life cycle of
the pix2pix/CycleGAN reference code: set input, forward, update D, update G).

The loop owns everything around the steps: the data (drawn ahead), devices and memory format,
checkpoints and exact resume, the time limit, previews, progress and the model card.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from .data import BatchSource


class Recipe(Protocol):
    kind: str                                   # what the product is (its model file's kind)
    networks: dict[str, nn.Module]              # everything trained; checkpointed by name
    optimizers: dict[str, torch.optim.Optimizer]
    schedulers: dict[str, Any]                  # torch LR schedulers, stepped by train_step
    product: str                                # the network that goes into the .bw file
    data: BatchSource                           # batch `step` (CPU tensors, or tuples of them)
    config: dict[str, Any]                      # must match on resume; goes to the card
    styles: list[dict[str, str]]                # the card's styles (name, thumbnail)
    data_cards: dict[str, dict[str, Any]]       # the card's data sections ({**describe(), augmentation})

    def train_step(self, batch: Any, step: int) -> dict[str, float]:
        """One optimisation step on a batch already on the device; returns the weighted losses."""
        ...

    def preview(self) -> torch.Tensor:
        """The product network's painting of a fixed input, (1, 3, H, W), under no_grad in eval mode."""
        ...

    def save(self, path: Path, training: dict[str, Any], device: torch.device) -> Any:
        """Write the product network with its card (`training` is the card's training section) and
        return it loaded on `device`: the model file's format belongs to the producer, not the loop."""
        ...

    def extra_state(self) -> dict[str, Any]:
        """Anything else a bit-exact resume needs (an image pool); tensors, numbers, lists, dicts."""
        ...

    def load_extra_state(self, state: dict[str, Any]) -> None:
        ...
