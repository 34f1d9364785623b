"""The sweeper (a thread in the web server): re-queues jobs whose worker died (its lease ran out,
or its holder is known to be gone: its process on this machine, its node's heartbeat), sends
jobs whose message never went out, fails jobs that killed their worker `max_attempts` times,
sends outbox notifications again whose message was lost, deletes expired files, the built-in
broker's delivered messages and the heartbeats of long-silent nodes."""
from __future__ import annotations

import logging
import threading
import time

from .jobs import Service, notify_later, send_notification

log = logging.getLogger("brushwork.service")
DELIVERED_KEEP_S = 3600.0  # delivered broker messages older than this are deleted
NODE_KEEP_S = 86400.0      # the heartbeat rows of nodes silent this long are deleted


class Sweeper:
    """Runs `sweep` every `every` seconds in a thread (the web server is always running), and
    in between, as often as nodes beat, `recover`: a job whose holder is gone waits for neither."""

    def __init__(self, svc: Service, every: float):
        self.svc, self.every = svc, every
        self.tick = min(every, svc.cfg.node_beat_s)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="brushwork-sweeper", daemon=True)

    def start(self) -> "Sweeper":
        self._thread.start()
        return self

    def _loop(self) -> None:
        due = time.monotonic() + self.every
        while not self._stop.wait(self.tick):
            try:
                if time.monotonic() >= due:
                    due = time.monotonic() + self.every
                    sweep(self.svc)
                else:
                    recover(self.svc)
            except Exception:
                log.exception("sweep failed")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def sweep(svc: Service) -> dict[str, int]:
    """One pass over the jobs that need the sweeper. Safe to run anywhere, often."""
    counts = recover(svc)
    counts["notified"] = resend_notifications(svc)
    counts["expired"] = expire(svc)
    counts["pruned"] = prune_broker(svc)
    svc.db.drop_silent_nodes(time.time() - NODE_KEEP_S)
    svc.storage.clean_tmp()
    return counts


def recover(svc: Service) -> dict[str, int]:
    """Re-queue (or fail, past `max_attempts`) running jobs whose holder is gone or whose lease
    ran out, and send jobs whose message never went out."""
    counts = {"requeued": 0, "dispatched": 0, "failed": 0}
    stale = svc.db.stale(time.time(), unsent_after_s=svc.cfg.unsent_after_s)
    seen = {j.id for j in stale}
    stale += [j for j in svc.db.running() if j.id not in seen and svc.holder_gone(j.worker, j.started_at)]
    for job in stale:
        if job.state == "running":
            held = {"run_id": job.run_id, "state": "running"}
            if job.attempts >= svc.cfg.max_attempts:
                if svc.db.finish(job.id, "failed", "failed", where=held,
                                 error=f"the worker running this job stopped {job.attempts} times "
                                       "(out of memory?); try a smaller size"):
                    counts["failed"] += 1
                    notify_later(svc, job.id)
                continue
            if job.cancel_requested:
                svc.db.finish(job.id, "cancelled", "cancelled", where=held)
                continue
            if not svc.db.update(job.id, where=held, state="queued", run_id=None, dispatched=False,
                                 lease_until=None, message=f"re-queued: its worker stopped (run {job.attempts + 1} "
                                                           f"of {svc.cfg.max_attempts} next)"):
                continue
            counts["requeued"] += 1
            log.warning("job %s re-queued: its worker stopped", job.id)
        if svc.dispatch(job.id, job.queue):
            counts["dispatched"] += 1
    return counts


def resend_notifications(svc: Service) -> int:
    """Ask again for outbox notifications overdue by `unsent_after_s` and not being delivered
    (no live lease, or a holder on this machine that is gone): their message was lost, or the
    node delivering them died."""
    now, n = time.time(), 0
    for note in svc.db.due_notifications(now - svc.cfg.unsent_after_s):
        if note.lease_until is None or note.lease_until < now or svc.holder_gone(note.holder):
            if note.lease_until is not None and note.lease_until >= now:
                svc.db.settle_notification(note.id, f"interrupted: {note.holder} is gone", "pending")
            send_notification(svc, note.id)
            n += 1
    return n


def prune_broker(svc: Service, older_than_s: float = DELIVERED_KEEP_S) -> int:
    """Delete messages the built-in SQL broker has delivered (`visible` false) more than
    `older_than_s` ago. kombu's SQL transport keeps every delivered message for good, so its file
    would grow with every job; the jobs table, not the broker, is the truth about a job, and a
    job whose worker died is re-queued from there. Returns the number deleted (0 for Redis)."""
    if not svc.cfg.broker.startswith("sqla+"):
        return 0
    import datetime

    from sqlalchemy import create_engine, inspect, text
    engine = create_engine(svc.cfg.broker[len("sqla+"):])
    try:
        if not inspect(engine).has_table("kombu_message"):
            return 0
        cutoff = datetime.datetime.now() - datetime.timedelta(seconds=older_than_s)
        with engine.begin() as conn:
            return conn.execute(text("DELETE FROM kombu_message WHERE visible = 0 AND timestamp < :cutoff"),
                                {"cutoff": cutoff}).rowcount or 0
    finally:
        engine.dispose()


def expire(svc: Service, now: float | None = None) -> int:
    """Delete the files of finished jobs past their expiry; the job's record stays, saying so."""
    ids = svc.db.expired(time.time() if now is None else now)
    for job_id in ids:
        svc.storage.delete(job_id)
        svc.db.update(job_id, result=None, files={}, preview=None, stored_bytes=0, expires_at=None, public=False,
                      message="expired: its files were deleted")
    return len(ids)
