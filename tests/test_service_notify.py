"""Notifications: signed webhooks (retried with backoff) to a local HTTP server, and email to a
local SMTP server (aiosmtpd), through the real queue."""
from __future__ import annotations

import email
import email.policy
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient

from brushwork.errors import InputError
from brushwork.service.app import create_app
from brushwork.service.addresses import check_webhook_url
from brushwork.service.notify import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify_signature
from service_util import config, free_port, submit, wait_for, wait_state, worker


class Hook:
    """A local webhook receiver answering with the given status codes in turn (then 200)."""

    def __init__(self, statuses: list[int]):
        self.statuses, self.calls = list(statuses), []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.calls.append((time.monotonic(), dict(self.headers), body))
                code = hook.statuses.pop(0) if hook.statuses else 200
                self.send_response(code)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def smtp():
    from aiosmtpd.controller import Controller

    class Inbox:
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append((envelope.rcpt_tos, envelope.content.decode("utf8", "replace")))
            return "250 OK"

    inbox = Inbox()
    ctl = Controller(inbox, hostname="127.0.0.1", port=free_port())
    ctl.start()
    yield inbox, ctl.port
    ctl.stop()


@pytest.fixture(scope="module")
def served(tmp_path_factory, smtp):
    cfg = config(tmp_path_factory.mktemp("notify"), smtp_host="127.0.0.1", smtp_port=smtp[1], notify_retries=3,
                 notify_backoff_s=0.3, public_url="https://paint.example", unsent_after_s=0.2)
    app = create_app(cfg, sweeper=False)
    with TestClient(app) as client, worker(app.state.service):
        yield app, client
    app.state.service.close()


def test_webhook_is_signed_and_retried_with_backoff(served):
    app, client = served
    hook = Hook([500, 503])
    try:
        job = submit(client, webhook=hook.url).json()
        secret = job["webhook_secret"]
        wait_state(client, job["id"], job["token"])
        wait_for(lambda: len(hook.calls) >= 3, 30)
        time.sleep(0.3)
        assert len(hook.calls) == 3
        (t1, _, _), (t2, _, _), (t3, headers, body) = hook.calls
        assert t2 - t1 >= 0.25 and t3 - t2 >= 0.55          # 0.3 s, then 0.6 s: backoff doubles
        assert verify_signature(secret, headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER])
        assert not verify_signature(secret, headers[TIMESTAMP_HEADER], body + b" ", headers[SIGNATURE_HEADER])
        assert not verify_signature("another secret", headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER])
        payload = json.loads(body)
        assert payload["id"] == job["id"] and payload["state"] == "done" and payload["event"] == "job.done"
        assert payload["result"]["url"] == f"https://paint.example/api/jobs/{job['id']}/result"
        assert job["token"] not in body.decode()
        status = wait_for(lambda: (s := client.get(f"/api/jobs/{job['id']}", params={"token": job["token"]}).json())
                          ["notifications"].get("webhook") == "sent" and s)
        assert status["notifications"] == {"webhook": "sent"}
    finally:
        hook.close()


def test_webhook_client_errors_are_not_retried(served):
    app, client = served
    hook = Hook([400])
    try:
        job = submit(client, webhook=hook.url).json()
        wait_state(client, job["id"], job["token"])
        s = wait_for(lambda: (s := client.get(f"/api/jobs/{job['id']}", params={"token": job["token"]}).json())
                     ["notifications"].get("webhook", "").startswith("failed") and s)
        assert s["notifications"]["webhook"] == "failed: HTTP 400"
        time.sleep(0.5)
        assert len(hook.calls) == 1
    finally:
        hook.close()


def test_email_when_done(served, smtp):
    app, client = served
    inbox, _port = smtp
    job = submit(client, email="painter@example.com").json()
    wait_state(client, job["id"], job["token"])
    wait_for(lambda: inbox.messages, 30)
    rcpt, text = inbox.messages[-1]
    msg = email.message_from_string(text, policy=email.policy.default)
    assert rcpt == ["painter@example.com"] and msg["To"] == "painter@example.com"
    assert msg["Subject"] == "Your brushwork painting is ready"
    assert f"https://paint.example/jobs/{job['id']}?token={job['token']}" in msg.get_content()
    row = app.state.service.db.get(job["id"])      # the database alone holds no usable token
    assert job["token"] not in json.dumps({c.name: str(getattr(row, c.name)) for c in row.__table__.columns})


