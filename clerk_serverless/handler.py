"""Wrapping a Lambda handler: what ``require_session`` and ``with_session`` do
(and ``require_auth`` and ``with_auth``, which admit machine tokens too), and
the route options every entry point validates here once.

All work bare (``@require_session``) and called
(``@require_session(permissions=[...])``), on any callable taking
``(event, context)`` — a plain function, a Powertools resolver's
``resolve``, or a ``Mangum(app)`` instance — and keep its signature.

What the wrapped handler sees and what the caller gets:

==========================  ==========================  ==========================
request                     ``require_session``         ``with_session``
==========================  ==========================  ==========================
valid session               handler, ``event["session"]`` set (both)
no / invalid token          401                         handler, session ``None``
lacks a requirement         403                         (no such options)
cookie write, foreign       403 ``origin-invalid``      handler, session ``None``
``Origin``
keys unavailable            503 + ``Retry-After``       handler, session ``None``
CORS preflight              204 answered here, handler not called (both)
other ``OPTIONS``           authenticated like any other method (both)
not an HTTP event           400 (never an exception out of the handler)
==========================  ==========================  ==========================

A ``require_session`` handler therefore never sees ``event["session"] is
None`` — unless it opts in to ``preflight="handler"`` (an app answering its
own preflights, e.g. FastAPI's ``CORSMiddleware`` behind Mangum), and then only
for real preflights, which browsers send without credentials.
"""

# Annotations are evaluated (no `from __future__ import annotations`): with
# strings, typing would compile each NamedTuple/TypedDict field at import, a
# cold start's loss.

import contextlib
import functools
from collections.abc import Callable, Iterable, Mapping
from types import CoroutineType
from typing import Any, Literal, ParamSpec, TypedDict, TypeVar

from .authorization import Reverification, ReverificationConfig
from .cors import add_cors_headers, is_preflight, preflight_parts
from .errors import ClerkConfigError, EventError, Reason
from .gate import Authenticator, Refusal, admit
from .policy import Inherit, Policy
from .session import Session
from .sources import Request, plain_event, read_request, render_unsupported, source_of
from .token_types import AcceptsToken

P = ParamSpec("P")
R = TypeVar("R")
PreflightMode = Literal["answer", "handler"]


class SessionPolicyOptions(TypedDict, total=False):
    """What a session route requires: the options every entry point takes —
    the decorators, ``require_clerk_session``, the middlewares, the authorizer.

    Attributes:
        permissions: every one required (``org:<feature>:<permission>``); 403 otherwise.
        roles: any one of them required; 403 otherwise.
        features: every one required (``fea``: ``org:<name>``, ``user:<name>`` or bare); 403.
        plans: any one of them required (``pla``, scoped likewise); 403.
        reverification: ``"strict"``, ``"strict_mfa"``, ``"moderate"``, ``"lax"``
            or ``{"level": …, "after_minutes": …}``: a recent enough factor
            verification (``fva``); otherwise 403 with Clerk's reverification
            body, which ``useReverification()`` turns into a prompt and a retry.
        authorized_parties: overrides the ``ClerkAuth`` setting for this route
            (``None``: keeps it; a route never switches the ``azp`` check off).
        treat_pending_as_signed_out: ``False`` lets sessions with pending tasks through.
    """

    permissions: Iterable[str] | str
    roles: Iterable[str] | str
    features: Iterable[str] | str
    plans: Iterable[str] | str
    reverification: ReverificationConfig | Reverification
    authorized_parties: Iterable[str] | str | None | Inherit
    treat_pending_as_signed_out: bool


class PolicyOptions(SessionPolicyOptions, total=False):
    """What a route requires of any token type: the options of
    ``require_clerk_auth``, both ``ClerkMiddleware`` classes and
    ``make_authorizer`` — those of :class:`SessionPolicyOptions`, and:

    Attributes:
        accepts_token: ``"session_token"`` (default), ``"api_key"``,
            ``"m2m_token"``, ``"oauth_token"``, a list of them, or ``"any"``.
            Another type is refused with 401 ``token-type-mismatch``.
        scopes: every one required of a machine token (403 ``missing-scope``);
            session tokens carry no scopes.
    """

    accepts_token: AcceptsToken
    scopes: Iterable[str] | str


