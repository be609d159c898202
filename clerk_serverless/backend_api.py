"""The few Backend API calls a request needs, with the secret key.

``GET /v1/users/{id}`` for :meth:`Session.user() <clerk_serverless.Session.user>`,
and the machine-token verify endpoints, called as @clerk/backend calls them:
``POST {api_url}/api_keys/verify`` (``{"secret": …}``),
``/m2m_tokens/verify`` (``{"token": …}``, with the machine secret key when
one is configured) and ``/oauth_applications/access_tokens/verify``
(``{"access_token": …}``), with ``Clerk-API-Version``. Every call is bounded
like every fetch here (``fetch_timeout``, at most 3 s, for the whole
exchange; 1 MiB; no redirects).
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

from .errors import (
    JSON_ERRORS,
    BackendApiUnavailableError,
    ClerkAPIError,
    ClerkUnavailableError,
    JwksFetchError,
    SecretKeyInvalidError,
    TokenInvalidError,
    UserNotFoundError,
)
from .httpget import http_get, http_request, retry_after_seconds
from .token_types import API_KEY, M2M_TOKEN, OAUTH_TOKEN

#: The Backend API version these calls are written against (Clerk's published spec).
API_VERSION = "2026-05-12"
_USER_ID = re.compile(r"user_[A-Za-z0-9]+")  # whole string: re.match's $ lets a final \n through
# token type -> (path, body field, object name in a valid answer)
_VERIFY = {
    API_KEY: ("/api_keys/verify", "secret", "api_key"),
    M2M_TOKEN: ("/m2m_tokens/verify", "token", "machine_to_machine_token"),
    OAUTH_TOKEN: ("/oauth_applications/access_tokens/verify", "access_token", "clerk_idp_oauth_access_token"),
}
_UNAVAILABLE_RETRY = 5.0


class BackendApi:
    """Calls to ``{api_url}`` with ``Authorization: Bearer <secret key>``."""

    def __init__(
        self, api_url: str, secret_key: str | None, timeout: float = 3.0, machine_secret_key: str | None = None
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self._secret = secret_key
        self._machine_secret = machine_secret_key
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"BackendApi({self.api_url!r})"

    def _auth(self, key: str | None) -> tuple[tuple[str, str], ...]:
        return (("Authorization", f"Bearer {key}"),) if key else ()

    def get_user(self, user_id: str) -> dict[str, Any]:
        """The user object (``GET /v1/users/{user_id}``).

        Raises :class:`UserNotFoundError` (404), :class:`ClerkUnavailableError`
        (network, timeout, 429, 5xx) or :class:`ClerkAPIError` (anything else).
        """
        if not isinstance(user_id, str) or not _USER_ID.fullmatch(user_id):
            raise ClerkAPIError("not a Clerk user ID")
        if not self._secret:
            raise ClerkAPIError("the secret key is needed to read users")
        try:
            body = http_get(f"{self.api_url}/v1/users/{quote(user_id)}", self._auth(self._secret), timeout=self.timeout)
        except JwksFetchError as exc:
            status = exc.status
            if status == 404:
                raise UserNotFoundError(f"user {user_id} not found", 404) from None
            if status is None or status == 429 or status >= 500:
                raise ClerkUnavailableError(f"Clerk's Backend API is unavailable: {exc}", status) from None
            raise ClerkAPIError(f"Clerk's Backend API refused the request: {exc}", status) from None
        try:
            user = json.loads(body)
        except JSON_ERRORS:
            raise ClerkUnavailableError("Clerk's Backend API answered with something that is not JSON") from None
        if not isinstance(user, dict) or user.get("id") != user_id:
            raise ClerkAPIError("Clerk's Backend API answered with an unexpected user object")
        return user

    def can_verify(self, token_type: str) -> bool:
        """True when a key to verify opaque tokens of ``token_type`` is configured."""
        return bool(self._secret or (token_type == M2M_TOKEN and self._machine_secret))

    def verify_machine_token(self, token_type: str, token: str) -> dict[str, Any]:
        """Clerk's answer for an opaque machine token, when it is valid.

        Raises :class:`TokenInvalidError` (unknown, revoked, expired — a 404,
        or a 200 saying so), :class:`SecretKeyInvalidError` (Clerk refused our
        key: 401) or :class:`BackendApiUnavailableError` (unreachable, timeout,
        any other status, an answer that is no JSON object).
        """
        path, field, kind = _VERIFY[token_type]
        key = self._machine_secret if token_type == M2M_TOKEN and self._machine_secret else self._secret
        headers = (
            *self._auth(key),
            ("Content-Type", "application/json"),
            ("Clerk-API-Version", API_VERSION),
        )
        try:
            response = http_request(
                "POST", f"{self.api_url}{path}", headers, json.dumps({field: token}).encode(), timeout=self.timeout
            )
        except JwksFetchError as exc:
            raise BackendApiUnavailableError(
                f"machine token verification: {exc}", retry_after=_UNAVAILABLE_RETRY
            ) from None
        status = response.status
        if status == 404:  # as @clerk/backend: only a 404 says the token is unknown, revoked or expired
            raise TokenInvalidError(f"Clerk does not know this {token_type.replace('_', ' ')}")
        if status == 401:  # as @clerk/backend: a 401 means our key; anything else is unexpected
            raise SecretKeyInvalidError("Clerk's Backend API refused the key (401)", retry_after=60.0)
        if status != 200:
            seconds = retry_after_seconds(response.headers.get("retry-after"))
            retry = _UNAVAILABLE_RETRY if seconds is None else min(max(seconds, 1.0), 300.0)
            raise BackendApiUnavailableError(f"machine token verification: HTTP {status}", retry_after=retry)
        try:
            data = json.loads(response.body)
        except JSON_ERRORS:
            data = None
        if not isinstance(data, dict):  # not an answer about the token: ours to retry, never a verdict
            raise BackendApiUnavailableError(
                "machine token verification: not a JSON object", retry_after=_UNAVAILABLE_RETRY
            )
        if data.get("object") != kind or not isinstance(data.get("subject"), str):
            raise TokenInvalidError("Clerk did not confirm the token")  # e.g. OAuth's {"active": false}
        if data.get("revoked") is not False or data.get("expired") is not False:
            raise TokenInvalidError("revoked or expired")
        return data

