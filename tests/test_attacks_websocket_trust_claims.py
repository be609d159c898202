"""Red-team probes, fourth pass: what changed since efb1468 — the WebSocket
``$connect`` authorizer, the ASGI worker-thread rule (``may_block``), the
key store's outage rule for unknown kids, the deep-frozen ``Session.claims``,
``exclude_paths``, the trust-authorizer rules (cookie origin from the
request, machine ``azp``), ``_clerk_session_id`` on every source, route
``authorized_parties=None``, authorized-party spellings and the token split.

Every test states the secure behaviour. Tests named ``test_finding_*`` are
attacks (or regressions) that succeeded on the code as reviewed (184275b),
kept with their fixes; every other test is a probe the library withstood,
kept as a regression test.

Real parts only: generated RS256 keys, the loopback JWKS server and Clerk
Backend API, real-shaped events (public WebSocket authorizer captures
included), real Starlette/FastAPI apps over httpx's ASGI transport, the real
Powertools Logger.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import io
import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from support.calls import NOT_CALLED, call, recording_handler, run_async, victim_latency
from support.events import authorizer_event, behind_authorizer, make_event
from support.jwks_server import JwksServer
from support.tokens import ISSUER, ORIGIN, Clock, SigningKey, fresh, mint, oauth_jwt

from clerk_serverless import ClerkAuth, ClerkConfigError
from clerk_serverless.authorizer import Unauthorized, make_authorizer
from clerk_serverless.errors import AuthError, TokenInvalidError
from clerk_serverless.integrations.asgi import ClerkMiddleware
from clerk_serverless.sources import read_request, source_of
from clerk_serverless.trusted import authorizer_context
from clerk_serverless.verify import UnverifiedToken

EVIL = "https://evil.example"
OTHER_PARTY = "https://admin.example.com"
PUBLIC = Path(__file__).resolve().parent / "fixtures" / "events" / "public"
WS_AUTHORIZER_CAPTURE = PUBLIC / "powertools-lambda-python" / "apiGatewayAuthorizerWebSocketEvent.json"


def ws_connect(headers: dict[str, str] | None = None, multi: dict[str, list[str]] | None = None, **fields: Any) -> dict[str, Any]:
    """A real WebSocket ``$connect`` REQUEST authorizer event (Powertools'
    capture from API Gateway), its Authorization removed, these headers set."""
    event = json.loads(WS_AUTHORIZER_CAPTURE.read_text())
    for field in ("headers", "multiValueHeaders"):
        event[field].pop("Authorization", None)
    event["headers"].update(headers or {})
    event["multiValueHeaders"].update(multi or {})
    event.update(fields)
    return event


def verdict(authorize: Any, event: dict[str, Any]) -> str:
    """``Allow``, ``Deny`` or ``Unauthorized`` (401) — never anything else."""
    try:
        answer = authorize(event, None)
    except Unauthorized:
        return "Unauthorized"
    return str(answer["policyDocument"]["Statement"][0]["Effect"])


# =========================================================================================
# 1. The WebSocket $connect authorizer: a cookie handshake needs an authorized Origin
# =========================================================================================


def test_websocket_cookie_handshake_origin_spellings(make_auth: Any, key: SigningKey) -> None:
    """Held. Every way of carrying a foreign (or no usable) Origin beside the
    session cookie is denied: only in ``multiValueHeaders``, only in
    ``headers``, under another case, comma-joined with the good one, ``null``,
    empty; with no Origin, ``Sec-Fetch-Site: cross-site`` is denied too. The
    same handshake from the authorized origin, or a Bearer token from any
    origin, is allowed."""
    authorize = make_authorizer(make_auth())
    cookie = f"__session={mint(key)}"
    denied = {
        "both fields": ws_connect({"Cookie": cookie, "Origin": EVIL}, {"Cookie": [cookie], "Origin": [EVIL]}),
        "multi only": ws_connect({"Cookie": cookie, "Origin": ORIGIN}, {"Cookie": [cookie], "Origin": [EVIL]}),
        "headers only, cookie in multi": ws_connect({"Origin": EVIL}, {"Cookie": [cookie]}),
        "lowercase name in multi": ws_connect({"Cookie": cookie}, {"origin": [EVIL]}),
        "uppercase name": ws_connect({"Cookie": cookie, "ORIGIN": EVIL}),
        "comma-joined": ws_connect({"Cookie": cookie, "Origin": f"{ORIGIN}, {EVIL}"}),
        "null": ws_connect({"Cookie": cookie, "Origin": "null"}),
        "empty": ws_connect({"Cookie": cookie, "Origin": ""}),
        "uppercase value": ws_connect({"Cookie": cookie, "Origin": ORIGIN.upper()}),
        "no origin, cross-site fetch": ws_connect({"Cookie": cookie, "Sec-Fetch-Site": "cross-site"}),
        "httpMethod null": ws_connect({"Cookie": cookie, "Origin": EVIL}, httpMethod=None),
    }
    for label, event in denied.items():
        assert verdict(authorize, event) == "Deny", label
    assert verdict(authorize, ws_connect({"Cookie": cookie, "Origin": ORIGIN})) == "Allow"
    assert verdict(authorize, ws_connect({"Authorization": f"Bearer {mint(key)}", "Origin": EVIL})) == "Allow"


def test_websocket_events_that_are_not_a_connect_request_never_allow(make_auth: Any, key: SigningKey) -> None:
    """Held. A TOKEN event is judged on ``authorizationToken`` only (a cookie
    in it counts for nothing, whatever ``eventType`` says); a non-CONNECT
    event, a lowercase ``type`` and malformed header fields are 401s — never
    an exception other than ``Unauthorized``, never an Allow."""
    authorize = make_authorizer(make_auth())
    cookie = f"__session={mint(key)}"
    token_type = ws_connect({"Cookie": cookie, "Origin": ORIGIN}, type="TOKEN")
    message = ws_connect({"Cookie": cookie, "Origin": ORIGIN})
    message["requestContext"]["eventType"] = "MESSAGE"
    lowercase = ws_connect({"Cookie": cookie, "Origin": ORIGIN}, type="request")
    headers_list = ws_connect({"Cookie": cookie, "Origin": ORIGIN})
    headers_list["headers"] = ["Cookie", cookie]
    multi_str = ws_connect({"Cookie": cookie, "Origin": ORIGIN})
    multi_str["multiValueHeaders"]["Cookie"] = cookie
    bad_sid = ws_connect({"Cookie": cookie, "Origin": ORIGIN}, multiValueQueryStringParameters={"_clerk_session_id": [7]})
    other_sid = ws_connect({"Cookie": cookie, "Origin": ORIGIN},
                           multiValueQueryStringParameters={"_clerk_session_id": ["sess_2xyz", "sess_other"]})
    for label, event in {"TOKEN": token_type, "MESSAGE": message, "type=request": lowercase,
                         "headers list": headers_list, "multi str": multi_str, "sid not str": bad_sid,
                         "second sid": other_sid}.items():
        assert verdict(authorize, event) == "Unauthorized", label


def test_finding_a_connect_event_with_an_http_method_skips_the_handshake_origin_rule(
    make_auth: Any, key: SigningKey
) -> None:
    """LOW (defence in depth; needs an event shape API Gateway is not
    documented to send). ``_is_websocket_connect`` requires ``httpMethod`` to
    be absent, so a ``$connect`` REQUEST authorizer event that carries one is
    read as a REST request of that method. With ``GET`` (what the SDKs' shared
    WebSocket/REST types write: aws-lambda-java-libs' and aws-lambda-go's
    ``$connect`` captures say ``GET``/``POST``) the cookie-only handshake from
    a foreign Origin is a "safe" GET and is allowed — exactly the cross-site
    WebSocket hijacking the WEBSOCKET method exists to stop. A handshake is a
    handshake whatever ``httpMethod`` says: ``eventType: CONNECT`` is never
    on a REST or HTTP API event, so it can decide alone."""
    authorize = make_authorizer(make_auth())
    cookie = f"__session={mint(key)}"
    for method in ("GET", "HEAD", "OPTIONS", "POST"):
        event = ws_connect({"Cookie": cookie, "Origin": EVIL}, {"Cookie": [cookie], "Origin": [EVIL]}, httpMethod=method)
        assert verdict(authorize, event) == "Deny", f"httpMethod={method}: cross-site cookie handshake allowed"
    # a REST-shaped REQUEST event marked CONNECT is judged as the handshake it claims to be
    rest = make_event("rest_v1", method="GET", origin=EVIL, cookies=[cookie])
    rest.update({"type": "REQUEST", "methodArn": "arn:aws:execute-api:us-east-1:1:abc/prod/$connect"})
    rest["requestContext"]["eventType"] = "CONNECT"
    assert verdict(authorize, rest) == "Deny"
    # the same REST GET without the marker is an ordinary safe request
    rest["requestContext"].pop("eventType")
    assert verdict(authorize, rest) == "Allow"
    # a Bearer handshake with an httpMethod is still allowed, from anywhere
    bearer = ws_connect({"Authorization": f"Bearer {mint(key)}", "Origin": EVIL}, httpMethod="GET")
    assert verdict(authorize, bearer) == "Allow"


def test_eventtype_connect_never_turns_a_cross_site_cookie_write_into_an_allow(make_auth: Any, key: SigningKey) -> None:
    """Held. ``requestContext.eventType`` is written by API Gateway, never by
    the client, and only on WebSocket events; still, ``CONNECT`` on an HTTP
    API (payload 2.0) or a REST REQUEST authorizer event never turns a
    cross-site cookie POST into an allow. (A payload 2.0 event marked so is
    read as a REST one, its ``cookies[]`` unseen: that only ever denies.)"""
    authorize = make_authorizer(make_auth(), simple_responses=False)
    cookie = f"__session={mint(key)}"
    for method in ("GET", "POST"):
        event = authorizer_event(method=method, origin=EVIL, cookies=[cookie])
        event["requestContext"]["eventType"] = "CONNECT"
        assert verdict(authorize, event) == "Deny", ("http_v2", method)
    rest = make_event("rest_v1", method="POST", origin=EVIL, cookies=[cookie])
    rest.update({"type": "REQUEST", "methodArn": "arn:aws:execute-api:us-east-1:1:abc/prod/POST/me"})
    rest["requestContext"]["eventType"] = "CONNECT"
    assert verdict(authorize, rest) == "Deny"


# =========================================================================================
# 2. trust_authorizer: cookie origin rule from the request, machine azp
# =========================================================================================


def test_a_header_context_with_a_non_bearer_authorization_still_checks_the_cookie_origin(
    make_auth: Any, key: SigningKey
) -> None:
    """Held. The trusting route checks the cookie-write rule whenever the
    request carries no *token* in its header: ``Authorization: Basic …``,
    ``Bearer null`` or ``Bearer`` beside the cookie (what a page's fetch
    wrapper sends signed out) count as none, whatever a cached context says."""
    token = mint(key)
    context = make_authorizer(make_auth())(authorizer_event(bearer=token), None)["context"]
    assert context["token_carrier"] == "header"
    trusting = recording_handler(make_auth(trust_authorizer=True).require_session)
    for authorization in ("Basic eDp5", "Bearer null", "Bearer undefined", "Bearer", "Bearer   "):
        event = behind_authorizer(context, method="POST", origin=EVIL, cookies=[f"__session={token}"],
                                  headers={"Authorization": authorization})
        out = call(trusting, "http_v2", event)
        assert out.status == 403 and out.session is NOT_CALLED, authorization


def test_trusted_machine_identities_meet_the_routes_parties_as_verified_ones_do(
    clerk_api: Any, signing_keys: Any
) -> None:
    """Held. Behind ``trust_authorizer`` a machine identity gets the verdicts
    direct verification gives: an OAuth JWT with an ``azp`` passes a narrowed
    route when it is authorized there, and one without (as Clerk issues them)
    passes as a verifying route lets it, as @clerk/backend 3.25 does; an opaque API key whose *custom claims* hold ``"azp": evil`` passes
    too (its claims are data, never azp: the authorizer writes ``azp: ""``),
    and an OAuth JWT whose ``azp`` is outside the route's parties is refused."""
    key = signing_keys["current"]
    clerk_api.keys = [key.jwk]
    api_key = clerk_api.add_api_key(scopes=["read"], claims={"azp": EVIL})
    wide = [ORIGIN, OTHER_PARTY]
    build = lambda trust: ClerkAuth(  # noqa: E731
        secret_key=clerk_api.secret_key, api_url=clerk_api.url, authorized_parties=wide, trust_authorizer=trust
    )
    authorize = make_authorizer(build(False), accepts_token=["oauth_token", "api_key"])
    cases = {"oauth, no azp": (oauth_jwt(key, azp=None), 200),
             "oauth, azp inside the route": (oauth_jwt(key, azp=ORIGIN), 200), "api key, azp in claims": (api_key.secret, 200),
             "oauth, azp outside the route": (oauth_jwt(key, azp=OTHER_PARTY), 401)}
    for label, (token, status) in cases.items():
        context = authorize(authorizer_event(bearer=token), None)["context"]
        if label.startswith("api key"):
            assert context["azp"] == ""
        for trust in (False, True):
            route = build(trust).require_auth(accepts_token=["oauth_token", "api_key"], authorized_parties=[ORIGIN])
            out = call(recording_handler(route), "http_v2", behind_authorizer(context, bearer=token))
            assert out.status == status, (label, trust, out.status, out.reason)


