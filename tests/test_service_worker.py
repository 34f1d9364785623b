"""Workers that die: claims and leases (fast, in-process; on each job database, the `database`
fixture), and real worker processes killed in the middle of a job (slow: marked)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from fastapi.testclient import TestClient

from brushwork.service.app import create_app
from brushwork.service.jobs import Service
from brushwork.service.sweeper import sweep
from service_util import config, kill_group, png_bytes, submit, wait_for, wait_state, worker_process


def test_claims_and_leases(tmp_path, database):
    app = create_app(config(tmp_path, db_url=database, lease_s=0.3, max_attempts=2), sweeper=False)
    svc: Service = app.state.service
    sent = []
    svc.dispatch = lambda job_id, queue: sent.append(job_id) or svc.db.update(job_id, dispatched=True)
    job = submit(TestClient(app)).json()
    db = svc.db
    assert db.claim(job["id"], "run1", "w1", 0.3, 2)
    assert not db.claim(job["id"], "run2", "w2", 0.3, 2)          # a live lease: the second worker backs off
    assert db.update(job["id"], where={"run_id": "run1", "state": "running"}, step=5)
    time.sleep(0.4)                                               # run1's worker died: no more heartbeats
    assert sweep(svc)["requeued"] == 1 and sent[-1] == job["id"]
    row = db.get(job["id"])
    assert row.state == "queued" and "re-queued" in row.message
    assert not db.update(job["id"], where={"run_id": "run1", "state": "running"}, step=9)  # a zombie is ignored
    assert db.claim(job["id"], "run3", "w3", 0.3, 2)
    assert db.get(job["id"]).step == 0                            # a new run starts from its first step
    time.sleep(0.4)
    assert sweep(svc)["failed"] == 1                              # the second run died too: give up, say why
    row = db.get(job["id"])
    assert row.state == "failed" and "stopped 2 times" in row.error
    assert not db.claim(job["id"], "run4", "w4", 0.3, 2)
    svc.close()


def test_unsent_jobs_are_sent_by_the_sweeper(tmp_path):
    app = create_app(config(tmp_path), sweeper=False)
    svc: Service = app.state.service
    real = svc.dispatch
    svc.dispatch = lambda job_id, queue: False                   # the broker is down while submitting
    job = submit(TestClient(app)).json()
    assert job["state"] == "queued" and not svc.db.get(job["id"]).dispatched
    svc.dispatch = real
    assert sweep(svc)["dispatched"] == 0                         # it may still be on its way: not yet
    svc.db.update(job["id"], updated_at=time.time() - svc.cfg.unsent_after_s - 1)
    assert sweep(svc)["dispatched"] == 1 and svc.db.get(job["id"]).dispatched
    svc.close()


def test_a_submission_is_sent_exactly_once(tmp_path):
    """The job is committed before its message is sent; a sweeper running in between does not
    send a second message for it."""
    app = create_app(config(tmp_path, sweep_every_s=0.01), sweeper=False)
    svc: Service = app.state.service
    sent, send = [], svc.broker.send

    def send_after_a_sweep(task, args, queue):
        sent.append(args[0])
        if len(sent) == 1:
            sweep(svc)                                            # the sweeper runs before this send is done
        send(task, args, queue)
    svc.broker.send = send_after_a_sweep
    job = submit(TestClient(app)).json()
    assert sent.count(job["id"]) == 1
    svc.close()


def _dead_holder() -> str:
    """A holder string for a process of this machine that has exited."""
    from brushwork.service.holders import MACHINE
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return f"slow@test on {MACHINE} pid {proc.pid}"


def test_a_job_whose_process_is_gone_is_taken_at_once(tmp_path, database):
    """Its lease is still live for a minute, but its holder's process on this machine has exited:
    the next worker given the job takes it, and the sweeper re-queues it, without waiting."""
    from brushwork.service.jobs import run_job
    app = create_app(config(tmp_path, db_url=database, lease_s=60.0), sweeper=False)
    svc: Service = app.state.service
    svc.dispatch = lambda job_id, queue: svc.db.update(job_id, dispatched=True)
    client = TestClient(app)
    job = submit(client).json()
    assert svc.db.claim(job["id"], "dead1", _dead_holder(), 60.0, 3)
    assert run_job(svc, job["id"], "fast@test") == "done"
    row = svc.db.get(job["id"])
    assert row.state == "done" and row.attempts == 2 and row.run_id != "dead1"
    other = submit(client).json()
    assert svc.db.claim(other["id"], "dead2", _dead_holder(), 60.0, 3)
    assert svc.db.claim(other["id"], "alive", "w on elsewhere pid 1", 60.0, 3) is False   # a live lease holds
    assert sweep(svc)["requeued"] == 1 and svc.db.get(other["id"]).state == "queued"
    svc.close()


def test_interrupted_jobs_go_first(tmp_path, database):
    """A re-queued job's message waits behind newer ones; the worker given any job of that queue
    runs the interrupted one first."""
    from brushwork.service.jobs import run_job
    app = create_app(config(tmp_path, db_url=database), sweeper=False)
    svc: Service = app.state.service
    svc.dispatch = lambda job_id, queue: svc.db.update(job_id, dispatched=True)
    client = TestClient(app)
    first, second, third = (submit(client).json()["id"] for _ in range(3))
    assert svc.db.claim(first, "run1", "w1", 0.01, 3)
    time.sleep(0.05)
    assert sweep(svc)["requeued"] == 1                        # its worker died: back in the queue
    assert run_job(svc, third, "fast@test") == "done"
    rows = {j: svc.db.get(j) for j in (first, second, third)}
    assert rows[first].state == "done" and rows[first].attempts == 2
    assert rows[first].finished_at <= rows[third].started_at
    assert rows[second].state == "queued"                     # not interrupted: it waits its turn
    svc.close()


def _parent(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def _gone(pid: int) -> bool:
    """True once `pid` has exited (a zombie waiting for its parent counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def _holder(row) -> int:
    """The pid of the process running a job (the claim records "NAME on MACHINE pid N node ID")."""
    from brushwork.service.holders import parse
    return parse(row.worker).pid


@pytest.mark.slow
def test_killed_workers_lose_no_job(tmp_path):
    """Image iteration in real worker processes (two nodes on the slow queue): the pool process
    running the job is killed (Celery hands the message back), then, on the next run, the whole
    worker node running it; the job is finished. The lease is the default minute, and each time
    the job runs again well before it: its holder's process is known to be gone (same machine).

    It waits for states, never for a moment: on a fast machine a run may finish before its kill
    lands, so each kill is counted as interrupting a run only if that run still held the job
    once its process was gone; the job then took exactly one run more than that count."""
    # the default lease (a minute): a job must run again because its process is known to be gone
    cfg = config(tmp_path, lease_s=60.0, sweep_every_s=0.3, best_steps=12)
    app = create_app(cfg)
    nodes = [worker_process(cfg), worker_process(cfg)]
    try:
        with TestClient(app) as client:
            files = {"photo": ("p.png", png_bytes(96, 64), "image/png"),
                     "style": ("s.png", png_bytes(64, 64, seed=3), "image/png")}
            job = client.post("/api/jobs", files=files, data={"quality": "best", "size": "64"}).json()
            db = app.state.service.db

            def run_or_end(attempt: int):
                row = db.get(job["id"])
                return row if row.finished or (row.state == "running" and row.attempts >= attempt) else None

            def interrupted(row, pid: int) -> bool:
                wait_for(lambda: _gone(pid), 30)
                now = db.get(job["id"])          # the killed run did not finish it (another one may have)
                return not (now.state == "done" and now.run_id == row.run_id)

            interruptions = 0
            row = wait_for(lambda: run_or_end(1), 60)
            if not row.finished:
                child = _holder(row)
                assert _parent(child) in [n.pid for n in nodes]      # a prefork pool process, not the node
                os.kill(child, signal.SIGKILL)
                interruptions += interrupted(row, child)
                # runs again well within the lease (a minute): 30 s is twice the goal, for slow machines
                row = wait_for(lambda: run_or_end(row.attempts + 1), 30) if interruptions else db.get(job["id"])
            if not row.finished:
                node = next(n for n in nodes if n.pid == _parent(_holder(row)))
                kill_group(node)                                    # now the whole node running it dies
                interruptions += interrupted(row, _holder(row))
            s = wait_state(client, job["id"], job["token"], timeout=90)
            assert s["state"] == "done", s
            assert s["attempts"] == 1 + interruptions and s["result"]["width"] == 64
            assert client.get(s["result"]["url"]).status_code == 200
    finally:
        for n in nodes:
            kill_group(n)
        app.state.service.close()


def test_a_job_of_a_silent_node_is_taken_at_once(tmp_path):
    """Another machine's node: its processes cannot be looked at, its heartbeat can. A job stays
    with a node that beats and lists the job's process; it is taken at once (its lease is live
    for ten minutes) when the beat goes stale, stops, or, written after the claim, no longer
    lists the process."""
    from brushwork.service.jobs import run_job
    app = create_app(config(tmp_path, lease_s=600.0, node_beat_s=2.0), sweeper=False)
    svc: Service = app.state.service
    svc.dispatch = lambda job_id, queue: svc.db.update(job_id, dispatched=True)
    client, db = TestClient(app), svc.db
    far = "slow@far on far-machine pid 4243 node n1"
    now = time.time()
    db.beat("n1", "slow@far", "far-machine", 4242, [4242, 4243], now)
    job = submit(client).json()["id"]
    assert db.claim(job, "far1", far, 600.0, 3)
    assert not svc.holder_gone(far, db.get(job).started_at)
    assert run_job(svc, job, "fast@test") == "skipped"            # alive: it keeps the job
    db.beat("n1", "slow@far", "far-machine", 4242, [4242, 4243], now - 7)   # silent for over 3 beats
    assert run_job(svc, job, "fast@test") == "done" and db.get(job).attempts == 2

    started = time.time()
    db.beat("n1", "slow@far", "far-machine", 4242, [4242], started - 5)    # an older beat: the pool process
    other = submit(client).json()["id"]                                   # may be newer than it
    assert db.claim(other, "far2", far, 600.0, 3)
    assert not svc.holder_gone(far, db.get(other).started_at)
    db.beat("n1", "slow@far", "far-machine", 4242, [4242], time.time() + 2)  # written after the claim
    assert svc.holder_gone(far, db.get(other).started_at)                # ... without it: that process died
    assert sweep(svc)["requeued"] == 1 and db.get(other).state == "queued"

    third = submit(client).json()["id"]
    db.beat("n1", "slow@far", "far-machine", 4242, [4242, 4243], time.time())
    assert db.claim(third, "far3", far, 600.0, 3) and sweep(svc)["requeued"] == 0
    db.forget_node("n1")                                                # a node that stopped
    assert sweep(svc)["requeued"] == 1
    svc.close()


def test_a_node_writes_its_heartbeat(tmp_path, monkeypatch):
    from brushwork.service import holders
    from brushwork.service.db import Database
    monkeypatch.delenv(holders.NODE_ENV, raising=False)
    db = Database(config(tmp_path).prepare().database_url)
    beat = holders.NodeBeat(db, "slow@here", every=0.05).start()
    try:
        row = db.node(beat.id)
        assert row.name == "slow@here" and row.host == holders.MACHINE and row.pid == os.getpid()
        assert os.getpid() in row.pids
        me = holders.parse(holders.holder("slow@here"))
        assert me.node == beat.id and me.pid == os.getpid()           # the holder names its node
        first = row.last_seen
        assert wait_for(lambda: db.node(beat.id).last_seen > first, 10)
    finally:
        beat.stop()
    assert db.node(beat.id) is None and holders.NODE_ENV not in os.environ
    db.close()


def test_the_sweeper_recovers_between_full_sweeps(tmp_path):
    """Full sweeps every hour; a job whose holder is gone is re-queued within a few beats."""
    from brushwork.service.sweeper import Sweeper
    app = create_app(config(tmp_path, node_beat_s=0.05), sweeper=False)
    svc: Service = app.state.service
    svc.dispatch = lambda job_id, queue: svc.db.update(job_id, dispatched=True)
    job = submit(TestClient(app)).json()["id"]
    assert svc.db.claim(job, "dead", _dead_holder(), 600.0, 3)
    sw = Sweeper(svc, every=3600).start()
    try:
        wait_for(lambda: svc.db.get(job).state == "queued", 30)
    finally:
        sw.stop()
    svc.close()


def test_a_pool_process_makes_its_runner_as_it_starts(tmp_path):
    from celery import signals

    from brushwork.service.queue import make_celery
    made = []
    app = make_celery(config(tmp_path), runner=lambda broker: made.append(broker) or object())
    signals.worker_process_init.send(sender=None)
    signals.worker_process_init.send(sender=None)
    assert len(made) == 1 and made[0].app is app          # once per process, before any task
