"""The few URLs this package handles — key and Backend API URLs, origins —
parsed strictly, without :mod:`urllib.parse` (and the :mod:`ipaddress` it
imports: 1.5 ms of a cold start).

Stricter than ``urlsplit`` on purpose: only ``http``/``https``, no userinfo,
no fragment, no whitespace, control or non-ASCII characters, a host of
letters, digits, dots and hyphens (or a bracketed IPv6 literal), a port of at
most five digits below 65536. Anything else is not a URL here.
"""

from __future__ import annotations

_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")
_IPV6_CHARS = frozenset("0123456789abcdefABCDEF:.")


class Url:
    """``scheme`` (lowercase), ``host`` (lowercase, IPv6 without brackets),
    ``port`` (None when absent) and ``target`` (path and query, ``""`` when
    the URL has neither).

    A plain slotted class, not a ``NamedTuple``: nothing unpacks or compares
    it, and a ``NamedTuple`` costs a cold start ~100 µs to define."""

    __slots__ = ("scheme", "host", "port", "target")

    def __init__(self, scheme: str, host: str, port: int | None, target: str) -> None:
        self.scheme = scheme
        self.host = host
        self.port = port
        self.target = target

    @property
    def default_port(self) -> int:
        """443 for https, 80 for http."""
        return 443 if self.scheme == "https" else 80


def parse_url(value: object) -> Url | None:
    """The parts of an absolute http(s) URL, or None when ``value`` is not one."""
    if not isinstance(value, str) or not value.isascii() or len(value) > 4096:
        return None
    if any(c <= " " or c in "\x7f\\#" for c in value):
        return None
    scheme, sep, rest = value.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in ("http", "https"):
        return None
    end = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    authority, target = rest[:end], rest[end:]
    if "@" in authority or not authority:
        return None
    if authority.startswith("["):
        close = authority.find("]")
        host, after = authority[1:close], authority[close + 1 :]
        if close < 0 or not host or not set(host) <= _IPV6_CHARS or ":" not in host:
            return None
    else:
        host, colon, port_text = authority.partition(":")
        after = colon + port_text
        if not host or not set(host) <= _HOST_CHARS or host.startswith((".", "-")) or ".." in host:
            return None
    port = None
    if after:
        digits = after[1:]
        if not after.startswith(":") or not digits.isdigit() or len(digits) > 5 or not 0 < int(digits) < 65536:
            return None
        port = int(digits)
    return Url(scheme, host.lower(), port, target)


def is_loopback_host(host: str | None) -> bool:
    """True for ``localhost`` and loopback IP literals (127.0.0.0/8, ``::1``)."""
    if not host:
        return False
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    if ":" in host:  # IPv6: rare in configuration, so its module loads only here
        import ipaddress

        try:
            return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
        except ValueError:
            return False
    parts = host.split(".")
    return (
        len(parts) == 4
        and all(p.isdigit() and len(p) <= 3 and int(p) <= 255 for p in parts)
        and parts[0] == "127"
    )
