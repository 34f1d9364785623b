"""Job state in SQL (SQLAlchemy 2): SQLite by default, PostgreSQL (or any SQLAlchemy URL) by
configuration. The database, not the broker, is the truth about a job: the broker only carries
"run job X" messages, and a worker claims a job here before running it (see `claim`), so a
message delivered twice runs the job once.
"""
from __future__ import annotations

import functools
import logging
import threading
import time
import types
from contextlib import contextmanager
from typing import Any, Callable, Iterator, TypeVar

from sqlalchemy import delete as sql_delete
from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    desc,
    event,
    func,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from ..errors import InputError
from .config import redact

log = logging.getLogger("brushwork.service")

STATES = ("queued", "running", "done", "failed", "cancelled")
FINISHED = ("done", "failed", "cancelled")


class Base(DeclarativeBase):
    pass


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    client: Mapped[str] = mapped_column(String(64), index=True)   # keyed hash of the submitter's address
    kind: Mapped[str] = mapped_column(String(16))                 # image | video
    quality: Mapped[str] = mapped_column(String(16))              # fast | best
    queue: Mapped[str] = mapped_column(String(16))                # fast | slow
    params: Mapped[dict] = mapped_column(JSON)
    files: Mapped[dict] = mapped_column(JSON, default=dict)       # role -> stored name in the job's folder

    state: Mapped[str] = mapped_column(String(16), index=True, default="queued")
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    step: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(String(200), default="waiting for a worker")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    preview: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)  # small PNG
    preview_version: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[str | None] = mapped_column(String(64), nullable=True)      # stored name
    result_width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    result_height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    estimate_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    stored_bytes: Mapped[int] = mapped_column(Integer, default=0)        # stored on disk for this job

    created_at: Mapped[float] = mapped_column(Float, default=time.time)
    updated_at: Mapped[float] = mapped_column(Float, default=time.time)
    started_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    finished_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    expires_at: Mapped[float | None] = mapped_column(Float, nullable=True, index=True)

    # queue bookkeeping
    dispatched: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    run_id: Mapped[str | None] = mapped_column(String(32), nullable=True)  # the claim of the current run
    worker: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lease_until: Mapped[float | None] = mapped_column(Float, nullable=True, index=True)

    # notifications
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    webhook_url: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    webhook_secret: Mapped[str | None] = mapped_column(String(64), nullable=True)
    notified: Mapped[dict] = mapped_column(JSON, default=dict)   # channel -> "sent" | "failed: why"

    # gallery
    public: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    published_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    title: Mapped[str | None] = mapped_column(String(100), nullable=True)
    likes: Mapped[int] = mapped_column(Integer, default=0)

    @property
    def finished(self) -> bool:
        return self.state in FINISHED


