"""Who runs a job: a run records its holder as "NODE on MACHINE pid N", so that a worker or the
sweeper on the same machine can tell at once that the holder is gone (its process has exited)
instead of waiting for its lease to run out. On another machine nothing can be told: the lease
decides there."""
from __future__ import annotations

import os
import re
import socket

MACHINE = socket.gethostname()
_HOLDER = re.compile(r" on (\S+) pid (\d+)$")


def holder(node: str) -> str:
    """This process as a job's holder."""
    return f"{node or 'worker'} on {MACHINE} pid {os.getpid()}"


def is_dead(worker: str | None) -> bool:
    """True only if the holder ran on this machine and its process has exited."""
    m = _HOLDER.search(worker or "")
    if m is None or m.group(1) != MACHINE:
        return False
    pid = int(m.group(2))
    if pid == os.getpid():
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")   # exited, not yet reaped
    except FileNotFoundError:
        return True
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
