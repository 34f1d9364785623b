"""Helpers for the web service tests: tiny images, a config in a temporary folder, an in-process
worker on the real (embedded) queue, and a live uvicorn server in a thread."""
from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import subprocess
import sys
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
def service_app(folder: Path, **settings):
    """A web app on `config(folder, **settings)` without its sweeper, closed afterwards."""
    from brushwork.service.app import create_app
    app = create_app(config(folder, **settings), sweeper=False)
    try:
        yield app
    finally:
        app.state.service.close()


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


def worker_process(cfg: ServiceConfig, queues: str = "slow", *extra: str) -> subprocess.Popen:
    """A `brushwork worker` node in its own process group, its settings from `cfg`'s environment."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("BRUSHWORK_")}, **cfg.to_env()}
    return subprocess.Popen([sys.executable, "-m", "brushwork", "worker", "--queues", queues, "--concurrency", "1",
                             "-q", *extra], env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def kill_group(proc: subprocess.Popen) -> None:
    """Kill a worker node and its pool processes at once, as if its machine died."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(30)


def stop_node(proc: subprocess.Popen, timeout: float = 60) -> None:
    """A warm shutdown: SIGTERM to the node alone (it stops its pool processes; signalling those
    too can leave the pool's queue locked, and the node waiting on it for good)."""
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc)


def database_url(servers, kind: str) -> str | None:
    """A new, empty database of `kind` (None: SQLite in the test's data directory, the default)."""
    return None if kind == "sqlite" else servers("postgres").new_database()


def broker_url(servers, kind: str) -> str | None:
    """An empty broker of `kind` (None: the built-in SQLite broker in the test's data directory)."""
    if kind == "sqlite":
        return None
    from kombu import Connection

    from brushwork.service.queue import QUEUES
    url = servers(kind).url()
    with Connection(url) as conn:           # what an earlier test left in the queues
        for queue in QUEUES:
            channel = conn.channel()
            try:
                channel.queue_purge(queue)
            except Exception:               # not declared yet (RabbitMQ closes the channel)
                pass
            finally:
                try:
                    channel.close()
                except Exception:
                    pass
    return url
