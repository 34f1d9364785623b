"""Health of one node: which broker and database it is on (passwords redacted) and whether it can
reach them. The web node answers GET /api/health; a worker node started with `--health-port`
answers GET /health on that port (a small HTTP server in the node's main process), so a load
balancer or an orchestrator can probe every machine of a farm."""
from __future__ import annotations

import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from .. import __version__
from .config import ServiceConfig, redact

log = logging.getLogger("brushwork.service")


def database_ok(engine: Any) -> bool:
    """One `SELECT 1` (no retries: a health probe answers now)."""
    from sqlalchemy import text
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


def broker_ok(app: Any) -> bool:
    """Whether a connection to the Celery app's broker opens."""
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=3)
        return True
    except Exception:
        return False


def report(cfg: ServiceConfig, role: str, engine: Any, app: Any, queues: tuple[str, ...] = ()) -> dict[str, Any]:
    """This node's health: `ok` only if both its database and its broker answer."""
    db, broker = database_ok(engine), broker_ok(app)
    out: dict[str, Any] = {"status": "ok" if db and broker else "unavailable", "role": role,
                           "node": socket.gethostname(), "version": __version__,
                           "database": {"url": redact(cfg.database_url), "ok": db},
                           "broker": {"url": redact(cfg.broker), "ok": broker},
                           "data_dir": str(cfg.data_dir)}
    if queues:
        out["queues"] = list(queues)
    return out


def serve_health(port: int, answer: Callable[[], dict[str, Any]], host: str = "0.0.0.0") -> ThreadingHTTPServer:
    """Answer GET /health on `port` from a daemon thread: 200 when `answer()` says ok, else 503."""
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            if self.path.split("?", 1)[0] != "/health":
                self.send_error(404)
                return
            body = answer()
            data = json.dumps(body).encode()
            self.send_response(200 if body["status"] == "ok" else 503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:   # probes every few seconds: not worth a log line each
            pass

    try:
        server = ThreadingHTTPServer((host, port), Handler)
    except OSError as e:
        from ..errors import InputError
        raise InputError(f"cannot answer health probes on port {port}: {e.strerror}") from None
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True, name="brushwork-health").start()
    log.info("health endpoint on http://%s:%d/health", host, port)
    return server
