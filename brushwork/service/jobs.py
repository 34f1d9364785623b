"""Jobs: what a client asks for (`JobRequest`, validated before anything is stored), creating a
job, running it through the Python API with its progress written to the database (with a small
preview PNG), and the sweeper that re-queues jobs whose worker died and deletes expired files.

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
import socket
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

from ..errors import BrushworkError, InputError
from .config import ServiceConfig
from .db import Database, Job
from .security import hash_token, new_job_id, new_token
from .storage import Storage

log = logging.getLogger("brushwork.service")

QUALITIES = ("fast", "best")
KINDS = ("image", "video")
_EMAIL = re.compile(r"^[^@\s<>,;\"']{1,64}@[A-Za-z0-9.-]{1,251}\.[A-Za-z]{2,63}$")
PREVIEW_SIDE = 384


class Service:
    """What every part of the service shares: settings, database, files, and the queue."""

    def __init__(self, cfg: ServiceConfig, celery: Any = None):
        self.cfg = cfg.prepare()
        self.db = Database(cfg.database_url)
        self.storage = Storage(cfg.data_dir)
        self.secret = cfg.secret()
        self._celery = celery

    @property
    def celery(self):
        if self._celery is None:
            from .queue import make_celery
            self._celery = make_celery(self.cfg)
        return self._celery

    def dispatch(self, job_id: str, queue: str) -> bool:
        """Send "run job X" to the broker; a failure leaves the job for the sweeper to send again."""
        try:
            self.celery.send_task("brushwork.run_job", args=[job_id], queue=queue)
        except Exception as e:  # broker down: the job is stored, the sweeper retries
            log.warning("could not queue job %s: %s", job_id, e)
            return False
        self.db.update(job_id, dispatched=True)
        return True

    def close(self) -> None:
        self.db.close()


# --- what a client asks for ----------------------------------------------------------------------

@dataclass
class JobRequest:
    kind: str = "image"
    quality: str = "fast"
    preset: str | None = None     # "7" or "3:0.5,12:0.5"; None when a painting is uploaded
    strength: float = 1.0
    keep_colors: bool = False
    size: int | None = None       # long side of the output; None: the photo's (within the limits)
    email: str | None = None
    webhook: str | None = None
    has_style: bool = False

    def params(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k not in ("email", "webhook")}


def parse_request(fields: dict[str, Any], has_style: bool, cfg: ServiceConfig, kind: str = "image") -> JobRequest:
    """Validate form/JSON fields into a JobRequest; InputError (one line) on anything wrong."""
    def text(name: str) -> str | None:
        v = fields.get(name)
        if v is None:
            return None
        v = str(v).strip()
        return v or None

    quality = (text("quality") or "fast").lower()
    if quality not in QUALITIES:
        raise InputError(f"quality {quality!r} is not one of {', '.join(QUALITIES)}")
    if kind == "video" and quality != "fast":
        raise InputError("videos are painted with the fast networks only (quality 'fast')")
    preset = text("preset")
    if preset is not None and has_style:
        raise InputError("give a preset or a painting (style image), not both")
    if preset is None and not has_style:
        raise InputError("choose a preset or upload a painting as the style")
    if preset is not None:
        if quality == "best":
            raise InputError("image iteration (quality 'best') paints from a style image: upload a painting, "
                             "or use quality 'fast' with a preset")
        from ..feedforward.presets import preset_weights
        preset_weights(preset)                      # InputError for unknown presets or bad blends
    strength = _number(text("strength"), "strength", 1.0)
    if not 0 <= strength <= 1:
        raise InputError(f"strength {strength:g} must be between 0 (the photo) and 1 (full style)")
    keep = (text("keep_colors") or "false").lower()
    if keep not in ("1", "0", "true", "false", "on", "off", "yes", "no"):
        raise InputError(f"keep_colors {keep!r} must be true or false")
    size_text = text("size")
    size = None
    if size_text is not None and size_text.lower() not in ("original", "full"):
        size = int(_number(size_text, "size", 0, integer=True))
        cap = {"video": cfg.max_video_side, "best": cfg.max_best_side}.get(kind if kind == "video" else quality,
                                                                           cfg.max_output_side)
        if not 16 <= size <= cap:
            raise InputError(f"size {size} must be between 16 and {cap} px (long side)")
    email = text("email")
    if email is not None and not _EMAIL.match(email):
        raise InputError(f"{email[:80]!r} is not an email address")
    webhook = text("webhook")
    if webhook is not None:
        check_webhook_url(webhook, cfg.webhook_allow_private, resolve=False)
    return JobRequest(kind=kind, quality=quality, preset=preset, strength=strength,
                      keep_colors=keep in ("1", "true", "on", "yes"), size=size, email=email, webhook=webhook,
                      has_style=has_style)


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


def check_webhook_url(url: str, allow_private: bool, resolve: bool = True) -> None:
    """http(s) only, no credentials; with `resolve`, no loopback/private/link-local targets (SSRF)."""
    if len(url) > 2000:
        raise InputError("the webhook URL is too long")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError("the webhook must be an http:// or https:// URL")
    if parts.username or parts.password:
        raise InputError("the webhook URL must not contain a user name or password")
    if allow_private or not resolve:
        if not allow_private:
            _check_literal_host(parts.hostname)
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    except (socket.gaierror, UnicodeError):
        raise InputError(f"the webhook host {parts.hostname!r} cannot be resolved") from None
    for info in infos:
        _check_literal_host(info[4][0])


def _check_literal_host(host: str) -> None:
    import ipaddress
    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(".localhost"):
        raise InputError("the webhook must not point at this server or a private network")
    try:
        ip = ipaddress.ip_address(host.strip("[]").split("%")[0])
    except ValueError:
        return  # a name; checked again when resolved before sending
    if not ip.is_global or ip.is_multicast:
        raise InputError("the webhook must not point at this server or a private network")


# --- creating a job ------------------------------------------------------------------------------

@dataclass
class Created:
    job: Job
    token: str
    webhook_secret: str | None = None


def plan_output(req: JobRequest, width: int, height: int, cfg: ServiceConfig) -> tuple[int, int]:
    """The output's (W, H): the requested long side (default: the photo's; 512 for image iteration),
    within the limits for its kind (print size for fast images)."""
    from .uploads import fit_side
    if req.kind == "video":
        ow, oh = fit_side(width, height, req.size, cfg.max_video_side, cfg.max_output_pixels)
        return max(2, ow - ow % 2), max(2, oh - oh % 2)
    if req.quality == "best":
        return fit_side(width, height, req.size or min(512, cfg.max_best_side), cfg.max_best_side,
                        cfg.max_output_pixels)
    return fit_side(width, height, req.size, cfg.max_output_side, cfg.max_output_pixels)


def create_job(svc: Service, req: JobRequest, client: str, files: dict[str, tuple[Path, str]],
               input_size: tuple[int, int], frames: int = 1) -> Created:
    """Store a job whose uploads were checked: `files` maps role -> (tmp path, our file name);
    `input_size` is the photo's (W, H) as displayed. The job is committed before it is queued."""
    dims = plan_output(req, *input_size, svc.cfg)
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
    from .uploads import estimate_seconds
    queue = "fast" if req.kind == "image" and req.quality == "fast" else "slow"
    secret = secrets.token_hex(32) if req.webhook else None
    now = time.time()
    job = Job(id=job_id, token_hash=hash_token(token), client=client, kind=req.kind, quality=req.quality,
              queue=queue, params=params, files=stored, state="queued", step=0, total=0,
              message="waiting for a worker", estimate_s=estimate_seconds(req.kind, req.quality, *dims,
                                                                          steps=svc.cfg.best_steps, frames=frames),
              stored_bytes=total, created_at=now, updated_at=now, expires_at=now + svc.cfg.expire_days * 86400,
              email=req.email, webhook_url=req.webhook, webhook_secret=secret, notified={}, attempts=0,
              dispatched=False, public=False, likes=0, cancel_requested=False, preview_version=0)
    if req.email:   # the email needs a link that opens the job: keep it (only for jobs that asked)
        job.notified = {"link": f"{svc.cfg.public_url.rstrip('/')}/jobs/{job_id}?token={token}"}
    try:
        with svc.db.session() as s:
            s.add(job)
    except BaseException:
        svc.storage.delete(job_id)
        raise
    svc.dispatch(job_id, queue)
    return Created(job, token, secret)


