"""FastAPI dependencies: per-route authentication from the ASGI scope.

    from fastapi import Depends, FastAPI
    from clerk_serverless.integrations.fastapi import clerk_session, require_clerk_session

    app = FastAPI()

    @app.get("/me")
    def me(session = Depends(clerk_session)):
        return {"user_id": session.user_id}

    @app.get("/reports")
    def reports(session = Depends(require_clerk_session(permissions=["org:reports:read"]))):
        ...

Refusals raise ``HTTPException`` with the decorators' status, headers
(``x-clerk-auth-reason``, ``WWW-Authenticate``, CORS) and, as FastAPI does,
the JSON body under ``detail``. The same app works under uvicorn locally and
under Mangum on Lambda (a session already verified by ``require_session`` on
the event is decided again with the route's own policy). The session is
also ``request.state.session``; ``require_clerk_auth`` admits machine tokens
too (``request.state.auth``).

Each route using them declares the ``ClerkBearer`` (HTTP Bearer) security
scheme, and ``ClerkSessionCookie`` (the ``__session`` cookie) where session
tokens are accepted, so ``/docs`` shows what it needs.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

try:
    from fastapi import Depends, HTTPException, Request
    from fastapi.security import APIKeyCookie, HTTPBearer
except ModuleNotFoundError as missing:  # the optional dependency: name its extra
    if (missing.name or "").partition(".")[0] != "fastapi":
        raise
    raise ModuleNotFoundError(
        "clerk_serverless.integrations.fastapi needs FastAPI: pip install 'clerk-serverless[fastapi]'", name="fastapi"
    ) from None

from ..cors import is_preflight, preflight_parts
from ..defaults import default_auth
from ..errors import EventError
from ..gate import Authenticator, Refusal
from ..handler import PolicyOptions, SessionPolicyOptions, split_options
from ..machine import MachineAuth
from ..policy import Policy
from ..responses import error_parts
from ..session import Session
from ..sources.asgi import SOURCE as ASGI
from ..token_types import SESSION_TOKEN
from .asgi import admit_async
from .openapi import BEARER_DESCRIPTION, BEARER_SCHEME, COOKIE_DESCRIPTION, COOKIE_SCHEME

if TYPE_CHECKING:
    from typing import Unpack

BEARER = HTTPBearer(scheme_name=BEARER_SCHEME, description=BEARER_DESCRIPTION, auto_error=False)
SESSION_COOKIE = APIKeyCookie(
    name="__session", scheme_name=COOKIE_SCHEME, description=COOKIE_DESCRIPTION, auto_error=False
)
_BEARER_PARAMETER = Depends(BEARER)
_COOKIE_PARAMETER = Depends(SESSION_COOKIE)


def _dependency(
    auth: Authenticator | None, required: bool, policy: Policy
) -> Callable[..., AsyncIterator[Session | MachineAuth | None]]:
    accepts_cookie = SESSION_TOKEN in policy.accepts

    async def authenticate(request: Request) -> AsyncIterator[Session | MachineAuth | None]:
        clerk = auth or default_auth()
        if auth is None:
            clerk.check_policy(policy)  # the default instance: a policy it cannot serve is a ClerkConfigError
        try:
            view = ASGI.read(dict(request.scope))
            if is_preflight(view):
                status, headers, _ = preflight_parts(view, clerk.parties_for(policy))
                raise HTTPException(status, headers=headers)
            identity = await admit_async(clerk, view, policy, required=required)
        except Refusal as refusal:
            raise HTTPException(refusal.status, detail=json.loads(refusal.body), headers=refusal.headers) from None
        except EventError as error:
            status, headers, body = error_parts(error)
            raise HTTPException(status, detail=json.loads(body), headers=headers) from None
        request.state.auth = identity
        request.state.session = identity if isinstance(identity, Session) else None
        observer = clerk.observer
        bound = observer is not None and identity is not None and observer.bind(view, identity)
        try:
            yield identity
        finally:
            if bound and observer is not None:
                observer.unbind()

    # The security schemes are declared so /docs shows what a route needs
    # (Bearer, and the session cookie where sessions are accepted); the values
    # are read from the scope by the library itself.
    if accepts_cookie:

        async def dependency(
            request: Request,
            _bearer: Any = _BEARER_PARAMETER,
            _cookie: Any = _COOKIE_PARAMETER,
        ) -> AsyncIterator[Session | MachineAuth | None]:
            """A FastAPI dependency (``Depends(…)``) made by ``require_clerk_session`` or
            ``require_clerk_auth``: the route's identity, or an ``HTTPException``."""
            async for identity in authenticate(request):
                yield identity

    else:

        async def dependency(  # type: ignore[misc]  # one signature per branch
            request: Request,
            _bearer: Any = _BEARER_PARAMETER,
        ) -> AsyncIterator[Session | MachineAuth | None]:
            """A FastAPI dependency (``Depends(…)``) made by ``require_clerk_session`` or
            ``require_clerk_auth``: the route's identity, or an ``HTTPException``."""
            async for identity in authenticate(request):
                yield identity

    return dependency