class HandlerOptions(SessionPolicyOptions, total=False):
    """Options of ``require_session``: those of :class:`SessionPolicyOptions`,
    and how answers are shaped:

    Attributes:
        preflight: ``"answer"`` (default): real CORS preflights are answered
            here with 204 and, for authorized origins, the CORS grant;
            ``"handler"``: passed to the handler (with ``event["session"] = None``)
            for apps that answer preflights themselves. The middlewares take it too.
        cors: add CORS headers for authorized origins to the handler's own
            answers. Default ``None``: on for sources whose gateway adds none
            (REST API, ALB, VPC Lattice), off for HTTP APIs and Function URLs,
            whose CORS configuration adds them. The decorators only.
    """

    preflight: PreflightMode
    cors: bool | None


class AuthOptions(HandlerOptions, PolicyOptions, total=False):
    """Options of ``require_auth``: those of :class:`HandlerOptions`, and
    ``accepts_token`` and ``scopes`` as in :class:`PolicyOptions`."""


class WithSessionOptions(TypedDict, total=False):
    """Options of ``with_session``: the handler always runs, so none of the
    requirements — only which sessions count (``authorized_parties``,
    ``treat_pending_as_signed_out``, as in :class:`SessionPolicyOptions`) and
    how answers are shaped (``preflight``, ``cors``, as in :class:`HandlerOptions`)."""

    authorized_parties: Iterable[str] | str | None | Inherit
    treat_pending_as_signed_out: bool
    preflight: PreflightMode
    cors: bool | None


class WithAuthOptions(WithSessionOptions, total=False):
    """Options of ``with_auth``: those of :class:`WithSessionOptions`, and
    ``accepts_token`` as in :class:`PolicyOptions`."""

    accepts_token: AcceptsToken


_SESSION_POLICY = frozenset({
    "permissions", "roles", "features", "plans", "reverification", "authorized_parties", "treat_pending_as_signed_out",
})
_AUTH_POLICY = _SESSION_POLICY | {"accepts_token", "scopes"}
_REQUIREMENTS = frozenset({"permissions", "roles", "features", "plans", "reverification", "scopes"})
_ENTRY_OPTIONS = frozenset({"preflight", "cors"})


def split_options(
    options: Mapping[str, Any],
    *,
    required: bool,
    who: str,
    any_token: bool = False,
    entry_options: frozenset[str] = _ENTRY_OPTIONS,
) -> tuple[Policy, PreflightMode, bool | None]:
    """Validate ``options`` once: the route's :class:`Policy`, preflight mode
    and CORS mode. ``entry_options``: which of ``preflight``/``cors`` this
    entry point acts on. Unknown or misplaced options raise
    :class:`ClerkConfigError` (an option taken and then ignored would be a
    silent surprise)."""
    if not isinstance(required, bool):  # "false" would be truthy: a route switched to refusing by a string
        raise ClerkConfigError("required", "must be True or False")
    allowed = _AUTH_POLICY if any_token else _SESSION_POLICY
    unknown = options.keys() - allowed - entry_options
    if unknown:
        name = sorted(unknown)[0]
        hint = (
            "; require_auth/with_auth take it" if name in _AUTH_POLICY
            else "; the decorators take it" if name in _ENTRY_OPTIONS
            else _did_you_mean(name, allowed | entry_options)
        )
        raise ClerkConfigError(name, f"is not an option of {who}{hint}")
    if not required and (_REQUIREMENTS & options.keys()):
        name = sorted(_REQUIREMENTS & options.keys())[0]
        raise ClerkConfigError(name, f"is a requirement, which {who} does not enforce; use the required form")
    preflight = options.get("preflight", "answer")
    if preflight not in ("answer", "handler"):
        raise ClerkConfigError("preflight", "must be 'answer' or 'handler'")
    cors = options.get("cors")
    if cors is not None and not isinstance(cors, bool):
        raise ClerkConfigError("cors", "must be True, False or None (by event source)")
    policy = Policy.build(**{k: v for k, v in options.items() if k in allowed})
    return policy, preflight, cors


