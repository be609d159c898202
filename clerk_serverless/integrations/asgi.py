"""Authenticate ASGI apps (Starlette, FastAPI) from the ASGI scope itself.

Works the same under uvicorn on a laptop and under Mangum on Lambda: headers
and cookies come from the scope, so no Lambda event is needed. The session
lands in ``request.state.session`` (``scope["state"]["session"]``).

    from starlette.applications import Starlette
    from clerk_serverless.integrations.asgi import ClerkMiddleware

    app = Starlette(routes=[...])
    app.add_middleware(ClerkMiddleware, required=True, permissions=["org:reports:read"])

With ``required=False`` every request goes through, with ``session`` None when
signed out (``with_session`` semantics). Refusals are the same 401/403/503
JSON answers, headers and CORS as the decorators'.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import TYPE_CHECKING, Any

from ..cors import is_preflight, preflight_parts
from ..defaults import default_auth
from ..errors import ClerkConfigError, EventError
from ..gate import Authenticator, Refusal, admit
from ..handler import PolicyOptions, PreflightMode, middleware_options
from ..machine import MachineAuth
from ..policy import Policy
from ..responses import error_parts
from ..session import Session
from ..sources import Request
from ..sources.asgi import SOURCE as ASGI

if TYPE_CHECKING:
    from typing import Unpack

# The ASGI types as the spec and Starlette spell them: with narrower ones
# (dict), older Starlettes' add_middleware refuses the class to a type checker.
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def _checked(auth: Authenticator, policy: Policy) -> Authenticator:
    """``auth`` after :meth:`~clerk_serverless.ClerkAuth.check_policy`: the
    default instance is built on the first request, so a policy it cannot
    serve fails there — as a ``ClerkConfigError``, never as a 401."""
    auth.check_policy(policy)
    return auth


async def send_json(send: Send, status: int, headers: dict[str, str], body: str) -> None:
    """Send a complete JSON response through ASGI."""
    payload = body.encode()
    raw_headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    raw_headers.append((b"content-length", str(len(payload)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": payload})


async def admit_async(
    auth: Authenticator, request: Request, policy: Policy, *, required: bool
) -> Session | MachineAuth | None:
    """:func:`~clerk_serverless.gate.admit`, run in a worker thread, off the
    event loop, whenever it may wait on the network (a key fetch, a token not
    seen before, an opaque machine token Clerk must judge): one slow answer
    from Clerk must not hold every other request of the server."""
    may_block = getattr(auth, "may_block", None)  # an Authenticator of one's own may not say: assume so
    if may_block is None or may_block(request):
        import anyio.to_thread

        return await anyio.to_thread.run_sync(lambda: admit(auth, request, policy, required=required))
    return admit(auth, request, policy, required=required)


async def authenticate_scope(
    auth: Authenticator, scope: Scope, policy: Policy, *, required: bool
) -> tuple[Request, Session | MachineAuth | None]:
    """``(request, session)``: the scope's request view and its session (None
    when signed out and not required); raises
    :class:`~clerk_serverless.gate.Refusal` or ``EventError``.

    Decides with this entry point's own ``auth`` and whole ``policy``, even
    when ``require_session`` already admitted the Lambda event around Mangum
    (a verified-token cache hit keeps that cheap).
    """
    request = ASGI.read(scope)
    return request, await admit_async(auth, request, policy, required=required)


class ClerkMiddleware:
    """Pure ASGI middleware: authenticate every ``http`` request and
    WebSocket handshake (lifespan events pass through; a scope of any other
    type raises ``ValueError`` rather than reach the app unchecked).

    Args:
        app: the ASGI app to protect.
        auth: a :class:`~clerk_serverless.ClerkAuth` (default: the one
            configured from ``CLERK_*`` variables, built on first request).
        required: refuse signed-out requests (default) or let them through
            with ``request.state.session = None`` (then, as with
            ``with_session``, a requirement option is a ``ClerkConfigError``).
        exclude_paths: paths (exact, or prefixes ending in ``/``) left alone,
            e.g. ``["/health", "/public/"]``. ``"/"`` is the root page only:
            a prefix of every path, it would leave the whole app open.
        preflight: ``"answer"`` (default) answers real CORS preflights here
            (204, CORS grant for authorized origins); ``"handler"`` passes them
            to the app (e.g. Starlette's ``CORSMiddleware`` inside this one).
        **policy: the route options of ``require_auth`` — ``accepts_token``, ``scopes``,
            ``permissions``, ``roles``, ``features``, ``plans``, ``reverification``,
            ``authorized_parties``, ``treat_pending_as_signed_out`` (session
            tokens only by default). The
            identity is ``request.state.auth``; a session is also
            ``request.state.session``.
    """

    def __init__(
        self,
        app: Callable[..., Awaitable[None]],
        *,
        auth: Authenticator | None = None,
        required: bool = True,
        exclude_paths: Iterable[str] = (),
        preflight: PreflightMode = "answer",
        **policy: Unpack[PolicyOptions],
    ) -> None:
        self.app = app
        self.auth = auth
        # A lone string is one path, as everywhere else in the library: iterated,
        # its "/" would be a prefix of every path and exclude the whole app.
        paths = (exclude_paths,) if isinstance(exclude_paths, str) else tuple(exclude_paths)
        if not all(isinstance(p, str) and p.startswith("/") for p in paths):
            raise ClerkConfigError("exclude_paths", "must be a list of paths, each starting with /")
        self.exclude_paths = paths
        self.policy, self.preflight = middleware_options(policy, required=required, preflight=preflight)
        self.required = required
        if auth is not None:
            auth.check_policy(self.policy)

    def _excluded(self, path: str) -> bool:
        return any(path == p or (p != "/" and p.endswith("/") and path.startswith(p)) for p in self.exclude_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope.get("type")
        if kind == "lifespan" or kind in ("http", "websocket") and self._excluded(scope.get("path") or ""):
            await self.app(scope, receive, send)  # lifespan, and paths left alone
            return
        if kind not in ("http", "websocket"):
            # A scope type we cannot authenticate (an extension, a server's
            # own) never reaches the app unchecked; the ASGI spec has apps
            # raise on a type they do not understand.
            raise ValueError(f"ClerkMiddleware cannot authenticate an ASGI scope of type {str(kind)[:40]!r}")
        auth = self.auth or _checked(default_auth(), self.policy)
        if kind == "websocket":
            await self._websocket(auth, scope, receive, send)
            return
        try:
            request = ASGI.read(scope)
            if is_preflight(request):
                if self.preflight == "answer":
                    await send_json(send, *preflight_parts(request, auth.parties_for(self.policy)))
                    return
                session = None  # opted in: the app answers preflights (sent without credentials)
            else:
                session = await admit_async(auth, request, self.policy, required=self.required)
        except Refusal as refusal:
            await send_json(send, refusal.status, refusal.headers, refusal.body)
            return
        except EventError as error:
            await send_json(send, *error_parts(error))
            return
        state = scope.setdefault("state", {})
        state["auth"] = session
        state["session"] = session if isinstance(session, Session) else None
        observer = auth.observer
        if observer is None or session is None or not observer.bind(request, session):
            await self.app(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            observer.unbind()

    async def _websocket(self, auth: Authenticator, scope: Scope, receive: Receive, send: Send) -> None:
        """A WebSocket handshake is authenticated like a request (a cookie one
        needs an authorized ``Origin``); refused, it is closed before it is
        accepted (1008, which servers answer with HTTP 403)."""
        try:
            request = ASGI.read(scope)
            session = await admit_async(auth, request, self.policy, required=self.required)
        except (Refusal, EventError):
            message = await receive()
            if message.get("type") == "websocket.connect":
                await send({"type": "websocket.close", "code": 1008})
            return
        state = scope.setdefault("state", {})
        state["auth"] = session
        state["session"] = session if isinstance(session, Session) else None
        await self.app(scope, receive, send)


__all__ = ["ClerkMiddleware", "admit_async", "authenticate_scope", "send_json"]
