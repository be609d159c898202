"""Clerk webhooks: ``verify_webhook`` and ``require_webhook`` (@clerk/backend's
``verifyWebhook``, for Lambda events).

Clerk sends webhooks through Svix, signed as Standard Webhooks specifies:
``svix-signature`` holds one or more space-separated ``v1,<base64>``
signatures, each the HMAC-SHA256 of ``{svix-id}.{svix-timestamp}.{body}``
under the endpoint's signing secret (``whsec_…``, from the Clerk Dashboard;
``CLERK_WEBHOOK_SIGNING_SECRET``). The verdicts are @clerk/backend's (3.x,
through the ``standardwebhooks`` package): header values trimmed; the
timestamp read as JavaScript's ``parseInt`` reads it, and within 5 minutes
of the clock either way; ``whsec_`` optional on the secret; signatures
compared in constant time over the body's exact bytes (less a leading
byte-order mark, which fetch's ``text()`` drops); the body parsed as JSON
once one matches.

>>> from clerk_serverless.webhooks import require_webhook
>>> @require_webhook
... def handler(event, context):
...     hook = event["webhook"]             # WebhookEvent: type, data, id, …
...     return {"statusCode": 204}

Deliberately stricter than @clerk/backend, on what only the secret's holder
could sign: a body that is not UTF-8 (JavaScript would verify its text with
U+FFFD in place of the bad bytes), a payload that is not a JSON object with a
string ``type``, and numbers Python's ``json`` refuses (``NaN``, integers of
over 4 300 digits). Not imported by ``import clerk_serverless``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import os
import time
from collections.abc import Callable, Mapping
from typing import Any, overload

from .authorization import JS_WHITESPACE  # what @clerk/backend trims each header of (String.prototype.trim)
from .config import misplaced
from .errors import (
    JSON_ERRORS,
    ClerkConfigError,
    EventError,
    WebhookHeadersMissingError,
    WebhookPayloadInvalidError,
    WebhookSignatureMismatchError,
    WebhookTimestampInvalidError,
    WebhookTimestampTooNewError,
    WebhookTimestampTooOldError,
    WebhookVerificationError,
)
from .handler import P, R, answer_event_error, handler_decorator, settled
from .sources import Request, plain_event, read_request
from .sources.base import utf8_bytes

#: The environment variable the signing secret falls back to (Clerk's name).
SIGNING_SECRET_ENV = "CLERK_WEBHOOK_SIGNING_SECRET"
#: How far ``svix-timestamp`` may be from the clock, either way (standardwebhooks').
TOLERANCE_SECONDS = 5 * 60
#: The signed request's headers, in the order a missing one is named (Svix's names, not ``webhook-*``).
SIGNATURE_HEADERS = ("svix-id", "svix-timestamp", "svix-signature")

# What fetch strips from each header line it is given (HTTP whitespace).
_HTTP_WHITESPACE = "\t\n\r "
_BASE64 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
_BOM = b"\xef\xbb\xbf"
_SECRET_PROBLEM = "is not a webhook signing secret (whsec_…, from the webhook endpoint's page in the Clerk Dashboard)"


class WebhookEvent:
    """A verified Clerk webhook: what @clerk/backend's ``verifyWebhook``
    returns (``type``, ``object``, ``data``, ``event_attributes``; with the
    payload's ``timestamp`` and ``instance_id``, :meth:`to_dict`), and:

    Attributes:
        type: the event type, e.g. ``"user.created"``.
        data: the event's ``data`` (the user, session, organization… as JSON), or None.
        object: always ``"event"``.
        event_attributes: the payload's ``event_attributes`` (``http_request``:
            ``client_ip``, ``user_agent``), or None.
        id: the ``svix-id`` header: the message's ID, the same on each retry
            of one delivery — deduplicate on it.
        timestamp: the ``svix-timestamp`` it was signed with (seconds since the epoch).
        payload: the whole JSON object as sent (``instance_id``, ``timestamp`` in ms, …).
    """

    __slots__ = ("type", "data", "object", "event_attributes", "id", "timestamp", "payload")

    def __init__(self, payload: dict[str, Any], msg_id: str, timestamp: int) -> None:
        self.type: str = payload["type"]
        self.data: Any = payload.get("data")
        self.object = "event"
        self.event_attributes: Any = payload.get("event_attributes")
        self.id = msg_id
        self.timestamp = timestamp
        self.payload = payload

    def to_dict(self) -> dict[str, Any]:
        """``{"type", "object", "data", "event_attributes", "timestamp",
        "instance_id"}``: the object @clerk/backend's ``verifyWebhook``
        resolves to (``timestamp``, in ms, and ``instance_id`` are the
        payload's; None where it has none)."""
        payload = self.payload
        return {
            "type": self.type, "object": self.object, "data": self.data, "event_attributes": self.event_attributes,
            "timestamp": payload.get("timestamp"), "instance_id": payload.get("instance_id"),
        }

    def __repr__(self) -> str:  # never the data: it holds e-mail addresses, names, …
        return f"WebhookEvent(type={self.type!r}, id={self.id!r})"


def signing_key(secret: object, setting: str = "signing_secret") -> bytes:
    """The HMAC key of a signing secret: ``whsec_`` (optional, as in
    standardwebhooks) then base64 (padding optional). Surrounding whitespace
    is stripped; anything else raises :class:`ClerkConfigError` naming
    ``setting``, without echoing the secret."""
    if not isinstance(secret, str):
        raise ClerkConfigError(setting, f"must be a string, not {type(secret).__name__}")
    text = secret.strip()
    if not text:
        raise ClerkConfigError(setting, "is empty")
    encoded = text.removeprefix("whsec_")
    if not encoded:
        raise ClerkConfigError(setting, "has nothing after its prefix")
    data = encoded.rstrip("=")
    padding = len(encoded) - len(data)
    if (
        len(encoded) < 4  # standardwebhooks' decoder refuses these too
        or padding > 2
        or (padding and len(encoded) % 4)
        or len(data) % 4 == 1
        or not _BASE64.issuperset(data)
    ):
        raise ClerkConfigError(setting, _SECRET_PROBLEM + misplaced(secret, setting))
    return binascii.a2b_base64(data + "=" * (-len(data) % 4))


_env_key: tuple[str, bytes] | None = None


def _key_from_env() -> bytes:
    """The key of ``CLERK_WEBHOOK_SIGNING_SECRET``, read on each call (parsed
    once per value): unset or blank raises :class:`ClerkConfigError`."""
    global _env_key
    raw = os.environ.get(SIGNING_SECRET_ENV)
    if raw is None or not raw.strip():
        raise ClerkConfigError(SIGNING_SECRET_ENV, "is not set (the webhook endpoint's signing secret, whsec_…)")
    cached = _env_key
    if cached is not None and cached[0] == raw:  # our own setting: no caller controls either side
        return cached[1]
    key = signing_key(raw, SIGNING_SECRET_ENV)
    _env_key = (raw, key)
    return key


def _joined(values: list[str]) -> str | None:
    """Header lines as fetch's ``Headers.get`` reads them: each stripped of
    leading and trailing HTTP whitespace (``append`` does it), then joined
    with ``", "``; None for none."""
    if not values:
        return None
    if len(values) == 1:
        return values[0]  # one line: _verify trims it of more than this
    return ", ".join(v.strip(_HTTP_WHITESPACE) for v in values)


def _header(headers: Mapping[str, Any], name: str) -> str | None:
    """Every value of ``name`` (any case; a string or a list of strings),
    joined as fetch's ``Headers.get`` joins repeated headers."""
    values: list[str] = []
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == name:
            if isinstance(value, str):
                values.append(value)
            elif isinstance(value, (list, tuple)):
                values.extend(v for v in value if isinstance(v, str))
    return _joined(values)


def _timestamp(text: str, now: int) -> int:
    """``parseInt(text, 10)``, held to the tolerance (standardwebhooks' rules):
    an optional sign, then the leading digits; what follows is ignored."""
    negative = text[0] == "-"
    start = 1 if text[0] in "+-" else 0
    end = start
    while end < len(text) and "0" <= text[end] <= "9":
        end += 1
    if end == start:
        raise WebhookTimestampInvalidError()
    digits = text[start:end].lstrip("0") or "0"
    value: float = int(digits) if len(digits) <= 30 else math.inf  # JavaScript's float: Infinity, past 1e308
    value = -value if negative else value
    if now - value > TOLERANCE_SECONDS:
        raise WebhookTimestampTooOldError()
    if value > now + TOLERANCE_SECONDS:
        raise WebhookTimestampTooNewError()
    return int(value)


def _verify(key: bytes, found: list[str | None], body: bytes, clock: Callable[[], float]) -> WebhookEvent:
    """The checks, in standardwebhooks' order, on the three headers' values
    (``found``, None when absent) and the body's bytes."""
    msg_id, stamp, signatures = (v.strip(JS_WHITESPACE) if v is not None else "" for v in found)
    missing = tuple(name for name, v in zip(SIGNATURE_HEADERS, (msg_id, stamp, signatures), strict=True) if not v)
    if missing:
        raise WebhookHeadersMissingError(missing)
    timestamp = _timestamp(stamp, math.floor(clock()))
    # The signed content is the body's text: fetch's text() drops a leading BOM.
    content = body[3:] if body.startswith(_BOM) else body
    signed = b"%s.%d.%s" % (utf8_bytes(msg_id), timestamp, content)
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest())
    matched = False
    for entry in signatures.split(" "):
        version, _, rest = entry.partition(",")
        if version == "v1":
            candidate = rest.partition(",")[0].encode("utf-8", "surrogatepass")
            matched |= hmac.compare_digest(candidate, expected)  # every entry compared: no early exit
    if not matched:
        raise WebhookSignatureMismatchError()
    try:
        payload = json.loads(content.decode("utf-8"), parse_constant=_no_constant)
    except JSON_ERRORS:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise WebhookPayloadInvalidError() from None
    if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
        raise WebhookPayloadInvalidError()
    return WebhookEvent(payload, msg_id, timestamp)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _key(signing_secret: str | None) -> bytes:
    return _key_from_env() if signing_secret is None else signing_key(signing_secret)