# --- running a job (in a worker) -----------------------------------------------------------------

class Stopped(Exception):
    """The job was cancelled, or this run lost its claim."""


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
                from .db import Job as J
                values["preview_version"] = J.preview_version + 1
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


def run_job(svc: Service, job_id: str, worker: str = "") -> str:
    """Claim and run one job; returns what happened (done/failed/cancelled/skipped/lost)."""
    run_id = secrets.token_hex(8)
    if not svc.db.claim(job_id, run_id, worker or socket.gethostname(), svc.cfg.lease_s, svc.cfg.max_attempts):
        return "skipped"   # finished, cancelled, or running elsewhere under a live lease
    job = svc.db.get(job_id)
    assert job is not None
    state, error = "failed", None
    with Run(svc, job_id, run_id) as run:
        try:
            outcome = _produce(svc, job, run)
            state = "cancelled" if run.cancelled else ("lost" if run.lost else "done")
            if state == "done":
                _finish(svc, job, run, outcome)
        except Stopped:
            state = "cancelled" if run.cancelled else "lost"
        except BrushworkError as e:
            error = str(e)
        except MemoryError:
            error = "out of memory: try a smaller output size"
        except Exception:
            ref = run_id[:8]
            log.exception("job %s failed (reference %s)", job_id, ref)
            error = f"an internal error stopped this job (reference {ref}); it has been logged"
    now = time.time()
    if state == "lost":
        return "lost"
    if state == "cancelled":
        svc.db.update(job_id, where={"run_id": run_id}, state="cancelled", message="cancelled", finished_at=now,
                      lease_until=None)
        return "cancelled"
    if state == "failed":
        if not svc.db.update(job_id, where={"run_id": run_id, "state": "running"}, state="failed", error=error,
                             message="failed", finished_at=now, lease_until=None):
            return "lost"
    svc.storage._usage = None
    notify_later(svc, job_id)
    return state


