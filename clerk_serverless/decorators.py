"""``with_session`` and ``require_session`` (the Next.js/Gatsby helpers, for
Lambda), and ``with_auth`` and ``require_auth`` (the same, for machine tokens too).

The module-level decorators use the default ``ClerkAuth`` configured from
``CLERK_*`` variables (built on the first request); ``ClerkAuth`` has the same
four as methods. What they do is described in :mod:`clerk_serverless.handler`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, overload

from .defaults import default_auth, reset_default_auth
from .handler import AuthOptions, HandlerOptions, P, R, WithAuthOptions, WithSessionOptions, wrap

if TYPE_CHECKING:
    from typing import Unpack


@overload
def require_session(handler: Callable[P, R], /, **options: Unpack[HandlerOptions]) -> Callable[P, R]: ...
@overload
def require_session(
    handler: None = None, /, **options: Unpack[HandlerOptions]
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...
def require_session(handler: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """401/403/503 unless the request carries a valid session meeting the
    options (:class:`~clerk_serverless.handler.HandlerOptions`); the handler
    finds it in ``event["session"]``. Uses the default, environment-configured
    ``ClerkAuth`` (built lazily on first request)."""
    return wrap(default_auth, handler, options, required=True)


@overload
def with_session(handler: Callable[P, R], /, **options: Unpack[WithSessionOptions]) -> Callable[P, R]: ...
@overload
def with_session(
    handler: None = None, /, **options: Unpack[WithSessionOptions]
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...
def with_session(handler: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """The handler always runs, with ``event["session"]`` set to the
    :class:`~clerk_serverless.Session` or ``None`` when signed out. Uses the
    default, environment-configured ``ClerkAuth``."""
    return wrap(default_auth, handler, options, required=False)


@overload
def require_auth(handler: Callable[P, R], /, **options: Unpack[AuthOptions]) -> Callable[P, R]: ...
@overload
def require_auth(
    handler: None = None, /, **options: Unpack[AuthOptions]
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...
def require_auth(handler: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """:meth:`ClerkAuth.require_auth <clerk_serverless.ClerkAuth.require_auth>`
    on the default, environment-configured ``ClerkAuth``: the token types of
    ``accepts_token`` (sessions by default; ``"api_key"``, ``"m2m_token"``,
    ``"oauth_token"``, a list, or ``"any"``), found in ``event["auth"]``."""
    return wrap(default_auth, handler, options, required=True, any_token=True)


@overload
def with_auth(handler: Callable[P, R], /, **options: Unpack[WithAuthOptions]) -> Callable[P, R]: ...
@overload
def with_auth(
    handler: None = None, /, **options: Unpack[WithAuthOptions]
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...
def with_auth(handler: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """:meth:`ClerkAuth.with_auth <clerk_serverless.ClerkAuth.with_auth>` on the
    default ``ClerkAuth``: the handler always runs, ``event["auth"]`` None when
    no accepted token verifies."""
    return wrap(default_auth, handler, options, required=False, any_token=True)


__all__ = ["default_auth", "require_auth", "require_session", "reset_default_auth", "with_auth", "with_session"]