def verify_webhook_payload(
    body: bytes | str,
    headers: Mapping[str, Any],
    signing_secret: str | None = None,
    *,
    clock: Callable[[], float] | None = None,
) -> WebhookEvent:
    """Verify a Clerk webhook from its raw ``body`` (the exact bytes, or
    text: encoded as UTF-8) and its ``headers`` (any case; values strings or
    lists of strings). For a request outside a Lambda event — a Starlette
    ``await request.body()`` and ``request.headers`` under uvicorn.

    Args:
        body: the request body as received, before any parsing.
        headers: the request headers (``svix-id``, ``svix-timestamp``, ``svix-signature``).
        signing_secret: ``whsec_…``; default ``CLERK_WEBHOOK_SIGNING_SECRET``.
        clock: the wall clock in seconds (default ``time.time``), for tests.

    Raises:
        WebhookVerificationError: a subclass per failure (see :func:`verify_webhook`).
        ClerkConfigError: the signing secret is missing or malformed.
    """
    key = _key(signing_secret)
    raw = body if isinstance(body, bytes) else utf8_bytes(body)
    found = [_header(headers, name) for name in SIGNATURE_HEADERS]
    return _verify(key, found, raw, clock or time.time)


def _verify_request(request: Request, key: bytes, clock: Callable[[], float]) -> WebhookEvent:
    found = [_joined(request.header_values(name)) for name in SIGNATURE_HEADERS]
    return _verify(key, found, request.body(), clock)


