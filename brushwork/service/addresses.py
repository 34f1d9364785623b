"""Where a webhook may point: http(s) URLs without credentials, and (unless private targets are
allowed) no loopback, private, link-local or other non-global address (SSRF), also not one
embedded in an IPv6 address (IPv4-mapped or -compatible, NAT64, 6to4, Teredo).

A name is resolved once, every address it gives is checked, and the connection goes to a
checked address (`resolve_target`), so a name that answers differently the second time (DNS
rebinding) cannot lead the request anywhere unchecked.
"""
from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..errors import InputError

REFUSED = "the webhook must not point at this server or a private network"
IP = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.ip_network("64:ff9b::/96")            # well-known prefix: the last 32 bits are IPv4
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")    # local-use prefix: never global
_V4_COMPATIBLE = ipaddress.ip_network("::/96")


@dataclass(frozen=True)
class Target:
    """A checked webhook URL: where to connect (`address`), and the name for Host and TLS."""
    scheme: str
    host: str
    port: int
    path: str
    address: str


def embedded_ipv4(ip: IP) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, compatible, NAT64, 6to4, Teredo client)."""
    if ip.version == 4:
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64 or (ip in _V4_COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def forbidden(ip: IP) -> bool:
    if not ip.is_global or ip.is_multicast or (ip.version == 6 and ip in _NAT64_LOCAL):
        return True
    inner = embedded_ipv4(ip)
    return inner is not None and (not inner.is_global or inner.is_multicast)


def check_host(host: str) -> None:
    """Refuse local names and forbidden address literals; other names pass (checked when resolved)."""
    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(".localhost"):
        raise InputError(REFUSED)
    try:
        ip = ipaddress.ip_address(host.strip("[]").split("%")[0])
    except ValueError:
        return
    if forbidden(ip):
        raise InputError(REFUSED)


def _parts(url: str):
    if len(url) > 2000:
        raise InputError("the webhook URL is too long")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError("the webhook must be an http:// or https:// URL")
    if parts.username or parts.password:
        raise InputError("the webhook URL must not contain a user name or password")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise InputError("the webhook URL has a bad port") from None
    return parts, port


def resolve_target(url: str, allow_private: bool) -> Target:
    """Resolve the URL's host once and pick an address that passes the checks (all of them must,
    unless private targets are allowed); InputError if there is none."""
    parts, port = _parts(url)
    if not allow_private:
        check_host(parts.hostname)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError):
        raise InputError(f"the webhook host {parts.hostname!r} cannot be resolved") from None
    addresses = [info[4][0] for info in infos]
    if not addresses:
        raise InputError(f"the webhook host {parts.hostname!r} cannot be resolved")
    if not allow_private:
        for a in addresses:
            check_host(a)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, parts.hostname, port, path, addresses[0])


def check_webhook_url(url: str, allow_private: bool, resolve: bool = True) -> None:
    """http(s) only, no credentials; unless private targets are allowed, no forbidden literal, and
    with `resolve`, no name resolving to a forbidden address."""
    parts, _port = _parts(url)
    if allow_private:
        return
    if resolve:
        resolve_target(url, allow_private)
    else:
        check_host(parts.hostname)