def notify_later(svc: Service, job_id: str) -> None:
    job = svc.db.get(job_id)
    if job is None:
        return
    for channel, wanted in (("email", job.email), ("webhook", job.webhook_url)):
        if wanted:
            try:
                svc.celery.send_task("brushwork.notify", args=[job_id, channel], queue="notify")
            except Exception as e:
                log.warning("could not queue the %s for job %s: %s", channel, job_id, e)


def _produce(svc: Service, job: Job, run: Run) -> Any:
    import brushwork
    cfg, p = svc.cfg, job.params
    content = svc.storage.path(job.id, job.files["content"])
    style = svc.storage.path(job.id, job.files["style"]) if "style" in job.files else None
    if job.kind == "video":
        out = svc.storage.path(job.id, "result.mp4")
        run.report(0, 0, "reading the clip", force=True)

        def describe(fp) -> str:
            if getattr(fp, "phase", "paint") == "encode":
                return "encoding the video"
            eta = f", {fp.eta:.0f} s left" if getattr(fp, "eta", None) is not None else ""
            return f"frame {fp.step} of {fp.total}{eta}"
        ow, oh = p["output"]
        res = brushwork.stylize_video(content, out, preset=p.get("preset"), style=style, size=f"{ow}x{oh}",
                                      strength=p["strength"], preserve_color=p["keep_colors"],
                                      cache=svc.storage.path(job.id, "frames"), device=cfg.device,
                                      callback=run.callback(describe))
        if res is None:
            raise Stopped()
        return out
    ow, oh = p["output"]
    w, h = p["input"]
    size = None if (ow, oh) == (w, h) else max(ow, oh)
    if job.quality == "best":
        strength = p["strength"]
        if strength == 0:
            run.report(1, 1, "strength 0: the photo as it is", force=True)
            from ..feedforward.apply import load_content
            return load_content(content, size)
        run.report(0, cfg.best_steps, "loading the network", force=True)
        weight = 10 ** (1.5 * (strength - 1))   # 1: the balanced default; lower strength, less style

        def describe(pr) -> str:
            return f"painting: step {pr.step} of {pr.total} (scale {pr.stage + 1} of {pr.stages}, " \
                   f"{pr.size[1]}x{pr.size[0]} px)"
        out = brushwork.stylize(content, style, size=max(ow, oh), steps=cfg.best_steps, style_weight=weight,
                                preserve_color="luminance" if p["keep_colors"] else None, device=cfg.device,
                                callback=run.callback(describe))
        if run.should_stop:
            raise Stopped()
        return out
    run.report(0, 1, "painting", force=True)
    out = brushwork.apply(content, preset=p.get("preset"), style=style, strength=p["strength"],
                          preserve_color=p["keep_colors"], size=size, device=cfg.device,
                          callback=lambda pr: run.report(pr.step, pr.total, f"painting tile {pr.step} of {pr.total}"))
    if run.should_stop:
        raise Stopped()
    return out