# =========================================================================================
# 3. Frozen identities: what one request can leave behind for the next
# =========================================================================================


def test_session_claims_are_read_only_all_the_way_down(make_auth: Any, key: SigningKey) -> None:
    """Held. Nested claims (v2 ``o``, ``act``, custom objects and arrays) are
    read-only through ``session.claims``, ``session.actor`` and every route;
    ``to_dict()`` hands out fresh copies; the authorizer context is strings."""
    auth = make_auth()
    token = mint(key, v=2, o={"id": "org_1", "rol": "admin", "per": "read", "fpm": "1"}, fea="o:read",
                 act={"sub": "user_admin", "iss": "https://dashboard.clerk.com"}, meta={"roles": ["viewer"]})
    seen: dict[str, Any] = {}

    @auth.require_session
    def tamper(event: dict[str, Any], context: Any) -> dict[str, Any]:
        session = event["session"]
        attempts = (
            lambda: session.claims["o"].__setitem__("per", "read,admin"),
            lambda: session.claims["meta"]["roles"].append("admin"),
            lambda: session.actor.__setitem__("sub", "user_x"),  # type: ignore[union-attr]
            lambda: session.claims.__setitem__("sub", "user_x"),
        )
        for attempt in attempts:
            with pytest.raises((TypeError, AttributeError)):
                attempt()
        plain = session.to_dict()
        plain["actor"]["sub"] = "user_x"  # a copy: allowed, and harmless
        seen["context"] = authorizer_context(session)
        return {"statusCode": 200, "body": "{}"}

    assert call(tamper, "http_v2", bearer=token).status == 200
    again = recording_handler(auth.require_session)
    call(again, "http_v2", bearer=token)
    session = again.seen["session"]
    assert session.actor["sub"] == "user_admin" and list(session.claims["meta"]["roles"]) == ["viewer"]
    assert session.org_permissions == ("org:read:read",)  # fea o:read x per read, as minted
    assert all(isinstance(v, str) for v in seen["context"].values())


