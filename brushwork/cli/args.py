"""The command line's parser class and argument types: one-line errors, exit code 2."""
from __future__ import annotations

import argparse

from ..errors import InputError

EXIT_USAGE = 2


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump) and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{text} must be zero or positive")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} must be at least 1")
    return value


def size(text: str) -> int | tuple[int, int]:
    """'512' or 'WIDTHxHEIGHT', parsed (and range-checked) by the image module."""
    from ..image import parse_size
    try:
        value = parse_size(text)
    except InputError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    assert value is not None
    return value


def layers(text: str) -> dict[str, float]:
    """'relu1_1,relu2_1' or 'relu1_1=0.5,relu2_1=1' -> {tap: weight}."""
    out: dict[str, float] = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        name, _, weight = item.partition("=")
        out[name] = non_negative(weight) if weight else 1.0
    if not out:
        raise argparse.ArgumentTypeError("no layer named")
    return out


def weights(text: str) -> list[float]:
    """'0.7,0.3' -> [0.7, 0.3]."""
    return [non_negative(s) for s in text.split(",") if s.strip()]


def distances(text: str) -> list[int]:
    """'1,10,20,40' -> [1, 10, 20, 40]."""
    return [positive_int(s) for s in text.split(",") if s.strip()]


def jitter(text: str) -> tuple[float, float]:
    """'LO,HI' with 0 < LO <= HI."""
    parts = [s for s in text.split(",") if s.strip()]
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(f"{text!r}: give two numbers LO,HI")
    lo, hi = (non_negative(s) for s in parts)
    if not 0 < lo <= hi:
        raise argparse.ArgumentTypeError(f"{text!r}: need 0 < LO <= HI")
    return lo, hi

