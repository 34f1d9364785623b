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
- `amqp://user:password@host:5672/vhost` (RabbitMQ) for many machines: a message a worker took
  and had not acknowledged goes back to its queue the moment that worker's connection drops (a
  killed node), so the next worker runs the job at once. RabbitMQ cancels a consumer that holds
  a message longer than its `consumer_timeout` (30 min by default): raise it above the longest
  job (README, "Run it on several machines"). Priorities are separate queues served by separate
  nodes (fast jobs never wait behind slow ones); RabbitMQ orders messages only within a queue,
  and within one an interrupted job already goes first (jobs.run_job), so no queue is declared
  with `x-max-priority`.

Tasks only carry job ids; the database says what to do. This module knows nothing of jobs:
the composition root (app.py, run.py) hands `make_celery` a factory for the `Runner` whose
methods the tasks call, and the rest of the service sends messages through a `Broker`.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Protocol

from .config import ServiceConfig

QUEUES = ("fast", "slow", "notify")
RUN_JOB, NOTIFY = "brushwork.run_job", "brushwork.notify"


class Broker:
    """Sends task messages through a Celery app (the only thing the rest of the service sees of it)."""

    def __init__(self, app: Any):
        self.app = app

    def send(self, task: str, args: list, queue: str) -> None:
        self.app.send_task(task, args=args, queue=queue)


class Runner(Protocol):
    """What the tasks call (jobs.Runner)."""

    def run_job(self, job_id: str, node: str) -> str: ...

    def notify(self, notification_id: int, node: str) -> float | None:
        """One try at an outbox notification: None when done for now, else seconds to the next try."""


def make_celery(cfg: ServiceConfig, runner: Callable[[Broker], Runner] | None = None):
    """A Celery app for `cfg`'s broker; with `runner`, it also has the tasks (for workers). The
    runner is made once per process, when its first task arrives (after a prefork pool forked)."""
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
    if runner is None:
        return app
    broker = Broker(app)
    runners: dict[int, Runner] = {}

    def current() -> Runner:
        pid = os.getpid()
        if pid not in runners:
            runners[pid] = runner(broker)
        return runners[pid]

    # made as each pool process starts, not by its first task: a job taken over from a dead worker
    # does not wait for the new process's imports and database set-up (a failure here is logged,
    # and the first task tries again). The app holds the receiver; the signal only a weak reference.
    from celery import signals
    app.brushwork_warm = lambda **_: current()
    signals.worker_process_init.connect(app.brushwork_warm)

    # shared=False: each app keeps its own tasks (two apps in one process, as in tests, stay apart)
    @app.task(name=RUN_JOB, bind=True, shared=False)
    def run_job_task(self, job_id: str) -> str:
        return current().run_job(job_id, self.request.hostname or "")

    @app.task(name=NOTIFY, bind=True, max_retries=None, acks_late=True, shared=False)
    def notify_task(self, notification_id: int) -> str:
        delay = current().notify(notification_id, self.request.hostname or "")
        if delay is None:
            return "settled"
        raise self.retry(countdown=delay)

    return app


def prepare_broker(app) -> None:
    """Create the built-in broker's tables (connecting makes them): nodes started together would
    each try, and all but one lose their connection once, with a warning."""
    if app.conf.broker_url.startswith("sqla+"):
        with app.connection_for_write() as conn:
            conn.default_channel.session


def worker_argv(queues: list[str], concurrency: int, pool: str = "prefork", loglevel: str = "INFO") -> list[str]:
    name = "+".join(queues)
    quiet = ["--quiet"] if loglevel.upper() in ("WARNING", "ERROR") else []   # no banner
    return [*quiet, "worker", "-Q", ",".join(queues), "-c", str(concurrency), "-P", pool, "-n", f"{name}@%h",
            "--loglevel", loglevel, "--without-gossip", "--without-mingle", "--without-heartbeat"]
