"""Helpers for the web service tests: tiny images, a config in a temporary folder, an in-process
worker on the real (embedded) queue, and a live uvicorn server in a thread."""
from __future__ import annotations

import contextlib
import io
import socket
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

from brushwork.service.config import ServiceConfig


def png_bytes(w: int = 64, h: int = 48, seed: int = 0, fmt: str = "PNG") -> bytes:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    a = np.stack([xx * 255 // max(1, w - 1), yy * 255 // max(1, h - 1), (xx + yy) % 64 * 4], -1)
    a = (a + rng.integers(0, 20, a.shape)).clip(0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, fmt)
    return buf.getvalue()


def config(tmp_path: Path, **kw) -> ServiceConfig:
    defaults = dict(data_dir=tmp_path / "data", lease_s=3.0, poll_interval_s=0.05, sweep_every_s=3600,
                    notify_backoff_s=0.2, webhook_allow_private=True)
    defaults.update(kw)
    return ServiceConfig(**defaults)


@contextlib.contextmanager
def worker(svc, queues=("fast", "slow", "notify"), concurrency: int = 2):
    """A Celery worker in this process (thread pool) consuming the app's real broker."""
    from celery.contrib.testing.worker import start_worker
    with start_worker(svc.broker.app, pool="threads", concurrency=concurrency, perform_ping_check=False,
                      queues=list(queues), shutdown_timeout=30, loglevel="WARNING"):
        yield


def wait_for(fn, timeout: float = 30.0, every: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout} s")
        time.sleep(every)


def wait_state(client, job_id: str, token: str, states=("done", "failed", "cancelled"), timeout: float = 60.0):
    def check():
        s = client.get(f"/api/jobs/{job_id}", params={"token": token}).json()
        return s if s["state"] in states else None
    return wait_for(check, timeout, 0.1)


def submit(client, photo: bytes | None = None, files: dict | None = None, **fields):
    files = files if files is not None else {"photo": ("photo.png", photo or png_bytes(), "image/png")}
    data = {"preset": "7", "size": "64", **{k: v for k, v in fields.items() if v is not None}}
    return client.post("/api/jobs", files=files, data={k: v for k, v in data.items() if v is not False})


@contextlib.contextmanager
def redis_server(folder: Path):
    """A private redis-server on a free port (no persistence); yields its URL."""
    import subprocess

    import redis
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(folder)], stdout=subprocess.DEVNULL)
    try:
        client = redis.Redis(port=port)
        wait_for(lambda: _ping(client), 10)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


def _ping(client) -> bool:
    try:
        return client.ping()
    except Exception:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def live_server(app):
    """The app served by uvicorn on a free local port, in a thread."""
    import uvicorn
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    wait_for(lambda: server.started, 20)
    try:
        yield f"http://127.0.0.1:{port}", port
    finally:
        server.should_exit = True
        t.join(10)
