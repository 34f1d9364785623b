"""Jobs: what a client asks for (`JobRequest`, validated before anything is stored), creating a
job, running it (its row in the job-kind table, kinds.py, says how) with its progress written to
the database (with a small preview PNG), and how a job looks from outside (`status`).

A run is guarded by a claim (`Database.claim`): the worker that claims a job gets a `run_id`,
keeps a lease alive with a heartbeat thread, and every write it makes is conditional on still
holding that run_id. A worker that dies stops renewing the lease; the sweeper then re-queues
the job (up to `max_attempts` runs), and whatever a stale worker writes later is ignored.
"""
from __future__ import annotations

import io
import logging
import re
import secrets
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

from ..errors import BrushworkError, InputError
from . import holders, kinds, notify
from .addresses import check_webhook_url
from .config import ServiceConfig
from .db import Database, Job
from .kinds import JobKind
from .messages import for_web
from .producers import Made, Stopped, Work
from .queue import NOTIFY, RUN_JOB, Broker
from .security import hash_token, new_job_id, new_token, seal
from .storage import Storage

log = logging.getLogger("brushwork.service")

_EMAIL = re.compile(r"^[^@\s<>,;\"']{1,64}@[A-Za-z0-9.-]{1,251}\.[A-Za-z]{2,63}$")
PREVIEW_SIDE = 384


class Service:
    """What every part of the service shares: settings, database, files, and the broker the
    composition root (app.py, run.py) gives it."""

    def __init__(self, cfg: ServiceConfig, broker: Broker):
        self.cfg = cfg.prepare()
        self.db = Database(cfg.database_url)
        self.storage = Storage(cfg.data_dir)
        self.secret = cfg.secret()
        self.broker = broker

    def dispatch(self, job_id: str, queue: str) -> bool:
        """Send "run job X" to the broker; a failure leaves the job for the sweeper to send again."""
        try:
            self.broker.send(RUN_JOB, [job_id], queue)
        except Exception as e:  # broker down: the job is stored, the sweeper retries
            log.warning("could not queue job %s: %s", job_id, e)
            return False
        self.db.update(job_id, dispatched=True)
        return True

    def holder_gone(self, worker: str | None, since: float | None = None) -> bool:
        """True if the holder of a run claimed at `since` is known to be gone (holders.is_dead:
        its process on this machine, or its node's heartbeat)."""
        return holders.is_dead(worker, self.db.node, since, holders.STALE_BEATS * self.cfg.node_beat_s)

    def close(self) -> None:
        self.db.close()


class Runner:
    """What the queue's tasks run (queue.Runner), over a Service of this process."""

    def __init__(self, cfg: ServiceConfig, broker: Broker):
        self.svc = Service(cfg, broker)

    def run_job(self, job_id: str, node: str) -> str:
        return run_job(self.svc, job_id, node)

    def notify(self, notification_id: int, node: str) -> float | None:
        return notify.attempt(self.svc, notification_id, holders.holder(node))


# --- what a client asks for ----------------------------------------------------------------------

@dataclass
class JobRequest:
    kind: str = "image"
    quality: str = "fast"
    preset: str | None = None     # "wave", "7" or "3:0.5,12:0.5"; None when a painting is uploaded
    strength: float = 1.0
    keep_colors: bool = False
    stroke_scale: float | str = "auto"   # the one-pass networks' (feedforward.apply.check_stroke_scale)
    size: int | None = None       # long side of the output; None: the photo's (within the limits)
    email: str | None = None
    webhook: str | None = None
    has_style: bool = False
    text: str | None = None       # a QR code's payload
    ec: str | None = None         # its error-correction level

    def params(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k not in ("email", "webhook")}


