"""One bounded HTTP GET, for JWKS documents and Clerk's Backend API.

Bounded in every direction an endpoint can misbehave: a total deadline for
connect and read, a response size cap, no redirects, HTTPS except on loopback.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from .config import is_loopback_host
from .errors import JwksFetchError

MAX_BYTES = 1024 * 1024
_CHUNK = 64 * 1024
_USER_AGENT = "clerk-serverless/0.1"


_context: Any = None


def _tls_context() -> Any:
    """One verifying TLS context for the process: loading the CA bundle costs
    ~20 ms, too much to pay on every key refresh."""
    global _context
    if _context is None:
        import ssl

        _context = ssl.create_default_context()
    return _context


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds form only)."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if 0 <= seconds < 86400 else None


def http_get(
    url: str,
    headers: tuple[tuple[str, str], ...] = (),
    *,
    timeout: float = 3.0,
    max_bytes: int = MAX_BYTES,
) -> bytes:
    """GET ``url`` and return the body of a 200 response.

    ``timeout`` bounds the whole exchange (connect, send, every read), not
    each socket operation. Raises :class:`JwksFetchError` (``status`` set for
    HTTP answers) for anything but a complete 200 of at most ``max_bytes``;
    the message never contains the request headers (they carry the secret key).
    """
    import http.client
    import socket

    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme == "https":
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            host, parts.port, timeout=timeout, context=_tls_context()
        )
    elif parts.scheme == "http" and is_loopback_host(host):
        conn = http.client.HTTPConnection(host, parts.port, timeout=timeout)
    else:
        raise JwksFetchError("refusing a non-https JWKS URL")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    deadline = time.monotonic() + timeout

    def remaining() -> float:
        left = deadline - time.monotonic()
        if left <= 0:
            raise JwksFetchError(f"timed out after {timeout:g}s")
        return left

    try:
        conn.timeout = remaining()
        conn.connect()
        sock = conn.sock
        sock.settimeout(remaining())
        conn.putrequest("GET", path, skip_accept_encoding=True)
        conn.putheader("Accept", "application/json")
        conn.putheader("User-Agent", _USER_AGENT)
        for name, value in headers:
            conn.putheader(name, value)
        conn.endheaders()
        response = conn.getresponse()
        status = response.status
        if status != 200:
            hint = _retry_after(response.getheader("Retry-After"))
            if 300 <= status < 400:
                raise JwksFetchError(f"HTTP {status} redirect refused", hint, status=status)
            raise JwksFetchError(f"HTTP {status}", hint, status=status)
        length = response.getheader("Content-Length")
        if length is not None and length.isdigit() and int(length) > max_bytes:
            raise JwksFetchError(f"response larger than {max_bytes} bytes")
        body = bytearray()
        while not response.isclosed():
            sock.settimeout(remaining())
            chunk = response.read1(min(_CHUNK, max_bytes + 1 - len(body)))
            if not chunk:
                break
            body += chunk
            if len(body) > max_bytes:
                raise JwksFetchError(f"response larger than {max_bytes} bytes")
        return bytes(body)
    except JwksFetchError:
        raise
    except (socket.timeout, TimeoutError):
        raise JwksFetchError(f"timed out after {timeout:g}s") from None
    except http.client.IncompleteRead:
        raise JwksFetchError("truncated response") from None
    except (OSError, http.client.HTTPException) as exc:
        raise JwksFetchError(f"{type(exc).__name__} talking to {host}") from None
    finally:
        conn.close()
