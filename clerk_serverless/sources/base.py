"""The request view every event source produces, and what they share.

Adapters (one module per event source) turn a Lambda event into a
:class:`Request` and render an answer back in that source's own proxy
format. Everything after them is shape-agnostic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from ..errors import MalformedEventError

#: The method a WebSocket handshake is checked as: not a safe method, so the
#: cookie-write origin rule applies to it (cross-site WebSocket hijacking).
WEBSOCKET = "WEBSOCKET"


def parse_cookies(lines: Iterable[str]) -> dict[str, str]:
    """Cookie header lines (or v2 ``cookies[]`` items) → ``{name: value}``.

    Tolerant by design: one malformed pair (no ``=``, stray quote, bad byte)
    is skipped without hiding its neighbours, unlike ``http.cookies.SimpleCookie``
    which drops the whole header. As the ``cookie`` package (1.x) that
    @clerk/backend reads cookies with: the first occurrence of a name wins;
    names and values are trimmed of spaces and tabs only; double quotes stay
    part of the value (``__session="…"`` is no token); values are
    percent-decoded (after splitting, so an encoded ``;`` never splits a pair;
    a malformed sequence leaves the value as it was).
    """
    cookies: dict[str, str] = {}
    for line in lines:
        for pair in line.split(";"):
            name, sep, value = pair.partition("=")
            if not sep:
                continue
            name = name.strip(" \t")
            if not name or name in cookies:
                continue
            value = value.strip(" \t")
            cookies[name] = _percent_decoded(value) if "%" in value else value
    return cookies


def _percent_decoded(value: str) -> str:
    """``decodeURIComponent(value)``, or ``value`` itself where that throws
    (a ``%`` not followed by two hex digits, or bytes that are not UTF-8)."""
    out = bytearray()
    i, n = 0, len(value)
    while i < n:
        c = value[i]
        if c == "%":
            pair = value[i + 1 : i + 3]
            if len(pair) != 2 or not all(h in "0123456789abcdefABCDEF" for h in pair):
                return value
            out.append(int(pair, 16))
            i += 3
        else:
            out += c.encode("utf-8", "surrogatepass")
            i += 1
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        return value


def _str_dict(event: Mapping[str, Any], field: str) -> dict[str, Any] | None:
    value = event.get(field)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise MalformedEventError(f"{field} must be an object")
    return value


class Source(Protocol):
    """What every event-source adapter provides (one module per source)."""

    name: str
    adds_cors: bool  # True when its gateway adds no CORS headers to proxy answers

    def read(self, event: dict[str, Any]) -> Request:
        """The request view of ``event`` (raises ``MalformedEventError``)."""

    def render(self, event: dict[str, Any], status: int, headers: dict[str, str], body: str) -> dict[str, Any]:
        """An answer in the source's own proxy format."""

    def answers_multi_value(self, event: dict[str, Any]) -> bool:
        """True when answers must carry ``multiValueHeaders`` only."""

    def source_ip(self, request: Request) -> str | None:
        """The client address the source vouches for."""

    def path(self, request: Request) -> str | None:
        """The request path."""


