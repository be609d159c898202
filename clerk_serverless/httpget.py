"""Bounded HTTP/1.1 requests, for JWKS documents and Clerk's Backend API.

Bounded in every direction an endpoint can misbehave: one total deadline for
the whole exchange, a response size cap, no redirects, HTTPS except on
loopback.

**Why a small HTTP/1.1 reader and not** :mod:`http.client`. A wall-time bound
must hold on *every* blocking call: name resolution, connect, the TLS
handshake, each send, and each receive of the status line, the headers, the
chunk framing and the body. :mod:`http.client` reads the status line and the
headers through a buffered file whose socket timeout applies per ``recv``, so
a server trickling one byte at a time holds a request for the timeout *per
byte*; bounding it would mean wrapping the socket and relying on which socket
methods :mod:`http.client` happens to call, which its documentation does not
promise. Here every blocking call goes through :class:`_Channel`, which sets
the socket timeout to the time left before each call; together with Python's
documented guarantees (``connect``, ``SSLSocket.do_handshake`` and each
``SSLSocket`` read or write treat the timeout as a total for the call, not
per byte), no step can outlast the deadline. It also keeps ``import
http.client`` (and the :mod:`email` package behind it, several ms) off a
Lambda's cold start.

What it speaks: one request per connection (``Connection: close``), responses
framed by ``Content-Length``, ``Transfer-Encoding: chunked`` or the end of the
connection (RFC 9112 §6.3), interim 1xx responses skipped, header and line
lengths capped, ``identity`` content only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .errors import JSON_ERRORS, JwksFetchError
from .urls import is_loopback_host, parse_url

if TYPE_CHECKING:  # socket and ssl load on the first fetch, not with the package
    import socket
    import ssl

__all__ = ["MAX_BYTES", "HttpResponse", "clerk_error_code", "http_get", "http_request", "retry_after_seconds"]

MAX_BYTES = 1024 * 1024
MAX_HEADER_BYTES = 64 * 1024  # status line and header section of one response
MAX_HEADERS = 100
MAX_LINE = 8 * 1024  # one status, header, chunk-size or trailer line
MAX_INTERIM = 8  # 1xx responses skipped before the final one
_CHUNK = 64 * 1024
_USER_AGENT = "clerk-serverless/0.1"
# RFC 9110 §5.6.2 tchar, and hex digits: checked with bytes.translate, not
# regular expressions (compiling them cost a cold start ~0.4 ms).
_TCHARS = b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_HEX_DIGITS = b"0123456789ABCDEFabcdef"
# Headers this module writes itself; a caller cannot override the framing.
_MANAGED = frozenset({"host", "content-length", "transfer-encoding", "connection", "te", "upgrade"})


class HttpResponse:
    """A complete HTTP response: any status, header names in lowercase
    (repeated headers joined with ``", "``), the whole body.

    A plain slotted class, not a ``NamedTuple``: nothing unpacks or compares
    it, and a ``NamedTuple`` costs a cold start ~100 µs to define."""

    __slots__ = ("status", "headers", "body")

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body


_context: ssl.SSLContext | None = None


def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context for the process: loading the CA bundle costs
    ~20 ms, too much to pay on every key refresh."""
    global _context
    if _context is None:
        import ssl

        _context = ssl.create_default_context()
    return _context


def retry_after_seconds(value: str | None) -> float | None:
    """The seconds of a ``Retry-After`` header value, or None when there are none.

    Delta-seconds only, as Clerk sends it and @clerk/backend reads it: an
    HTTP-date, a list (a repeated header joined with ``", "``), NaN or any
    other text is None, like a missing header. The number is not bounded
    here (it may be negative, huge or infinite): each caller applies its own
    bounds and default.
    """
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return None if seconds != seconds else seconds