def _did_you_mean(name: str, options: Iterable[str]) -> str:
    """``"; did you mean 'permissions'?"`` for a misspelt option, else ``""``."""
    import difflib  # the error path only: no import cost for a correct route

    close = difflib.get_close_matches(name, sorted(options), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def middleware_options(
    options: Mapping[str, Any], *, required: bool, preflight: Any
) -> tuple[Policy, PreflightMode]:
    """:func:`split_options` for both ``ClerkMiddleware`` classes (ASGI and
    Powertools): the route options of ``require_auth``, and ``preflight``."""
    who = "ClerkMiddleware(required=False)" if required is False else "ClerkMiddleware"
    policy, mode, _ = split_options(
        {**options, "preflight": preflight}, required=required, who=who, any_token=True,
        entry_options=frozenset({"preflight"}),
    )
    return policy, mode


def wrap(
    get_auth: Callable[[], Authenticator],
    handler: Any,
    options: dict[str, Any],
    *,
    required: bool,
    any_token: bool = False,
    check_now: bool = False,
) -> Any:
    """The decorator (bare or called form) for ``require_session``/``with_session``
    and ``require_auth``/``with_auth``. ``check_now``: ``get_auth()`` is built
    already, so a policy it cannot serve fails at decoration time."""
    noun = "auth" if any_token else "session"
    who = f"require_{noun}" if required else f"with_{noun}"

    def prepare() -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        policy, preflight, cors = split_options(options, required=required, who=who, any_token=any_token)
        if check_now:
            get_auth().check_policy(policy)
        return lambda fn: _wrapped(get_auth, fn, policy, preflight, cors, required, checked=check_now)

    return handler_decorator(who, handler, prepare)


# inspect.CO_COROUTINE, without importing inspect (a cold start's milliseconds).
_CO_COROUTINE = 0x80


def _is_async(fn: Any) -> bool:
    """``fn`` is an ``async def`` seen through what hides it from a plain
    ``__code__`` look: ``functools.partial``, ``staticmethod`` /
    ``classmethod`` objects, bound methods, and instances whose class has an
    ``async def __call__`` (as ``inspect.iscoroutinefunction`` unwraps, and
    the last, which it misses)."""
    for _ in range(100):  # a partial of a partial…, bounded
        if isinstance(fn, functools.partial):
            fn = fn.func
        elif isinstance(fn, (staticmethod, classmethod)) or hasattr(fn, "__self__") and hasattr(fn, "__func__"):
            fn = fn.__func__
        else:
            break
    code = getattr(fn, "__code__", None)
    if code is None and not isinstance(fn, type):
        code = getattr(type(fn).__call__, "__code__", None)  # fn is callable: its type has __call__
    return bool(getattr(code, "co_flags", 0) & _CO_COROUTINE)


def handler_decorator(
    who: str, handler: Any, prepare: Callable[[], Callable[[Callable[..., Any]], Callable[..., Any]]]
) -> Any:
    """The bare (``@who``) and called (``@who(...)``) forms of a decorator of
    ``(event, context)`` handlers: ``handler`` (None in the called form) must
    be callable, and then ``prepare()`` validates the decorator's options,
    once, returning what wraps one handler; each wrapper carries its
    handler's name and docstring (``functools.update_wrapper``)."""
    if handler is not None and not callable(handler):
        raise TypeError(f"{who} decorates a callable handler(event, context)")
    wrap_one = prepare()

    def apply(fn: Any) -> Any:
        if not callable(fn):
            raise TypeError(f"{who} decorates a callable handler(event, context)")
        if _is_async(fn):
            # Lambda's Python runtime never awaits a handler: every admitted
            # request would answer an unawaited coroutine (a 502), refusals a dict.
            raise TypeError(
                f"{who} decorates a synchronous handler(event, context): Lambda's Python runtime "
                f"does not await `async def {getattr(fn, '__name__', 'handler')}`; "
                "define it with `def` (an ASGI app goes through Mangum(app))"
            )
        wrapper = wrap_one(fn)
        try:
            functools.update_wrapper(wrapper, fn)
        except (AttributeError, TypeError):  # exotic callables without a __dict__
            wrapper.__wrapped__ = fn  # type: ignore[attr-defined]
        return wrapper

    return apply(handler) if handler is not None else apply


_AWAITABLE_BODY = (
    f'{{"error": "internal_error", "reason": "{Reason.HANDLER_ASYNC.value}", '
    '"message": "The handler returned an awaitable; Lambda does not await it."}'
)


def settled(handler: Any, request: Request, raw: dict[str, Any], response: Any, told: list[bool]) -> Any:
    """``response``, unless ``handler`` returned an awaitable: an ``async def``
    hidden from the decoration-time refusal (a sync ``functools.wraps``
    wrapper around it) returns a coroutine, which Lambda would serialize into
    a 502. It is closed (its body never runs, no "never awaited" warning),
    logged once per handler (``told``: ``[False]`` per wrapper), and answered
    500 ``handler-async`` in the request's source format.

    Awaitable as ``await`` judges it, by the type: an instance's
    ``__getattr__`` (an attribute-access dict such as ``addict.Dict``, which
    answers every name) neither turns an answer into a 500 nor raises here. A
    dict is an answer whatever else it is: Lambda serializes it. Only a
    coroutine is closed (unstarted, its close runs no code); another
    awaitable's ``close`` is its own code, left alone."""
    kind = type(response)
    if kind is dict or isinstance(response, dict) or not hasattr(kind, "__await__"):  # a dict: an answer
        return response
    if kind is CoroutineType:
        with contextlib.suppress(Exception):
            response.close()
    if not told[0]:
        told[0] = True
        from .logs import WARNING, log

        log(
            "clerk_serverless", WARNING,
            "clerk_serverless: 500: handler %s returned %s, which Lambda does not await; define it with `def`",
            getattr(handler, "__name__", type(handler).__name__), type(response).__name__,
        )
    headers = {"Content-Type": "application/json", "Cache-Control": "no-store",
               "x-clerk-auth-reason": Reason.HANDLER_ASYNC.value}  # as every answer with a reason code
    return request.source.render(raw, 500, headers, _AWAITABLE_BODY)


def answer_event_error(event: Any, error: EventError, request: Request | None = None) -> dict[str, Any]:
    """A 400 for an event we cannot read, in its source's format when known."""
    from .logs import WARNING, log
    from .responses import error_parts

    log("clerk_serverless", WARNING, "clerk_serverless: 400 %s: %s", error.reason, error)
    status, headers, body = error_parts(error)
    if request is not None:
        return request.source.render(event, status, headers, body)
    try:
        source = source_of(event)
    except EventError:
        return render_unsupported(status, headers, body)
    return source.render(event, status, headers, body)


def _wrapped(
    get_auth: Callable[[], Authenticator],
    handler: Callable[..., Any],
    policy: Policy,
    preflight: PreflightMode,
    cors: bool | None,
    required: bool,
    *,
    checked: bool,
) -> Callable[..., Any]:
    policy_checked = checked
    bound_auth = get_auth() if checked else None  # a ClerkAuth's own decorators: built already
    told = [False]  # the awaitable-answer warning, once per handler

    def wrapper(event: Any, context: Any = None) -> Any:
        nonlocal policy_checked
        try:
            request = read_request(event)
        except EventError as exc:
            return answer_event_error(plain_event(event), exc)
        # `event` goes on to the handler as it came; `raw` is the dict read,
        # answered in, and given "session"/"auth" (the same dict unless a
        # Powertools data class wraps it, which then reads them from it).
        raw = request.event
        auth = bound_auth if bound_auth is not None else get_auth()
        if not policy_checked:
            auth.check_policy(policy)  # ClerkConfigError on the first request: the default auth is lazy
            policy_checked = True
        try:
            if request.method == "OPTIONS" and is_preflight(request):
                if preflight == "answer":
                    return request.source.render(raw, *preflight_parts(request, auth.parties_for(policy)))
                raw["session"] = raw["auth"] = None  # opted in: the app answers its own preflights
                return settled(handler, request, raw, handler(event, context), told)
            identity = admit(auth, request, policy, required=required)
        except Refusal as refusal:
            return request.source.render(raw, refusal.status, refusal.headers, refusal.body)
        except EventError as exc:
            return answer_event_error(raw, exc, request)
        raw["auth"] = identity
        raw["session"] = identity if isinstance(identity, Session) else None
        observer = auth.observer
        bound = observer is not None and identity is not None and observer.bind(request, identity)
        try:
            response = handler(event, context)
        finally:
            if bound and observer is not None:
                observer.unbind()
        kind = type(response)  # a dict answer costs one identity test: no call on the hot path
        if kind is not dict and hasattr(kind, "__await__"):  # judged by the type, as `await` does
            response = settled(handler, request, raw, response, told)
        if cors if cors is not None else request.source.adds_cors:
            with contextlib.suppress(EventError):  # an unreadable Origin: no CORS grant
                response = add_cors_headers(
                    response, request.origin, auth.parties_for(policy), request.source.answers_multi_value(raw)
                )
        return response

    return wrapper


__all__ = [
    "AuthOptions", "HandlerOptions", "P", "PolicyOptions", "R", "SessionPolicyOptions",
    "PreflightMode", "WithAuthOptions", "WithSessionOptions", "answer_event_error", "handler_decorator",
    "middleware_options", "settled", "split_options", "wrap",
]