class Like(Base):
    __tablename__ = "likes"
    __table_args__ = (UniqueConstraint("job_id", "client"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(32), ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    client: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(Float, default=time.time)


class Notification(Base):
    """The outbox: one row per notification a finished job owes (email, webhook), delivered at
    least once: a delivery claims it with a lease, every try is recorded (`Attempt`), and one
    that is due but untaken (its message lost with a dead node) is sent again by the sweeper."""
    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("job_id", "channel"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(32), ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)   # pending | sent | failed
    tries: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[float] = mapped_column(Float, default=time.time)
    holder: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lease_until: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[float] = mapped_column(Float, default=time.time)


class Attempt(Base):
    __tablename__ = "notification_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    notification_id: Mapped[int] = mapped_column(Integer, ForeignKey("notifications.id", ondelete="CASCADE"),
                                                 index=True)
    at: Mapped[float] = mapped_column(Float, default=time.time)
    outcome: Mapped[str] = mapped_column(String(200))


class Node(Base):
    """A worker node's heartbeat (holders.NodeBeat): a job held by one of its processes is taken
    over at once when the beat goes stale or stops listing that process."""
    __tablename__ = "nodes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    host: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    pids: Mapped[list | None] = mapped_column(JSON, nullable=True)   # processes that may hold jobs
    started_at: Mapped[float] = mapped_column(Float, default=time.time)
    last_seen: Mapped[float] = mapped_column(Float, index=True)


def driver_url(url: str) -> str:
    """`url` for create_engine: a plain postgresql:// (or postgres://) URL means psycopg (v3), the
    driver `brushwork[postgres]` installs, unless only psycopg2 is there."""
    try:
        u = make_url(url)
    except ArgumentError:
        raise InputError(f"{redact(url)!r} is not a database URL (e.g. postgresql://user@host/brushwork)") from None
    if u.drivername in ("postgresql", "postgres"):
        import importlib.util
        v2_only = importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2") is not None
        u = u.set(drivername="postgresql" if v2_only else "postgresql+psycopg")
    return u.render_as_string(hide_password=False)


RECONNECT_S = 30.0          # how long a call waits for a database server that went away (a restart)
_SCHEMA_LOCK = 7_240_581    # PostgreSQL advisory lock: one process at a time checks and creates the tables
_in_call = threading.local()
F = TypeVar("F", bound=Callable[..., Any])


def _reconnecting(fn: F) -> F:
    """Run a Database method again while its server cannot be reached, for up to `retry_s`. Each
    method is one transaction: cut off before its commit, it changed nothing. (Cut off during its
    commit, it may have committed; a claim or finish run again then finds the job changed and backs
    off, as after a lost race, and the job's lease puts it right.) Only the outermost call retries."""
    @functools.wraps(fn)
    def call(self: "Database", *args: Any, **kw: Any) -> Any:
        if self.retry_s <= 0 or getattr(_in_call, "active", False):
            return fn(self, *args, **kw)
        _in_call.active = True
        try:
            deadline, pause = time.monotonic() + self.retry_s, 0.1
            while True:
                try:
                    return fn(self, *args, **kw)
                except (OperationalError, InterfaceError) as e:
                    if time.monotonic() + pause > deadline:
                        raise
                    log.warning("database unreachable in %s (%s); retrying", fn.__name__,
                                str(e.orig or e).strip().splitlines()[0][:200])
                    time.sleep(pause)
                    pause = min(2.0, pause * 2)
        finally:
            _in_call.active = False
    return call  # type: ignore[return-value]


def _reconnecting_methods(cls: type) -> type:
    for name, fn in list(vars(cls).items()):
        if isinstance(fn, types.FunctionType) and not name.startswith("_") and name not in ("session", "close"):
            setattr(cls, name, _reconnecting(fn))
    return cls


@_reconnecting_methods
class Database:
    """An engine and a session factory. SQLite gets WAL and a busy timeout, so the web app and the
    workers (separate processes) can write at the same time. A server database (PostgreSQL) gets
    pre-pinged pooled connections, and its calls wait out a server restart (`_reconnecting`).
    Opening a database creates its missing tables and refuses one of an older layout."""

    def __init__(self, url: str, retry_s: float = RECONNECT_S):
        self.url = url
        kw: dict[str, Any] = {"future": True}
        sqlite = url.startswith("sqlite")
        if sqlite:
            kw["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            kw["pool_pre_ping"] = True
        self.retry_s = 0.0 if sqlite else retry_s     # SQLite: no server; its busy timeout waits out writers
        try:
            self.engine = create_engine(driver_url(url), **kw)
        except ModuleNotFoundError as e:
            raise InputError(f"no driver for the job database {redact(url)} ({e.name} is not installed; "
                             "for PostgreSQL: pip install 'brushwork[postgres]')") from None
        if sqlite:
            @event.listens_for(self.engine, "connect")
            def _pragmas(conn, _record):  # noqa: ANN001
                cur = conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.execute("PRAGMA busy_timeout=30000")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.close()
        try:
            self._prepare_schema()
        except (OperationalError, InterfaceError) as e:
            self.engine.dispose()
            raise InputError(f"cannot open the job database {redact(url)}: "
                             f"{str(e.orig or e).strip().splitlines()[0][:200]}") from None
        except BaseException:
            self.engine.dispose()
            raise
        self.Session = sessionmaker(self.engine, expire_on_commit=False)

    @_reconnecting      # a server that is still starting (or restarting) is waited for here too
    def _prepare_schema(self) -> None:
        """Create the tables a database lacks (a new one, or one from before a table was added);
        refuse one whose tables lack columns this version uses: an older layout, which this
        version would fail on at its first query instead."""
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":      # processes starting together: one at a time
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})
            found = inspect(conn)
            tables = set(found.get_table_names())
            lacking = [f"{t.name}.{c.name}" for t in Base.metadata.sorted_tables if t.name in tables
                       for c in t.columns if c.name not in {col["name"] for col in found.get_columns(t.name)}]
            if lacking:
                more = f" and {len(lacking) - 3} more" if len(lacking) > 3 else ""
                raise InputError(f"the job database {redact(self.url)} has an older layout (no column "
                                 f"{', '.join(lacking[:3])}{more}) than this brushwork uses: give --db a new "
                                 "database, or move the old one aside")
            Base.metadata.create_all(conn)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.Session() as s:
            try:
                yield s
                s.commit()
            except BaseException:
                s.rollback()
                raise

    def get(self, job_id: str) -> Job | None:
        with self.Session() as s:
            return s.get(Job, job_id)

    def get_many(self, job_ids: list[str]) -> dict[str, Job]:
        """The jobs of these ids that exist, by id (one query)."""
        with self.Session() as s:
            return {j.id: j for j in s.scalars(select(Job).where(Job.id.in_(job_ids)))}

    def update(self, job_id: str, *, where: dict[str, Any] | None = None, **values: Any) -> bool:
        """UPDATE one job (only if the columns in `where` hold those values); True if it matched."""
        stmt = update(Job).where(Job.id == job_id)
        for k, v in (where or {}).items():
            stmt = stmt.where(getattr(Job, k) == v)
        values.setdefault("updated_at", time.time())
        with self.session() as s:
            return s.execute(stmt.values(**values)).rowcount == 1

    def finish(self, job_id: str, state: str, message: str, *, where: dict[str, Any] | None = None,
               **values: Any) -> bool:
        """End a job (done, failed or cancelled), if `where` still holds: every way a job ends
        goes through here, so a finished job always has its time and no lease."""
        assert state in FINISHED
        return self.update(job_id, where=where, state=state, message=message, finished_at=time.time(),
                           lease_until=None, **values)

    def cancel(self, job_id: str) -> None:
        """Ask a job to stop: a queued one is cancelled at once, a running one at its next report."""
        self.update(job_id, cancel_requested=True)
        self.finish(job_id, "cancelled", "cancelled", where={"state": "queued"})

    def delete(self, job_id: str) -> None:
        """Remove a job's record (its likes and notifications go with it)."""
        with self.session() as s:
            s.execute(sql_delete(Like).where(Like.job_id == job_id))
            ids = select(Notification.id).where(Notification.job_id == job_id)
            s.execute(sql_delete(Attempt).where(Attempt.notification_id.in_(ids)))
            s.execute(sql_delete(Notification).where(Notification.job_id == job_id))
            s.execute(sql_delete(Job).where(Job.id == job_id))

    def client_bytes(self, client: str) -> int:
        """What one client's jobs hold on disk."""
        with self.Session() as s:
            return int(s.scalar(select(func.coalesce(func.sum(Job.stored_bytes), 0)).where(Job.client == client))
                       or 0)

    def published(self, sort: str, limit: int, offset: int) -> list[Job]:
        """Gallery jobs, newest first (`sort="top"`: most liked first)."""
        order = (desc(Job.likes), desc(Job.published_at)) if sort == "top" else (desc(Job.published_at),)
        with self.Session() as s:
            return list(s.scalars(select(Job).where(Job.public.is_(True)).order_by(*order).limit(limit)
                                  .offset(offset)))

    def like(self, job_id: str, client: str) -> int | None:
        """One like per client: the job's likes after this one, or None if the client liked it before."""
        try:
            with self.session() as s:
                s.add(Like(job_id=job_id, client=client))
                s.flush()
                s.execute(update(Job).where(Job.id == job_id).values(likes=Job.likes + 1))
        except IntegrityError:
            return None
        job = self.get(job_id)
        return job.likes if job is not None else None

    def expired(self, now: float) -> list[str]:
        """Finished jobs whose files are past their expiry."""
        with self.Session() as s:
            return list(s.scalars(select(Job.id).where(Job.expires_at < now, Job.state.in_(FINISHED))))

    def claim(self, job_id: str, run_id: str, worker: str, lease_s: float, max_attempts: int,
              dead_run: str | None = None) -> bool:
        """Atomically take a job that is queued, or running under an expired lease (its worker
        died), or held by `dead_run` (a run whose process is known to be gone: no need to wait
        for its lease). Two workers given the same job: one wins, the other gets False."""
        now = time.time()
        taken = (Job.state == "running") & (Job.lease_until < now)
        if dead_run:
            taken = taken | ((Job.state == "running") & (Job.run_id == dead_run))
        stmt = (update(Job).where(Job.id == job_id, Job.attempts < max_attempts, Job.cancel_requested.is_(False))
                .where((Job.state == "queued") | taken)
                .values(state="running", run_id=run_id, worker=worker[:200], attempts=Job.attempts + 1,
                        lease_until=now + lease_s, started_at=now, updated_at=now, message="starting",
                        step=0, total=0))     # a new run reports from its own first step
        with self.session() as s:
            return s.execute(stmt).rowcount == 1

    def stale(self, now: float | None = None, unsent_after_s: float = 0.0) -> list[Job]:
        """Running jobs whose lease ran out, and queued jobs whose message was not sent for
        `unsent_after_s` (the submission sends it right after committing: give it that long)."""
        now = time.time() if now is None else now
        with self.Session() as s:
            q = select(Job).where(((Job.state == "running") & (Job.lease_until < now))
                                  | ((Job.state == "queued") & Job.dispatched.is_(False)
                                     & (Job.updated_at < now - unsent_after_s)))
            return list(s.scalars(q))

    def running(self) -> list[Job]:
        with self.Session() as s:
            return list(s.scalars(select(Job).where(Job.state == "running")))

    def interrupted(self, queue: str, limit: int = 20) -> list[Job]:
        """Jobs on `queue` that a run has started before: re-queued ones (oldest first), and running
        ones (for the caller to check whether their holder is alive)."""
        with self.Session() as s:
            q = (select(Job).where(Job.queue == queue, Job.attempts > 0, Job.cancel_requested.is_(False),
                                   Job.state.in_(("queued", "running")))
                 .order_by(Job.created_at).limit(limit))
            return list(s.scalars(q))

    # --- worker nodes' heartbeats -------------------------------------------------------------

    def beat(self, node_id: str, name: str, host: str, pid: int, pids: list[int] | None, now: float) -> None:
        """Write a node's heartbeat (each node writes only its own row)."""
        with self.session() as s:
            row = s.get(Node, node_id)
            if row is None:
                s.add(Node(id=node_id, name=name[:200], host=host[:200], pid=pid, pids=pids, started_at=now,
                           last_seen=now))
            else:
                row.pids, row.last_seen = pids, now

    def node(self, node_id: str) -> Node | None:
        with self.Session() as s:
            return s.get(Node, node_id)

    def forget_node(self, node_id: str) -> None:
        """A node that stops removes its heartbeat (its jobs are finished or handed back)."""
        with self.session() as s:
            s.execute(sql_delete(Node).where(Node.id == node_id))

    def drop_silent_nodes(self, before: float) -> int:
        """Remove the heartbeats of nodes silent since before `before` (killed ones leave theirs)."""
        with self.session() as s:
            return s.execute(sql_delete(Node).where(Node.last_seen < before)).rowcount or 0

    # --- the notification outbox --------------------------------------------------------------

    def owe(self, job_id: str, channels: list[str]) -> list[int]:
        """Put the job's notifications in the outbox (once per channel); their ids."""
        with self.session() as s:
            have = {n.channel: n.id for n in s.scalars(select(Notification).where(Notification.job_id == job_id))}
            for channel in channels:
                if channel not in have:
                    row = Notification(job_id=job_id, channel=channel, state="pending", tries=0, next_at=time.time(),
                                       created_at=time.time())
                    s.add(row)
                    s.flush()
                    have[channel] = row.id
            return [have[c] for c in channels]

    def take_notification(self, nid: int, holder: str, lease_s: float) -> Notification | None:
        """Claim a due, untaken notification for one try (its lease ran out, or nobody held it)."""
        now = time.time()
        stmt = (update(Notification).where(Notification.id == nid, Notification.state == "pending",
                                           Notification.next_at <= now)
                .where(Notification.lease_until.is_(None) | (Notification.lease_until < now))
                .values(holder=holder[:200], lease_until=now + lease_s, tries=Notification.tries + 1))
        with self.session() as s:
            if s.execute(stmt).rowcount != 1:
                return None
            return s.get(Notification, nid)

    def settle_notification(self, nid: int, outcome: str, state: str, next_at: float | None = None) -> None:
        """Record one try and what follows: sent, failed for good, or pending again from `next_at`."""
        with self.session() as s:
            s.add(Attempt(notification_id=nid, at=time.time(), outcome=outcome[:200]))
            values: dict[str, Any] = dict(state=state, lease_until=None, holder=None)
            if next_at is not None:
                values["next_at"] = next_at
            s.execute(update(Notification).where(Notification.id == nid).values(**values))

    def due_notifications(self, before: float) -> list[Notification]:
        """Pending notifications due since before `before` (their lease, if any, checked by the caller)."""
        with self.Session() as s:
            return list(s.scalars(select(Notification).where(Notification.state == "pending",
                                                             Notification.next_at < before)))

    def attempts(self, job_id: str) -> list[tuple[str, str]]:
        """(channel, outcome) of every try at the job's notifications, in order."""
        with self.Session() as s:
            q = (select(Notification.channel, Attempt.outcome).join(Attempt, Attempt.notification_id == Notification.id)
                 .where(Notification.job_id == job_id).order_by(Attempt.id))
            return [(c, o) for c, o in s.execute(q)]

    def close(self) -> None:
        self.engine.dispose()
