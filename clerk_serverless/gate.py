"""The one decision every entry point makes: admit a request, or refuse it.

Decorators, the ASGI middleware, the FastAPI dependency, the Powertools
middleware and the Lambda authorizer all call :func:`admit`, each with its own
``ClerkAuth`` and :class:`~clerk_serverless.policy.Policy`, so they give the
same verdicts, reason codes, 401/403/503 semantics, audit records and
metrics; they differ only in how they hand over the session or send the
refusal. An entry point nested inside another (a FastAPI dependency behind
``require_session(Mangum(app))``) decides again, with its own whole policy:
a verified-token cache hit keeps that cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from .errors import AuthError, EventError, TokenInvalidError
from .logs import log

if TYPE_CHECKING:
    from .machine import MachineAuth
    from .observe import Observer
    from .policy import Policy
    from .session import Session
    from .sources import Request


def _log(level: int, message: str, *args: Any) -> None:
    log("clerk_serverless", level, message, *args)


class Authenticator(Protocol):
    """What entry points need of a :class:`~clerk_serverless.ClerkAuth`."""

    observer: Observer | None

    def authenticate(self, request: Request, policy: Policy) -> Session | MachineAuth:
        """The request's session or machine identity under ``policy``, or an ``AuthError``."""

    def token_from(self, request: Request) -> tuple[str | None, bool]:
        """``(token, from_cookie)`` of the request."""

    def parties_for(self, policy: Policy) -> frozenset[str] | None:
        """The authorized parties in force for ``policy``."""

    def check_policy(self, policy: Policy) -> None:
        """Raise ``ClerkConfigError`` for a policy this instance cannot serve."""

    def may_block(self, request: Request) -> bool:
        """True when authenticating ``request`` may wait on the network."""


class Refusal(Exception):
    """A request refused: ``status``, ``headers`` and JSON ``body`` to send."""

    def __init__(self, error: AuthError, status: int, headers: dict[str, str], body: str) -> None:
        super().__init__(error.message)
        self.error = error
        self.status = status
        self.headers = headers
        self.body = body


def refusal_parts(
    auth: Authenticator, request: Request, policy: Policy, error: AuthError
) -> tuple[int, dict[str, str], str]:
    """Status, headers (CORS for authorized origins) and body answering ``error``."""
    from .responses import error_parts  # refusals only: not on a cold start's way
    try:
        token_present = auth.token_from(request)[0] is not None
        origin = request.origin
    except Exception:  # a malformed event already failed once: no token, no CORS
        token_present, origin = False, None
    return error_parts(error, token_present=token_present, origin=origin, allowed_origins=auth.parties_for(policy))


def admit(auth: Authenticator, request: Request, policy: Policy, *, required: bool) -> Session | MachineAuth | None:
    """The request's :class:`~clerk_serverless.Session` (or machine identity); ``None`` when signed
    out and not ``required``; otherwise raises :class:`Refusal`.

    :class:`~clerk_serverless.errors.EventError` (a broken event) propagates:
    each caller answers it with a 400 in its own way.
    """
    try:
        identity = auth.authenticate(request, policy)
    except AuthError as error:
        _refuse(auth, request, policy, error, required)
        return None
    except EventError:
        raise
    except Exception as exc:
        # Never let hostile input become a 500; the type name carries no token.
        _log(40, "clerk_serverless: unexpected %s while authenticating; answering 401", type(exc).__name__)
        _refuse(auth, request, policy, TokenInvalidError(), required)
        return None
    if auth.observer is not None:
        auth.observer.signed_in(request, identity)
    return identity


def _refuse(auth: Authenticator, request: Request, policy: Policy, error: AuthError, required: bool) -> None:
    """Record a refusal; raise it as a :class:`Refusal` when ``required``."""
    _log(10, "clerk_serverless: %d %s", error.status, error.reason)
    if auth.observer is not None:
        auth.observer.refused(request, error, required=required)
    if not required:
        return
    raise Refusal(error, *refusal_parts(auth, request, policy, error))


__all__ = ["Authenticator", "Refusal", "admit", "refusal_parts"]
