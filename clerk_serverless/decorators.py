"""``with_session`` and ``require_session``: the Next.js/Gatsby helpers, for Lambda.

Both work bare (``@require_session``) and called
(``@require_session(permissions=[...])``), on any callable taking
``(event, context)`` — a plain function, a Powertools resolver's
``resolve``, or a ``Mangum(app)`` instance.

What the wrapped handler sees and what the caller gets:

=====================  ==========================  ==========================
request                ``require_session``         ``with_session``
=====================  ==========================  ==========================
valid session          handler, ``event["session"]`` set (both)
no / invalid token     401                         handler, session ``None``
lacks permission/role  403                         (no such options)
keys unavailable       503 + ``Retry-After``       handler, session ``None``
``OPTIONS`` preflight  handler, session ``None`` (browsers send no credentials)
not an HTTP event      400 (never an exception out of the handler)
=====================  ==========================  ==========================
"""

from __future__ import annotations

import functools
import logging
import threading
from typing import Any, Callable

from .errors import EventError
from .gate import Refusal, admit
from .responses import error_parts
from .sources import read_request, render_unsupported, source_of

log = logging.getLogger("clerk_serverless")

_default_auth: Any = None
_default_lock = threading.Lock()


def default_auth() -> Any:
    """The process-wide ``ClerkAuth()`` configured from ``CLERK_*`` variables,
    built on first use so importing never fails."""
    global _default_auth
    auth = _default_auth
    if auth is None:
        with _default_lock:
            if _default_auth is None:
                from .auth import ClerkAuth

                _default_auth = ClerkAuth()
            auth = _default_auth
    return auth


def reset_default_auth() -> None:
    """Forget the default ``ClerkAuth`` (it is rebuilt from the environment on next use)."""
    global _default_auth
    with _default_lock:
        _default_auth = None


def _answer(event: Any, error: EventError, request: Any = None) -> dict[str, Any]:
    """A 400 for an event we cannot read, in its source's format when known."""
    log.warning("clerk_serverless: 400 %s: %s", error.reason, error)
    status, headers, body = error_parts(error)
    if request is not None:
        return request.source.render(event, status, headers, body)
    try:
        source = source_of(event)
    except EventError:
        return render_unsupported(status, headers, body)
    return source.render(event, status, headers, body)


def decorate(
    get_auth: Callable[[], Any],
    handler: Callable[..., Any] | None,
    options: dict[str, Any],
    *,
    required: bool,
) -> Any:
    """Build the decorator (bare or called form) for ``require``/``with_session``."""
    from .auth import Policy

    if handler is not None and not callable(handler):
        raise TypeError("require_session/with_session decorate a callable handler(event, context)")
    if not required and ({"permissions", "roles"} & options.keys()):
        raise TypeError("with_session takes no permissions/roles; use require_session for those")
    policy = Policy.build(**options)

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        if not callable(fn):
            raise TypeError("require_session/with_session decorate a callable handler(event, context)")
        return _wrap(get_auth, fn, policy, required)

    return wrap(handler) if handler is not None else wrap


def _wrap(get_auth: Callable[[], Any], handler: Callable[..., Any], policy: Any, required: bool) -> Any:
    def wrapper(event: Any, context: Any = None) -> Any:
        try:
            request = read_request(event)
            preflight = request.method == "OPTIONS"
        except EventError as exc:
            return _answer(event, exc)
        if preflight:
            event["session"] = None
            return handler(event, context)
        auth = get_auth()
        try:
            session = admit(auth, request, policy, required=required)
        except Refusal as refusal:
            return request.source.render(event, refusal.status, refusal.headers, refusal.body)
        except EventError as exc:
            return _answer(event, exc, request)
        event["session"] = session
        observer = auth.observer
        if observer is None or session is None or not observer.bind(request, session):
            return handler(event, context)
        try:
            return handler(event, context)
        finally:
            observer.unbind()

    try:
        functools.update_wrapper(wrapper, handler)
    except (AttributeError, TypeError):  # exotic callables without a __dict__
        wrapper.__wrapped__ = handler  # type: ignore[attr-defined]
    return wrapper


def require_session(handler: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """Module-level :meth:`ClerkAuth.require_session` on the default,
    environment-configured ``ClerkAuth`` (built lazily on first request)."""
    return decorate(default_auth, handler, options, required=True)


def with_session(handler: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """Module-level :meth:`ClerkAuth.with_session` on the default,
    environment-configured ``ClerkAuth`` (built lazily on first request)."""
    return decorate(default_auth, handler, options, required=False)
