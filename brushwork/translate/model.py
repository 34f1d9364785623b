"""Translation models: one or two generators in a `.bw` file, run as Stylizers.

A `Translator` holds a generator per direction ("AtoB", and "BtoA" for CycleGAN); its card
architecture is {"name": "translator", "generator": <generator config>, "directions": [...],
"multiple"}. `TranslationModel` is what `load_model` returns for the kinds pix2pix, cyclegan and
cut: a Stylizer (`apply`, `video` and `translate` run it: full resolution, padding to the
network's multiple, tiles sharing the whole image's instance-norm statistics) painting in its
`direction`; `with_direction("BtoA")` gives the other way of a two-way model.
"""
from __future__ import annotations

import copy
from typing import Any, Sequence

import torch
from torch import nn

from ..errors import InputError
from ..feedforward.base import Painter, TorchStylizer
from ..feedforward.modelfile import TrainedModel, register_kind
from .networks import Unit, build_generator

DIRECTIONS = ("AtoB", "BtoA")
KINDS = ("pix2pix", "cyclegan", "cut")
ARCHITECTURE = "translator"


class Translator(nn.Module):
    """A generator per direction, sharing one architecture."""

    def __init__(self, generators: dict[str, nn.Module]):
        super().__init__()
        if not generators or set(generators) - set(DIRECTIONS):
            raise ValueError(f"directions must be among {DIRECTIONS}, not {sorted(generators)}")
        self.directions = nn.ModuleDict({d: generators[d] for d in DIRECTIONS if d in generators})
        first = next(iter(self.directions.values()))
        self.multiple = int(getattr(first, "multiple", 4))

    def architecture(self) -> dict[str, Any]:
        first = next(iter(self.directions.values()))
        return {"name": ARCHITECTURE, "generator": dict(first.config), "directions": list(self.directions),
                "multiple": self.multiple}


def build_translator(arch: dict[str, Any]) -> Translator:
    directions = arch["directions"]
    if not isinstance(directions, list) or not directions or set(directions) - set(DIRECTIONS):
        raise ValueError(f"bad directions {directions!r}")
    return Translator({d: build_generator(arch["generator"]) for d in directions})


class TranslationModel(TrainedModel):
    """A trained translation network painting one direction (default: the first it has, AtoB)."""

    kind = "translation"

    def __init__(self, network: nn.Module, card: dict[str, Any], device: str | torch.device = "auto",
                 direction: str | None = None):
        super().__init__(network, card, device)
        self.kind = card["kind"]
        self.directions: list[str] = list(network.directions)
        self.direction = direction or self.directions[0]
        self._set_name()

    def _set_name(self) -> None:
        base = self.card.get("name") or self.kind
        self.name = base if len(self.directions) == 1 else f"{base} {self.direction}"

    @property
    def generator(self) -> nn.Module:
        return self.network.directions[self.direction]

    def with_direction(self, direction: str | None) -> "TranslationModel":
        """The same model painting `direction` (AtoB or BtoA); None keeps the default."""
        if direction is None:
            return self
        return select_direction(self, direction, self.directions, self.kind)

    def painter(self, whole: torch.Tensor, strength: float = 1.0, tiled: bool = False) -> Painter:
        """See base.Stylizer; tiles use the whole image's instance-norm statistics."""
        gen = self.generator
        return TorchStylizer(Unit(gen), self.device, self.name, gen).painter(whole, strength, tiled)

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        return self.painter(image)(image)


def select_direction(model: Any, direction: str, directions: Sequence[str], kind: str) -> Any:
    """A copy of `model` set to paint `direction`; one-line errors for a bad or missing one."""
    if direction not in DIRECTIONS:
        raise InputError(f"direction must be AtoB or BtoA, not {direction!r}")
    if direction not in directions:
        raise InputError(f"this {kind} model translates one way only ({', '.join(directions)}); "
                         f"it has no {direction}")
    other = copy.copy(model)
    other.direction = direction
    other._set_name()
    return other


for _kind in KINDS:
    register_kind(_kind, TranslationModel, ARCHITECTURE, build_translator)