def test_finding_session_claims_can_no_longer_be_serialised_as_json(make_auth: Any, key: SigningKey) -> None:
    """LOW (a regression of de4d2a0: a working handler becomes a 500).
    ``json.dumps(dict(session.claims))`` — the usual way to log or return the
    claims, and what worked at efb1468 — now raises ``TypeError: Object of
    type mappingproxy is not JSON serializable`` for every token with a nested
    object: every v2 token of a user in an organization (``o``), every
    impersonation (``act``), every custom object claim. The deep-frozen view
    must stay JSON-ready (read-only ``dict`` subclass, not ``mappingproxy``)."""
    auth = make_auth()
    token = mint(key, v=2, o={"id": "org_1", "rol": "admin", "per": "read", "fpm": "1"}, meta={"roles": ["viewer"]})

    @auth.require_session
    def echo(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"statusCode": 200, "body": json.dumps({"claims": dict(event["session"].claims)})}

    out = call(echo, "http_v2", bearer=token)
    assert out.status == 200 and out.body["claims"]["o"]["id"] == "org_1"
    assert json.loads(json.dumps(dict(auth.verify_token(token).claims)))["meta"] == {"roles": ["viewer"]}


def test_finding_nested_machine_claims_are_shared_and_writable_through_the_cache(clerk_api: Any) -> None:
    """LOW (the machine twin of red team 3's finding 8, fixed for sessions in
    de4d2a0). A verified opaque token's ``MachineAuth`` is cached and the same
    object is handed to every request with that token for up to 60 s, on
    every route. Its top level is read-only, but ``claims`` is a *shallow*
    read-only view: a handler (or a helper) editing a nested list in place —
    ``auth.claims["roles"].append(…)`` — changes what every later request with
    that key sees, including the authorizer context written from it. An app
    deciding on the API key's custom claims then grants what the key never
    carried."""
    auth = ClerkAuth(secret_key=clerk_api.secret_key, api_url=clerk_api.url, authorized_parties=[ORIGIN])
    api_key = clerk_api.add_api_key(scopes=["read"], claims={"roles": ["viewer"], "org": {"tier": "free"}})

    @auth.require_auth(accepts_token="api_key")
    def normalise(event: dict[str, Any], context: Any) -> dict[str, Any]:
        claims = event["auth"].claims
        for edit in (lambda: claims["roles"].append("admin"), lambda: claims["org"].__setitem__("tier", "enterprise")):
            with contextlib.suppress(AttributeError, TypeError):  # read-only: what the test wants
                edit()
        return {"statusCode": 200, "body": "{}"}

    seen: dict[str, Any] = {}

    @auth.require_auth(accepts_token="api_key")
    def admin(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen["claims"] = json.loads(json.dumps(event["auth"].to_dict()["claims"]))
        seen["context"] = json.loads(authorizer_context(event["auth"])["claims"])
        return {"statusCode": 200, "body": "{}"}

    assert call(normalise, "http_v2", bearer=api_key.secret).status == 200
    assert call(admin, "http_v2", bearer=api_key.secret).status == 200
    assert seen["claims"] == {"roles": ["viewer"], "org": {"tier": "free"}}, f"claims now {seen['claims']}"
    assert seen["context"] == {"roles": ["viewer"], "org": {"tier": "free"}}


# =========================================================================================
# 4. The ASGI middleware's exclude_paths
# =========================================================================================


def test_finding_exclude_paths_root_unprotects_the_whole_app(make_auth: Any) -> None:
    """MEDIUM (fails open on a natural configuration). a70e6d0 stopped a lone
    string from being iterated into ``"/"``; an explicit ``"/"`` entry still
    does the same thing. Entries ending in ``/`` are prefixes, and ``"/"`` is a
    prefix of every path, so ``exclude_paths=["/", "/health"]`` — "the landing
    page and the health check are public", the obvious way to write it for a
    FastAPI app serving its home page at ``/`` — switches authentication off
    for every route, silently (``exclude_paths="/"`` too). ``"/"`` must mean
    the root page only (a whole-app exclusion is ``required=False`` or no
    middleware), or be refused."""

    async def admin(request: Any) -> JSONResponse:
        return JSONResponse({"admin": True})

    async def home(request: Any) -> JSONResponse:
        return JSONResponse({"home": True})

    for paths in (["/", "/health"], "/"):
        app = Starlette(routes=[Route("/", home), Route("/admin/users", admin, methods=["GET", "POST"])])
        try:
            app.add_middleware(ClerkMiddleware, auth=make_auth(), exclude_paths=paths)
            client = TestClient(app)
            client.get("/")  # builds the middleware stack
        except ClerkConfigError:
            continue  # refusing "/" outright is a fix too
        assert client.get("/").status_code == 200
        for method in ("GET", "POST"):
            answer = client.request(method, "/admin/users")
            assert answer.status_code == 401, f"exclude_paths={paths!r}: {method} /admin/users answered {answer.status_code}"


# =========================================================================================
# 5. A JWKS outage: unknown kids are 503, bounded, and only while it lasts
# =========================================================================================


def test_forged_unknown_kids_during_an_outage_are_503_with_a_bounded_retry_after(
    make_auth: Any, jwks: JwksServer, signing_keys: Any
) -> None:
    """Held. The outage rule (92c84b0) cannot be turned into anything but a
    503: a forged token naming an unknown kid gets 503 with ``Retry-After``
    of at most 60 s even when the JWKS endpoint asks for a day; the handler
    never runs; a forged token under a *known* kid is still a 401 (bad
    signature); no extra fetch is made per forged token; and once the
    endpoint is back (after the cooldown) the unknown kid is a 401 again."""
    clock = Clock()
    auth = make_auth(clock=clock)
    handler = recording_handler(auth.require_session)
    assert call(handler, "http_v2", bearer=fresh(signing_keys["current"], clock)).status == 200
    jwks.set("status", status=503, headers={"Retry-After": "86400"})
    clock.now += 301
    fetches = jwks.count
    forged_kid = fresh(signing_keys["attacker"], clock)
    for _ in range(5):
        out = call(handler, "http_v2", bearer=forged_kid)
        assert out.status == 503 and out.session is NOT_CALLED
        assert 1 <= int(out.headers["retry-after"]) <= 60
    assert jwks.count - fetches <= 1, "a forged token costs a fetch each"
    known_kid = mint(signing_keys["attacker"], {"kid": signing_keys["current"].kid},
                     iat=int(clock.now) - 2, nbf=int(clock.now) - 7, exp=int(clock.now) + 60)
    out = call(handler, "http_v2", bearer=known_kid)
    assert (out.status, out.reason) == (401, "token-invalid-signature")
    jwks.set("ok")
    clock.now += 61  # past the backoff and the cooldown
    out = call(handler, "http_v2", bearer=fresh(signing_keys["attacker"], clock))
    assert (out.status, out.reason) == (401, "jwk-kid-mismatch")


def test_the_authorizer_never_allows_or_caches_during_an_outage(make_auth: Any, jwks: JwksServer, signing_keys: Any) -> None:
    """Held. Behind the outage rule the authorizer raises (API Gateway: 500,
    nothing cached) for an unknown kid — never an Allow, never a cached
    Deny/401 — for HTTP API, REST and WebSocket events alike."""
    clock = Clock()
    auth = make_auth(clock=clock)
    auth.prefetch()
    jwks.set("status", status=503)
    clock.now += 301
    forged = fresh(signing_keys["attacker"], clock)
    cookie = f"__session={forged}"
    events = [
        make_authorizer(auth), authorizer_event(bearer=forged),
        make_authorizer(auth), ws_connect({"Cookie": cookie, "Origin": ORIGIN}),
    ]
    for authorize, event in zip(events[::2], events[1::2], strict=True):
        with pytest.raises(AuthError) as info:
            authorize(event, None)
        assert info.value.status == 503


# =========================================================================================
# 6. ASGI: worker threads
# =========================================================================================


def test_concurrent_worker_thread_admissions_never_mix_identities(make_auth: Any, key: SigningKey) -> None:
    """Held. Many first-seen tokens of different users at once (each admitted
    in a worker thread, the token cache and the audit trail shared): every
    request gets its own user, and every audit record names the user of its
    own request."""
    from aws_lambda_powertools import Logger

    stream = io.StringIO()
    logger = Logger(service="t", logger_handler=logging.StreamHandler(stream))
    auth = make_auth(logger=logger)

    async def me(request: Any) -> JSONResponse:
        await asyncio.sleep(0)
        return JSONResponse({"user_id": request.state.session.user_id})

    app = Starlette(routes=[Route("/me", me)])
    app.add_middleware(ClerkMiddleware, auth=auth)
    users = [f"user_{i:03d}" for i in range(60)]
    tokens = {user: mint(key, sub=user) for user in users}

    async def main() -> list[tuple[str, int, Any]]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            async def one(user: str) -> tuple[str, int, Any]:
                answer = await client.get("/me", headers={"Authorization": f"Bearer {tokens[user]}"})
                return user, answer.status_code, answer.json()
            return await asyncio.gather(*(one(u) for u in users * 2))

    for user, status, body in run_async(main()):
        assert (status, body) == (200, {"user_id": user})
    records = [json.loads(line) for line in stream.getvalue().splitlines() if '"clerk auth"' in line]
    assert len(records) == 120
    assert sorted(r["clerk_audit"]["user_id"] for r in records) == sorted(users * 2)


# =========================================================================================
# 7. Inputs: the token split, _clerk_session_id, fast path, spellings, None parties
# =========================================================================================


def test_token_split_refuses_every_other_dot_count_without_a_500(make_auth: Any, key: SigningKey) -> None:
    """Held. ``bytes.split`` (17719ee) keeps the old contract: exactly three
    segments, header and payload non-empty (an empty signature is left to the
    signature check); the signing input is exactly ``header.payload``;
    anything else is a 401, never an exception."""
    token = mint(key)
    header, payload, signature = token.split(".")
    assert UnverifiedToken(token).signing_input == f"{header}.{payload}".encode()
    malformed = (f"{header}.{payload}", f"{header}.{payload}.{signature}.", f".{payload}.{signature}",
                 f"{header}..{signature}", f"{header}.{payload}..{signature}", "..", "...", ".", token + ".x",
                 "a" * 5000, f"{header}.{payload}.{signature}\u00e9")
    for bad in malformed:
        with pytest.raises(TokenInvalidError):
            UnverifiedToken(bad)
    handler = recording_handler(make_auth().require_session)
    for bad in (*malformed, f"{header}.{payload}.", f"{header}.{payload}.{signature[:-4]}AAAA"):
        out = call(handler, "http_v2", bearer=bad)
        assert out.status == 401 and out.session is NOT_CALLED, bad[:40]


@pytest.mark.parametrize("shape", ["rest_v1", "alb_multi", "vpc_lattice_v2"])
def test_repeated_session_id_values_of_the_wrong_type_are_400_not_500(make_auth: Any, key: SigningKey, shape: str) -> None:
    """Held. ``query_values`` validates every value of a multi-value query
    field: a non-string second value (a direct invoke, a broken proxy) is a
    400, never a 500 and never a pass."""
    handler = recording_handler(make_auth().require_session)
    event = make_event(shape, bearer=mint(key))
    field = "queryStringParameters" if shape == "vpc_lattice_v2" else "multiValueQueryStringParameters"
    for values in (["sess_2xyz", 7], ["sess_2xyz", None], *([[], "sess_2xyz"] if shape != "vpc_lattice_v2" else [])):
        broken = copy.deepcopy(event)
        broken[field] = {"_clerk_session_id": values}
        out = call(handler, shape, broken)
        assert out.status in (400, 401) and out.session is NOT_CALLED, (values, out.status)


def test_the_fast_path_reads_every_public_event_as_the_full_dispatch_does() -> None:
    """Held. ``read_request``'s shortcut for events with ``requestContext.http``
    (3a26bf0) picks the same source, method, headers and query as
    ``source_of(event).read(event)`` on every public event it applies to."""
    checked = 0
    for path in sorted(PUBLIC.rglob("*.json")):
        try:
            event = json.loads(path.read_text(encoding="utf-8-sig"))
        except ValueError:
            continue
        ctx = event.get("requestContext") if isinstance(event, dict) else None
        if not (isinstance(ctx, dict) and isinstance(ctx.get("http"), dict)):
            continue
        try:
            full = source_of(event).read(event)
        except Exception as exc:  # noqa: BLE001 - the shortcut must raise alike
            with pytest.raises(type(exc)):
                read_request(event)
            continue
        fast = read_request(event)
        assert (fast.source.name, fast.method, fast.header("authorization"), fast.cookies(),
                fast.query_values("_clerk_session_id"), fast.origins) == (
            full.source.name, full.method, full.header("authorization"), full.cookies(),
            full.query_values("_clerk_session_id"), full.origins), path.name
        checked += 1
    assert checked >= 20


def test_route_parties_none_inherits_in_every_entry_point(make_auth: Any, key: SigningKey) -> None:
    """Held. ``authorized_parties=None`` keeps the instance's parties on the
    decorators, the authorizer and ``verify_token``: a foreign ``azp`` is
    refused, and so is a cross-site cookie write."""
    auth = make_auth()
    foreign = mint(key, azp=EVIL)
    out = call(recording_handler(auth.require_session(authorized_parties=None)), "http_v2", bearer=foreign)
    assert out.status == 401
    out = call(recording_handler(auth.require_session(authorized_parties=None)), "http_v2",
               method="POST", origin=EVIL, cookies=[f"__session={mint(key)}"])
    assert out.status == 403
    assert make_authorizer(auth, authorized_parties=None)(authorizer_event(bearer=foreign), None) == {"isAuthorized": False}
    with pytest.raises(AuthError):
        auth.verify_token(foreign, authorized_parties=None)


def test_authorized_party_spellings_no_browser_sends_are_refused() -> None:
    """Held. e0c8ac3: every spelling that could never equal a browser's
    ``Origin`` is a configuration error; the canonical spellings pass."""
    for bad in ("https://APP.example.com", "HTTPS://app.example.com", "https://app.example.com:443",
                "http://localhost:80", "https://app.example.com:0443", "https://app.example.com/",
                "https://app.example.com/path", "null", "*", "https://*.example.com", "https://[::1]:443"):
        with pytest.raises(ClerkConfigError):
            ClerkAuth(jwks_url="https://clerk.example.com/.well-known/jwks.json", authorized_parties=[bad])
    for good in ("https://app.example.com", "http://localhost:3000", "http://127.0.0.1:8080", "https://[::1]:8443"):
        ClerkAuth(jwks_url="https://clerk.example.com/.well-known/jwks.json", authorized_parties=[good])


# =========================================================================================
# 8. may_block: a cached token whose key left the set still waits on the network
# =========================================================================================


def test_finding_a_cached_token_whose_key_was_rotated_out_refetches_on_the_event_loop(
    jwks: JwksServer, signing_keys: Any
) -> None:
    """LOW (availability, ASGI deployments; narrow window). ``may_block``
    answers False for any token in the verified-token cache, but a cache hit
    whose key has left the key set is re-verified, and its unknown kid forces
    a JWKS refetch (once per cooldown) — on the event loop. After Clerk
    removes a key, a client still holding a fresh token under it (minted in
    the last minute) freezes every concurrent request for as long as the JWKS
    endpoint takes (up to ``fetch_timeout``). ``may_block`` should also say
    True when the cached entry's key is no longer the one held for its kid."""
    clock = Clock()
    current, nxt = signing_keys["current"], signing_keys["next"]
    jwks.keys = [current.jwk]
    auth = ClerkAuth(jwks_url=jwks.url, authorized_parties=[ORIGIN], issuer=ISSUER, clock=clock)
    old = mint(current, iat=int(clock.now) - 2, nbf=int(clock.now) - 7, exp=int(clock.now) + 3600)
    assert auth.verify_token(old).user_id == "user_2abc"  # cached
    # Clerk drops the old key; the next TTL refresh (made by another request) learns it
    jwks.keys = [nxt.jwk]
    clock.now += 301
    assert auth.verify_token(mint(nxt, iat=int(clock.now) - 2, nbf=int(clock.now) - 7, exp=int(clock.now) + 60))
    clock.now += 31  # past the unknown-kid cooldown; the old token is still cached and unexpired
    jwks.set("slow", delay=1.0)

    async def me(request: Any) -> JSONResponse:
        return JSONResponse({"ok": True})

    async def health(request: Any) -> JSONResponse:
        return JSONResponse({"ok": True})

    app = Starlette(routes=[Route("/me", me), Route("/health", health)])
    app.add_middleware(ClerkMiddleware, auth=auth, exclude_paths=["/health"])

    status, latency = victim_latency(app, {"Authorization": f"Bearer {old}"})
    jwks.set("ok")
    assert status == 401
    assert latency < 0.6, f"/health answered {latency:.2f} s after the start: the event loop was blocked"
