"""The same queue code with Redis as the broker (as for workers on several machines). Skipped
where no redis-server is installed (apt-get install redis-server)."""
from __future__ import annotations

import shutil
import subprocess
import time

import pytest
from fastapi.testclient import TestClient

from brushwork.service.app import create_app
from service_util import config, redis_server, submit, wait_state, worker

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")


@pytest.fixture
def redis_url(tmp_path):
    with redis_server(tmp_path) as url:
        yield url


def test_jobs_through_redis_survive_a_server_restart(tmp_path, redis_url):
    cfg = config(tmp_path, broker_url=redis_url)
    first = create_app(cfg, sweeper=False)
    with TestClient(first) as c:
        job = submit(c).json()                      # queued in Redis, no worker yet
    first.state.service.close()
    second = create_app(config(tmp_path, broker_url=redis_url), sweeper=False)
    try:
        with TestClient(second) as c, worker(second.state.service):
            t = time.monotonic()
            s = wait_state(c, job["id"], job["token"])
            assert s["state"] == "done" and s["attempts"] == 1
            other = submit(c).json()
            assert wait_state(c, other["id"], other["token"])["state"] == "done"
            assert time.monotonic() - t < 30
    finally:
        second.state.service.close()


def test_a_separate_worker_process_takes_jobs_from_redis(tmp_path, redis_url):
    """As on a farm: the web app and a `brushwork worker` process share only Redis, the job
    database and the data directory, all given on the worker's command line."""
    import os
    import signal
    import sys
    cfg = config(tmp_path, broker_url=redis_url)
    app = create_app(cfg, sweeper=False)
    proc = subprocess.Popen([sys.executable, "-m", "brushwork", "worker", "--broker", redis_url,
                             "--db", cfg.database_url, "--data-dir", str(cfg.data_dir), "--queues", "fast,notify",
                             "--concurrency", "1", "-q"],
                            env={k: v for k, v in os.environ.items() if not k.startswith("BRUSHWORK_")},
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with TestClient(app) as c:
            job = submit(c).json()
            s = wait_state(c, job["id"], job["token"], timeout=60)
            assert s["state"] == "done" and s["attempts"] == 1
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
        app.state.service.close()