def verify_webhook(
    event: Any, signing_secret: str | None = None, *, clock: Callable[[], float] | None = None
) -> WebhookEvent:
    """Verify the Clerk webhook a Lambda event carries — from an HTTP API,
    a REST API, an ALB (either mode), a Function URL or VPC Lattice — and
    return it. The body is read as the exact bytes sent (``isBase64Encoded``
    decoded), the headers in any case and any multi-value form.

    Args:
        event: the Lambda event.
        signing_secret: ``whsec_…``; default ``CLERK_WEBHOOK_SIGNING_SECRET``
            (an argument always beats the variable).
        clock: the wall clock in seconds (default ``time.time``), for tests.

    Raises:
        WebhookHeadersMissingError: ``svix-id``, ``svix-timestamp`` or ``svix-signature`` absent or blank.
        WebhookTimestampInvalidError: ``svix-timestamp`` is not a number.
        WebhookTimestampTooOldError: it is over 5 minutes old.
        WebhookTimestampTooNewError: it is over 5 minutes ahead.
        WebhookSignatureMismatchError: no signature matches (tampered, or another secret).
        WebhookPayloadInvalidError: the body is not a UTF-8 JSON object with a string ``type``.
        EventError: not an HTTP event, or a broken one (its body not base64, …).
        ClerkConfigError: the signing secret is missing or malformed.
    """
    key = _key(signing_secret)
    return _verify_request(read_request(event), key, clock or time.time)


