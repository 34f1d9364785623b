"""The queue and the job database on every backend that can run here: the built-in SQLite broker,
Redis and RabbitMQ, each with SQLite and PostgreSQL (fixtures `backend` and `database` in
tests/conftest.py; throw-away servers from tests/servers.py, skipped with the reason where one
cannot run). Claims, leases and cancelling run on the same fixtures in test_service_worker.py
and test_service_jobs.py. Here: restarts, a worker on "another machine" and its health
endpoint, RabbitMQ's redelivery, a PostgreSQL restart mid-job, the schema check, the gallery."""
from __future__ import annotations

import dataclasses
import json
import logging
import threading
import urllib.error
import urllib.request

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, inspect, text

from brushwork.errors import InputError
from brushwork.service import kinds, producers
from brushwork.service.app import create_app
from brushwork.service.config import redact
from brushwork.service.db import Database, driver_url
from service_util import (broker_url, config, free_port, kill_group, png_bytes, stop_node, submit, wait_for,
                          wait_state, worker, worker_process)


def test_jobs_survive_a_web_restart(tmp_path, backend):
    """A job submitted while no worker runs is still there, queued, for the next web server on the
    same backends, and runs once when a worker comes."""
    first = create_app(config(tmp_path, **backend), sweeper=False)
    with TestClient(first) as c:
        job = submit(c).json()
    first.state.service.close()
    second = create_app(config(tmp_path, **backend), sweeper=False)
    try:
        with TestClient(second) as c:
            assert c.get(f"/api/jobs/{job['id']}", params={"token": job["token"]}).json()["state"] == "queued"
            with worker(second.state.service):           # the broker kept the message too
                s = wait_state(c, job["id"], job["token"])
                assert s["state"] == "done" and s["attempts"] == 1
                other = submit(c).json()
                assert wait_state(c, other["id"], other["token"])["state"] == "done"
    finally:
        second.state.service.close()


def test_a_message_reaches_its_own_queue_only(tmp_path, broker):
    """A slow job's message waits in `slow` alone, so only the slow node takes it, and fast jobs
    never queue behind it (Celery publishes a direct queue's messages by the queue's name)."""
    from amqp.exceptions import ChannelError

    from brushwork.service.queue import QUEUES, RUN_JOB, Broker, make_celery
    app = make_celery(config(tmp_path, broker_url=broker).prepare())
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        for q in app.amqp.queues.values():
            q.bind(channel).declare()
        Broker(app).send(RUN_JOB, ["job1"], "slow")
        Broker(app).send(RUN_JOB, ["job2"], "notify")

        def size(queue: str) -> int:
            try:
                return channel.queue_declare(queue, passive=True).message_count
            except ChannelError:        # Redis keeps no empty list: an empty queue is "not found"
                return 0
        counts = {q: size(q) for q in QUEUES}
    assert counts == {"fast": 0, "slow": 1, "notify": 1}


