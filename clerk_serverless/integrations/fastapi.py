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
the event is reused). The session is also ``request.state.session``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import HTTPException, Request

from ..cors import is_preflight, preflight_parts
from ..defaults import default_auth
from ..errors import EventError
from ..gate import Authenticator, Refusal
from ..handler import split_options
from ..session import Session
from ..sources.asgi import SOURCE as ASGI
from ..responses import error_parts
from .asgi import admit_async


def require_clerk_session(
    *,
    auth: Authenticator | None = None,
    required: bool = True,
    **policy_options: Any,
) -> Callable[..., AsyncIterator[Session | None]]:
    """A dependency returning the :class:`~clerk_serverless.Session`.

    ``permissions``, ``roles``, ``authorized_parties`` and
    ``treat_pending_as_signed_out`` work as in ``require_session``;
    ``required=False`` returns None for signed-out requests instead of a 401.
    The route's whole policy is applied with this dependency's own ``auth``,
    even behind ``require_session(Mangum(app))``. A real CORS preflight that
    reaches a route (one declaring ``OPTIONS``) is answered 204 with the CORS
    grant for authorized origins; any other ``OPTIONS`` is authenticated.
    """
    policy, _, _ = split_options(policy_options, required=True, who="require_clerk_session")

    async def dependency(request: Request) -> AsyncIterator[Session | None]:
        clerk = auth or default_auth()
        try:
            view = ASGI.read(request.scope)
            if is_preflight(view):
                status, headers, _ = preflight_parts(view, clerk.parties_for(policy))
                raise HTTPException(status, headers=headers)
            session = await admit_async(clerk, view, policy, required=required)
        except Refusal as refusal:
            raise HTTPException(refusal.status, detail=json.loads(refusal.body), headers=refusal.headers) from None
        except EventError as error:
            status, headers, body = error_parts(error)
            raise HTTPException(status, detail=json.loads(body), headers=headers) from None
        request.state.session = session
        observer = clerk.observer
        bound = observer is not None and session is not None and observer.bind(view, session)
        try:
            yield session
        finally:
            if bound:
                observer.unbind()

    return dependency


#: ``Depends(clerk_session)``: 401 unless signed in (default ``ClerkAuth``).
clerk_session = require_clerk_session()

#: ``Depends(optional_clerk_session)``: the session, or None when signed out.
optional_clerk_session = require_clerk_session(required=False)