def parse_request(row: JobKind, fields: dict[str, Any], uploaded: set[str], cfg: ServiceConfig) -> JobRequest:
    """Validate the form/JSON fields `row` reads into a JobRequest (`uploaded`: the upload fields
    present); InputError (one line) on anything wrong."""
    def text(name: str) -> str | None:
        v = fields.get(name) if name in row.fields else None
        if v is None:
            return None
        v = str(v).strip()
        return v or None

    has_style = "style" in uploaded
    preset = text("preset")
    if "preset" in row.fields:
        if preset is not None and has_style:
            raise InputError("give a preset or a painting (style image), not both")
        if preset is None and not has_style:
            raise InputError("choose a preset or upload a painting as the style")
    if row.needs_style_upload and not has_style:
        raise InputError(row.needs_style_upload)
    if preset is not None:
        from ..feedforward.presets import check_preset
        check_preset(preset)                        # InputError for unknown presets or bad blends
    strength = _number(text("strength"), "strength", 1.0)
    if not 0 <= strength <= 1:
        raise InputError(f"strength {strength:g} must be between 0 (the photo) and 1 (full style)")
    keep = (text("keep_colors") or "false").lower()
    if keep not in ("1", "0", "true", "false", "on", "off", "yes", "no"):
        raise InputError(f"keep_colors {keep!r} must be true or false")
    stroke_scale: float | str = "auto"
    if "stroke_scale" in row.fields:
        from ..feedforward.apply import check_stroke_scale
        stroke_scale = check_stroke_scale(text("stroke_scale"))
    size_text = text("size")
    size = None
    if size_text is not None and size_text.lower() not in ("original", "full"):
        size = int(_number(size_text, "size", 0, integer=True))
        cap = row.max_side(cfg)
        if not 16 <= size <= cap:
            raise InputError(f"size {size} must be between 16 and {cap} px (long side)")
    email = text("email")
    if email is not None and not _EMAIL.match(email):
        raise InputError(f"{email[:80]!r} is not an email address")
    webhook = text("webhook")
    if webhook is not None:
        check_webhook_url(webhook, cfg.webhook_allow_private, resolve=False)
    payload, ec = (fields.get("text") if "text" in row.fields else None), text("ec")
    if "text" in row.fields:
        from ..qrcode import make_code
        if not isinstance(payload, str) or not payload:
            raise InputError("the QR payload (text) is empty; give the text or link to encode")
        ec = make_code(payload, None, ec or "M").ec      # InputError: unknown level, payload too long
    return JobRequest(kind=row.kind, quality=row.quality, preset=preset, strength=strength,
                      keep_colors=keep in ("1", "true", "on", "yes"), stroke_scale=stroke_scale, size=size,
                      email=email, webhook=webhook, has_style=has_style, text=payload, ec=ec)


