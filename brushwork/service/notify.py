"""Telling people a job finished: SMTP email and webhooks signed with HMAC-SHA256.

A webhook is a POST of JSON with these headers:

    X-Brushwork-Event:     job.done | job.failed
    X-Brushwork-Timestamp: seconds since 1970
    X-Brushwork-Signature: sha256=HEX(HMAC-SHA256(secret, f"{timestamp}.{body}"))

where `secret` is the job's `webhook_secret` (returned once, when the job is submitted).
`verify_signature` is the check a receiver makes. The payload has no token: the receiver
holds the job's token from its submission and adds it to the links.

Sending raises `Retry` for failures worth retrying (network errors, 5xx, 408, 429, SMTP
trouble) and `Permanent` for the others. A finished job's notifications wait in the outbox
(db.Notification) until delivered: `attempt` (what the queue's notify task runs) claims one for
a try, records every try (db.Attempt, and the latest on the job), and retries with exponential
backoff; the sweeper sends again those whose message or delivering node was lost.
"""
from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import smtplib
import socket
import ssl
import time
from email.message import EmailMessage
from typing import Any

from ..errors import InputError
from .addresses import Target, resolve_target
from .db import Job
from .security import unseal

SIGNATURE_HEADER = "X-Brushwork-Signature"
TIMESTAMP_HEADER = "X-Brushwork-Timestamp"
EVENT_HEADER = "X-Brushwork-Event"


class Retry(Exception):
    pass


class Permanent(Exception):
    pass


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(secret: str, timestamp: str, body: bytes, signature: str, tolerance_s: float = 300.0,
                     now: float | None = None) -> bool:
    """True if `signature` is ours for this body and the timestamp is recent (no replays)."""
    try:
        age = abs((time.time() if now is None else now) - float(timestamp))
    except (TypeError, ValueError):
        return False
    return age <= tolerance_s and hmac.compare_digest(sign(secret, timestamp, body), signature or "")


def payload(job: Job, public_url: str) -> dict[str, Any]:
    base = public_url.rstrip("/")
    return {
        "event": f"job.{job.state}", "id": job.id, "state": job.state, "kind": job.kind,
        "error": job.error,
        "result": ({"width": job.result_width, "height": job.result_height,
                    "url": f"{base}/api/jobs/{job.id}/result"} if job.state == "done" and job.result else None),
        "status_url": f"{base}/api/jobs/{job.id}", "page_url": f"{base}/jobs/{job.id}",
        "note": "add ?token=YOUR_JOB_TOKEN (or an Authorization: Bearer header) to these links",
    }


class _PinnedHTTP(http.client.HTTPConnection):
    """Connects to the checked address; the URL's name is still the Host header."""

    def __init__(self, target: Target, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout)
        self.address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """Connects to the checked address; TLS checks the certificate against the URL's name."""

    def __init__(self, target: Target, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout, context=ssl.create_default_context())
        self.address = target.address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def send_webhook(job: Job, public_url: str, timeout: float, allow_private: bool) -> int:
    """POST the signed payload to the address that was checked (no second lookup, no redirects:
    either could lead anywhere)."""
    if not job.webhook_url or not job.webhook_secret:
        raise Permanent("no webhook")
    try:
        target = resolve_target(job.webhook_url, allow_private)
    except InputError as e:
        raise Permanent(str(e)) from None
    body = json.dumps(payload(job, public_url), sort_keys=True, separators=(",", ":")).encode()
    ts = str(int(time.time()))
    headers = {"Content-Type": "application/json", "User-Agent": "brushwork-webhook/1",
               EVENT_HEADER: f"job.{job.state}", TIMESTAMP_HEADER: ts,
               SIGNATURE_HEADER: sign(job.webhook_secret, ts, body)}
    conn = (_PinnedHTTPS if target.scheme == "https" else _PinnedHTTP)(target, timeout)
    try:
        conn.request("POST", target.path, body=body, headers=headers)
        code = conn.getresponse().status
    except (OSError, http.client.HTTPException) as e:
        raise Retry(f"cannot reach the webhook ({e})") from None
    finally:
        conn.close()
    if code >= 500 or code in (408, 429):
        raise Retry(f"HTTP {code}")
    if code >= 300:
        raise Permanent(f"HTTP {code}")
    return code


