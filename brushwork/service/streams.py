"""Following jobs for the event streams: one database query per interval for every job that open
streams follow (per web process and event loop), instead of one query per stream, so a hundred
open streams cost what one does and status requests stay fast (BENCHMARKS.md)."""
from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Any, Callable

from fastapi.concurrency import run_in_threadpool

log = logging.getLogger("brushwork.service")


def _key(row: Any) -> tuple | None:
    """What a stream reports on: a change of any of these is a new status event."""
    return None if row is None else (row.state, row.updated_at, row.preview_version)


class JobWatch:
    """The latest row of each followed job, read with `fetch(ids) -> {id: row}` every `every`
    seconds while any stream follows one; `changed` wakes the streams of a job that changed."""

    def __init__(self, fetch: Callable[[list[str]], dict[str, Any]], every: float = 0.5):
        self.fetch, self.every = fetch, every
        self._followers: dict[str, int] = {}
        self._rows: dict[str, Any] = {}
        self._changed: dict[str, asyncio.Event] = {}
        self._task: asyncio.Task | None = None

    def follow(self, job_id: str, row: Any) -> None:
        self._followers[job_id] = self._followers.get(job_id, 0) + 1
        self._rows.setdefault(job_id, row)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._poll())

    def unfollow(self, job_id: str) -> None:
        n = self._followers.get(job_id, 0) - 1
        if n > 0:
            self._followers[job_id] = n
            return
        self._followers.pop(job_id, None)
        self._rows.pop(job_id, None)
        self._changed.pop(job_id, None)

    async def changed(self, job_id: str, timeout: float) -> Any:
        """The job's row once it changed, or after `timeout` s; None when it no longer exists."""
        event = self._changed.setdefault(job_id, asyncio.Event())
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except asyncio.TimeoutError:
            pass
        return self._rows.get(job_id)

    async def _poll(self) -> None:
        while self._followers:
            await asyncio.sleep(self.every)
            ids = list(self._followers)
            try:
                rows = await run_in_threadpool(self.fetch, ids)
            except Exception as e:     # a database hiccup: the next interval tries again
                log.warning("reading the followed jobs failed: %s", e)
                continue
            for job_id in ids:
                if job_id in self._followers and _key(rows.get(job_id)) != _key(self._rows.get(job_id)):
                    self._rows[job_id] = rows.get(job_id)
                    event = self._changed.pop(job_id, None)
                    if event is not None:
                        event.set()


def watch(watches: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, JobWatch]",
          fetch: Callable[[list[str]], dict[str, Any]]) -> JobWatch:
    """The app's JobWatch for the running event loop (its events and task belong to that loop);
    `watches` is the app's own (app.state.watches)."""
    loop = asyncio.get_running_loop()
    if loop not in watches:
        watches[loop] = JobWatch(fetch)
    return watches[loop]
