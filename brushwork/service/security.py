"""Tokens, client identity, rate limits, CSRF, request size limits and security headers.

- A job's id is 96 random bits; its token another 192. The database keeps only the token's
  SHA-256 (and, for the email a job will send, the token sealed with the installation's
  secret), so a leaked database does not give access to anyone's pictures. Every job URL needs
  the token (`Authorization: Bearer TOKEN`, `?token=`, or the job page's cookie for reads); a
  wrong token is answered exactly like a missing job (404), so ids cannot be probed. Answers
  put the token into links only for a client that sent it in its URL, and the access log
  redacts it.
- Clients are told apart by their address (with `trust_forwarded` = N proxies: the address the
  N-th hop from the right of X-Forwarded-For saw), stored as a keyed hash: rate limits, quotas
  and likes use it.
- The REST API takes no cookies, so a forged cross-site request has no authority to ride on;
  its state-changing JSON endpoints need `Content-Type: application/json`, which a cross-site
  form cannot send. The HTML form carries a double-submit CSRF token.
- `BodyLimit` refuses a request by its Content-Length before reading it, and stops reading a
  body without one as soon as it passes the limit.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable

from starlette.requests import Request

CSRF_COOKIE = "bw_csrf"
CSRF_FIELD = "csrf"


def new_job_id() -> str:
    return secrets.token_urlsafe(12)          # 16 characters, 96 bits


def new_token() -> str:
    return secrets.token_urlsafe(24)          # 32 characters, 192 bits


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: str | None, token_hash: str) -> bool:
    if not token or len(token) > 100:
        return False
    return hmac.compare_digest(hash_token(token), token_hash)


def job_cookie(job_id: str) -> str:
    """The cookie the job page leaves, so that the page's own requests carry no token in their URLs."""
    return f"bw_job_{job_id}"


def request_token(request: Request, job_id: str | None = None) -> str | None:
    """The job token a request carries: `Authorization: Bearer`, the job page's cookie (reads
    only: a cookie must not give a cross-site request any authority), or `?token=`."""
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    if job_id and request.method in ("GET", "HEAD"):
        cookie = request.cookies.get(job_cookie(job_id))
        if cookie:
            return cookie
    return request.query_params.get("token")


def link_token(request: Request) -> str | None:
    """The token to write into the links of an answer: only one the client already put in its URL."""
    return request.query_params.get("token")


def seal(secret: bytes, job_id: str, token: str) -> str:
    """Encrypt a job's token for the database (the email sent later needs its link): XOR with a
    key stream only this installation's secret gives, one per job id. The database alone holds
    no usable token."""
    data = token.encode()
    stream = hmac.new(secret, b"job-link:" + job_id.encode(), hashlib.sha512).digest()
    if len(data) > len(stream):
        raise ValueError("token too long to seal")
    return bytes(a ^ b for a, b in zip(data, stream)).hex()


def unseal(secret: bytes, job_id: str, sealed: str) -> str:
    data = bytes.fromhex(sealed)
    stream = hmac.new(secret, b"job-link:" + job_id.encode(), hashlib.sha512).digest()
    return bytes(a ^ b for a, b in zip(data, stream)).decode()


_TOKEN_IN_URL = re.compile(r"(token=)[^&\s\"]+")


def redact(text: str) -> str:
    """`token=...` in a URL becomes `token=REDACTED`."""
    return _TOKEN_IN_URL.sub(r"\1REDACTED", text)


class RedactTokens(logging.Filter):
    """For the web server's access log: no job token in a logged URL."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def client_address(request: Request, proxies: int = 0) -> str:
    """The client's address, behind `proxies` proxies of ours. Each proxy appends the address it
    was reached from to X-Forwarded-For, so only the last `proxies` hops (counting the peer) are
    trusted: whatever the client wrote further left is ignored."""
    peer = request.client.host if request.client else "unknown"
    if proxies <= 0:
        return peer
    hops = [h.strip() for fwd in request.headers.getlist("x-forwarded-for") for h in fwd.split(",")]
    chain = [h for h in hops if h] + [peer]
    return chain[max(0, len(chain) - 1 - proxies)][:100]


def client_key(request: Request, secret: bytes, trust_forwarded: int = 0) -> str:
    """A stable, keyed hash of the client's address (the address itself is never stored)."""
    addr = client_address(request, trust_forwarded)
    return hmac.new(secret, addr.encode(), hashlib.sha256).hexdigest()[:32]


class RateLimiter:
    """Sliding-window limits per (client, bucket), in memory (per web process)."""

    def __init__(self) -> None:
        self._hits: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()
        self._last_prune = time.monotonic()

    def hit(self, key: str, bucket: str, limit: int, window: float) -> float:
        """Count one request; 0 if allowed, else the seconds until the next one would be."""
        now = time.monotonic()
        with self._lock:
            if now - self._last_prune > 60:
                self._prune(now, window)
            q = self._hits.setdefault((key, bucket), deque())
            while q and q[0] <= now - window:
                q.popleft()
            if len(q) >= limit:
                return max(0.1, q[0] + window - now)
            q.append(now)
            return 0.0

    def _prune(self, now: float, window: float) -> None:
        self._last_prune = now
        for k in [k for k, q in self._hits.items() if not q or q[-1] <= now - max(window, 3600)]:
            del self._hits[k]