class Request:
    """A read-only view of one HTTP request, whatever event carried it.

    Header names are matched case-insensitively (pass them lowercase);
    values of the wrong type make the event malformed (400), ``None`` values
    count as absent.
    """

    __slots__ = ("source", "event", "method", "has_query", "_headers", "_cookie_items", "_query", "_cookies")

    # What a request of single-valued fields (HTTP APIs, Function URLs) never
    # has; :class:`MultiValueRequest` sets them. Class attributes, so that the
    # commonest request is built with a few stores only.
    multi_valued: bool = False
    _multi: dict[str, Any] | None = None
    _mquery: dict[str, Any] | None = None
    _decode_query: Callable[[str], str] | None = None

    def __init__(
        self,
        source: Source,
        event: dict[str, Any],
        method: str,
        headers: dict[str, Any] | None,
        cookie_items: list[Any] | None = None,
        query: dict[str, Any] | None = None,
    ) -> None:
        self.source = source
        self.event = event
        self.method = method
        self._headers = headers
        self._cookie_items = cookie_items
        self._query = query
        self.has_query = bool(query)  # any query parameter at all
        self._cookies: dict[str, str] | None = None

    # -- headers -------------------------------------------------------------

    @staticmethod
    def _lookup(mapping: dict[str, Any], name: str) -> Any:
        value = mapping.get(name)
        if value is None:
            value = mapping.get(name.title())
            if value is None:
                for key, candidate in mapping.items():
                    if isinstance(key, str) and key.lower() == name:
                        return candidate
        return value

    def _single(self, name: str) -> str | None:
        headers = self._headers
        value = self._lookup(headers, name) if headers else None
        if value is not None and not isinstance(value, str):
            raise MalformedEventError("header values must be strings")
        return value

    def header_values(self, name: str) -> list[str]:
        """Every value of header ``name`` (lowercase), in order."""
        multi = self._multi
        if multi:
            values = self._lookup(multi, name)
            if values is not None:
                if type(values) is list and len(values) == 1 and type(values[0]) is str:
                    return values  # the usual case: sent once, without all()'s generator
                if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                    raise MalformedEventError("multiValueHeaders values must be lists of strings")
                return values
        value = self._single(name)
        return [] if value is None else [value]

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (lowercase), or None: a repeated
        header's values joined with commas, as fetch's ``Headers.get`` (what
        @clerk/backend reads) gives them — ``", "`` where the source keeps
        the lines apart (:class:`MultiValueRequest`), ``","`` as HTTP APIs,
        Function URLs and VPC Lattice v1 join them. Where the source keeps
        only the last line (REST without ``multiValueHeaders``, an ALB in
        single-value mode), that line."""
        headers = self._headers
        if headers:
            value = headers.get(name)
            if type(value) is str:  # the usual case: spelt as asked, a string
                return value
        return self._single(name)

    # -- cookies and query ---------------------------------------------------

    def cookies(self) -> dict[str, str]:
        """All cookies of the request, parsed tolerantly (see :func:`parse_cookies`)."""
        cookies = self._cookies
        if cookies is None:
            items = self._cookie_items
            if items is not None:
                if not all(isinstance(c, str) for c in items):
                    raise MalformedEventError("cookies must be a list of strings")
                lines: list[str] = list(items) + self.header_values("cookie")
            else:
                lines = self.header_values("cookie")
            cookies = self._cookies = parse_cookies(lines) if lines else {}
        return cookies

    def query(self, name: str) -> str | None:
        """The first value of query parameter ``name``, or None."""
        mquery = self._mquery
        value: Any = None
        if mquery:
            values = mquery.get(name)
            if values is not None:
                if not isinstance(values, list) or not values or not isinstance(values[0], str):
                    raise MalformedEventError("multiValueQueryStringParameters must hold lists of strings")
                value = values[0]
        if value is None and self._query:
            value = self._query.get(name)
            if value is not None and not isinstance(value, str):
                raise MalformedEventError("queryStringParameters values must be strings")
        if value is not None and self._decode_query is not None:
            value = self._decode_query(value)
        return value if isinstance(value, str) else None

    def query_values(self, name: str) -> list[str]:
        """Every value of query parameter ``name``, in order: a repeated
        parameter's from the multi-value field (REST v1, ALB multi-value,
        VPC Lattice, ASGI), else the one value there is (HTTP APIs and Function
        URLs join a repeated parameter's values with commas into it)."""
        mquery = self._mquery
        if mquery:
            values = mquery.get(name)
            if values is not None:
                if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
                    raise MalformedEventError("multiValueQueryStringParameters must hold lists of strings")
                decode = self._decode_query
                return [decode(v) for v in values] if decode is not None else list(values)
        if not self._query:
            return []  # no query string at all: the usual case
        value = self.query(name)
        return [] if value is None else [value]

    # -- for CORS, logs and audit --------------------------------------------

    def all_header_values(self, name: str) -> list[str]:
        """Every value of header ``name`` (lowercase) under any spelling of
        its name, single- and multi-value fields alike: for checks that must
        not be fooled by a duplicate (``Origin: good`` beside ``origin: evil``)."""
        values: list[str] = []
        for mapping in (self._headers, self._multi):
            if not mapping:
                continue
            for key, value in mapping.items():
                if not isinstance(key, str) or key.lower() != name:
                    continue
                if isinstance(value, str):
                    values.append(value)
                elif isinstance(value, list):
                    values.extend(v for v in value if isinstance(v, str))
        return values

    @property
    def origins(self) -> frozenset[str]:
        """Every distinct ``Origin`` the request carries (a browser sends one;
        duplicates, or comma-joined values, come from elsewhere)."""
        return frozenset(o.strip() for v in self.all_header_values("origin") for o in v.split(","))

    @property
    def origin(self) -> str | None:
        """The ``Origin`` header, or None when absent or ambiguous (sent more
        than once, even twice the same: a list of origins is no origin)."""
        origin = self.header("origin")
        if origin is not None and ("," in origin or len(self.origins) > 1):
            return None
        return origin

    @property
    def user_agent(self) -> str | None:
        """The ``User-Agent`` header."""
        return self.header("user-agent")

    @property
    def source_ip(self) -> str | None:
        """The client address as the event source reports it."""
        return self.source.source_ip(self)

    @property
    def path(self) -> str | None:
        """The request path."""
        return self.source.path(self)

    def body(self) -> bytes:
        """The request body as the exact bytes sent (see :func:`body_bytes`)."""
        return body_bytes(self.event)


class MultiValueRequest(Request):
    """A request whose headers and query parameters may repeat (REST API v1,
    ALB, VPC Lattice, ASGI): ``multi`` and ``mquery`` map names to lists of
    values; ``decode_query`` decodes query values where the source leaves
    them percent-encoded (ALB)."""

    __slots__ = ("multi_valued", "_multi", "_mquery", "_decode_query")

    def __init__(
        self,
        source: Source,
        event: dict[str, Any],
        method: str,
        headers: dict[str, Any] | None,
        multi: dict[str, Any] | None,
        query: dict[str, Any] | None = None,
        mquery: dict[str, Any] | None = None,
        decode_query: Callable[[str], str] | None = None,
    ) -> None:
        Request.__init__(self, source, event, method, headers, None, query)
        self._multi = multi
        self.multi_valued = bool(multi)  # headers may repeat (REST v1, ALB multi-value)
        self._mquery = mquery
        self.has_query = bool(query or mquery)
        self._decode_query = decode_query

    def header(self, name: str) -> str | None:
        """:meth:`Request.header`: every line of a repeated header, joined
        with ``", "`` as fetch's ``Headers.get`` joins them (never only the
        first or the last: one reading on every source)."""
        values = self.header_values(name)
        if not values:
            return None
        return values[0] if len(values) == 1 else ", ".join(values)


def read_proxy_v1(source: Source, event: dict[str, Any], decode_query: Callable[[str], str] | None = None) -> Request:
    """The payload 1.0 layout REST APIs and ALBs share: ``httpMethod``, single-
    and multi-value headers and query parameters."""
    return MultiValueRequest(
        source,
        event,
        method_of(event.get("httpMethod")),
        _str_dict(event, "headers"),
        _str_dict(event, "multiValueHeaders"),
        _str_dict(event, "queryStringParameters"),
        _str_dict(event, "multiValueQueryStringParameters"),
        decode_query,
    )


def body_bytes(event: Mapping[str, Any]) -> bytes:
    """The body of a proxy event, as the bytes the client sent: ``body``
    decoded from base64 when ``isBase64Encoded`` (VPC Lattice v1:
    ``is_base64_encoded``) is true, else its text as UTF-8 (a lone surrogate,
    which no sender's UTF-8 can carry, as U+FFFD). No body is ``b""``; a body
    that is not a string, a flag that is not a boolean, or base64 that is not
    strict standard base64 make the event malformed."""
    body = event.get("body")
    flag = event.get("isBase64Encoded", event.get("is_base64_encoded"))
    if flag is not None and not isinstance(flag, bool):
        raise MalformedEventError("isBase64Encoded must be a boolean")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise MalformedEventError("body must be a string")
    if flag:
        import binascii

        try:
            return binascii.a2b_base64(body, strict_mode=True)
        except (binascii.Error, ValueError):  # ValueError: a non-ASCII character
            raise MalformedEventError("body is not valid base64") from None
    return utf8_bytes(body)


def utf8_bytes(text: str) -> bytes:
    """``text`` as UTF-8, as JavaScript's ``TextEncoder`` writes it: a lone
    surrogate, which no UTF-8 can carry, as U+FFFD."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in text).encode("utf-8")


def appended_forwarded_for(request: Request) -> str | None:
    """The address the load balancer appended to ``X-Forwarded-For``: the
    rightmost entry of its last line (everything left of it was written by
    the client, and proves nothing)."""
    lines = request.header_values("x-forwarded-for")
    return (lines[-1].rsplit(",", 1)[-1].strip() or None) if lines else None


def status_line(status: int) -> str:
    """``"401 Unauthorized"``, as ALB wants in ``statusDescription``."""
    from http import HTTPStatus

    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def context_dict(event: Mapping[str, Any]) -> dict[str, Any]:
    """``requestContext`` as a dict ({} when absent); malformed when not an object."""
    ctx = event.get("requestContext")
    if ctx is None:
        return {}
    if not isinstance(ctx, dict):
        raise MalformedEventError("requestContext must be an object")
    return ctx


def method_of(value: Any) -> str:
    """The HTTP method as sent ("" when absent). Methods are case-sensitive
    (RFC 9110 §9.1): ``options`` is no preflight, ``get`` no safe method."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise MalformedEventError("the HTTP method must be a string")
    return value


__all__ = [
    "WEBSOCKET", "MultiValueRequest", "Request", "Source", "appended_forwarded_for", "body_bytes", "parse_cookies",
    "read_proxy_v1", "utf8_bytes",
    "status_line", "context_dict", "method_of",
]