def test_signature_and_targets():
    body, ts = b'{"a":1}', str(int(time.time()))
    sig = sign("s3cret", ts, body)
    assert sig.startswith("sha256=") and verify_signature("s3cret", ts, body, sig)
    assert not verify_signature("s3cret", str(int(time.time()) - 3600), body, sign("s3cret", str(int(time.time()) - 3600), body))
    assert not verify_signature("s3cret", "soon", body, sig)
    for url in ("http://localhost/x", "http://127.0.0.1/x", "http://[::1]/x", "http://10.0.0.5/x",
                "http://169.254.169.254/latest/meta-data", "http://192.168.1.1/"):
        with pytest.raises(InputError, match="private network"):
            check_webhook_url(url, allow_private=False, resolve=True)
    check_webhook_url("http://127.0.0.1:9/x", allow_private=True)     # what the tests above rely on


@pytest.mark.parametrize("url", ["http://[64:ff9b::7f00:1]/x", "http://[2002:7f00:1::]/x", "http://[::ffff:127.0.0.1]/x",
                                 "http://[::ffff:7f00:1]/x", "http://[64:ff9b::a9fe:a9fe]/latest", "http://[::7f00:1]/x",
                                 "http://[2002:c0a8:101::1]/x", "http://[64:ff9b:1::1]/x"])
def test_embedded_private_addresses_are_refused(url):
    """NAT64, 6to4 and IPv4-mapped forms of loopback, link-local and private addresses."""
    for resolve in (False, True):
        with pytest.raises(InputError, match="private network"):
            check_webhook_url(url, allow_private=False, resolve=resolve)


class Rebinding:
    """A resolver stub: `name` answers `answers[0]` on the first lookup, `answers[1]` after."""

    def __init__(self, monkeypatch, name: str, answers: tuple[str, str]):
        import socket
        real, self.lookups = socket.getaddrinfo, 0

        def getaddrinfo(host, port, *args, **kwargs):
            if host != name:
                return real(host, port, *args, **kwargs)
            self.lookups += 1
            ip = answers[0] if self.lookups == 1 else answers[1]
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, int(port)))]
        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def _hook_job(url: str):
    from brushwork.service.db import Job
    return Job(id="j" * 16, kind="image", quality="fast", state="done", error=None, result="result.png",
               result_width=64, result_height=48, webhook_url=url, webhook_secret="s3cret")


def test_a_rebinding_name_cannot_reach_loopback(monkeypatch):
    """The name answers a public address when checked and 127.0.0.1 after: the request goes to
    the checked (public, here unreachable) address, never to the local receiver."""
    from brushwork.service.notify import Retry, send_webhook
    hook = Hook([])
    try:
        port = hook.server.server_address[1]
        dns = Rebinding(monkeypatch, "rebind.example", ("93.184.216.34", "127.0.0.1"))
        with pytest.raises(Retry):
            send_webhook(_hook_job(f"http://rebind.example:{port}/hook"), "https://paint.example", 1.0, False)
        assert hook.calls == [] and dns.lookups == 1
    finally:
        hook.close()


def test_the_webhook_goes_to_the_address_checked(monkeypatch):
    from brushwork.service.notify import send_webhook
    hook = Hook([])
    try:
        port = hook.server.server_address[1]
        Rebinding(monkeypatch, "hook.example", ("127.0.0.1", "10.255.255.1"))
        assert send_webhook(_hook_job(f"http://hook.example:{port}/hook?x=1"), "https://paint.example", 5.0, True) == 200
        assert len(hook.calls) == 1 and hook.calls[0][1]["Host"] == f"hook.example:{port}"
    finally:
        hook.close()


def test_the_outbox_delivers_after_a_lost_message_and_a_dead_node(served, monkeypatch):
    """The notify message is lost (the node that took it died), then the next delivery's process
    dies holding it: the sweeper sends it again each time, and every try is on record."""
    import subprocess
    import sys

    from brushwork.service.holders import MACHINE
    from brushwork.service.queue import NOTIFY, Broker
    from brushwork.service.sweeper import sweep
    app, client = served
    svc = app.state.service
    real, dropped = Broker.send, []

    def lossy(self, task, args, queue):
        if task == NOTIFY and not dropped:
            dropped.append(args)
            return
        real(self, task, args, queue)
    monkeypatch.setattr(Broker, "send", lossy)
    hook = Hook([])
    try:
        job = submit(client, webhook=hook.url).json()
        wait_state(client, job["id"], job["token"])
        (nid,) = wait_for(lambda: [n.id for n in svc.db.due_notifications(time.time()) if n.job_id == job["id"]], 30)
        assert dropped and hook.calls == []
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()
        assert svc.db.take_notification(nid, f"notify@x on {MACHINE} pid {dead.pid}", 600.0) is not None
        time.sleep(0.3)
        assert sweep(svc)["notified"] == 1
        wait_for(lambda: hook.calls, 30)
        wait_for(lambda: ("webhook", "sent") in svc.db.attempts(job["id"]), 30)
        assert svc.db.attempts(job["id"])[0][1].startswith("interrupted")
        time.sleep(0.5)
        assert sweep(svc)["notified"] == 0 and len(hook.calls) == 1     # delivered: nothing more to send
    finally:
        hook.close()
