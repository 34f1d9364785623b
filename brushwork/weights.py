"""Validated weights that recipes and networks share: non-negative values and style blends."""
from __future__ import annotations

from typing import Sequence

from .errors import InputError


def non_negative(value: float, what: str) -> float:
    if not (value >= 0):  # also catches NaN
        raise InputError(f"{what} must be zero or positive, not {value}")
    return float(value)


def blend_weights(weights: Sequence[float] | None, n: int) -> list[float]:
    """Per-style blend weights, normalised to sum to 1 (equal when not given)."""
    if weights is None:
        return [1.0 / n] * n
    if len(weights) != n:
        raise InputError(f"{len(weights)} style weights given for {n} style images")
    ws = [non_negative(w, "a style blend weight") for w in weights]
    if sum(ws) <= 0:
        raise InputError("style blend weights must not all be zero")
    return [w / sum(ws) for w in ws]
