"""Status, headers and body of the toolkit's own 400/401/403/503 answers.

Adapters put these into their source's response format. Bodies hold a fixed
message per reason: never the token, a cookie or anything else from the
request.
"""

from __future__ import annotations

import json
import math
from typing import Any

from .cors import cors_headers
from .errors import AuthError, EventError, KeysUnavailableError, ReverificationRequiredError

_ERROR_NAMES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 503: "service_unavailable"}


def error_parts(
    error: AuthError | EventError,
    *,
    token_present: bool = False,
    origin: str | None = None,
    allowed_origins: frozenset[str] | None = None,
) -> tuple[int, dict[str, str], str]:
    """``(status, headers, body)`` answering ``error``."""
    status = error.status
    reason = str(error.reason)
    headers = {
        "Content-Type": "application/json",
        "Cache-Control": "no-store",
        "x-clerk-auth-reason": reason,
    }
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer error="invalid_token"' if token_present else "Bearer"
        headers["x-clerk-auth-status"] = "signed-out"
    elif status == 403:
        headers["WWW-Authenticate"] = 'Bearer error="insufficient_scope"'
        headers["x-clerk-auth-status"] = "signed-in"
    elif isinstance(error, KeysUnavailableError):
        headers["Retry-After"] = str(max(1, math.ceil(error.retry_after)))
    headers.update(cors_headers(origin, allowed_origins))
    message = error.message if isinstance(error, AuthError) else _event_message(error)
    body: dict[str, Any] = {"error": _ERROR_NAMES.get(status, "error"), "reason": reason, "message": message}
    if isinstance(error, ReverificationRequiredError) and error.body:
        body = {**error.body, **body}  # Clerk's clerk_error shape, for useReverification()
    return status, headers, json.dumps(body)


def _event_message(error: EventError) -> str:
    if error.status == 400 and str(error.reason) == "event-unsupported":
        return "This function expects an HTTP event from API Gateway, an ALB, a Function URL or VPC Lattice."
    return "The HTTP event is malformed."
