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
from typing import Any, AsyncIterator, Callable

from fastapi import HTTPException, Request

from ..auth import Policy
from ..decorators import default_auth
from ..errors import EventError
from ..gate import Refusal
from ..responses import error_parts
from .asgi import authenticate_scope


def require_clerk_session(
    *,
    auth: Any = None,
    required: bool = True,
    **policy_options: Any,
) -> Callable[..., AsyncIterator[Any]]:
    """A dependency returning the :class:`~clerk_serverless.Session`.

    ``permissions``, ``roles``, ``authorized_parties`` and
    ``treat_pending_as_signed_out`` work as in ``require_session``;
    ``required=False`` returns None for signed-out requests instead of a 401.
    """
    policy = Policy.build(**policy_options)

    async def dependency(request: Request) -> AsyncIterator[Any]:
        clerk = auth or default_auth()
        try:
            view, session = await authenticate_scope(clerk, request.scope, policy, required=required)
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
