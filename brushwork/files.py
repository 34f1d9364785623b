"""Writing files so that a reader never sees half of one: a temp file beside the target, renamed."""
from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from typing import Iterator

from .errors import InputError


def temp_beside(path: Path, suffix: str = "") -> Path:
    """A fresh hidden name in the target's folder, so the final rename stays on one file system."""
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp{suffix}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "", what: str = "") -> Iterator[Path]:
    """Yield a temp path to write; on success it replaces `path`, on any failure it is removed.

    An OSError (full disk, no permission) becomes a one-line InputError naming `path`; `what` says
    what was being written ("checkpoint"), `suffix` keeps a writer that picks its format by the
    file's ending happy.
    """
    p = Path(path)
    tmp = temp_beside(p, suffix)
    try:
        try:
            yield tmp
            os.replace(tmp, p)
        finally:
            tmp.unlink(missing_ok=True)  # gone already after a successful rename
    except OSError as e:
        raise InputError(f"{p}: cannot write{' ' + what if what else ''} ({e.strerror or e})") from None
