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
    """Run the handler only for a request carrying a valid Clerk session that
    meets the route options; refuse any other with 401 (signed out), 403 (not
    allowed) or 503 (keys unavailable), in the event's own format. The handler
    finds the :class:`~clerk_serverless.Session` in ``event["session"]``.

    >>> @require_session
    ... def handler(event, context): ...
    >>> @require_session(permissions=["org:reports:read"])
    ... def reports(event, context): ...

    ``require_session(handler, **options)`` is the same in one call. Options
    (:class:`~clerk_serverless.handler.HandlerOptions`): ``permissions``,
    ``roles``, ``features``, ``plans``, ``reverification``,
    ``authorized_parties``, ``treat_pending_as_signed_out``, ``preflight``,
    ``cors``; a misspelt one is a :class:`~clerk_serverless.ClerkConfigError`.

    Uses the default ``ClerkAuth``, configured from the ``CLERK_*`` variables
    and built on the first request (a configuration mistake raises
    :class:`~clerk_serverless.ClerkConfigError` there); to configure it in
    code, use the same method of your own :class:`~clerk_serverless.ClerkAuth`."""
    return wrap(default_auth, handler, options, required=True)


@overload
def with_session(handler: Callable[P, R], /, **options: Unpack[WithSessionOptions]) -> Callable[P, R]: ...
@overload
def with_session(
    handler: None = None, /, **options: Unpack[WithSessionOptions]
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...
def with_session(handler: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """Run the handler for every request, with ``event["session"]`` set to the
    :class:`~clerk_serverless.Session`, or ``None`` when signed out (no,
    invalid or expired token).

    Bare (``@with_session``), called (``@with_session(cors=False)``) or
    ``with_session(handler, **options)``. Options
    (:class:`~clerk_serverless.handler.WithSessionOptions`):
    ``authorized_parties``, ``treat_pending_as_signed_out``, ``preflight``,
    ``cors``; requirements (``permissions``…) belong to
    :func:`require_session`. Uses the default, environment-configured
    ``ClerkAuth``, built on the first request."""
    return wrap(default_auth, handler, options, required=False)


@overload
def require_auth(handler: Callable[P, R], /, **options: Unpack[AuthOptions]) -> Callable[P, R]: ...
@overload
def require_auth(
    handler: None = None, /, **options: Unpack[AuthOptions]
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...
def require_auth(handler: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """Run the handler only for a request carrying a valid token of a type in
    ``accepts_token`` that meets the route options (401/403/503 otherwise);
    the handler finds the :class:`~clerk_serverless.Session` or
    :class:`~clerk_serverless.MachineAuth` in ``event["auth"]``.

    >>> @require_auth(accepts_token=["api_key", "m2m_token"], scopes=["invoices:read"])
    ... def handler(event, context): ...

    ``accepts_token``: ``"session_token"`` (default), ``"api_key"``,
    ``"m2m_token"``, ``"oauth_token"``, a list of them, or ``"any"``; accepting
    machine tokens needs ``CLERK_SECRET_KEY`` (or ``CLERK_MACHINE_SECRET_KEY``
    for M2M tokens only). The other options are :func:`require_session`'s and
    ``scopes`` (:class:`~clerk_serverless.handler.AuthOptions`). Uses the
    default, environment-configured ``ClerkAuth``, built on the first request;
    see :meth:`ClerkAuth.require_auth <clerk_serverless.ClerkAuth.require_auth>`."""
    return wrap(default_auth, handler, options, required=True, any_token=True)


@overload
def with_auth(handler: Callable[P, R], /, **options: Unpack[WithAuthOptions]) -> Callable[P, R]: ...
@overload
def with_auth(
    handler: None = None, /, **options: Unpack[WithAuthOptions]
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...
def with_auth(handler: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """Run the handler for every request, with ``event["auth"]`` set to the
    :class:`~clerk_serverless.Session` or :class:`~clerk_serverless.MachineAuth`
    of a valid token of a type in ``accepts_token``, or ``None``.

    Options (:class:`~clerk_serverless.handler.WithAuthOptions`):
    ``accepts_token``, ``authorized_parties``, ``treat_pending_as_signed_out``,
    ``preflight``, ``cors``. Uses the default, environment-configured
    ``ClerkAuth``; see :meth:`ClerkAuth.with_auth <clerk_serverless.ClerkAuth.with_auth>`."""
    return wrap(default_auth, handler, options, required=False, any_token=True)


__all__ = ["default_auth", "require_auth", "require_session", "reset_default_auth", "with_auth", "with_session"]