class _Deadline:
    """The one wall-time budget of an exchange (monotonic clock)."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.at = time.monotonic() + timeout

    def left(self) -> float:
        """Seconds left; raises :class:`JwksFetchError` once none are."""
        left = self.at - time.monotonic()
        if left <= 0:
            raise JwksFetchError(f"timed out after {self.timeout:g}s")
        return left


class _Channel:
    """A connected socket whose every blocking call is bounded by the deadline,
    with a receive buffer for line and length reads."""

    def __init__(self, sock: socket.socket, deadline: _Deadline) -> None:
        self.sock = sock
        self.deadline = deadline
        self.buffer = bytearray()
        self.eof = False

    def send_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            self.sock.settimeout(self.deadline.left())
            sent = self.sock.send(view)
            view = view[sent:]

    def _fill(self) -> bool:
        """Receive once; False at the end of the stream."""
        if self.eof:
            return False
        self.sock.settimeout(self.deadline.left())
        data = self.sock.recv(_CHUNK)
        if not data:
            self.eof = True
            return False
        self.buffer += data
        return True

    def line(self, limit: int = MAX_LINE) -> bytes:
        """One line without its CRLF (a bare LF is accepted, RFC 9112 §2.2)."""
        searched = 0
        while True:
            end = self.buffer.find(b"\n", searched)
            if end >= 0:
                if end > limit:
                    raise JwksFetchError("malformed response: line too long")
                line = bytes(self.buffer[:end])
                del self.buffer[: end + 1]
                return line[:-1] if line.endswith(b"\r") else line
            if len(self.buffer) > limit:
                raise JwksFetchError("malformed response: line too long")
            searched = len(self.buffer)
            if not self._fill():
                raise JwksFetchError("truncated response")

    def exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            if not self._fill():
                raise JwksFetchError("truncated response")
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    def until_close(self, limit: int) -> bytes:
        while len(self.buffer) <= limit and self._fill():
            pass
        if len(self.buffer) > limit:
            raise JwksFetchError(f"response larger than {limit} bytes")
        return bytes(self.buffer)


def _resolve(host: bytes, port: int, deadline: _Deadline) -> list[Any]:
    """Addresses for ``host``. IP literals resolve in place; names resolve in
    a helper thread, so that a stuck resolver (``getaddrinfo`` takes no
    timeout) cannot hold the request past its deadline."""
    import socket
    import threading

    try:
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    except socket.gaierror:
        pass
    outcome: list[Any] = []

    def resolve() -> None:
        try:
            outcome.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except OSError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=resolve, name="clerk-serverless-resolve", daemon=True)
    thread.start()
    thread.join(deadline.left())
    if not outcome:
        deadline.left()  # raises when the budget is spent
        raise JwksFetchError(f"timed out after {deadline.timeout:g}s")
    if isinstance(outcome[0], OSError):
        raise outcome[0]
    addresses: list[Any] = outcome[0]
    return addresses


def _connect(host: str, port: int, tls: bool, deadline: _Deadline) -> socket.socket:
    import socket

    # The host as ASCII bytes (parse_url admits nothing else): given a str,
    # getaddrinfo and wrap_socket would encode it with the idna codec, whose
    # import (encodings.idna, stringprep, unicodedata: ~0.5-0.9 ms) a cold
    # start's first request would pay, for the same lowercase ASCII name.
    name = host.encode("ascii")
    addresses = _resolve(name, port, deadline)
    if not tls:  # plain http is for loopback only, whatever the name resolves to
        addresses = [a for a in addresses if is_loopback_host(str(a[4][0]))]
        if not addresses:
            raise JwksFetchError("refusing plain http to a non-loopback address")
    error: OSError | None = None
    for family, kind, proto, _, address in addresses:
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(deadline.left())
            sock.connect(address)
        except BaseException as exc:
            sock.close()
            if isinstance(exc, OSError):
                error = exc
                continue
            raise
        break
    else:
        raise error or JwksFetchError(f"no address for {host}")
    if not tls:
        return sock
    secure: ssl.SSLSocket | None = None
    try:
        secure = _tls_context().wrap_socket(sock, server_hostname=name, do_handshake_on_connect=False)
        secure.settimeout(deadline.left())
        secure.do_handshake()  # the timeout bounds the whole handshake (Python ≥ 3.5)
    except BaseException:
        (secure or sock).close()  # wrap_socket takes over the descriptor
        raise
    return secure


def _is_token(name: bytes) -> bool:
    """``name`` is a non-empty run of tchar (a header field name)."""
    return bool(name) and not name.translate(None, _TCHARS)


def _status_code(line: bytes) -> int | None:
    """The code of an ``HTTP/1.x NNN[ reason]`` status line, or None."""
    if (
        len(line) >= 12
        and line.startswith(b"HTTP/1.")
        and line[7:8].isdigit()
        and line[8:9] == b" "
        and line[9:12].isdigit()
        and (len(line) == 12 or (line[12:13] == b" " and b"\n" not in line))
    ):
        return int(line[9:12])
    return None


def _head(channel: _Channel) -> tuple[int, dict[str, str]]:
    """One status line and header section."""
    line = channel.line()
    status = _status_code(line)
    if status is None:
        raise JwksFetchError("malformed response: bad status line")
    if status < 100:
        raise JwksFetchError("malformed response: bad status code")
    headers: dict[str, str] = {}
    size, count, last = len(line), 0, ""
    while True:
        line = channel.line()
        size += len(line) + 2
        if size > MAX_HEADER_BYTES:
            raise JwksFetchError("malformed response: header section too large")
        if not line:
            return status, headers
        if line[:1] in (b" ", b"\t"):  # obs-fold: continues the previous field (RFC 9112 §5.2)
            if not last:
                raise JwksFetchError("malformed response: bad header line")
            headers[last] += " " + line.strip(b" \t").decode("latin-1")
            continue
        name, colon, value = line.partition(b":")
        if not colon or not _is_token(name):
            raise JwksFetchError("malformed response: bad header line")
        count += 1
        if count > MAX_HEADERS:
            raise JwksFetchError("malformed response: too many headers")
        last = name.decode("ascii").lower()
        text = value.strip(b" \t").decode("latin-1")
        headers[last] = f"{headers[last]}, {text}" if last in headers else text


def _chunked(channel: _Channel, max_bytes: int) -> bytes:
    body = bytearray()
    while True:
        size_field = channel.line().split(b";", 1)[0].strip(b" \t")
        if not 1 <= len(size_field) <= 16 or size_field.translate(None, _HEX_DIGITS):
            raise JwksFetchError("malformed response: bad chunk size")
        size = int(size_field, 16)
        if size == 0:
            break
        if len(body) + size > max_bytes:
            raise JwksFetchError(f"response larger than {max_bytes} bytes")
        body += channel.exactly(size)
        if channel.line(limit=2):
            raise JwksFetchError("malformed response: bad chunk end")
    for _ in range(MAX_HEADERS + 1):  # trailer section, read and ignored
        if not channel.line():
            return bytes(body)
    raise JwksFetchError("malformed response: too many trailers")


def _body(channel: _Channel, method: str, status: int, headers: dict[str, str], max_bytes: int) -> bytes:
    """The response content, framed as RFC 9112 §6.3 says."""
    if method == "HEAD" or status in (204, 304):
        return b""
    coding = headers.get("transfer-encoding")
    if coding is not None:  # takes precedence over Content-Length
        codings = [c.strip().lower() for c in coding.split(",") if c.strip()]
        if codings != ["chunked"]:
            raise JwksFetchError("unsupported transfer coding")
        return _chunked(channel, max_bytes)
    length = headers.get("content-length")
    if length is not None:
        values = {v.strip() for v in length.split(",")}
        value = values.pop() if len(values) == 1 else ""
        if not (value.isascii() and value.isdigit() and len(value) <= 18):
            raise JwksFetchError("malformed response: bad Content-Length")
        if int(value) > max_bytes:
            raise JwksFetchError(f"response larger than {max_bytes} bytes")
        return channel.exactly(int(value))
    return channel.until_close(max_bytes)


def _request_head(
    method: str, target: str, host_header: str, headers: Iterable[tuple[str, str]], body: bytes | None
) -> bytes:
    own = {"accept": "application/json", "accept-encoding": "identity", "user-agent": _USER_AGENT}
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host_header}"]
    for name, value in headers:
        if not isinstance(name, str) or not _is_token(name.encode("latin-1", "replace")):
            raise JwksFetchError("invalid request header name")
        if name.lower() in _MANAGED:
            raise JwksFetchError(f"request header {name!r} is set by http_request")
        if not isinstance(value, str) or any(c in value for c in "\r\n\0") or not value.isascii():
            raise JwksFetchError(f"invalid value for request header {name!r}")
        own.pop(name.lower(), None)
        lines.append(f"{name}: {value}")
    lines.extend(f"{name.title()}: {value}" for name, value in own.items())
    if body is not None or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body or b'')}")
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


def _exchange(
    method: str,
    url: str,
    headers: Iterable[tuple[str, str]],
    body: bytes | None,
    timeout: float,
    max_bytes: int,
    read_body: Callable[[int], bool],
) -> HttpResponse:
    deadline = _Deadline(timeout)
    if not isinstance(method, str) or not (method.isascii() and method.isalpha() and method.isupper()):  # [A-Z]+
        raise JwksFetchError("invalid request method")
    parts = parse_url(url)
    if parts is None:
        raise JwksFetchError("invalid URL")
    host = parts.host
    if parts.scheme == "https":
        tls = True
    elif is_loopback_host(host):
        tls = False
    else:
        raise JwksFetchError("refusing a non-https URL")
    target = parts.target if parts.target.startswith("/") else "/" + parts.target
    port = parts.port or parts.default_port
    authority = f"[{host}]" if ":" in host else host
    if port != (443 if tls else 80):
        authority += f":{port}"
    payload = _request_head(method, target, authority, headers, body) + (body or b"")

    sock: socket.socket | None = None
    try:
        sock = _connect(host, port, tls, deadline)
        channel = _Channel(sock, deadline)
        channel.send_all(payload)
        for _ in range(MAX_INTERIM + 1):
            status, response_headers = _head(channel)
            if status >= 200:
                break
            if status == 101:
                raise JwksFetchError("malformed response: unexpected 101")
        else:
            raise JwksFetchError("malformed response: too many interim responses")
        content = _body(channel, method, status, response_headers, max_bytes) if read_body(status) else b""
        return HttpResponse(status, response_headers, content)
    except JwksFetchError:
        raise
    except TimeoutError:
        raise JwksFetchError(f"timed out after {timeout:g}s") from None
    except OSError as exc:
        raise JwksFetchError(f"{type(exc).__name__} talking to {host}") from None
    except (ValueError, UnicodeError):
        raise JwksFetchError("malformed response") from None
    finally:
        if sock is not None:
            sock.close()


def http_request(
    method: str,
    url: str,
    headers: Iterable[tuple[str, str]] = (),
    body: bytes | None = None,
    *,
    timeout: float = 3.0,
    max_bytes: int = MAX_BYTES,
) -> HttpResponse:
    """Send one HTTP request and return the response, whatever its status.

    ``timeout`` bounds the whole exchange — name resolution, connect, TLS
    handshake, sending, and every read of the status line, headers, chunk
    framing and body — not each socket operation. Redirects are returned as
    they are, never followed. ``https://`` only, except ``http://`` to a
    loopback host. ``body`` is sent with its ``Content-Length``; pass its
    ``Content-Type`` in ``headers``. ``Accept: application/json`` unless
    ``headers`` say otherwise.

    Raises :class:`JwksFetchError` (``status`` None) when no complete response
    of at most ``max_bytes`` arrives in time: network failure, timeout,
    malformed or oversized answer, refused URL. Its message never contains the
    request headers or body (they carry the secret key and tokens).
    """
    return _exchange(method, url, headers, body, timeout, max_bytes, lambda status: True)


def http_get(
    url: str,
    headers: Iterable[tuple[str, str]] = (),
    *,
    timeout: float = 3.0,
    max_bytes: int = MAX_BYTES,
) -> bytes:
    """GET ``url`` and return the body of a 200 response.

    Bounded as :func:`http_request`. Raises :class:`JwksFetchError` for
    anything but a complete 200 of at most ``max_bytes``; for an HTTP answer
    ``status`` is set and ``retry_after`` holds its ``Retry-After`` seconds.
    """
    # A 200's body, and a 401's (Clerk's error code says whether our secret key was refused).
    response = _exchange("GET", url, headers, None, timeout, max_bytes, lambda status: status in (200, 401))
    status = response.status
    if status != 200:
        seconds = retry_after_seconds(response.headers.get("retry-after"))
        hint = seconds if seconds is not None and 0 <= seconds < 86400 else None  # a day or more: no hint
        if 300 <= status < 400:
            raise JwksFetchError(f"HTTP {status} redirect refused", hint, status=status)
        raise JwksFetchError(f"HTTP {status}", hint, status=status, code=clerk_error_code(response.body))
    return response.body


def clerk_error_code(body: bytes) -> str | None:
    """The first ``errors[].code`` of a Clerk error answer, or None."""
    if not body.startswith(b"{") or len(body) > 64 * 1024:
        return None
    import json

    try:
        errors = json.loads(body).get("errors")
        code = errors[0].get("code") if isinstance(errors, list) and errors and isinstance(errors[0], dict) else None
    except (*JSON_ERRORS, AttributeError):
        return None
    return code if isinstance(code, str) and len(code) <= 64 and code.isprintable() else None