def _finish(svc: Service, job: Job, run: Run, outcome: Any) -> None:
    """Write the result (atomically) and mark the job done, if this run still holds it."""
    now = time.time()
    if job.kind == "video":
        path = Path(outcome)
        from ..video import probe
        info = probe(path)
        values = dict(result=path.name, result_width=info.width, result_height=info.height)
        preview = None
    else:
        from ..image import save_image
        path = svc.storage.path(job.id, "result.png")
        save_image(outcome, path)
        values = dict(result=path.name, result_width=int(outcome.shape[-1]), result_height=int(outcome.shape[-2]))
        preview = preview_png(outcome)
    values.update(stored_bytes=svc.storage.job_bytes(job.id), state="done", message="done", finished_at=now,
                  step=max(job.step, 1), lease_until=None)
    if preview is not None:
        from .db import Job as J
        values.update(preview=preview, preview_version=J.preview_version + 1)
    if not svc.db.update(job.id, where={"run_id": run.run_id, "state": "running"}, **values):
        raise Stopped()


# --- the sweeper (runs in the web server) ----------------------------------------------------------

def sweep(svc: Service) -> dict[str, int]:
    """Re-queue jobs whose worker died (lease expired), send jobs never sent, fail jobs that
    killed their worker `max_attempts` times, delete expired files. Safe to run anywhere, often."""
    counts = {"requeued": 0, "dispatched": 0, "failed": 0, "expired": 0}
    now = time.time()
    for job in svc.db.stale(now):
        if job.state == "running":
            if job.attempts >= svc.cfg.max_attempts:
                if svc.db.update(job.id, where={"run_id": job.run_id, "state": "running"}, state="failed",
                                 error=f"the worker running this job stopped {job.attempts} times "
                                       "(out of memory?); try a smaller size",
                                 message="failed", finished_at=now, lease_until=None):
                    counts["failed"] += 1
                    notify_later(svc, job.id)
                continue
            if job.cancel_requested:
                svc.db.update(job.id, where={"run_id": job.run_id, "state": "running"}, state="cancelled",
                              message="cancelled", finished_at=now, lease_until=None)
                continue
            if not svc.db.update(job.id, where={"run_id": job.run_id, "state": "running"}, state="queued",
                                 run_id=None, dispatched=False, lease_until=None,
                                 message=f"re-queued: its worker stopped (run {job.attempts + 1} of "
                                         f"{svc.cfg.max_attempts} next)"):
                continue
            counts["requeued"] += 1
            log.warning("job %s re-queued: its worker stopped", job.id)
        if svc.dispatch(job.id, job.queue):
            counts["dispatched"] += 1
    counts["expired"] = expire(svc, now)
    counts["pruned"] = prune_broker(svc)
    svc.storage.clean_tmp()
    return counts


DELIVERED_KEEP_S = 3600.0  # delivered broker messages older than this are deleted


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
    from sqlalchemy import select
    now = time.time() if now is None else now
    with svc.db.Session() as s:
        ids = list(s.scalars(select(Job.id).where(Job.expires_at < now, Job.state.in_(("done", "failed",
                                                                                        "cancelled")))))
    for job_id in ids:
        svc.storage.delete(job_id)
        svc.db.update(job_id, result=None, files={}, preview=None, stored_bytes=0, expires_at=None, public=False,
                      message="expired: its files were deleted")
    return len(ids)


# --- how a job looks from outside ----------------------------------------------------------------

@dataclass
class Links:
    page: str
    status: str
    events: str
    preview: str
    result: str
    cancel: str
    publish: str


def links(job_id: str, token: str | None = None) -> Links:
    q = f"?token={token}" if token else ""
    b = f"/api/jobs/{job_id}"
    return Links(page=f"/jobs/{job_id}{q}", status=f"{b}{q}", events=f"{b}/events{q}", preview=f"{b}/preview{q}",
                 result=f"{b}/result{q}", cancel=f"{b}/cancel", publish=f"{b}/publish")


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
                   "strength": p.get("strength"), "keep_colors": p.get("keep_colors"), "size": p.get("size")},
        "preview_version": job.preview_version,
        "preview_url": lk.preview if job.preview else None,
        "result": ({"url": lk.result, "width": job.result_width, "height": job.result_height,
                    "media_type": "video/mp4" if job.result.endswith(".mp4") else "image/png"}
                   if job.state == "done" and job.result else None),
        "links": asdict(lk),
        "public": job.public, "likes": job.likes,
        "notifications": {k: v for k, v in (job.notified or {}).items() if k in ("email", "webhook")},
    }


def _iso(t: float | None) -> str | None:
    if t is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
