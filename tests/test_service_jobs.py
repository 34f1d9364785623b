"""Jobs without a worker running all along: tokens, cancelling (on every broker x database pair,
the `backend` fixture), expiry (each test starts its own in-process worker where it needs one:
Celery's worker state is per process). A web server restart: test_service_backends.py."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from brushwork.service.app import create_app
from service_util import config, submit, wait_state, worker


@pytest.fixture
def client(tmp_path):
    app = create_app(config(tmp_path), sweeper=False)
    with TestClient(app) as c:
        yield c
    app.state.service.close()


def test_tokens_are_enforced(client):
    a = submit(client).json()
    b = submit(client).json()
    assert client.get(f"/api/jobs/{a['id']}").status_code == 401
    for url, token in ((f"/api/jobs/{a['id']}", "x" * 32), (f"/api/jobs/{a['id']}", b["token"]),
                       (f"/api/jobs/{a['id']}/result", b["token"]), (f"/api/jobs/{a['id']}/preview", b["token"]),
                       ("/api/jobs/doesnotexist0000", a["token"]), (f"/jobs/{a['id']}", b["token"])):
        r = client.get(url, params={"token": token})
        assert r.status_code == 404, url
        assert r.json() == {"detail": "no job with this id and token"}
    r = client.post(f"/api/jobs/{a['id']}/cancel", json={}, headers={"Authorization": f"Bearer {b['token']}"})
    assert r.status_code == 404
    # the right token, but not done yet
    r = client.get(f"/api/jobs/{a['id']}/result", params={"token": a["token"]})
    assert r.status_code == 409 and "the job is queued" in r.json()["detail"]


def test_cancel_a_queued_job(tmp_path, backend):
    app = create_app(config(tmp_path, **backend), sweeper=False)
    client = TestClient(app)
    job = submit(client).json()
    r = client.post(f"/api/jobs/{job['id']}/cancel", json={}, headers={"Authorization": f"Bearer {job['token']}"})
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    with worker(app.state.service):
        other = submit(client).json()
        assert wait_state(client, other["id"], other["token"])["state"] == "done"
    s = client.get(f"/api/jobs/{job['id']}", params={"token": job["token"]}).json()
    assert s["state"] == "cancelled" and s["attempts"] == 0     # the worker skipped it
    r = client.post(f"/api/jobs/{job['id']}/cancel", json={}, headers={"Authorization": f"Bearer {job['token']}"})
    assert r.status_code == 409
    app.state.service.close()


def test_expired_files_are_deleted(tmp_path):
    import time

    from brushwork.service.sweeper import sweep
    app = create_app(config(tmp_path), sweeper=False)
    svc = app.state.service
    c = TestClient(app)
    job = submit(c).json()
    svc.storage.path(job["id"], "result.png").write_bytes(b"png")
    svc.db.update(job["id"], state="done", result="result.png", expires_at=time.time() - 1)
    assert sweep(svc)["expired"] == 1
    assert not svc.storage.job_dir(job["id"]).exists()
    r = c.get(f"/api/jobs/{job['id']}/result", params={"token": job["token"]})
    assert r.status_code == 410 and "expired" in r.json()["detail"]
    svc.close()


def test_worker_command_refuses_unknown_queues(tmp_path, capsys):
    from brushwork.cli import main
    assert main(["worker", "--queues", "fast,bogus", "--data-dir", str(tmp_path)]) == 2
    assert "unknown queue 'bogus'" in capsys.readouterr().err


def test_tokens_stay_out_of_logged_urls(client):
    """The job page leaves a cookie, so its own requests carry no token in their URLs; answers
    to a Bearer request link without the token; the access log redacts one sent in a URL."""
    import logging

    from brushwork.service.security import RedactTokens
    job = submit(client).json()
    jid, token = job["id"], job["token"]
    s = client.get(f"/api/jobs/{jid}", headers={"Authorization": f"Bearer {token}"}).json()
    assert token not in str(s["links"]) and s["links"]["status"] == f"/api/jobs/{jid}"
    page = client.get(f"/jobs/{jid}", params={"token": token})
    assert page.status_code == 200 and f"bw_job_{jid}" in page.headers["set-cookie"]
    assert "HttpOnly" in page.headers["set-cookie"] and "SameSite=strict" in page.headers["set-cookie"]
    assert f'data-status="/api/jobs/{jid}"' in page.text and f"token={token}" not in page.text
    from fastapi.testclient import TestClient
    with TestClient(client.app) as browser:          # only the cookie, as the page's scripts send it
        browser.cookies.set(f"bw_job_{jid}", token)
        assert browser.get(f"/api/jobs/{jid}").json()["state"] == "queued"
        assert browser.post(f"/api/jobs/{jid}/cancel", json={}).status_code == 401   # no authority to change
    record = logging.LogRecord("uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5000", "GET", f"/api/jobs/{jid}/events?token={token}&x=1", "1.1", 200),
                               None)
    RedactTokens().filter(record)
    assert token not in record.getMessage() and "token=REDACTED&x=1" in record.getMessage()


def test_event_streams_are_capped_per_client_and_in_total(tmp_path):
    """Event streams of a queued job stay open; past the caps a client is told to poll (429), and
    a closed stream frees its slot. Status requests are answered all along."""
    import contextlib

    import httpx2 as httpx

    from service_util import live_server, wait_for
    app = create_app(config(tmp_path, trust_forwarded=1, max_streams_per_client=2, max_streams=3), sweeper=False)
    with TestClient(app) as c:
        job = submit(c).json()
    auth = {"Authorization": f"Bearer {job['token']}"}
    url = f"/api/jobs/{job['id']}/events"
    try:
        with live_server(app) as (base, _port), httpx.Client(base_url=base, timeout=10) as http, \
                contextlib.ExitStack() as open_streams:
            def stream(client: str):
                return open_streams.enter_context(http.stream("GET", url, headers={**auth, "X-Forwarded-For": client}))
            first = [stream("203.0.113.1"), stream("203.0.113.1")]
            assert [s.status_code for s in first] == [200, 200]
            refused = http.get(url, headers={**auth, "X-Forwarded-For": "203.0.113.1"})
            assert refused.status_code == 429 and "from you" in refused.json()["detail"]
            assert stream("203.0.113.2").status_code == 200                  # a third client: 3 open in all
            full = http.get(url, headers={**auth, "X-Forwarded-For": "203.0.113.3"})
            assert full.status_code == 429 and "on this server" in full.json()["detail"]
            assert http.get(f"/api/jobs/{job['id']}", headers=auth).json()["state"] == "queued"
            first[0].close()
            wait_for(lambda: app.state.streams.count() == 2, 20)
            assert stream("203.0.113.3").status_code == 200
    finally:
        app.state.service.close()


def test_event_streams_share_one_query(tmp_path):
    """Fifty streams following two jobs: each interval reads both jobs in one query; a stream
    wakes when its job changes, and learns when it is deleted."""
    import asyncio
    from types import SimpleNamespace

    from brushwork.service.streams import JobWatch

    def row(state: str, t: float):
        return SimpleNamespace(state=state, updated_at=t, preview_version=0)

    async def follow():
        rows = {"a": row("queued", 1), "b": row("queued", 1)}
        calls: list[list[str]] = []
        w = JobWatch(lambda ids: calls.append(sorted(ids)) or dict(rows), every=0.01)
        for i in range(50):
            w.follow("ab"[i % 2], rows["ab"[i % 2]])
        waiting = [asyncio.ensure_future(w.changed(j, timeout=60)) for j in "ab"]
        while len(calls) < 5:
            await asyncio.sleep(0.01)
        assert not any(t.done() for t in waiting)             # nothing changed yet
        rows["a"] = row("running", 2)
        assert (await asyncio.wait_for(waiting[0], 60)).state == "running"
        del rows["b"]
        assert await asyncio.wait_for(waiting[1], 60) is None   # deleted
        assert set(map(tuple, calls)) <= {("a", "b")}           # one query for every stream
        for i in range(50):
            w.unfollow("ab"[i % 2])
        await asyncio.wait_for(w._task, 60)                    # nobody follows: the polling stops
    asyncio.run(follow())