def test_one_of_many_concurrent_claims_wins(tmp_path, database):
    app = create_app(config(tmp_path, db_url=database), sweeper=False)
    db = app.state.service.db
    job = submit(TestClient(app)).json()
    start, wins = threading.Barrier(8), []

    def claim(k: int) -> None:
        start.wait()
        wins.append(db.claim(job["id"], f"run{k}", f"w{k}", 60.0, 3))
    threads = [threading.Thread(target=claim, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == [False] * 7 + [True] and db.get(job["id"]).attempts == 1
    app.state.service.close()


def test_gallery_and_likes(tmp_path, database):
    """Likes are one per client, also when a client's likes race; the gallery sorts new and top."""
    app = create_app(config(tmp_path, db_url=database), sweeper=False)
    db = app.state.service.db
    client = TestClient(app)
    ids = [submit(client).json()["id"] for _ in range(3)]
    for k, job_id in enumerate(ids):
        db.update(job_id, state="done", public=True, published_at=1000.0 + k, title=f"picture {k}")
    start, results = threading.Barrier(6), []

    def like() -> None:
        start.wait()
        results.append(db.like(ids[0], "client-a"))
    threads = [threading.Thread(target=like) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results, key=str) == [1] + [None] * 5
    assert db.like(ids[1], "client-a") == 1 and db.like(ids[1], "client-b") == 2
    assert [j.id for j in db.published("new", 10, 0)] == ids[::-1]
    assert [j.id for j in db.published("top", 10, 0)] == [ids[1], ids[0], ids[2]]
    assert [j.id for j in db.published("top", 1, 1)] == [ids[0]]
    r = client.post(f"/api/gallery/{ids[2]}/like", json={})
    assert r.status_code == 200 and r.json()["likes"] == 1
    assert client.post(f"/api/gallery/{ids[2]}/like", json={}).status_code == 409
    app.state.service.close()


def test_an_older_database_layout_is_refused(tmp_path, database, capsys):
    """A database whose tables lack columns this version uses is refused at once, in one line,
    by the web app and by a worker; one that lacks only a newer table gets it."""
    from brushwork.cli import main
    url = config(tmp_path, db_url=database).prepare().database_url
    Database(url).close()
    engine = create_engine(driver_url(url))
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE jobs DROP COLUMN likes"))
        conn.execute(text("DROP TABLE notification_attempts"))
    engine.dispose()
    with pytest.raises(InputError, match=r"older layout \(no column jobs\.likes\)"):
        Database(url)
    assert main(["worker", "--queues", "fast", "--data-dir", str(tmp_path / "data"), "--db", url]) == 2
    err = capsys.readouterr().err.strip()
    assert "older layout" in err and "\n" not in err
    engine = create_engine(driver_url(url))
    try:
        assert not inspect(engine).has_table("notification_attempts")   # a refused database is left as it was
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE jobs ADD COLUMN likes INTEGER DEFAULT 0"))
        Database(url).close()                                            # now only a table is missing: made
        assert inspect(engine).has_table("notification_attempts")
    finally:
        engine.dispose()


def test_an_unreachable_database_is_one_line_after_its_wait(tmp_path):
    """A database server that does not answer is waited for (`retry_s`), then refused in one line,
    its password redacted."""
    pytest.importorskip("psycopg")
    url = f"postgresql://brushwork:s3cret@127.0.0.1:{free_port()}/brushwork"
    with pytest.raises(InputError, match=r"^cannot open the job database postgresql://brushwork:\*\*\*@") as e:
        Database(url, retry_s=0.3)
    assert "s3cret" not in str(e.value) and "\n" not in str(e.value)


def test_health_names_the_backends_without_passwords(tmp_path, backend):
    cfg = config(tmp_path, **backend)
    app = create_app(cfg, sweeper=False)
    with TestClient(app) as c:
        r = c.get("/api/health")
        body = r.json()
        assert r.status_code == 200 and body["status"] == "ok" and body["role"] == "web"
        assert body["database"] == {"url": redact(cfg.database_url), "ok": True}
        assert body["broker"] == {"url": redact(cfg.broker), "ok": True}
        assert "guest:***@" in body["broker"]["url"] if cfg.broker.startswith("amqp") else "***" not in r.text
    app.state.service.close()


def test_health_says_unavailable_when_the_broker_is_down(tmp_path):
    down = create_app(config(tmp_path, broker_url=f"redis://:s3cret@127.0.0.1:{free_port()}/0"), sweeper=False)
    with TestClient(down) as c:
        r = c.get("/api/health")
        assert r.status_code == 503 and r.json()["status"] == "unavailable" and r.json()["broker"]["ok"] is False
        assert "s3cret" not in r.text and ":***@127.0.0.1" in r.json()["broker"]["url"]
    down.state.service.close()
    assert redact("postgresql+psycopg://brushwork:pw@db.example:5432/jobs") == \
        "postgresql+psycopg://brushwork:***@db.example:5432/jobs"


def _get_json(url: str):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return json.load(r)
    except (urllib.error.URLError, OSError):
        return None


@pytest.mark.slow
@pytest.mark.parametrize("backend", [("redis", "postgres"), ("rabbitmq", "postgres")], indirect=True,
                         ids=["redis-broker+postgres-db", "rabbitmq-broker+postgres-db"])
def test_a_worker_on_another_machine(tmp_path, backend):
    """As on a farm: the web app and a `brushwork worker` process share only the broker, the job
    database and the data directory, all given on the worker's command line; the worker answers
    health probes with the same backends. (Farm backends only: every pair runs the in-process
    tests above; a worker process costs tens of seconds.)"""
    cfg = config(tmp_path, **backend)
    app = create_app(cfg, sweeper=False)
    port = free_port()
    node = worker_process(config(tmp_path), "fast,notify", "--broker", cfg.broker, "--db", cfg.database_url,
                          "--data-dir", str(cfg.data_dir), "--health-port", str(port))
    try:
        with TestClient(app) as c:
            job = submit(c).json()
            s = wait_state(c, job["id"], job["token"], timeout=90)
            assert s["state"] == "done" and s["attempts"] == 1
        health = wait_for(lambda: _get_json(f"http://127.0.0.1:{port}/health"), 30, 0.2)
        assert health["status"] == "ok" and health["role"] == "worker" and health["queues"] == ["fast", "notify"]
        assert health["broker"]["url"] == redact(cfg.broker) and health["database"]["url"] == redact(cfg.database_url)
    finally:
        stop_node(node)
        app.state.service.close()


@pytest.mark.slow
def test_rabbitmq_gives_a_killed_workers_job_to_the_next(tmp_path, servers):
    """Late acknowledgement on RabbitMQ: the worker node running an image iteration is killed
    (SIGKILL, as if its machine died); RabbitMQ puts the message back the moment its connection
    drops, and the next node runs the job: no sweeper here, and the lease is still live, so only
    the broker's redelivery brings the job back. Meanwhile a fast job passes the slow one: it has
    its own queue and node. The killed node paints for ever (a million steps): no race with the
    kill; the next one paints 8 steps."""
    cfg = config(tmp_path, broker_url=broker_url(servers, "rabbitmq"), lease_s=60.0)
    app = create_app(cfg, sweeper=False)
    db = app.state.service.db
    first = worker_process(cfg.replace(best_steps=1_000_000))
    second = None
    try:
        with TestClient(app) as c, worker(app.state.service, queues=("fast",)):
            files = {"photo": ("p.png", png_bytes(96, 64), "image/png"),
                     "style": ("s.png", png_bytes(64, 64, seed=3), "image/png")}
            slow = c.post("/api/jobs", files=files, data={"quality": "best", "size": "64"}).json()
            wait_for(lambda: db.get(slow["id"]).state == "running", 90)
            fast = submit(c).json()
            assert wait_state(c, fast["id"], fast["token"])["state"] == "done"
            assert db.get(slow["id"]).state == "running"            # it paints for ever: the fast one passed it
            kill_group(first)
            second = worker_process(cfg.replace(best_steps=8))
            s = wait_state(c, slow["id"], slow["token"], timeout=120)
            assert s["state"] == "done" and s["attempts"] == 2 and s["result"]["width"] == 64
    finally:
        for node in (first, second):
            if node is not None:
                kill_group(node)
        app.state.service.close()


@pytest.mark.slow
def test_a_database_restart_mid_job_loses_and_repeats_nothing(tmp_path, servers, monkeypatch, caplog):
    """PostgreSQL is stopped (every connection cut) while a job runs and while another is being
    claimed, then started again: the running job's heartbeat and progress writes and the claim
    wait for the server, and both jobs are done, each claimed and run exactly once. The sweeper
    runs all along. The first job's producer holds at its first step until the server is down,
    so the outage always falls in the middle of its run."""
    pg = servers("postgres")
    cfg = config(tmp_path, db_url=pg.new_database(), lease_s=30.0, sweep_every_s=0.5)
    outage = threading.Event()

    def held(work):
        work.run.report(1, 2, "holding", force=True)
        outage.wait(120)
        return producers.paint_fast(work)
    monkeypatch.setattr(kinds, "KINDS", tuple(dataclasses.replace(k, producer=held) if k.name == "image-fast" else k
                                              for k in kinds.KINDS))
    caplog.set_level(logging.WARNING, logger="brushwork.service")
    app = create_app(cfg)
    db = app.state.service.db
    try:
        with TestClient(app) as c, worker(app.state.service, queues=("fast",), concurrency=1):
            running = submit(c).json()
            wait_for(lambda: db.get(running["id"]).step == 1, 60)
            app.state.service.dispatch = lambda job_id, queue: db.update(job_id, dispatched=True)
            claimed = submit(c).json()                             # queued, its message never sent: claimed below

            def retried(where: str) -> bool:
                return any("database unreachable in " + where in r.getMessage() for r in caplog.records)
            pg.stop()
            try:
                wait_for(lambda: retried("update"), 60)          # the running job's heartbeat met the outage
                outage.set()                                     # ... and now its progress and finish will
                claim: list[bool] = []
                t = threading.Thread(target=lambda: claim.append(db.claim(claimed["id"], "r2", "w2", 30.0, 3)))
                t.start()
                wait_for(lambda: retried("claim"), 60)
            finally:
                pg.start()
            t.join(60)
            assert claim == [True]
            row = wait_for(lambda: (r := db.get(running["id"])).finished and r, 60)
            assert row.state == "done" and row.attempts == 1 and row.result_width == 64
            assert db.get(claimed["id"]).attempts == 1 and db.get(claimed["id"]).state == "running"
    finally:
        outage.set()
        app.state.service.close()