class StreamSlots:
    """Caps on long-lived event streams, per client and in total (per web process), so that open
    streams cannot crowd out status requests. `take` gives a release callable, or None when full."""

    def __init__(self, per_client: int, total: int) -> None:
        self.per_client, self.total = per_client, total
        self._open: dict[str, int] = {}
        self._lock = threading.Lock()

    def take(self, client: str) -> Callable[[], None] | str:
        """A release callable (safe to call more than once), or the reason there is no slot."""
        with self._lock:
            if self._open.get(client, 0) >= self.per_client:
                return f"too many open event streams from you (the limit is {self.per_client}); poll the status"
            if sum(self._open.values()) >= self.total:
                return "too many open event streams on this server; poll the status instead"
            self._open[client] = self._open.get(client, 0) + 1
        released = False

        def release() -> None:
            nonlocal released
            with self._lock:
                if not released:
                    released = True
                    self._open[client] -= 1
                    if not self._open[client]:
                        del self._open[client]
        return release

    def count(self) -> int:
        with self._lock:
            return sum(self._open.values())


# --- CSRF (double submit: a cookie and the same value in the form) --------------------------------

def csrf_token(request: Request) -> str:
    token = request.cookies.get(CSRF_COOKIE)
    if token and 20 <= len(token) <= 64 and token.replace("-", "").replace("_", "").isalnum():
        return token
    return secrets.token_urlsafe(24)


def csrf_ok(request: Request, submitted: str | None) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE)
    return bool(cookie and submitted) and hmac.compare_digest(cookie, submitted)


def set_csrf_cookie(response, token: str, secure: bool = False) -> None:
    response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict", secure=secure, max_age=86400)


# --- ASGI middleware ---------------------------------------------------------------------------

def _json_response(status: int, detail: str, html: bool = False):
    """A complete response sent by middleware: JSON, or a small page for a browser's form."""
    if html:
        import html as h
        body = (f'<!doctype html><meta charset="utf-8"><title>Too large</title><link rel="stylesheet" '
                f'href="/static/style.css"><main><section class="card narrow"><h1>That did not work</h1>'
                f'<p class="error-text">{h.escape(detail)}</p><p><a class="button" href="/">Back</a></p>'
                f'</section></main>').encode()
        ctype = b"text/html; charset=utf-8"
    else:
        body, ctype = json.dumps({"detail": detail}).encode(), b"application/json"
    start = {"type": "http.response.start", "status": status,
             "headers": [(b"content-type", ctype), (b"content-length", str(len(body)).encode()),
                         (b"connection", b"close")]}
    return start, {"type": "http.response.body", "body": body}


class RequestLimit:
    """The per-client request rate (`rate` = (requests, window s)) on everything but /static:
    over it, a 429 with Retry-After."""

    def __init__(self, app, limiter: RateLimiter, secret: bytes, rate: tuple[int, float], trust_forwarded: int):
        self.app, self.limiter, self.secret, self.rate, self.trust = app, limiter, secret, rate, trust_forwarded

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and not scope["path"].startswith("/static"):
            key = client_key(Request(scope), self.secret, self.trust)
            wait = self.limiter.hit(key, "any", *self.rate)
            if wait:
                start, body = _json_response(429, f"too many requests; try again in {wait:.0f} s")
                start["headers"].append((b"retry-after", str(max(1, round(wait))).encode()))
                await send(start)
                await send(body)
                return
        await self.app(scope, receive, send)


class BodyLimit:
    """Refuse request bodies over a limit, early and without storing them. `limits` names the
    upload endpoints by their exact path (a path below one, such as /api/jobs/{id}/cancel, is
    not an upload); every other request gets `default`."""

    def __init__(self, app, limits: dict[str, int], default: int):
        self.app, self.limits, self.default = app, limits, default

    def limit_for(self, path: str) -> int:
        return self.limits.get(path, self.default)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        limit = self.limit_for(scope["path"])
        message = f"upload too large: the limit is {limit / 1024 / 1024:.0f} MB"
        html = not scope["path"].startswith("/api") and any(
            k == b"accept" and b"text/html" in v for k, v in scope.get("headers", ()))
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    length = -1
                if length < 0 or length > limit:
                    start, body = _json_response(413 if length > limit else 400,
                                                 message if length > limit else "bad Content-Length header", html)
                    await send(start)
                    await send(body)
                    return
        seen = 0
        started = refused = False

        async def limited_receive():
            # Past the limit: answer 413 at once and tell the app the client has gone, so it
            # stops reading (an exception here would be turned into a 400 by the form parser).
            nonlocal seen, started, refused
            if refused:
                return {"type": "http.disconnect"}
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > limit:
                    refused = True
                    if not started:
                        started = True
                        start, body = _json_response(413, message, html)
                        await send(start)
                        await send(body)
                    return {"type": "http.disconnect"}
            return msg

        async def tracking_send(msg):
            nonlocal started
            if refused:
                return              # the 413 has been sent; whatever the app says after is dropped
            if msg["type"] == "http.response.start":
                started = True
            await send(msg)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except Exception:
            if not refused:
                raise


class SecurityHeaders:
    """No referrer (job links carry tokens), no framing, no sniffing, a same-origin CSP."""

    HEADERS = [
        (b"referrer-policy", b"no-referrer"),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"content-security-policy",
         b"default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; style-src 'self'; "
         b"script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
    ]

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(msg):
            if msg["type"] == "http.response.start":
                names = {k.lower() for k, _ in msg.get("headers", ())}
                msg = dict(msg)
                msg["headers"] = list(msg.get("headers", ())) + [h for h in self.HEADERS if h[0] not in names]
            await send(msg)

        await self.app(scope, receive, send_with_headers)