def _number(text: str | None, name: str, default: float, integer: bool = False) -> float:
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{name} {text[:40]!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise InputError(f"{name} must be a finite number")
    if integer and not value.is_integer():
        raise InputError(f"{name} {text[:40]!r} is not a whole number")
    return value


# --- creating a job ------------------------------------------------------------------------------

@dataclass
class Created:
    job: Job
    token: str
    webhook_secret: str | None = None


def create_job(svc: Service, row: JobKind, req: JobRequest, client: str, files: dict[str, tuple[Path, str]],
               input_size: tuple[int, int], frames: int = 1) -> Created:
    """Store a job whose uploads were checked: `files` maps role -> (tmp path, our file name);
    `input_size` is the main input's (W, H) as displayed. The job is committed before it is queued."""
    dims = row.plan(*input_size, req.size, svc.cfg)
    params = {**req.params(), "input": list(input_size), "output": list(dims), "frames": frames}
    job_id, token = new_job_id(), new_token()
    svc.storage.job_dir(job_id, create=True)
    stored, total = {}, 0
    try:
        for role, (tmp, name) in files.items():
            total += svc.storage.adopt(job_id, tmp, name)
            stored[role] = name
    except BaseException:
        svc.storage.delete(job_id)
        raise
    secret = secrets.token_hex(32) if req.webhook else None
    now = time.time()
    job = Job(id=job_id, token_hash=hash_token(token), client=client, kind=row.kind, quality=row.quality,
              queue=row.queue, params=params, files=stored, state="queued", step=0, total=0,
              message="waiting for a worker", estimate_s=row.estimate(*dims, frames, svc.cfg),
              stored_bytes=total, created_at=now, updated_at=now, expires_at=now + svc.cfg.expire_days * 86400,
              email=req.email, webhook_url=req.webhook, webhook_secret=secret, notified={}, attempts=0,
              dispatched=False, public=False, likes=0, cancel_requested=False, preview_version=0)
    if req.email:   # the email needs a link that opens the job: keep its token, sealed (only jobs that asked)
        job.notified = {"sealed_token": seal(svc.secret, job_id, token)}
    try:
        with svc.db.session() as s:
            s.add(job)
    except BaseException:
        svc.storage.delete(job_id)
        raise
    svc.dispatch(job_id, row.queue)
    return Created(job, token, secret)


# --- running a job (in a worker) -----------------------------------------------------------------

class Run:
    """One claimed run of a job: heartbeat, throttled progress, preview, cancellation."""

    def __init__(self, svc: Service, job_id: str, run_id: str):
        self.svc, self.job_id, self.run_id = svc, job_id, run_id
        self.where = {"run_id": run_id, "state": "running"}
        self._stop = threading.Event()
        self.cancelled = False
        self.lost = False
        self._last_write = self._last_preview = 0.0
        self._thread = threading.Thread(target=self._beat, daemon=True, name=f"lease-{job_id}")

    def __enter__(self) -> "Run":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _beat(self) -> None:
        lease = self.svc.cfg.lease_s
        while not self._stop.wait(max(0.2, lease / 4)):
            try:
                if not self.svc.db.update(self.job_id, where=self.where, lease_until=time.time() + lease):
                    self.lost = True    # cancelled, or re-queued by the sweeper: stop at the next report
                    self.cancelled = self._cancel_requested()
                    return
                if self._cancel_requested():
                    self.cancelled = True
            except Exception as e:     # a database hiccup: try again on the next beat
                log.warning("lease renewal for %s failed: %s", self.job_id, e)

    def _cancel_requested(self) -> bool:
        job = self.svc.db.get(self.job_id)
        return job is None or job.cancel_requested

    @property
    def should_stop(self) -> bool:
        return self.cancelled or self.lost

    def report(self, step: int, total: int, message: str, image=None, force: bool = False) -> bool:
        """Write progress (at most every 0.5 s; a preview every 1.5 s). True means: stop."""
        now = time.monotonic()
        values: dict[str, Any] = {}
        if force or now - self._last_write >= 0.5:
            values.update(step=int(step), total=int(total), message=message[:200])
            self._last_write = now
        if image is not None and (force or now - self._last_preview >= 1.5):
            values.update(preview=preview_png(image))
            self._last_preview = now
        if values:
            if "preview" in values:
                values["preview_version"] = Job.preview_version + 1
            if not self.svc.db.update(self.job_id, where={**self.where, "cancel_requested": False}, **values):
                if self._cancel_requested():
                    self.cancelled = True
                else:
                    self.lost = True
        return self.should_stop

    def callback(self, describe: Callable[[Any], str]) -> Callable[[Any], bool]:
        def cb(p) -> bool:
            return self.report(p.step, p.total, describe(p), getattr(p, "image", None))
        return cb


def preview_png(image, side: int = PREVIEW_SIDE) -> bytes:
    """(1, 3, H, W) in [0, 1] -> a PNG no larger than `side`."""
    import numpy as np
    from PIL import Image
    a = (image.detach().float().clamp(0, 1)[0].permute(1, 2, 0).cpu().numpy() * 255 + 0.5).astype(np.uint8)
    img = Image.fromarray(a)
    img.thumbnail((side, side), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, "PNG", optimize=False, compress_level=6)
    return buf.getvalue()


def run_job(svc: Service, job_id: str, node: str = "") -> str:
    """Run the job a message names, after any interrupted job of its queue (re-queued, or held by
    a process that is gone): those go first, wherever their own messages wait in the queue.
    Returns what happened to the named job (done/failed/cancelled/skipped/lost)."""
    job = svc.db.get(job_id)
    if job is None:
        return "skipped"
    for other in svc.db.interrupted(job.queue):
        if other.id != job_id and (other.state == "queued" or svc.holder_gone(other.worker, other.started_at)):
            run_one(svc, other.id, node)
    return run_one(svc, job_id, node)


def run_one(svc: Service, job_id: str, node: str = "") -> str:
    """Claim and run one job; returns what happened (done/failed/cancelled/skipped/lost)."""
    run_id = secrets.token_hex(8)
    me, cfg = holders.holder(node), svc.cfg
    if not svc.db.claim(job_id, run_id, me, cfg.lease_s, cfg.max_attempts):
        held = svc.db.get(job_id)   # running under a live lease: take it at once if its holder is gone
        if held is None or held.state != "running" or not svc.holder_gone(held.worker, held.started_at) or \
                not svc.db.claim(job_id, run_id, me, cfg.lease_s, cfg.max_attempts, dead_run=held.run_id):
            return "skipped"   # finished, cancelled, or running elsewhere
        log.warning("job %s taken over: the process running it (%s) is gone", job_id, held.worker)
    job = svc.db.get(job_id)
    assert job is not None
    row = kinds.of(job)
    state, error = "failed", None
    inputs = {role: svc.storage.path(job.id, name) for role, name in job.files.items()}
    with Run(svc, job_id, run_id) as run:
        work = Work(svc.cfg, job.params, inputs, svc.storage.job_dir(job.id), svc.storage.path(job.id, row.result), run)
        try:
            made = row.producer(work)
            state = "cancelled" if run.cancelled else ("lost" if run.lost else "done")
            if state == "done" and not _done(svc, job, row, run, made):
                state = "lost"
        except Stopped:
            state = "cancelled" if run.cancelled else "lost"
        except BrushworkError as e:     # said as a web user should read it: uploads by name, no flags
            error = for_web(str(e), {u.what: inputs[u.role] for u in row.uploads if u.role in inputs})
        except MemoryError:
            error = "out of memory: try a smaller output size"
        except Exception:
            ref = run_id[:8]
            log.exception("job %s failed (reference %s)", job_id, ref)
            error = f"an internal error stopped this job (reference {ref}); it has been logged"
    if state == "lost":
        return "lost"
    mine = {"run_id": run_id, "state": "running"}
    if state == "cancelled":
        svc.db.finish(job_id, "cancelled", "cancelled", where={"run_id": run_id})
        return "cancelled"
    if state == "failed" and not svc.db.finish(job_id, "failed", "failed", where=mine, error=error):
        return "lost"
    svc.storage.make_private(job_id)
    notify_later(svc, job_id)
    return state


def _done(svc: Service, job: Job, row: JobKind, run: Run, made: Made) -> bool:
    """Mark the job done with what its producer made, if this run still holds it."""
    values: dict[str, Any] = dict(result=row.result, result_width=made.width, result_height=made.height,
                                  stored_bytes=svc.storage.job_bytes(job.id), step=max(job.step, 1))
    if made.preview is not None:
        values.update(preview=preview_png(made.preview), preview_version=Job.preview_version + 1)
    return svc.db.finish(job.id, "done", made.message[:200], where={"run_id": run.run_id, "state": "running"}, **values)


def delete_job(svc: Service, job_id: str) -> None:
    """Remove a job at once: its files (photo, painting, results) and its record. A run still
    going finds its record gone at its next report or heartbeat and stops."""
    svc.db.cancel(job_id)
    svc.storage.delete(job_id)
    svc.db.delete(job_id)
    svc.storage.delete(job_id)        # anything a run wrote in between


def notify_later(svc: Service, job_id: str) -> None:
    """Put the job's notifications in the outbox and ask a worker to deliver them (should that
    message be lost, the sweeper asks again)."""
    job = svc.db.get(job_id)
    if job is None:
        return
    channels = [c for c, wanted in (("email", job.email), ("webhook", job.webhook_url)) if wanted]
    for nid in svc.db.owe(job_id, channels) if channels else ():
        send_notification(svc, nid)


def send_notification(svc: Service, nid: int) -> None:
    try:
        svc.broker.send(NOTIFY, [nid], "notify")
    except Exception as e:      # the outbox keeps it: the sweeper sends it again
        log.warning("could not queue notification %s: %s", nid, e)


# --- how a job looks from outside ----------------------------------------------------------------

@dataclass
class Links:
    page: str
    status: str
    events: str
    preview: str
    result: str
    picture: str
    cancel: str
    publish: str
    delete: str


def links(job_id: str, token: str | None = None) -> Links:
    q = f"?token={token}" if token else ""
    b = f"/api/jobs/{job_id}"
    return Links(page=f"/jobs/{job_id}{q}", status=f"{b}{q}", events=f"{b}/events{q}", preview=f"{b}/preview{q}",
                 result=f"{b}/result{q}", picture=f"{b}/picture{q}", cancel=f"{b}/cancel", publish=f"{b}/publish",
                 delete=b)


def status(job: Job, token: str | None = None) -> dict[str, Any]:
    lk = links(job.id, token)
    progress = 1.0 if job.state == "done" else (min(1.0, job.step / job.total) if job.total else 0.0)
    elapsed = (job.finished_at or time.time()) - job.started_at if job.started_at else None
    eta = None
    if job.state == "queued":
        eta = job.estimate_s
    elif job.state == "running" and elapsed is not None:
        # measured pace once there is some progress, the up-front estimate before
        eta = elapsed * (1 - progress) / progress if progress >= 0.02 else max(0.0, (job.estimate_s or 0) - elapsed)
    p = job.params or {}
    row = kinds.of(job)
    return {
        "id": job.id, "kind": job.kind, "quality": job.quality, "state": job.state,
        "progress": round(progress, 4), "step": job.step, "total": job.total, "message": job.message,
        "error": job.error, "estimate_s": round(job.estimate_s, 1) if job.estimate_s is not None else None,
        "elapsed_s": round(elapsed, 1) if elapsed is not None else None,
        "eta_s": round(eta, 1) if eta is not None else None, "attempts": job.attempts,
        "cancelling": bool(job.cancel_requested and not job.finished),
        "created_at": _iso(job.created_at), "finished_at": _iso(job.finished_at),
        "expires_at": _iso(job.expires_at),
        "params": {"preset": p.get("preset"), "style": "uploaded" if p.get("has_style") else None,
                   "strength": p.get("strength"), "keep_colors": p.get("keep_colors"), "size": p.get("size"),
                   "stroke_scale": p.get("stroke_scale", "auto")},
        "preview_version": job.preview_version,
        "preview_url": lk.preview if job.preview else None,
        "result": ({"url": lk.result, "width": job.result_width, "height": job.result_height,
                    "media_type": row.media_type, "picture_url": lk.picture if row.picture else None}
                   if job.state == "done" and job.result else None),
        "links": asdict(lk),
        "public": job.public, "likes": job.likes,
        "notifications": {k: v for k, v in (job.notified or {}).items() if k in ("email", "webhook")},
    }


def _iso(t: float | None) -> str | None:
    if t is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