def _who(name: str, required: bool) -> str:
    return f"{name}(required=False)" if required is False else name


def require_clerk_session(
    *,
    auth: Authenticator | None = None,
    required: bool = True,
    **policy_options: Unpack[SessionPolicyOptions],
) -> Callable[..., AsyncIterator[Session | None]]:
    """A dependency returning the :class:`~clerk_serverless.Session`.

    ``permissions``, ``roles``, ``features``, ``plans``, ``reverification``,
    ``authorized_parties`` and ``treat_pending_as_signed_out`` work as in
    ``require_session``; ``required=False`` returns None for signed-out
    requests instead of a 401 (and, as ``with_session``, takes no
    requirement: a ``ClerkConfigError``); ``auth`` is the
    :class:`~clerk_serverless.ClerkAuth` to use (default: configured from
    ``CLERK_*`` variables, built on first use). The route's whole policy is applied with this
    dependency's own ``auth``, even behind ``require_session(Mangum(app))``.
    A real CORS preflight that reaches a route (one declaring ``OPTIONS``) is
    answered 204 with the CORS grant for authorized origins; any other
    ``OPTIONS`` is authenticated.
    """
    policy, _, _ = split_options(
        policy_options, required=required, who=_who("require_clerk_session", required),
        entry_options=frozenset(),
    )
    return _dependency(auth, required, policy)  # type: ignore[return-value]  # sessions only


def require_clerk_auth(
    *,
    auth: Authenticator | None = None,
    required: bool = True,
    **policy_options: Unpack[PolicyOptions],
) -> Callable[..., AsyncIterator[Session | MachineAuth | None]]:
    """A dependency returning the :class:`~clerk_serverless.Session` or
    :class:`~clerk_serverless.MachineAuth` of the token types in
    ``accepts_token`` (``"session_token"`` by default, ``"api_key"``,
    ``"m2m_token"``, ``"oauth_token"``, a list, or ``"any"``); ``scopes=[…]``
    as in ``require_auth``. The identity is also ``request.state.auth``.
    ``required=False`` returns None instead of a 401 when no accepted token
    verifies; ``auth`` is the :class:`~clerk_serverless.ClerkAuth` to use
    (default: configured from ``CLERK_*`` variables, built on first use)."""
    policy, _, _ = split_options(
        policy_options, required=required, who=_who("require_clerk_auth", required), any_token=True,
        entry_options=frozenset(),
    )
    if auth is not None:
        auth.check_policy(policy)
    return _dependency(auth, required, policy)


clerk_session = require_clerk_session()
"""``Depends(clerk_session)``: the :class:`~clerk_serverless.Session`; 401
unless signed in (the default, environment-configured ``ClerkAuth``)."""

optional_clerk_session = require_clerk_session(required=False)
"""``Depends(optional_clerk_session)``: the :class:`~clerk_serverless.Session`,
or None when signed out (the default ``ClerkAuth``)."""

# help(clerk_session) shows the function's own docstring, not the attribute
# docstrings above (which the reference renders): the same words for both.
clerk_session.__doc__ = (
    "``Depends(clerk_session)``: the Session; 401 unless signed in (the default,\n"
    "environment-configured ``ClerkAuth``). ``require_clerk_session()``, shared."
)
optional_clerk_session.__doc__ = (
    "``Depends(optional_clerk_session)``: the Session, or None when signed out\n"
    "(the default ``ClerkAuth``). ``require_clerk_session(required=False)``, shared."
)

__all__ = ["clerk_session", "optional_clerk_session", "require_clerk_auth", "require_clerk_session"]
