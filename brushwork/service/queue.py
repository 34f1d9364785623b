"""The job queue: a Celery app with two tasks, the same code for the embedded broker and Redis.

Queues: `fast` (feed-forward images, under a second each), `slow` (image iteration, video) and
`notify` (email, webhooks). `brushwork serve` starts one worker node for `fast,notify` and one
for `slow`, so a fast job never waits behind a slow one.

Brokers:
- default `sqla+sqlite:///<data_dir>/broker.sqlite` (kombu's SQLAlchemy transport): a file, no
  server. Messages survive restarts. When a worker's pool process dies mid-job, Celery rejects
  the message (acks_late + reject_on_worker_lost) and the transport puts it back. When a whole
  worker node is killed, this transport does NOT redeliver: the message it had taken is only
  marked invisible, for good. The job's lease in our database covers that: the sweeper
  re-queues a job whose worker stopped renewing its lease.
- `redis://host:6379/0` for many machines: unacked messages come back after the visibility
  timeout as well; the lease usually re-queues sooner, and the claim makes duplicates harmless.

Tasks only carry job ids; the database says what to do.
"""
from __future__ import annotations

import logging
import os
import socket

from .config import ServiceConfig

log = logging.getLogger("brushwork.service")
QUEUES = ("fast", "slow", "notify")

_services: dict[str, object] = {}


def _service(app):
    """One Service per process and app (built lazily: after a prefork worker has forked); it
    sends its own messages (notifications) through the worker's app."""
    from .jobs import Service
    cfg = app.brushwork_config
    key = f"{os.getpid()}:{id(app)}"
    svc = _services.get(key)
    if svc is None:
        svc = _services[key] = Service(cfg, celery=app)
    return svc


def make_celery(cfg: ServiceConfig):
    from celery import Celery
    from kombu import Queue

    app = Celery("brushwork", broker=cfg.broker, set_as_current=False)
    transport_options = {}
    if cfg.broker.startswith("sqla+"):
        # kombu hands this transport's options to create_engine, so the polling interval (1 s by
        # default: a second of latency for every fast job) is set on the transport class instead
        from kombu.transport import sqlalchemy as sqla_transport
        sqla_transport.Transport.polling_interval = cfg.poll_interval_s
    elif cfg.broker.startswith(("redis://", "rediss://")):
        transport_options["visibility_timeout"] = 6 * 3600
    app.conf.update(
        task_acks_late=True,                # a message is acknowledged when its job is finished ...
        task_reject_on_worker_lost=True,    # ... and put back if the process running it dies
        worker_prefetch_multiplier=1,       # take one job at a time
        task_ignore_result=True,            # job state lives in our database
        task_default_queue="fast",
        task_queues=[Queue(q) for q in QUEUES],
        task_serializer="json", accept_content=["json"],
        broker_transport_options=transport_options,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        worker_enable_remote_control=not cfg.broker.startswith("sqla+"),  # no fanout on the SQL transport
        worker_cancel_long_running_tasks_on_connection_loss=False,
    )
    app.brushwork_config = cfg

    # shared=False: each app keeps its own tasks (two apps in one process, as in tests, stay apart)
    @app.task(name="brushwork.run_job", bind=True, shared=False)
    def run_job_task(self, job_id: str) -> str:
        from .jobs import run_job
        hostname = self.request.hostname or socket.gethostname()
        return run_job(_service(self.app), job_id, worker=f"{hostname} pid {os.getpid()}")

    @app.task(name="brushwork.notify", bind=True, max_retries=cfg.notify_retries, acks_late=True, shared=False)
    def notify_task(self, job_id: str, channel: str) -> str:
        from . import notify
        cfg = self.app.brushwork_config
        svc = _service(self.app)
        try:
            return notify.deliver(svc, job_id, channel)
        except notify.Retry as e:
            if self.request.retries >= cfg.notify_retries:
                notify.record(svc, job_id, channel, f"failed after {self.request.retries + 1} tries: {e}")
                return "failed"
            notify.record(svc, job_id, channel, f"retrying: {e}")
            raise self.retry(countdown=cfg.notify_backoff_s * 2 ** self.request.retries, exc=e)
        except notify.Permanent as e:
            notify.record(svc, job_id, channel, f"failed: {e}")
            return "failed"

    return app


def worker_argv(queues: list[str], concurrency: int, pool: str = "prefork", loglevel: str = "INFO") -> list[str]:
    name = "+".join(queues)
    quiet = ["--quiet"] if loglevel.upper() in ("WARNING", "ERROR") else []   # no banner
    return [*quiet, "worker", "-Q", ",".join(queues), "-c", str(concurrency), "-P", pool, "-n", f"{name}@%h",
            "--loglevel", loglevel, "--without-gossip", "--without-mingle", "--without-heartbeat"]
