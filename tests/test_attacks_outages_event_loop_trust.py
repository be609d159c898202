"""Red-team probes, third pass: outage semantics during a key rotation, the
event loop under ASGI servers, deadlines outside the request path, route
options that switch protections off, the authorizer-trust path, and the
verified-token cache.

Every test states the secure behaviour. Tests named ``test_finding_*`` are
attacks that succeed on the code as reviewed (they fail until the library is
fixed); every other test is a probe the library withstood, kept as a
regression test.

Real parts only: generated RS256 keys, the loopback JWKS server and Clerk
Backend API, real-shaped events, real FastAPI/Starlette apps (httpx's ASGI
transport), boto3 against a loopback endpoint that never answers.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from typing import Any

import pytest
from fastapi import Depends, FastAPI
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from support.aws import clear_powertools_parameters, use_aws_endpoint
from support.calls import NOT_CALLED, call, recording_handler, send_token, victim_latency
from support.events import SHAPES, authorizer_event, behind_authorizer, make_event
from support.jwks_server import JwksServer, SilentServer
from support.tokens import ISSUER, ORIGIN, Clock, SigningKey, fresh, mint, oauth_jwt

from clerk_serverless import ClerkAuth, ClerkConfigError
from clerk_serverless.authorizer import make_authorizer
from clerk_serverless.integrations.asgi import ClerkMiddleware
from clerk_serverless.integrations.fastapi import require_clerk_auth

EVIL = "https://evil.example"
OTHER_PARTY = "https://admin.example.com"


# =========================================================================================
# 1. An outage on our side is 503, never 401 — also while Clerk rotates keys
# =========================================================================================


def test_finding_a_rotated_kid_during_a_jwks_outage_signs_users_out(
    make_auth: Any, jwks: JwksServer, signing_keys: Any
) -> None:
    """MEDIUM (availability; the 503-never-401 rule). Keys are cached; then the
    JWKS endpoint fails (5xx) while Clerk starts signing with its next key.
    A real user's token names a kid we do not hold: the forced refetch fails,
    the store hands back its stale keys, and ``_key_for`` answers 401
    ``jwk-kid-mismatch`` — which makes Clerk's frontend sign the user out —
    for every new-key token until the endpoint is back. We cannot tell that
    kid from a forged one without the key set: that is our outage, 503 with
    Retry-After, as for a cold start (tests/test_keys.py
    test_cold_start_outage_is_503_never_401)."""
    current, new = signing_keys["current"], signing_keys["next"]
    clock = Clock()
    handler = recording_handler(make_auth(clock=clock).require_session)
    assert send_token(handler, "http_v2", fresh(current, clock)).status == 200
    jwks.set("status", status=503)
    jwks.keys = [current.jwk, new.jwk]  # what the endpoint would serve, were it up
    clock.now += 301  # past the TTL: the refresh fails, stale keys serve
    assert send_token(handler, "http_v2", fresh(current, clock)).status == 200
    for step in (0, 31):  # inside, then past, the unknown-kid cooldown
        clock.now += step
        out = send_token(handler, "http_v2", fresh(new, clock))
        assert out.session is NOT_CALLED
        assert out.status == 503 and "retry-after" in out.headers, (step, out.status, out.reason)


def test_unknown_kid_with_a_healthy_endpoint_is_still_401(make_auth: Any, jwks: JwksServer, signing_keys: Any) -> None:
    """The other side of the rule: when the refetch succeeds and the kid is not
    there, the token is forged (or its key removed): 401, not 503."""
    clock = Clock()
    handler = recording_handler(make_auth(clock=clock).require_session)
    assert send_token(handler, "http_v2", fresh(signing_keys["current"], clock)).status == 200
    out = send_token(handler, "http_v2", fresh(signing_keys["attacker"], clock))
    assert out.status == 401 and out.reason == "jwk-kid-mismatch"


# =========================================================================================
# 2. Under an ASGI server, one request must not stall every other one
# =========================================================================================


def _starlette(auth: ClerkAuth, accepts: str = "any") -> Any:
    async def me(request: Any) -> JSONResponse:
        return JSONResponse({"ok": True})

    async def health(request: Any) -> JSONResponse:
        return JSONResponse({"ok": True})

    app = Starlette(routes=[Route("/me", me), Route("/health", health)])
    app.add_middleware(ClerkMiddleware, auth=auth, accepts_token=accepts, exclude_paths=["/health"])
    return app


def _fastapi(auth: ClerkAuth) -> Any:
    app = FastAPI()

    @app.get("/me")
    def me(caller: Any = Depends(require_clerk_auth(auth=auth, accepts_token="any"))) -> dict[str, bool]:
        return {"ok": True}

    @app.get("/health")
    async def health() -> dict[str, bool]:
        return {"ok": True}

    return app


@pytest.mark.parametrize("framework", ["starlette-middleware", "fastapi-dependency"])
def test_finding_a_random_api_key_stalls_the_event_loop(clerk_api: Any, framework: str) -> None:
    """MEDIUM (availability, ASGI deployments: uvicorn on ECS/Fargate/EC2, the
    README's "same app under uvicorn"). ``admit_async`` moves only a *due key
    fetch* to a worker thread; an opaque machine token's Backend API call
    (up to ``fetch_timeout``, 3 s) runs on the event loop. An unauthenticated
    client sending random ``ak_…`` strings freezes every concurrent request —
    even excluded paths — for as long as Clerk takes to answer each: with
    Clerk at 250 ms, four such requests a second keep the server frozen.
    (Under Mangum on Lambda one request per container: not affected.)"""
    auth = ClerkAuth(secret_key=clerk_api.secret_key, api_url=clerk_api.url, authorized_parties=[ORIGIN])
    auth.prefetch()
    clerk_api.fault("verifyApiKey", "slow", delay=1.0)
    app = _starlette(auth) if framework == "starlette-middleware" else _fastapi(auth)
    status, latency = victim_latency(app, {"Authorization": "Bearer ak_" + "7" * 32})
    clerk_api.clear_faults()
    assert status == 401
    assert latency < 0.6, f"/health answered {latency:.2f} s after the start: the event loop was blocked"


def test_finding_an_unknown_kid_refetch_stalls_the_event_loop(jwks: JwksServer, signing_keys: Any) -> None:
    """LOW (availability, ASGI deployments). The same for the forced JWKS
    refetch an unknown kid (or a bad signature) triggers: it runs on the event
    loop, once per cooldown window (30 s) per process, for up to
    ``fetch_timeout`` when the JWKS endpoint is slow."""
    auth = ClerkAuth(jwks_url=jwks.url, authorized_parties=[ORIGIN], issuer=ISSUER)
    auth.prefetch()
    jwks.set("slow", delay=1.0)
    forged = mint(signing_keys["attacker"], {"kid": "ins_unknown"})
    status, latency = victim_latency(_starlette(auth, "session_token"), {"Authorization": f"Bearer {forged}"})
    jwks.set("ok")
    assert status == 401
    assert latency < 0.6, f"/health answered {latency:.2f} s after the start: the event loop was blocked"


# =========================================================================================
# 3. Every network wait has a deadline — the secret key's too
# =========================================================================================


def test_finding_reading_the_secret_key_from_ssm_has_no_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    """LOW-MEDIUM (never a hang). ``secret_key_parameter`` /
    ``secret_key_secret_id`` are read through Powertools Parameters or boto3
    with botocore's defaults: 60 s connect and 60 s read timeouts, retried
    (3–5 attempts). An SSM endpoint that accepts and never answers (a VPC
    without an endpoint or NAT, a brownout) holds ``ClerkAuth(...)`` for
    minutes — at cold start, or inside the first request for the lazily built
    default instance (module-level decorators) — instead of the
    ``ClerkConfigError`` naming the parameter within the fetch budget."""
    silent = SilentServer().start()
    use_aws_endpoint(monkeypatch, f"http://127.0.0.1:{silent.port}")
    outcome: list[BaseException] = []

    def build() -> None:
        try:
            ClerkAuth(jwks_url="https://clerk.example.com/.well-known/jwks.json", secret_key_parameter="/app/clerk")
        except BaseException as exc:  # noqa: BLE001 - recorded for the assertion
            outcome.append(exc)

    started = time.monotonic()
    worker = threading.Thread(target=build, daemon=True)
    worker.start()
    worker.join(8.0)
    hung = worker.is_alive()
    silent.stop()
    clear_powertools_parameters()
    assert not hung, f"ClerkAuth() still waiting on SSM after {time.monotonic() - started:.1f} s"
    assert outcome and isinstance(outcome[0], ClerkConfigError)


# =========================================================================================
# 4. Route options must not switch protections off by accident
# =========================================================================================


def test_finding_route_authorized_parties_none_disables_azp_and_the_cookie_rule(make_auth: Any, key: SigningKey) -> None:
    """LOW (a quiet footgun). ``ClerkAuth(authorized_parties=None)`` means "not
    given: take CLERK_AUTHORIZED_PARTIES"; the same ``None`` as a route option
    means "no authorized parties": any ``azp`` is admitted and cross-site
    cookie writes pass (only ``Origin: null`` is refused), without a word.
    ``require_session(authorized_parties=os.environ.get("ADMIN_PARTIES"))``
    with the variable unset turns both protections off for that route, on an
    instance configured with parties. None should inherit (or be refused),
    and opting out should take an explicit value."""
    auth = make_auth()  # authorized_parties=[ORIGIN]
    override = os.environ.get("REDTEAM3_UNSET_ROUTE_PARTIES")  # unset: None
    handler = recording_handler(auth.require_session(authorized_parties=override))
    foreign_azp = call(handler, "http_v2", bearer=mint(key, azp=EVIL))
    csrf = call(handler, "http_v2", method="POST", origin=EVIL, cookies=[f"__session={mint(key)}"])
    assert (foreign_azp.status, foreign_azp.session) == (401, NOT_CALLED), "a token minted for another origin was admitted"
    assert (csrf.status, csrf.session) == (403, NOT_CALLED), "a cross-site cookie write was admitted"


# =========================================================================================
# 5. trust_authorizer: the route decides from the request, not from what a cached context says
# =========================================================================================


def test_finding_a_cached_header_context_lets_a_cross_site_cookie_write_through(make_auth: Any, key: SigningKey) -> None:
    """LOW-MEDIUM (needs authorizer result caching). The authorizer records
    ``token_carrier`` from the request it saw. With caching keyed on the
    Cookie header (the README's advice for cookie apps; ``Origin`` as an
    identity source would 401 every same-origin GET, which sends none), a
    page sending both ``Authorization`` and the cookie caches an allow whose
    context says ``header``. A same-site page on another origin then POSTs
    with the cookie alone: API Gateway reuses that context, and the trusting
    function skips the cookie-write rule because the *context* says
    ``header`` — though this request carries no header token at all."""
    token = mint(key)
    authorize = make_authorizer(make_auth())
    first = authorizer_event(bearer=token, cookies=[f"__session={token}"])
    context = authorize(first, None)["context"]
    assert context["token_carrier"] == "header"
    trusting = recording_handler(make_auth(trust_authorizer=True).require_session)
    out = call(trusting, "http_v2", behind_authorizer(context, method="POST", origin=EVIL, cookies=[f"__session={token}"]))
    assert out.status == 403 and out.session is NOT_CALLED, "a cross-site cookie write was admitted"
    # the legitimate request that cached it still passes
    ok = call(trusting, "http_v2", behind_authorizer(context, method="POST", origin=ORIGIN, bearer=token))
    assert ok.status == 200


def test_finding_trusted_machine_identities_skip_the_routes_authorized_parties(clerk_api: Any, signing_keys: Any) -> None:
    """LOW. An OAuth access token JWT carrying ``azp``: verified directly, a
    route narrowed to ``authorized_parties=[admin]`` refuses it (azp is
    another party). Behind ``trust_authorizer`` the same route admits it: the
    machine branch of ``TrustedAuthorizer.identity`` checks type, expiry and scopes but
    not ``azp`` (which the context even carries, inside ``claims``)."""
    key = signing_keys["current"]
    clerk_api.keys = [key.jwk]
    oauth = oauth_jwt(key)  # azp: ORIGIN
    parties = [ORIGIN, OTHER_PARTY]
    authorize = make_authorizer(
        ClerkAuth(secret_key=clerk_api.secret_key, api_url=clerk_api.url, authorized_parties=parties),
        accepts_token="oauth_token",
    )
    context = authorize(authorizer_event(bearer=oauth), None)["context"]
    for trust in (False, True):
        downstream = ClerkAuth(
            secret_key=clerk_api.secret_key, api_url=clerk_api.url, authorized_parties=parties, trust_authorizer=trust
        )
        handler = recording_handler(downstream.require_auth(accepts_token="oauth_token", authorized_parties=[OTHER_PARTY]))
        out = call(handler, "http_v2", behind_authorizer(context, bearer=oauth))
        assert out.status == 401 and out.session is NOT_CALLED, f"trust_authorizer={trust}: admitted"


# =========================================================================================
# 6. The verified-token cache
# =========================================================================================


def test_finding_nested_claims_are_shared_and_writable_through_the_token_cache(make_auth: Any, key: SigningKey) -> None:
    """LOW (defence in depth; the library guards MachineAuth against exactly
    this: test_a_handler_cannot_rewrite_a_cached_machine_identity).
    ``Session.claims`` is a read-only view of the top level only; its lists
    and objects are the ones the verified-token cache keeps, and the
    organization is decoded from them lazily. A handler (or a helper it calls)
    that edits ``session.claims["org_permissions"]`` in place changes the
    verdict of later requests bearing the same token, on other routes:
    here, a permission the token never carried."""
    auth = make_auth()
    token = mint(key, org_id="org_1", org_role="org:member", org_permissions=["org:reports:read"])

    @auth.require_session
    def profile(event: dict[str, Any], context: Any) -> dict[str, Any]:
        permissions = event["session"].claims["org_permissions"]
        with contextlib.suppress(AttributeError, TypeError):  # read-only: what the test wants
            permissions.append("org:billing:manage")  # e.g. a helper "normalising" the list in place
        return {"statusCode": 200, "body": "{}"}

    billing = recording_handler(auth.require_session(permissions=["org:billing:manage"]))
    assert call(profile, "http_v2", bearer=token).status == 200
    out = call(billing, "http_v2", bearer=token)
    assert out.status == 403 and out.session is NOT_CALLED, "a permission the token never carried was granted"


def test_cache_hits_still_meet_every_per_request_rule(make_auth: Any, key: SigningKey) -> None:
    """Held. A token first admitted by a lenient route (pending allowed, wide
    parties) is cached; stricter routes still refuse it on the cache hit, and
    the per-request checks (``_clerk_session_id``, ``__client_uat``, the
    cookie-write origin rule, expiry) run on every hit."""
    clock = Clock()
    auth = make_auth(clock=clock, authorized_parties=[ORIGIN, OTHER_PARTY])
    token = fresh(key, clock, sts="pending", azp=OTHER_PARTY)
    lenient = recording_handler(auth.require_session(treat_pending_as_signed_out=False))
    assert call(lenient, "http_v2", bearer=token).status == 200
    strict_pending = recording_handler(auth.require_session)
    narrow = recording_handler(auth.require_session(authorized_parties=[ORIGIN], treat_pending_as_signed_out=False))
    assert call(strict_pending, "http_v2", bearer=token).reason == "session-pending"
    assert call(narrow, "http_v2", bearer=token).reason == "token-invalid-authorized-parties"
    assert call(lenient, "http_v2", bearer=token, query={"_clerk_session_id": "sess_other"}).reason == "session-id-mismatch"
    later = str(int(clock.now) + 10)
    assert call(lenient, "http_v2", cookies=[f"__session={token}", f"__client_uat={later}"]).reason == "session-token-iat-before-client-uat"
    assert call(lenient, "http_v2", method="POST", origin=EVIL, cookies=[f"__session={token}"]).reason == "origin-invalid"
    clock.now += 66
    assert call(lenient, "http_v2", bearer=token).reason == "token-expired"


# =========================================================================================
# 7. Cookie writes from origins that are not authorized parties: more spellings
# =========================================================================================

ORIGIN_SPELLINGS = [
    "https://app.example.com.",  # trailing-dot FQDN
    "https://app.example.com:443",  # the default port, spelt out
    "HTTPS://APP.EXAMPLE.COM",
    "https://app.example.com/",
    "https://user@app.example.com",
    "https://app.example.com@evil.example",
    "https://xn--pp-example-7ib.com",  # a punycode look-alike
    "https://app.example.com.evil.example",
    "http://app.example.com",
    "null",
    "",
    " ",
    "https://app.example.com https://evil.example",
    "https://app.example.com, https://evil.example",
]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("origin", ORIGIN_SPELLINGS)
def test_cookie_writes_from_look_alike_origins_are_refused(make_auth: Any, key: SigningKey, shape: str, origin: str) -> None:
    handler = recording_handler(make_auth().require_session)
    out = call(handler, shape, method="POST", origin=origin, cookies=[f"__session={mint(key)}"])
    assert out.status == 403 and out.reason == "origin-invalid" and out.session is NOT_CALLED


@pytest.mark.parametrize("shape", ["rest_v1", "alb_multi"])
def test_origin_and_cookie_disagreements_between_headers_and_multi_value(make_auth: Any, key: SigningKey, shape: str) -> None:
    """Held. A REST/ALB event whose ``headers`` and ``multiValueHeaders``
    disagree (one authorized ``Origin`` in one, a foreign one in the other;
    two Origin lines) is refused whichever map the foreign value hides in."""
    handler = recording_handler(make_auth().require_session)
    token = mint(key)
    cases = [(None, [EVIL]), (None, [ORIGIN, EVIL]), (None, [EVIL, ORIGIN])]
    if shape == "rest_v1":  # ALB multi-value events carry no single-value map
        cases += [(ORIGIN, [EVIL]), (EVIL, [ORIGIN]), (ORIGIN, [ORIGIN, EVIL])]
    for single, multi in cases:
        event = make_event(shape, method="POST", cookies=[f"__session={token}"])
        if single is not None:
            event.setdefault("headers", {})["Origin"] = single
        event.setdefault("multiValueHeaders", {})["origin"] = multi
        out = call(handler, shape, event)
        assert out.status == 403 and out.session is NOT_CALLED, (single, multi)


# =========================================================================================
# 8. Event-source confusion and header-name duplicates never admit a forged token
# =========================================================================================


def test_fields_of_another_source_are_never_read(make_auth: Any, key: SigningKey) -> None:
    """Held. A token placed where *another* source would carry it (v1
    ``multiValueHeaders`` on a v2 event; a v2 ``cookies`` array on a REST
    event) is not read: the request is judged on its own source's fields."""
    handler = recording_handler(make_auth().require_session)
    token = mint(key)
    v2 = make_event("http_v2")
    v2["multiValueHeaders"] = {"Authorization": [f"Bearer {token}"], "Cookie": [f"__session={token}"]}
    assert call(handler, "http_v2", v2).status == 401
    rest = make_event("rest_v1")
    rest["cookies"] = [f"__session={token}"]
    assert call(handler, "rest_v1", rest).status == 401


@pytest.mark.parametrize("shape", ["rest_v1", "alb", "http_v2", "vpc_lattice_v2"])
def test_header_name_case_duplicates_never_admit_a_forged_token(make_auth: Any, key: SigningKey, signing_keys: Any, shape: str) -> None:
    """Held. ``authorization`` and ``Authorization`` both present, one valid
    and one forged: either one is read, the forged one never admits anyone,
    and nothing raises."""
    handler = recording_handler(make_auth().require_session)
    good, forged = mint(key), mint(signing_keys["attacker"], {"kid": key.kid}, sub="user_evil")
    for first, second in ((good, forged), (forged, good)):
        event = make_event(shape)
        field = "headers"
        value: Any = f"Bearer {first}"
        other: Any = f"Bearer {second}"
        if shape == "vpc_lattice_v2":
            value, other = [value], [other]
        event[field]["authorization"] = value
        event[field]["Authorization"] = other
        out = call(handler, shape, event)
        assert out.status in (200, 401)
        if out.status == 200:
            assert out.session.user_id == "user_2abc"


def test_machine_tokens_in_the_v2_cookies_array_or_a_cookie_header_are_ignored(clerk_api: Any) -> None:
    """Held. An API key in ``__session`` — in the v2 ``cookies`` array or in a
    stray ``cookie`` header — never reaches the Backend API."""
    auth = ClerkAuth(secret_key=clerk_api.secret_key, api_url=clerk_api.url, authorized_parties=[ORIGIN])
    api_key = clerk_api.add_api_key().secret
    handler = recording_handler(auth.require_auth(accepts_token="any"))
    event = make_event("http_v2", cookies=[f"__session={api_key}"])
    event["headers"]["cookie"] = f"__session={api_key}"
    out = call(handler, "http_v2", event)
    assert out.status == 401 and out.session is NOT_CALLED
    assert [c for c in clerk_api.calls if c.method == "POST"] == []


# =========================================================================================
# 9. Secrets never leave through configuration reprs or errors
# =========================================================================================


def test_configured_secrets_stay_out_of_reprs_and_errors(clerk_api: Any) -> None:
    machine_secret = "ak_" + "m" * 32
    auth = ClerkAuth(
        secret_key=clerk_api.secret_key, api_url=clerk_api.url, machine_secret_key=machine_secret, authorized_parties=[ORIGIN]
    )
    texts = [repr(auth), str(auth), repr(auth.settings), repr(auth.backend_api), repr(auth.key_store.snapshot())]
    for text in texts:
        assert clerk_api.secret_key not in text and machine_secret not in text
    with pytest.raises(ClerkConfigError) as info:
        ClerkAuth(secret_key=clerk_api.secret_key + " x", api_url=clerk_api.url)
    assert clerk_api.secret_key not in str(info.value)
    body = json.dumps(call(recording_handler(auth.require_session), "http_v2", bearer="x").response)
    assert clerk_api.secret_key not in body


# =========================================================================================
# 10. The ASGI middleware's exclude_paths
# =========================================================================================


def test_finding_exclude_paths_given_as_one_string_unprotects_the_whole_app(make_auth: Any) -> None:
    """MEDIUM (fails open on a one-character mistake). ``exclude_paths`` is
    typed ``Iterable[str]`` and a ``str`` is one, so
    ``ClerkMiddleware(app, exclude_paths="/health")`` type-checks — and is
    iterated character by character: ``"/"`` is among them, and a ``"/"``
    entry is a prefix of every path. Every route then runs without
    authentication, silently. Every other list option of the library reads a
    lone string as one item (``permissions="…"``, ``accepts_token="…"``,
    comma-separated ``authorized_parties``)."""
    from starlette.testclient import TestClient

    async def admin(request: Any) -> JSONResponse:
        return JSONResponse({"admin": True})

    async def health(request: Any) -> JSONResponse:
        return JSONResponse({"ok": True})

    app = Starlette(routes=[Route("/admin/users", admin, methods=["GET", "POST"]), Route("/health", health)])
    try:
        app.add_middleware(ClerkMiddleware, auth=make_auth(), exclude_paths="/health")
    except ClerkConfigError:
        return  # refusing the string outright is a fix too
    client = TestClient(app)
    assert client.get("/health").status_code == 200
    for method in ("GET", "POST"):
        answer = client.request(method, "/admin/users")
        assert answer.status_code == 401, f"{method} /admin/users answered {answer.status_code} without a token"


def test_trust_authorizer_takes_a_bool_only(key: SigningKey) -> None:
    """``trust_authorizer="false"`` (a string, e.g. read from the environment)
    was truthy: trust switched on. Only a bool is accepted."""
    for value in ("false", "0", 1, None):
        with pytest.raises(ClerkConfigError) as info:
            ClerkAuth(jwt_key=key.public_pem, trust_authorizer=value)  # type: ignore[arg-type]
        assert info.value.setting == "trust_authorizer"
