"""Workers that die: claims and leases (fast, in-process), and real worker processes killed in
the middle of a job (slow: marked)."""
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
from service_util import config, png_bytes, submit, wait_for, wait_state


def test_claims_and_leases(tmp_path):
    app = create_app(config(tmp_path, lease_s=0.3, max_attempts=2), sweeper=False)
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
    assert sweep(svc)["dispatched"] == 1 and svc.db.get(job["id"]).dispatched
    svc.close()


def _start_worker(cfg, queues: str = "slow") -> subprocess.Popen:
    env = {**os.environ, **cfg.to_env()}
    return subprocess.Popen([sys.executable, "-m", "brushwork", "worker", "--queues", queues, "--concurrency", "1",
                             "-q"], env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(10)


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
    """The pid of the process running a job (the claim records "host pid N")."""
    return int(row.worker.rsplit(" ", 1)[1])


@pytest.mark.slow
def test_killed_workers_lose_no_job(tmp_path):
    """Image iteration in real worker processes (two nodes on the slow queue): the pool process
    running the job is killed (Celery hands the message back), then, on the next run, the whole
    worker node running it (its lease runs out, the sweeper re-queues); the job is finished.

    It waits for states, never for a moment: on a fast machine a run may finish before its kill
    lands, so each kill is counted as interrupting a run only if that run still held the job
    once its process was gone; the job then took exactly one run more than that count."""
    cfg = config(tmp_path, lease_s=1.5, sweep_every_s=0.3, best_steps=12)
    app = create_app(cfg)
    nodes = [_start_worker(cfg), _start_worker(cfg)]
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
                now = db.get(job["id"])
                return now.state == "running" and now.run_id == row.run_id

            interruptions = 0
            row = wait_for(lambda: run_or_end(1), 60)
            if not row.finished:
                child = _holder(row)
                assert _parent(child) in [n.pid for n in nodes]      # a prefork pool process, not the node
                os.kill(child, signal.SIGKILL)
                interruptions += interrupted(row, child)
                row = wait_for(lambda: run_or_end(row.attempts + 1), 60) if interruptions else db.get(job["id"])
            if not row.finished:
                node = next(n for n in nodes if n.pid == _parent(_holder(row)))
                _kill_group(node)                                    # now the whole node running it dies
                interruptions += interrupted(row, _holder(row))
            s = wait_state(client, job["id"], job["token"], timeout=90)
            assert s["state"] == "done", s
            assert s["attempts"] == 1 + interruptions and s["result"]["width"] == 64
            assert client.get(s["result"]["url"]).status_code == 200
    finally:
        for n in nodes:
            _kill_group(n)
        app.state.service.close()
