"""Who runs a job, and whether it is gone. A run records its holder as "NAME on MACHINE pid N
node ID": the Celery node's name, the machine, the pool process, and the worker node's
heartbeat id (`NodeBeat`, run.worker). A holder is gone, without waiting for its lease, when

- it ran on this machine and its process has exited (on this machine nothing else decides), or
- on another machine: its node's heartbeat is older than `stale_s` (the whole node died, on any machine), or
- its node's heartbeat, written after the run was claimed, no longer lists its process (a pool
  process that died on another machine).

MACHINE is the host name unless BRUSHWORK_MACHINE names it (where host names are not unique,
e.g. containers sharing one): processes with the same MACHINE must share one process table.
Machines must agree on the time within a second or so, as they do for leases."""
from __future__ import annotations

import logging
import os
import re
import secrets
import socket
import threading
import time
from dataclasses import dataclass
from typing import Callable, Protocol

log = logging.getLogger("brushwork.service")
MACHINE = os.environ.get("BRUSHWORK_MACHINE") or socket.gethostname()
NODE_ENV = "BRUSHWORK_NODE_ID"       # set by a worker node for its pool processes (they inherit it)
STALE_BEATS = 3                      # a node silent for this many beats is gone
CLOCK_SLACK_S = 1.0                  # a heartbeat counts as written after a claim only this much later
_HOLDER = re.compile(r" on (\S+) pid (\d+)(?: node (\w+))?$")


@dataclass(frozen=True)
class Holder:
    machine: str
    pid: int
    node: str | None


def parse(worker: str | None) -> Holder | None:
    m = _HOLDER.search(worker or "")
    return Holder(m.group(1), int(m.group(2)), m.group(3)) if m else None


def holder(node: str) -> str:
    """This process as a job's holder."""
    nid = os.environ.get(NODE_ENV)
    return f"{node or 'worker'} on {MACHINE} pid {os.getpid()}" + (f" node {nid}" if nid else "")


def process_exited(pid: int) -> bool:
    """True if process `pid` of this machine has exited (a zombie not yet reaped counts)."""
    if pid == os.getpid():
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
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


class Beat(Protocol):
    """What a node's heartbeat says (db.Node)."""
    last_seen: float
    pids: list[int] | None


def is_dead(worker: str | None, beat_of: Callable[[str], Beat | None] | None = None, since: float | None = None,
            stale_s: float = 6.0) -> bool:
    """True if the holder `worker` is known to be gone (see the module's rules). `beat_of` looks
    up a node's heartbeat by id (None if there is none); `since`: when the run was claimed."""
    h = parse(worker)
    if h is None:
        return False
    if h.machine == MACHINE:
        return process_exited(h.pid)    # this machine's process table is the truth
    if h.node is None or beat_of is None:
        return False
    beat = beat_of(h.node)
    now = time.time()
    if beat is None or beat.last_seen < now - stale_s:
        return True                 # stopped beating (a node that shut down removes its row)
    return (beat.pids is not None and since is not None and beat.last_seen > since + CLOCK_SLACK_S
            and h.pid not in beat.pids)


def _children(pid: int) -> list[int] | None:
    """The child processes of `pid` (Linux), or None where that cannot be read."""
    try:
        out: list[int] = []
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out += [int(p) for p in f.read().split()]
        return out
    except (OSError, ValueError):
        return None


class NodeBeat:
    """A worker node's heartbeat: a thread in the node's main process that writes its row (id,
    name, machine, pid, the processes that may hold jobs: itself and its pool) every `every`
    seconds, and removes it when the node stops. The pool processes learn the id through the
    environment (NODE_ENV) and put it in their holder strings."""

    def __init__(self, db, name: str, every: float):
        self.db, self.name, self.every = db, name, every
        self.id = secrets.token_hex(8)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="brushwork-node-beat")

    def beat(self) -> None:
        now = time.time()           # taken before the processes are listed: they are at least this fresh
        kids = _children(os.getpid())
        self.db.beat(self.id, self.name, MACHINE, os.getpid(), None if kids is None else [os.getpid(), *kids], now)

    def start(self) -> "NodeBeat":
        os.environ[NODE_ENV] = self.id
        self.beat()                 # before any pool process can claim a job
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.beat()
            except Exception as e:  # a database hiccup: the next beat tries again
                log.warning("node heartbeat failed: %s", e)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        if os.environ.get(NODE_ENV) == self.id:
            del os.environ[NODE_ENV]
        try:
            self.db.forget_node(self.id)
        except Exception as e:
            log.warning("could not remove the node's heartbeat: %s", e)
