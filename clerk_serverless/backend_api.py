"""The few Backend API calls a request handler needs, with the secret key."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

from .errors import ClerkAPIError, ClerkUnavailableError, JwksFetchError, UserNotFoundError
from .httpget import http_get

_USER_ID = re.compile(r"^user_[A-Za-z0-9]+$")


class BackendApi:
    """``GET {api_url}/v1/…`` with ``Authorization: Bearer <secret key>``, bounded
    like every fetch here (3 s total, 1 MiB, no redirects)."""

    def __init__(self, api_url: str, secret_key: str, timeout: float = 3.0) -> None:
        self.api_url = api_url.rstrip("/")
        self._headers = (("Authorization", f"Bearer {secret_key}"),)
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"BackendApi({self.api_url!r})"

    def get_user(self, user_id: str) -> dict[str, Any]:
        """The user object (``GET /v1/users/{user_id}``).

        Raises :class:`UserNotFoundError` (404), :class:`ClerkUnavailableError`
        (network, timeout, 429, 5xx) or :class:`ClerkAPIError` (anything else).
        """
        if not isinstance(user_id, str) or not _USER_ID.match(user_id):
            raise ClerkAPIError("not a Clerk user ID")
        try:
            body = http_get(f"{self.api_url}/v1/users/{quote(user_id)}", self._headers, timeout=self.timeout)
        except JwksFetchError as exc:
            status = exc.status
            if status == 404:
                raise UserNotFoundError(f"user {user_id} not found", 404) from None
            if status is None or status == 429 or status >= 500:
                raise ClerkUnavailableError(f"Clerk's Backend API is unavailable: {exc}", status) from None
            raise ClerkAPIError(f"Clerk's Backend API refused the request: {exc}", status) from None
        try:
            user = json.loads(body)
        except ValueError:
            raise ClerkUnavailableError("Clerk's Backend API answered with something that is not JSON") from None
        if not isinstance(user, dict) or user.get("id") != user_id:
            raise ClerkAPIError("Clerk's Backend API answered with an unexpected user object")
        return user
