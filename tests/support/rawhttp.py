"""One HTTP request over a fresh connection, as sent: method, path and
headers exactly as given (repeats kept), the answer's headers as a list."""

from __future__ import annotations

import http.client


def request(base: str, method: str, path: str, headers: list[tuple[str, str]] | None = None,
            body: bytes | None = None, *, accept_encoding: bool = True) -> tuple[int, list[tuple[str, str]], bytes]:
    """``(status, headers, body)`` of ``method path`` against ``base``
    (``http://host:port``); ``accept_encoding=False`` leaves out the
    ``Accept-Encoding: identity`` http.client adds by default."""
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.putrequest(method, path, skip_accept_encoding=not accept_encoding)
    for name, value in headers or []:
        conn.putheader(name, value)
    if body is not None:
        conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, response.getheaders(), data


def header(headers: list[tuple[str, str]], name: str) -> list[str]:
    """Every value of ``name`` (any case) among ``headers``."""
    return [v for k, v in headers if k.lower() == name.lower()]
