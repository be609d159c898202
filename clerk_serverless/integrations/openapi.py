"""The OpenAPI security schemes Clerk's tokens are declared under, one
spelling for every integration: the FastAPI dependencies declare them on
each route, the Powertools helpers hand them to ``enable_swagger``. Plain
strings: importing this imports neither framework."""

from __future__ import annotations

BEARER_SCHEME = "ClerkBearer"
"""The OpenAPI name of the HTTP Bearer scheme (the ``Authorization`` header)."""
BEARER_DESCRIPTION = (
    "A Clerk session token (`await getToken()`), or an API key, M2M or OAuth token where the route accepts them."
)
"""The Bearer scheme's description, as the docs UI shows it."""
COOKIE_SCHEME = "ClerkSessionCookie"
"""The OpenAPI name of the ``__session`` cookie scheme."""
COOKIE_DESCRIPTION = "The `__session` cookie Clerk sets for same-site requests."
"""The cookie scheme's description, as the docs UI shows it."""

__all__ = ["BEARER_DESCRIPTION", "BEARER_SCHEME", "COOKIE_DESCRIPTION", "COOKIE_SCHEME"]