def _refusal(request: Request, event: dict[str, Any], error: WebhookVerificationError) -> dict[str, Any]:
    from .logs import WARNING, log

    log("clerk_serverless", WARNING, "clerk_serverless: 400 %s: %s", error.reason, error.message)
    headers = {"Content-Type": "application/json", "Cache-Control": "no-store", "x-clerk-webhook-reason": error.reason}
    body = json.dumps({"error": "bad_request", "reason": error.reason, "message": error.message})
    return request.source.render(event, error.status, headers, body)


@overload
def require_webhook(handler: Callable[P, R], /) -> Callable[P, R]: ...
@overload
def require_webhook(
    handler: None = None, /, *, signing_secret: str | None = None, clock: Callable[[], float] | None = None
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...
def require_webhook(
    handler: Callable[..., Any] | None = None,
    /,
    *,
    signing_secret: str | None = None,
    clock: Callable[[], float] | None = None,
) -> Any:
    """Run the handler only for a Clerk webhook that verifies, found in
    ``event["webhook"]`` (a :class:`WebhookEvent`); anything else is answered
    400 in the event's own format (``x-clerk-webhook-reason``, a JSON body
    ``{"error", "reason", "message"}``) without running the handler.

    Args:
        handler: the ``(event, context)`` handler (bare ``@require_webhook``).
        signing_secret: ``whsec_…``, checked now (:class:`ClerkConfigError`
            naming ``signing_secret``). Default: ``CLERK_WEBHOOK_SIGNING_SECRET``,
            read on each request, a missing or malformed one raising
            :class:`ClerkConfigError` from the handler (a 5xx: Svix retries
            until it is fixed).
        clock: the wall clock in seconds (default ``time.time``), for tests.
    """
    def prepare() -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        key = None if signing_secret is None else signing_key(signing_secret)
        now = clock or time.time
        return lambda fn: _receiver(fn, key, now)

    return handler_decorator("require_webhook", handler, prepare)


def _receiver(handler: Callable[..., Any], key: bytes | None, clock: Callable[[], float]) -> Callable[..., Any]:
    """``require_webhook``'s wrapper of ``handler``; ``key`` None: the
    environment's secret, read on each request."""

    told = [False]

    def wrapper(event: Any, context: Any = None) -> Any:
        try:
            request = read_request(event)
        except EventError as exc:
            return answer_event_error(plain_event(event), exc)
        raw = request.event  # `event`, or the dict a Powertools data class wraps
        secret = key if key is not None else _key_from_env()
        try:
            raw["webhook"] = _verify_request(request, secret, clock)
        except WebhookVerificationError as exc:
            return _refusal(request, raw, exc)
        except EventError as exc:
            return answer_event_error(raw, exc, request)
        return settled(handler, request, raw, handler(event, context), told)

    return wrapper


__all__ = [
    "WebhookEvent",
    "WebhookHeadersMissingError", "WebhookPayloadInvalidError", "WebhookSignatureMismatchError",
    "WebhookTimestampInvalidError", "WebhookTimestampTooNewError", "WebhookTimestampTooOldError",
    "WebhookVerificationError", "require_webhook", "signing_key", "verify_webhook", "verify_webhook_payload",
]
