"""Which ``Host`` headers the local gateway answers: a defence against DNS
rebinding.

A page on ``http://evil.test`` whose name the attacker re-points at
127.0.0.1 is, to the browser, same-origin with the gateway: it can read
every answer — the static files, functions that need no token — that a page
of another origin could not. Browsers send the name they resolved as
``Host``, so, as Vite and webpack-dev-server do, the gateway answers only
loopback names (``localhost``, ``*.localhost``, which browsers never send
to DNS), IP addresses (no rebinding without a name), a missing ``Host``
(not a browser), and the names the developer allows (``--allowed-host``;
``*`` allows any). Ports play no part: ``name:5173`` allows ``name`` (on any
port), as the ``Host`` is judged by its name alone.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

__all__ = ["HostRule", "allowed_name", "name_of"]


class HostRule:
    """``allows(host_header)``: loopback names, IP literals and ``extra``."""

    def __init__(self, extra: Iterable[str] = ()) -> None:
        """``extra``: names as ``--allowed-host`` takes them: ``name``,
        ``name:port``, ``[v6]``, ``[v6]:port``, a bare IP address, or ``*``;
        ``ValueError`` for anything else (a URL, a bad port)."""
        names = {allowed_name(entry) for entry in extra if entry.strip()}
        self.any = "*" in names
        self.names = frozenset(names - {"*"})

    def allows(self, header: str | None) -> bool:
        """True when a request with this ``Host`` may be answered."""
        if header is None or self.any:
            return True
        name = name_of(header)
        if name is None:
            return False
        if name == "localhost" or name.endswith(".localhost") or name in self.names:
            return True
        try:
            ipaddress.ip_address(name)
        except ValueError:
            return False
        return True


def allowed_name(entry: str) -> str:
    """An ``--allowed-host`` value as the name :func:`name_of` reads from a
    ``Host``: its port and IPv6 brackets stripped (a bare IPv6 address, as
    ``--host ::1`` binds, is taken whole). ``ValueError`` when it names no host."""
    text = entry.strip().lower()
    if text == "*":
        return text
    try:
        ipaddress.ip_address(text)
        return text
    except ValueError:
        pass
    name = name_of(text)
    if name is None or "/" in name or "@" in name or any(c.isspace() for c in name):
        raise ValueError(f"--allowed-host {entry.strip()[:100]!r} is not a host name: give NAME or NAME:PORT "
                         "(e.g. dev.example.test or dev.example.test:5173), without a scheme or path")
    return name


def name_of(header: str) -> str | None:
    """The host name of a ``Host`` value, lowercase, without its port, its
    IPv6 brackets or a final dot; None when it is no host."""
    value = header.strip().lower()
    if value.startswith("["):
        inside, bracket, rest = value[1:].partition("]")
        if not bracket or rest and not (rest.startswith(":") and rest[1:].isdigit()):
            return None
        return inside
    name, colon, port = value.rpartition(":")
    if not colon:
        name = value
    elif not port.isdigit():
        return None
    name = name.rstrip(".")
    return name or None