def email_link(job: Job, public_url: str, secret: bytes) -> str:
    """The job page's address with its token (unsealed here, at sending time)."""
    link = f"{public_url.rstrip('/')}/jobs/{job.id}"
    sealed = (job.notified or {}).get("sealed_token")
    return f"{link}?token={unseal(secret, job.id, sealed)}" if sealed else link


def send_email(job: Job, cfg, secret: bytes) -> None:
    if not cfg.smtp_host:
        raise Permanent("no SMTP server configured (BRUSHWORK_SMTP_HOST)")
    if not job.email:
        raise Permanent("no email address")
    link = email_link(job, cfg.public_url, secret)
    msg = EmailMessage()
    msg["From"] = cfg.mail_from
    msg["To"] = job.email
    if job.state == "done":
        msg["Subject"] = "Your brushwork painting is ready"
        msg.set_content(f"Your picture is painted. See it and download it in full resolution:\n\n{link}\n\n"
                        f"It is kept for {cfg.expire_days:g} days.\n")
    else:
        msg["Subject"] = "Your brushwork job did not finish"
        msg.set_content(f"Sorry: the job stopped.\n\n{job.error or job.state}\n\n{link}\n")
    try:
        cls = smtplib.SMTP_SSL if cfg.smtp_ssl else smtplib.SMTP
        with cls(cfg.smtp_host, cfg.smtp_port, timeout=30) as smtp:
            if cfg.smtp_starttls and not cfg.smtp_ssl:
                smtp.starttls(context=ssl.create_default_context())
            if cfg.smtp_user:
                smtp.login(cfg.smtp_user, cfg.smtp_password or "")
            smtp.send_message(msg)
    except smtplib.SMTPRecipientsRefused as e:
        raise Permanent(f"the address was refused ({e})") from None
    except (smtplib.SMTPException, OSError) as e:
        raise Retry(f"email not sent ({e})") from None


def deliver(svc, job_id: str, channel: str) -> None:
    """Send one notification now; raises Retry/Permanent."""
    job = svc.db.get(job_id)
    if job is None:
        raise Permanent("the job no longer exists")
    if channel == "webhook":
        send_webhook(job, svc.cfg.public_url, svc.cfg.webhook_timeout_s, svc.cfg.webhook_allow_private)
    elif channel == "email":
        send_email(job, svc.cfg, svc.secret)
    else:
        raise Permanent(f"unknown channel {channel!r}")


def record(svc, job_id: str, channel: str, outcome: str) -> None:
    with svc.db.session() as s:
        job = s.get(Job, job_id)
        if job is not None:
            job.notified = {**(job.notified or {}), channel: outcome[:200]}


def attempt(svc, nid: int, holder: str) -> float | None:
    """One try at the outbox's notification `nid`: None when there is nothing more to do now
    (sent, failed for good, not due, or taken by another), else the seconds until its next try
    (`notify_backoff_s`, doubling). Every try is recorded, on the outbox and on the job."""
    cfg = svc.cfg
    note = svc.db.take_notification(nid, holder, lease_s=2 * cfg.webhook_timeout_s + 60)
    if note is None:
        return None
    try:
        deliver(svc, note.job_id, note.channel)
    except Retry as e:
        if note.tries > cfg.notify_retries:
            outcome = f"failed after {note.tries} tries: {e}"
            svc.db.settle_notification(nid, outcome, "failed")
            record(svc, note.job_id, note.channel, outcome)
            return None
        delay = cfg.notify_backoff_s * 2 ** (note.tries - 1)
        svc.db.settle_notification(nid, f"retrying: {e}", "pending", next_at=time.time() + delay)
        record(svc, note.job_id, note.channel, f"retrying: {e}")
        return delay
    except Permanent as e:
        svc.db.settle_notification(nid, f"failed: {e}", "failed")
        record(svc, note.job_id, note.channel, f"failed: {e}")
        return None
    svc.db.settle_notification(nid, "sent", "sent")     # the try first: whoever sees "sent" on the job sees it too
    record(svc, note.job_id, note.channel, "sent")
    return None
