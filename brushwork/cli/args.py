"""The command line's parser class and argument types: one-line errors, exit code 2."""
from __future__ import annotations

import argparse
import sys
from typing import Any, Sequence

from ..errors import InputError

EXIT_USAGE = 2


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump) and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")

    def parse_known_args(self, args: Sequence[str] | None = None, namespace: Any = None) -> Any:
        return super().parse_known_args(self._optional_values(sys.argv[1:] if args is None else list(args)),
                                        namespace)

    def _optional_values(self, argv: list[str]) -> list[str]:
        """An option whose value may be left out (nargs='?' with choices) takes the next word only
        when it is one of its choices: `--preserve-color photo.jpg` is the flag, then the photo."""
        optional = {s: a for a in self._actions if a.nargs == "?" and a.choices for s in a.option_strings}
        out: list[str] = []
        for i, word in enumerate(argv):
            if word == "--":
                return out + argv[i:]
            action = optional.get(word)
            if action is not None and (i + 1 == len(argv) or argv[i + 1] not in action.choices):
                word = f"{word}={action.const}"
            out.append(word)
        return out


def non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{text} must be zero or positive")
    return value


def _whole_number(text: str, least: int, bound: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"{text} must be {bound}")
    return value


def non_negative_int(text: str) -> int:
    return _whole_number(text, 0, "zero or positive")


def positive_int(text: str) -> int:
    return _whole_number(text, 1, "at least 1")


def size(text: str) -> int | tuple[int, int]:
    """'512' or 'WIDTHxHEIGHT', parsed (and range-checked) by the image module."""
    from ..image import parse_size
    try:
        value = parse_size(text)
    except InputError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    assert value is not None
    return value


def number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


def auto_or_number(text: str) -> float | str:
    """'auto' or a number (the API checks its range)."""
    return "auto" if text.strip().lower() == "auto" else number(text)


def layers(text: str) -> dict[str, float]:
    """'relu1_1,relu2_1' or 'relu1_1=0.5,relu2_1=1' -> {tap: weight} (the API checks taps and weights)."""
    out: dict[str, float] = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        name, _, weight = item.partition("=")
        out[name] = number(weight) if weight else 1.0
    if not out:
        raise argparse.ArgumentTypeError("no layer named")
    return out


def weights(text: str) -> list[float]:
    """'0.7,0.3' -> [0.7, 0.3] (the API checks them)."""
    return [number(s) for s in text.split(",") if s.strip()]


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

