"""Outputs that would destroy an input: the same file under any name is refused."""
from __future__ import annotations

import os
from typing import Any, Iterable

from .errors import InputError


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """True when `a` and `b` are one existing file or folder, also through a symlink, a hard
    link or another spelling of the path (`os.path.samefile`: same device and inode)."""
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


def check_not_input(output: str | os.PathLike, inputs: Iterable[Any], hint: str = "") -> None:
    """Refuse `output` when it is one of `inputs` (paths; other sources, e.g. tensors, are skipped).

    `hint` ends the message, e.g. " (or --overwrite to replace it)"."""
    for src in inputs:
        if isinstance(src, (str, os.PathLike)) and same_file(output, src):
            alias = "" if os.path.abspath(src) == os.path.abspath(output) else f" {src}"
            raise InputError(f"{output}: is the input{alias}; writing there would replace it. "
                             f"Give another output{hint}")
