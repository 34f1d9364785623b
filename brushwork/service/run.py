"""Processes: `serve` (the web app, plus embedded workers as child processes) and `worker`.

`brushwork serve` starts, by default, two worker nodes as children: one consuming `fast` and
`notify`, one consuming `slow`, each with `workers` processes, so fast jobs never wait behind
image iteration. A child that dies is started again. Settings reach the children through
BRUSHWORK_* environment variables (ServiceConfig.to_env). `worker` is the worker processes'
composition root: it binds the queue's tasks to a `jobs.Runner`.
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
import warnings

from .config import ServiceConfig
from .security import RedactTokens

log = logging.getLogger("brushwork.service")
NODES = (("fast", "notify"), ("slow",))
PARENT_ENV = "BRUSHWORK_SUPERVISOR_PID"   # a child worker stops when this process is gone


class Supervisor:
    """Keeps worker child processes running; stops them on exit."""

    def __init__(self, cfg: ServiceConfig, nodes=NODES, concurrency: int = 1, pool: str = "prefork",
                 quiet: bool = False):
        self.cfg, self.nodes, self.concurrency, self.pool, self.quiet = cfg, nodes, concurrency, pool, quiet
        self.procs: dict[tuple[str, ...], subprocess.Popen] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True, name="brushwork-supervisor")

    def command(self, queues: tuple[str, ...]) -> list[str]:
        return [sys.executable, "-m", "brushwork", "worker", "--queues", ",".join(queues),
                "--concurrency", str(self.concurrency), "--pool", self.pool, *(["-q"] if self.quiet else [])]

    def _spawn(self, queues: tuple[str, ...]) -> None:
        env = {**os.environ, **self.cfg.to_env(), PARENT_ENV: str(os.getpid())}
        # quiet: Celery prints only its banner and "Warm shutdown" on stdout; its logs (errors) go to stderr
        self.procs[queues] = subprocess.Popen(self.command(queues), env=env, start_new_session=True,
                                              stdout=subprocess.DEVNULL if self.quiet else None)
        log.info("started worker for %s (pid %d)", ",".join(queues), self.procs[queues].pid)

    def start(self) -> "Supervisor":
        from .queue import make_celery, prepare_broker
        prepare_broker(make_celery(self.cfg))   # before the nodes, which would race to create it
        for q in self.nodes:
            self._spawn(q)
        self._thread.start()
        return self

    def _watch(self) -> None:
        while not self._stop.wait(2.0):
            for queues, proc in list(self.procs.items()):
                if proc.poll() is not None and not self._stop.is_set():
                    log.warning("worker for %s exited (%s); starting it again", ",".join(queues), proc.returncode)
                    time.sleep(1.0)
                    self._spawn(queues)

    def stop(self, timeout: float = 20.0) -> None:
        self._stop.set()
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()      # Celery's warm shutdown: the node stops its pool processes
        deadline = time.monotonic() + timeout
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)   # its job is re-queued when its lease runs out
                except ProcessLookupError:
                    pass


def serve(cfg: ServiceConfig, host: str = "127.0.0.1", port: int = 8000, workers: int = 1,
          log_level: str = "warning") -> None:
    """Serve the app and start its worker nodes. At the default `log_level` only warnings and
    errors are logged (no access log, no Celery banners): the CLI says where the app is."""
    import uvicorn

    from .app import create_app
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("uvicorn.access").addFilter(RedactTokens())    # no job token in the access log
    cfg.prepare()
    # uvicorn re-raises SIGTERM after its graceful shutdown; make that an exit that runs `finally`
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sup = Supervisor(cfg, concurrency=workers, quiet=log_level == "warning").start() if workers > 0 else None
    try:
        # proxy_headers off: X-Forwarded-For is read by security.client_address, trusting only its
        # configured number of hops (uvicorn's own reading would change the peer address under it)
        uvicorn.run(create_app(cfg), host=host, port=port, log_level=log_level, proxy_headers=False,
                    server_header=False)
    finally:
        if sup is not None:
            sup.stop()


def worker(cfg: ServiceConfig, queues: tuple[str, ...] | None = None, concurrency: int = 1,
           pool: str = "prefork", loglevel: str = "INFO", health_port: int = 0) -> int:
    """Run worker nodes. Without `queues`: the same two nodes `serve` starts (as children). With
    `health_port`, the node answers GET /health there (health.py)."""
    from ..errors import InputError
    cfg.prepare()
    # Celery warns a root worker about pickle; this app's queues accept JSON only (make_celery)
    from celery.exceptions import SecurityWarning
    warnings.filterwarnings("ignore", category=SecurityWarning)
    if queues is None and health_port:
        raise InputError("--health-port needs --queues: it belongs to one worker node")
    if queues is None:
        sup = Supervisor(cfg, concurrency=concurrency, pool=pool, quiet=loglevel.upper() == "WARNING").start()
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        stop.wait()
        sup.stop()
        return 0
    from .jobs import Runner
    from .queue import QUEUES, make_celery, worker_argv
    unknown = [q for q in queues if q not in QUEUES]
    if unknown:
        raise InputError(f"unknown queue {unknown[0]!r}: the queues are {', '.join(QUEUES)}")
    from .db import Database
    Database(cfg.database_url).close()     # an unreachable or older-layout database: say so now, not per job
    app = make_celery(cfg, runner=lambda broker: Runner(cfg, broker))   # this process's composition root
    if health_port:
        _serve_health(cfg, app, queues, health_port)
    _stop_with_parent()
    beat = _node_beat(cfg, queues)
    try:
        app.worker_main(worker_argv(list(queues), concurrency, pool, loglevel))
    finally:
        beat.stop()
    return 0


def _node_beat(cfg: ServiceConfig, queues: tuple[str, ...]):
    """Start this node's heartbeat (holders.NodeBeat), on its own database engine: the pool
    processes forked later make their own, and drop this one's connections unclosed."""
    from .db import Database
    from .holders import MACHINE, NodeBeat
    db = Database(cfg.database_url)
    os.register_at_fork(after_in_child=lambda: db.engine.dispose(close=False))
    return NodeBeat(db, f"{'+'.join(queues)}@{MACHINE}", cfg.node_beat_s).start()


def _serve_health(cfg: ServiceConfig, app, queues: tuple[str, ...], port: int) -> None:
    """GET /health on `port`, from this node's main process. Its probe engine keeps no pooled
    connection, which the pool processes forked from this one would otherwise share."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    from .db import driver_url
    from .health import report, serve_health
    engine = create_engine(driver_url(cfg.database_url), poolclass=NullPool)
    serve_health(port, lambda: report(cfg, "worker", engine, app, queues))


def _stop_with_parent() -> None:
    """A worker started by `serve` (or `worker` without --queues) shuts down (warm: its job is
    finished or handed back) when that process is gone, even if it was killed with SIGKILL."""
    parent = os.environ.pop(PARENT_ENV, None)
    if not parent:
        return

    def watch() -> None:
        while True:
            time.sleep(2.0)
            if str(os.getppid()) != parent:
                os.kill(os.getpid(), signal.SIGTERM)
                return
    threading.Thread(target=watch, daemon=True, name="brushwork-parent-watch").start()
