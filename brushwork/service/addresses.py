"""Where a webhook may point: http(s) URLs without credentials, and (unless private targets are
allowed) no loopback, private, link-local or other non-global address (SSRF)."""
from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from ..errors import InputError

REFUSED = "the webhook must not point at this server or a private network"


def check_webhook_url(url: str, allow_private: bool, resolve: bool = True) -> None:
    """http(s) only, no credentials; with `resolve`, no loopback/private/link-local targets (SSRF)."""
    if len(url) > 2000:
        raise InputError("the webhook URL is too long")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError("the webhook must be an http:// or https:// URL")
    if parts.username or parts.password:
        raise InputError("the webhook URL must not contain a user name or password")
    if allow_private or not resolve:
        if not allow_private:
            check_host(parts.hostname)
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    except (socket.gaierror, UnicodeError):
        raise InputError(f"the webhook host {parts.hostname!r} cannot be resolved") from None
    for info in infos:
        check_host(info[4][0])


def check_host(host: str) -> None:
    """Refuse local names and non-global address literals; other names pass (checked when resolved)."""
    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(".localhost"):
        raise InputError(REFUSED)
    try:
        ip = ipaddress.ip_address(host.strip("[]").split("%")[0])
    except ValueError:
        return
    if not ip.is_global or ip.is_multicast:
        raise InputError(REFUSED)
