"""Red-team probes against machine tokens (API keys, M2M tokens, OAuth access
tokens), the opaque-token cache, the Backend API client, the authorizer
context and the plans/features/reverification checks.

Every test states the secure behaviour. Tests named ``test_finding_*`` are
attacks that currently succeed (they fail until the library is fixed); every
other test is a probe the library withstood, kept as a regression test.

Real parts only: generated RS256 keys, the loopback Clerk Backend API
(``clerk_api``: requests and answers checked against Clerk's OpenAPI spec,
faults on demand), real-shaped events, real FastAPI/Starlette/Powertools apps.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

import pytest
from support.calls import NOT_CALLED, call
from support.events import SHAPES, make_event
from support.tokens import (
    ISSUER,
    M2M_CAT,
    MACHINE,
    ORIGIN,
    USER,
    SigningKey,
    b64url,
    m2m_jwt,
    mint,
    oauth_jwt,
    sign_raw,
)

from clerk_serverless import ClerkAuth, ClerkConfigError, MachineAuth, Session
from clerk_serverless.authorizer import Unauthorized, make_authorizer
from clerk_serverless.errors import AuthError, KeysUnavailableError, TokenTypeMismatchError
from clerk_serverless.trusted import token_hash

EVIL = "https://evil.example"
SESSION_CAT = "cl_B7d4PD111AAA"
TEMPLATE_CAT = "cl_B7d4PD222AAA"
IGNORE_CAT = "cl_I7d4PD111III"
ROUTE_ARN = "arn:aws:execute-api:us-east-1:123456789012:api/$default/GET/secure"
METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:api/prod/GET/secure"


# -- helpers ---------------------------------------------------------------------------------------


@pytest.fixture
def auth(clerk_api: Any) -> ClerkAuth:
    """Keys from the loopback Backend API's /v1/jwks, machine tokens through it."""
    return ClerkAuth(secret_key=clerk_api.secret_key, api_url=clerk_api.url, authorized_parties=[ORIGIN])


def recording(decorator: Any) -> Any:
    seen: dict[str, Any] = {}

    @decorator
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen["auth"], seen["session"] = event["auth"], event["session"]
        identity = event["auth"]
        body = {"type": getattr(identity, "token_type", None), "scopes": list(getattr(identity, "scopes", ()) or ())}
        return {"statusCode": 200, "body": json.dumps(body)}

    handler.seen = seen  # type: ignore[attr-defined]
    return handler


def posts(clerk_api: Any) -> list[Any]:
    return [c for c in clerk_api.calls if c.method == "POST"]


def authorizer_event(shape: str = "http_v2", **request: Any) -> dict[str, Any]:
    event = make_event(shape, **request)
    if shape == "http_v2":
        event.update({"type": "REQUEST", "routeArn": ROUTE_ARN})
    else:
        event.update({"type": "REQUEST", "methodArn": METHOD_ARN})
    return event


#: An API key Clerk does not know: a context bound to it proves nothing if it falls back to verifying.
UNKNOWN_KEY = "ak_" + "0" * 32


def routed(ctx: dict[str, Any], *, bound: str | None = None, **request: Any) -> dict[str, Any]:
    """An HTTP API event carrying our authorizer's (simple response) context;
    ``bound``: a token the request carries and the context is bound to (a
    hand-made context is otherwise for no token, and the request's is verified)."""
    if bound is not None:
        ctx = dict(ctx, token_hash=token_hash(bound))
        request["bearer"] = bound
    event = make_event("http_v2", **request)
    event["requestContext"]["authorizer"] = {"lambda": dict(ctx)}
    return event


# =================================================================================================
# 1. Machine tokens: type confusion
# =================================================================================================


def test_session_jwt_is_never_a_machine_token(auth: ClerkAuth, key: SigningKey) -> None:
    """A valid session token on machine-only routes, and in every accepts list without sessions."""
    session = mint(key)
    for accepts in ("api_key", "m2m_token", "oauth_token", ["api_key", "m2m_token", "oauth_token"]):
        handler = recording(auth.require_auth(accepts_token=accepts))
        out = call(handler, "http_v2", bearer=session)
        assert (out.status, out.reason, out.session) == (401, "token-type-mismatch", NOT_CALLED), accepts
        with pytest.raises(TokenTypeMismatchError):
            auth.verify_token(session, accepts_token=accepts)


@pytest.mark.parametrize("shape", SHAPES)
def test_machine_jwts_are_never_sessions(auth: ClerkAuth, key: SigningKey, shape: str) -> None:
    session_only = recording(auth.require_session)
    session_listed = recording(auth.require_auth(accepts_token=["session_token", "api_key"]))
    for token in (m2m_jwt(key), oauth_jwt(key), oauth_jwt(key, typ="application/at+jwt"),
                  # an M2M subject on a token with every session trait
                  m2m_jwt(key, header={"cat": SESSION_CAT}, sid="sess_1", azp=ORIGIN)):
        for handler in (session_only, session_listed):
            out = call(handler, shape, bearer=token, origin=ORIGIN)
            assert out.status == 401 and out.session is NOT_CALLED, (shape, out.reason)


@pytest.mark.parametrize("accepts", ["any", ["session_token", "oauth_token"], ["session_token", "m2m_token"], "oauth_token", "m2m_token"])
def test_jwt_template_tokens_are_refused_everywhere(auth: ClerkAuth, key: SigningKey, accepts: Any) -> None:
    """A JWT-template token (cat cl_B7d4PD222AAA) is no session, M2M or OAuth token, with or without sid."""
    handler = recording(auth.require_auth(accepts_token=accepts))
    for token in (mint(key, {"cat": TEMPLATE_CAT}, sid=None), mint(key, {"cat": TEMPLATE_CAT})):
        out = call(handler, "http_v2", bearer=token)
        assert out.status == 401 and out.session is NOT_CALLED, out.reason
        out = call(handler, "http_v2", cookies=[f"__session={token}"])
        assert out.status == 401 and out.session is NOT_CALLED, out.reason


@pytest.mark.parametrize("cat", [SESSION_CAT, TEMPLATE_CAT, "cl_B7d4PD333AAB", "", "CL_B7D4PD333AAA"])
def test_m2m_jwt_with_a_foreign_cat_is_refused(auth: ClerkAuth, key: SigningKey, cat: str) -> None:
    handler = recording(auth.require_auth(accepts_token="any"))
    out = call(handler, "http_v2", bearer=m2m_jwt(key, header={"cat": cat}))
    assert out.status == 401 and out.session is NOT_CALLED


@pytest.mark.parametrize("typ", ["AT+JWT", "at+jwt ", " at+jwt", "At+Jwt", "application/AT+JWT", "at+JWT", "at+jwt\u0000", "jwt", "JWS", ""])
def test_typ_tricks_are_no_oauth_token_and_no_session(auth: ClerkAuth, key: SigningKey, typ: str) -> None:
    """A typ that only resembles at+jwt makes neither an OAuth token nor a session,
    even when every session claim is present."""
    token = oauth_jwt(key, typ=typ, sid="sess_2xyz")
    for accepts in ("oauth_token", "any", "session_token"):
        out = call(recording(auth.require_auth(accepts_token=accepts)), "http_v2", bearer=token)
        assert out.status == 401 and out.session is NOT_CALLED, (accepts, out.reason)


def test_m2m_subject_on_an_at_jwt_is_refused(auth: ClerkAuth, key: SigningKey) -> None:
    for accepts in ("oauth_token", "m2m_token", "any"):
        out = call(recording(auth.require_auth(accepts_token=accepts)), "http_v2", bearer=oauth_jwt(key, sub=MACHINE))
        assert out.status == 401 and out.session is NOT_CALLED, accepts


@pytest.mark.parametrize("token", [
    "AK_" + "a" * 40, "Ak_" + "a" * 40, "MT_" + "a" * 40, "OAT_" + "a" * 40,  # prefixes are case-sensitive
    "ak_" + "a" * 20 + ".b.c", "mt_a.b.c", "oat_x.y.z",  # dots make a (bogus) JWT, not an opaque token
    "ak_\u00e9" + "a" * 40, "ak_\uff41" * 10, "mt_a\u200bb",  # non-ASCII
    "ak_a\tb", "ak_a\x00b", "ak_a\x7fb",  # control characters
    "ak_" + "a" * 5000,  # oversize
    "\u0430k_" + "a" * 40,  # a Cyrillic 'a'
])
def test_odd_opaque_tokens_are_refused_without_a_backend_call(auth: ClerkAuth, clerk_api: Any, token: str) -> None:
    """Nothing that is not exactly a known prefix + printable ASCII reaches Clerk, and
    nothing raises. (Tokens Clerk could still say yes to — plain `ak_…` — go to Clerk.)"""
    handler = recording(auth.require_auth(accepts_token="any"))
    event = make_event("http_v2")
    event["headers"]["authorization"] = f"Bearer {token}"
    out = call(handler, "http_v2", event)
    assert out.status == 401 and out.session is NOT_CALLED
    assert posts(clerk_api) == []


def test_machine_tokens_smuggled_outside_the_authorization_header(auth: ClerkAuth, clerk_api: Any, key: SigningKey) -> None:
    api_key = clerk_api.add_api_key().secret
    machine_routes = [recording(auth.require_auth(accepts_token=a)) for a in ("api_key", ["api_key", "m2m_token"])]
    any_route = recording(auth.require_auth(accepts_token="any"))
    for token in (api_key, m2m_jwt(key), oauth_jwt(key)):
        for shape in SHAPES:
            # the session cookie, plain or quoted, and the suffixed-cookie names
            for cookie in (f"__session={token}", f'__session="{token}"', f"__session_abc={token}"):
                for handler in (*machine_routes, any_route):
                    out = call(handler, shape, cookies=[cookie])
                    assert out.status == 401 and out.session is NOT_CALLED, (shape, cookie[:12])
            # other schemes and other headers
            for headers in ({"Authorization": f"Basic {token}"}, {"Authorization": f"Token {token}"},
                            {"Authorization": f"ApiKey {token}"}, {"X-Api-Key": token},
                            {"Proxy-Authorization": f"Bearer {token}"}):
                # a list without session tokens: @clerk/backend's array check, token-type-mismatch
                for handler, reason in zip(machine_routes, ("session-token-missing", "token-type-mismatch"), strict=True):
                    out = call(handler, shape, headers=headers)
                    assert (out.status, out.reason) == (401, reason), (shape, headers)
            # the query string
            out = call(machine_routes[0], shape, query={"token": token, "__session": token})
            assert out.status == 401
    assert posts(clerk_api) == []


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("value", ["Bearer {t}", "bearer {t}", "BEARER {t}", "Bearer   {t}", "Bearer {t}  ", "{t}"])
def test_bearer_spelling_variants_agree_on_every_shape(auth: ClerkAuth, clerk_api: Any, shape: str, value: str) -> None:
    key = clerk_api.add_api_key()
    handler = recording(auth.require_auth(accepts_token="api_key"))
    out = call(handler, shape, headers={"Authorization": value.format(t=key.secret)})
    assert out.status == 200 and handler.seen["auth"].id == key.id


@pytest.mark.parametrize("shape", SHAPES)
def test_a_tab_is_no_bearer_separator_on_any_shape(auth: ClerkAuth, clerk_api: Any, shape: str) -> None:
    # As @clerk/backend (authenticateContext.ts parseAuthorizationHeader splits on ' '):
    # "Bearer<TAB>ak_…" has no scheme, and as a whole it is no machine token.
    key = clerk_api.add_api_key()
    handler = recording(auth.require_auth(accepts_token="api_key"))
    out = call(handler, shape, headers={"Authorization": f"Bearer\t{key.secret}"})
    assert (out.status, out.reason) == (401, "token-type-mismatch") and out.session is NOT_CALLED
    assert posts(clerk_api) == []


# =================================================================================================
# 1b. Scopes
# =================================================================================================


def test_scope_strings_match_exactly(auth: ClerkAuth, clerk_api: Any, key: SigningKey) -> None:
    """Required scopes are whole strings: no prefix, case, comma or space games."""
    handler = recording(auth.require_auth(accepts_token="any", scopes=["invoices:write"]))
    for granted in (["invoices:write:all"], ["invoices"], ["INVOICES:WRITE"], ["invoices:read,invoices:write"],
                    ["invoices:read invoices:write"], ["invoices:write "], [" invoices:write"], ["*"], []):
        out = call(handler, "http_v2", bearer=clerk_api.add_api_key(scopes=granted).secret)
        assert (out.status, out.reason) == (403, "missing-scope"), granted
    for token in (oauth_jwt(key, scope="invoices:read,invoices:write"), oauth_jwt(key, scope="invoices:*"),
                  oauth_jwt(key, scope=None, scp=["invoices:read"]), oauth_jwt(key, scope=None, scopes="invoices:write"),
                  m2m_jwt(key, scopes="invoices:read", aud=["invoices:write"]),
                  m2m_jwt(key, scopes=None, scope="invoices:write", aud=None)):
        out = call(handler, "http_v2", bearer=token)
        assert (out.status, out.reason) == (403, "missing-scope")
    # duplicates neither help nor hurt
    out = call(handler, "http_v2", bearer=clerk_api.add_api_key(scopes=["invoices:write", "invoices:write"]).secret)
    assert out.status == 200
    both = recording(auth.require_auth(accepts_token="any", scopes=["a", "a", "b"]))
    assert call(both, "http_v2", bearer=clerk_api.add_api_key(scopes=["a"]).secret).status == 403
    assert call(both, "http_v2", bearer=clerk_api.add_api_key(scopes=["b", "a"]).secret).status == 200


def test_scopes_config_mistakes_fail_at_decoration(auth: ClerkAuth) -> None:
    for bad in ("", [""], [None], [1], 5):
        with pytest.raises(ClerkConfigError):
            auth.require_auth(accepts_token="api_key", scopes=bad)
    with pytest.raises(ClerkConfigError):
        auth.with_auth(accepts_token="api_key", scopes=["a"])  # with_auth takes no requirements


@pytest.mark.parametrize("requirement", [
    {"permissions": ["org:reports:read"]}, {"roles": ["org:admin", "admin"]}, {"features": ["reports"]},
    {"features": ["org:reports"]}, {"plans": ["pro"]}, {"plans": ["user:pro"]}, {"reverification": "lax"},
    {"reverification": {"level": "first_factor", "after_minutes": 100000}},
])
def test_session_requirements_fail_closed_for_every_machine_token(auth: ClerkAuth, clerk_api: Any, key: SigningKey, requirement: dict[str, Any]) -> None:
    """Machine tokens carrying claims that look like org permissions, roles,
    features, plans or a fresh fva are still refused: they hold none of them."""
    lookalike = {"org_id": "org_1", "org_role": "org:admin", "org_permissions": ["org:reports:read"], "fea": "o:reports,u:reports",
                 "pla": "o:pro,u:pro", "fva": [0, 0], "v": 2, "o": {"id": "org_1", "rol": "admin", "per": "read", "fpm": "1"}}
    handler = recording(auth.require_auth(accepts_token="any", **requirement))
    tokens = [clerk_api.add_api_key(subject="org_2vYVtestTESTtestTESTtestTES", claims=lookalike).secret,
              clerk_api.add_api_key(claims=lookalike).secret,
              clerk_api.add_m2m_token(claims=lookalike).secret, clerk_api.add_oauth_token().secret,
              m2m_jwt(key, **lookalike), oauth_jwt(key, **lookalike)]
    for token in tokens:
        out = call(handler, "http_v2", bearer=token)
        assert out.status == 403 and out.session is NOT_CALLED, out.reason
    # ...and the same at the authorizer
    authorize = make_authorizer(auth, accepts_token="any", **requirement)
    for token in tokens:
        assert authorize(authorizer_event(bearer=token), None) == {"isAuthorized": False}


def test_machine_tokens_hold_no_session_identity(auth: ClerkAuth, clerk_api: Any, key: SigningKey) -> None:
    """On an "any" route, a machine token never lands in event["session"], and
    has() is False whatever its claims say."""
    handler = recording(auth.require_auth(accepts_token="any"))
    for token in (clerk_api.add_api_key(claims={"sid": "sess_1", "org_permissions": ["org:a:b"]}).secret,
                  m2m_jwt(key, sid="sess_1"), oauth_jwt(key, sid="sess_1", org_id="org_1", org_role="org:admin")):
        out = call(handler, "http_v2", bearer=token)
        assert out.status == 200 and handler.seen["session"] is None
        machine = handler.seen["auth"]
        assert isinstance(machine, MachineAuth) and not isinstance(machine, Session)
        assert machine.has(permission="org:a:b") is False and machine.has(role="org:admin") is False


def test_sessions_carry_no_scopes_whatever_their_claims(auth: ClerkAuth, key: SigningKey) -> None:
    handler = recording(auth.require_auth(accepts_token="any", scopes=["read:foo"]))
    for extra in ({"scopes": "read:foo"}, {"scope": "read:foo"}, {"scp": ["read:foo"]}, {"aud": "read:foo"}):
        out = call(handler, "http_v2", bearer=mint(key, **extra))
        assert (out.status, out.reason) == (403, "missing-scope"), extra


def test_finding_a_present_scope_claim_does_not_fall_back_to_another(auth: ClerkAuth, key: SigningKey) -> None:
    """LOW. The scope claim a token carries is authoritative, as in @clerk/backend
    (``scp ?? scope.split(' ')`` for OAuth, ``scopes?.split(' ') ?? aud`` for M2M):
    an OAuth token with ``scp: []`` has no scopes, and an M2M token with
    ``scopes: ""`` does not get its ``aud`` as scopes. Here an empty or
    malformed ``scp``/``scopes`` silently falls back to ``scope``/``aud``, so the
    token is granted scopes its authoritative claim does not give it."""
    handler = recording(auth.require_auth(accepts_token="any", scopes=["admin"]))
    admitted = []
    for name, token in (("oauth scp=[] scope=admin", oauth_jwt(key, scp=[], scope="admin")),
                        ("oauth scp=[1, null] scope=admin", oauth_jwt(key, scp=[1, None], scope="admin")),
                        ("oauth scp={} scope=admin", oauth_jwt(key, scp={"admin": True}, scope="admin")),
                        ("m2m scopes='' aud=[admin]", m2m_jwt(key, scopes="", aud=["admin"])),
                        ("m2m scopes=[] aud=admin", m2m_jwt(key, scopes=[], aud="admin"))):
        out = call(handler, "http_v2", bearer=token)
        if out.status != 403:
            admitted.append((name, out.status, out.body))
    assert admitted == []


# =================================================================================================
# 1c. with_auth, accepts_token
# =================================================================================================


def test_with_auth_never_admits_what_require_auth_refuses(auth: ClerkAuth, clerk_api: Any, key: SigningKey) -> None:
    handler = recording(auth.with_auth(accepts_token="api_key"))
    revoked = clerk_api.add_api_key(revoked=True).secret
    for request in ({"bearer": mint(key)}, {"bearer": m2m_jwt(key)}, {"bearer": revoked},
                    {"cookies": [f"__session={clerk_api.add_api_key().secret}"]}, {"headers": {"Authorization": "Basic x"}}):
        out = call(handler, "http_v2", **request)
        assert out.status == 200 and handler.seen["auth"] is None and handler.seen["session"] is None, request
    clerk_api.fault("verifyApiKey", "status", status=503)
    out = call(handler, "http_v2", bearer=clerk_api.add_api_key().secret)
    assert out.status == 200 and handler.seen["auth"] is None
    clerk_api.clear_faults()


def test_accepts_token_lists_cannot_smuggle_any(auth: ClerkAuth) -> None:
    for bad in (["any"], ("any", "api_key"), "Any", " any", "api_key ", "api_key,m2m_token", b"api_key", [None]):
        with pytest.raises(ClerkConfigError):
            auth.require_auth(accepts_token=bad)


# =================================================================================================
# 2. The opaque-token cache
# =================================================================================================


def test_cache_verdicts_never_cross_instances(clerk_api: Any) -> None:
    """One ClerkAuth's verdict is never another's: different secret keys, or
    another Backend API, ask Clerk themselves."""
    from support.clerk_api import ClerkBackendApi

    a = ClerkAuth(secret_key=clerk_api.secret_key, api_url=clerk_api.url)
    key = clerk_api.add_api_key()
    assert a.verify_token(key.secret, accepts_token="api_key").id == key.id
    with ClerkBackendApi() as other:
        b = ClerkAuth(secret_key=other.secret_key, api_url=other.url)
        with pytest.raises(AuthError) as info:
            b.verify_token(key.secret, accepts_token="api_key")
        assert info.value.status == 401  # unknown to the other instance
        other.check()
    wrong_key = ClerkAuth(secret_key="sk_test_" + "w" * 40, api_url=clerk_api.url)
    with pytest.raises(AuthError) as info:
        wrong_key.verify_token(key.secret, accepts_token="api_key")
    assert info.value.status == 503 and str(info.value.reason) == "secret-key-invalid"
    clerk_api.take_violations()  # the wrong key, on purpose
    # and a bad verdict does not travel the other way either
    c = ClerkAuth(secret_key=clerk_api.secret_key, api_url=clerk_api.url)
    assert c.verify_token(key.secret, accepts_token="api_key").id == key.id


def test_one_string_is_one_token_type(auth: ClerkAuth, clerk_api: Any) -> None:
    """A valid API key is never accepted as another type, whatever the route, and
    an m2m-route refusal does not poison the api_key verdict."""
    key = clerk_api.add_api_key()
    for accepts in ("m2m_token", "oauth_token", "session_token"):
        with pytest.raises(AuthError):
            auth.verify_token(key.secret, accepts_token=accepts)
    assert auth.verify_token(key.secret, accepts_token="api_key").id == key.id
    assert clerk_api.count("verifyM2MToken") == clerk_api.count("verifyOAuthAccessToken") == 0


def test_an_outage_is_never_remembered_as_invalid(auth: ClerkAuth, clerk_api: Any) -> None:
    """An attacker who replays a victim's valid key while Clerk is flaky cannot get
    it refused afterwards: outages (5xx, 429, timeouts, garbage, redirects, our key
    refused) are not cached."""
    clock = [time.time()]
    auth = ClerkAuth(secret_key=clerk_api.secret_key, api_url=clerk_api.url, authorized_parties=[ORIGIN], clock=lambda: clock[0])
    handler = recording(auth.require_auth(accepts_token="api_key"))
    for mode, kw in (("status", {"status": 500}), ("status", {"status": 429}), ("status", {"status": 302, "headers": {"Location": "/x"}}),
                     ("status", {"status": 401}), ("status", {"status": 403}), ("garbage", {}), ("truncated", {}), ("refuse", {})):
        key = clerk_api.add_api_key()  # a token not seen yet
        clerk_api.fault("verifyApiKey", mode, times=1, **kw)
        assert call(handler, "http_v2", bearer=key.secret).status == 503, (mode, kw)
        assert call(handler, "http_v2", bearer=key.secret).status == 503, (mode, kw)  # backing off: no call
        clock[0] += 61  # past the back-off window (Retry-After, at most 60 s)
        assert call(handler, "http_v2", bearer=key.secret).status == 200, (mode, kw)
    clerk_api.take_violations()  # 401/403 fault answers without a wrong key are flagged by the mock


@pytest.mark.parametrize("body", [b"[]", b"null", b'"ok"', b"1", b"true"], ids=["array", "null", "string", "number", "bool"])
def test_a_200_that_is_no_json_object_is_an_outage_not_a_verdict(auth: ClerkAuth, clerk_api: Any, body: bytes) -> None:
    """LOW. A 200 that is not even a JSON object is no answer from Clerk's verify
    endpoint (a proxy, a captive portal, a broken deploy), like the non-JSON
    200 already answered 503. Here it is taken as Clerk saying "invalid": 401
    (which makes clients drop a good key) and remembered for 10 s, so the valid
    key stays refused after Clerk recovers."""
    clock = [time.time()]
    auth = ClerkAuth(secret_key=clerk_api.secret_key, api_url=clerk_api.url, authorized_parties=[ORIGIN], clock=lambda: clock[0])
    key = clerk_api.add_api_key()
    handler = recording(auth.require_auth(accepts_token="api_key"))
    clerk_api.fault("verifyApiKey", "status", status=200, body=body, times=1)
    first = call(handler, "http_v2", bearer=key.secret)
    clock[0] += 61  # past the back-off window
    second = call(handler, "http_v2", bearer=key.secret)  # Clerk answers normally again
    assert (first.status, second.status) == (503, 200), (first.status, first.reason, second.status, second.reason)


@pytest.mark.parametrize("answer", [
    {"active": False},
    {"object": "api_key", "subject": USER, "revoked": True, "expired": False},
    {"object": "api_key", "subject": USER, "revoked": False, "expired": True},
    {"object": "api_key", "subject": USER, "revoked": "false", "expired": False},
    {"object": "api_key", "subject": USER, "revoked": 0, "expired": 0},
    {"object": "api_key", "subject": USER, "revoked": None, "expired": None},
    {"object": "api_key", "subject": USER},
    {"object": "machine_to_machine_token", "subject": USER, "revoked": False, "expired": False},
    {"object": "API_KEY", "subject": USER, "revoked": False, "expired": False},
    {"subject": USER, "revoked": False, "expired": False},
    {"object": "api_key", "subject": 5, "revoked": False, "expired": False},
    {"object": "api_key", "revoked": False, "expired": False},
    {"object": "api_key", "subject": USER, "revoked": False, "expired": False, "expiration": 1},
    {"object": "api_key", "subject": USER, "revoked": False, "expired": False, "expiration": -1},
    {"object": "api_key", "subject": USER, "revoked": False, "expired": False, "expiration": 0},
    # an expiration in seconds by mistake is 1970 in milliseconds: expired, not "forever"
    {"object": "api_key", "subject": USER, "revoked": False, "expired": False, "expiration": int(time.time()) + 3600},
], ids=lambda a: json.dumps(a)[:60])
def test_200_answers_that_do_not_confirm_are_401(auth: ClerkAuth, clerk_api: Any, answer: dict[str, Any]) -> None:
    handler = recording(auth.require_auth(accepts_token="api_key"))
    clerk_api.fault("verifyApiKey", "status", status=200, body=json.dumps(answer).encode())
    out = call(handler, "http_v2", bearer=clerk_api.add_api_key().secret)
    assert (out.status, out.reason, out.session) == (401, "token-invalid", NOT_CALLED)
    clerk_api.clear_faults()


def test_oauth_inactive_and_m2m_answers_on_the_wrong_endpoint(auth: ClerkAuth, clerk_api: Any) -> None:
    """Each endpoint's answer must name its own object: an api_key object from the
    OAuth endpoint, or an OAuth one from the M2M endpoint, verifies nothing."""
    api_key_answer = dict(clerk_api.add_api_key().object)
    oauth_answer = dict(clerk_api.add_oauth_token().object)
    handler = recording(auth.require_auth(accepts_token="any"))
    clerk_api.fault("verifyOAuthAccessToken", "status", status=200, body=json.dumps(api_key_answer).encode())
    clerk_api.fault("verifyM2MToken", "status", status=200, body=json.dumps(oauth_answer).encode())
    assert call(handler, "http_v2", bearer=clerk_api.add_oauth_token().secret).status == 401
    assert call(handler, "http_v2", bearer=clerk_api.add_m2m_token().secret).status == 401
    clerk_api.clear_faults()


def test_revoked_stops_within_the_ttl_and_ttl_zero_asks_every_time(clerk_api: Any) -> None:
    clock = [time.time()]
    auth = ClerkAuth(secret_key=clerk_api.secret_key, api_url=clerk_api.url, clock=lambda: clock[0], machine_token_cache_ttl=300)
    key = clerk_api.add_api_key()
    auth.verify_token(key.secret, accepts_token="api_key")
    clerk_api.revoke(key.secret)
    clock[0] += 299
    auth.verify_token(key.secret, accepts_token="api_key")  # within the documented TTL: still remembered
    clock[0] += 2
    with pytest.raises(AuthError):
        auth.verify_token(key.secret, accepts_token="api_key")
    fresh = ClerkAuth(secret_key=clerk_api.secret_key, api_url=clerk_api.url, machine_token_cache_ttl=0)
    other = clerk_api.add_api_key()
    fresh.verify_token(other.secret, accepts_token="api_key")
    clerk_api.revoke(other.secret)
    with pytest.raises(AuthError):
        fresh.verify_token(other.secret, accepts_token="api_key")
    for bad in (301, -1, float("nan"), float("inf"), True, "60"):
        with pytest.raises(ClerkConfigError):
            ClerkAuth(secret_key=clerk_api.secret_key, api_url=clerk_api.url, machine_token_cache_ttl=bad)


def test_a_valid_answer_never_outlives_expiration_whatever_the_clock(clerk_api: Any) -> None:
    clock = [time.time()]
    auth = ClerkAuth(secret_key=clerk_api.secret_key, api_url=clerk_api.url, clock=lambda: clock[0])
    key = clerk_api.add_api_key(expiration=int((clock[0] + 2) * 1000))
    auth.verify_token(key.secret, accepts_token="api_key")
    clock[0] += 2.5  # our clock past the expiration; Clerk's (real time) not yet
    with pytest.raises(AuthError):
        auth.verify_token(key.secret, accepts_token="api_key")


def test_distinct_tokens_cannot_grow_the_caches_without_bound(clerk_api: Any) -> None:
    auth = ClerkAuth(secret_key=clerk_api.secret_key, api_url=clerk_api.url, token_cache_size=8)
    for i in range(40):
        with pytest.raises(AuthError):
            auth.verify_token(f"ak_{i:040d}", accepts_token="api_key")
    good = [clerk_api.add_api_key() for _ in range(20)]
    for key in good:
        auth.verify_token(key.secret, accepts_token="api_key")
    verifier = auth.verifier.opaque  # type: ignore[union-attr]
    assert verifier is not None and len(verifier._invalid) <= 8 and len(verifier._valid) <= 8
    assert not verifier._in_flight
    # invalid tokens live apart: they cannot evict a good verdict
    auth2 = ClerkAuth(secret_key=clerk_api.secret_key, api_url=clerk_api.url, token_cache_size=8)
    auth2.verify_token(good[0].secret, accepts_token="api_key")
    calls = clerk_api.count("verifyApiKey")
    for i in range(20):
        with pytest.raises(AuthError):
            auth2.verify_token(f"ak_{i:040d}x", accepts_token="api_key")
    auth2.verify_token(good[0].secret, accepts_token="api_key")
    assert clerk_api.count("verifyApiKey") == calls + 20


def test_single_flight_survives_a_leader_that_blows_up(auth: ClerkAuth, clerk_api: Any) -> None:
    """A leader failing in any way (outage, garbage, an exception) never leaves
    waiters hanging: every request gets an answer and the flight is cleared."""
    key = clerk_api.add_api_key()
    for mode, kw in (("slow", {"delay": 0.2}), ("status", {"status": 200, "body": b"[" * 50000 + b"]" * 50000}), ("refuse", {})):
        clerk_api.fault("verifyApiKey", mode, times=1, **kw)
        results: list[Any] = []

        def worker(results: list[Any] = results) -> None:
            try:
                results.append(auth.verify_token(key.secret, accepts_token="api_key").id)
            except AuthError as exc:
                results.append(exc.status)
            except Exception as exc:  # noqa: BLE001 - reported below
                results.append(type(exc).__name__)

        threads = [threading.Thread(target=worker) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert len(results) == 6 and not any(t.is_alive() for t in threads), mode
        assert not auth.verifier.opaque._in_flight  # type: ignore[union-attr]
        auth.verifier.opaque._valid.clear()  # type: ignore[union-attr]
        auth.verifier.opaque._invalid.clear()  # type: ignore[union-attr]
    clerk_api.clear_faults()


def test_finding_a_waiter_starts_a_second_call_after_the_flight_fails(clerk_api: Any) -> None:
    """MEDIUM. Single flight during an outage: a request that waited on another
    request's call (which timed out after ``fetch_timeout``) wakes up and starts
    its *own* call with a fresh ``fetch_timeout``. Its wall time is then up to
    2 × ``fetch_timeout`` (past the documented 3 s bound — with a Lambda timeout
    of a few seconds the function is killed instead of answering 503), and an
    outage costs Clerk one call per waiting request, one after the other.
    Secure: waiters share the flight's outcome (the 503) or give up at their
    own deadline; one outage, one call."""
    auth = ClerkAuth(secret_key=clerk_api.secret_key, api_url=clerk_api.url, fetch_timeout=0.5)
    key = clerk_api.add_api_key()
    clerk_api.fault("verifyApiKey", "stall")
    elapsed: dict[str, float] = {}
    statuses: dict[str, int] = {}

    def request(name: str) -> None:
        started = time.monotonic()
        try:
            auth.verify_token(key.secret, accepts_token="api_key")
            statuses[name] = 200
        except AuthError as exc:
            statuses[name] = exc.status
        elapsed[name] = time.monotonic() - started

    leader = threading.Thread(target=request, args=("leader",))
    leader.start()
    deadline = time.monotonic() + 2
    while clerk_api.count("verifyApiKey") < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)
    waiter = threading.Thread(target=request, args=("waiter",))
    waiter.start()
    leader.join(5)
    waiter.join(5)
    clerk_api.clear_faults()
    assert statuses == {"leader": 503, "waiter": 503}
    calls = clerk_api.count("verifyApiKey")
    assert calls == 1, f"{calls} calls for one outage; the waiter took {elapsed['waiter']:.2f}s on a 0.5s budget"


# =================================================================================================
# 3. Backend API failure modes
# =================================================================================================


@pytest.mark.parametrize("mode,kw", [
    ("status", {"status": 500}), ("status", {"status": 502}), ("status", {"status": 503}), ("status", {"status": 504}),
    ("status", {"status": 429}), ("status", {"status": 418}), ("status", {"status": 409}), ("status", {"status": 405}),
    ("status", {"status": 301, "headers": {"Location": "https://evil.example/api_keys/verify"}}),
    ("status", {"status": 307, "headers": {"Location": "/v1/api_keys/verify"}}),
    ("status", {"status": 308, "headers": {"Location": "http://127.0.0.1:1/"}}),
    ("status", {"status": 200, "body": b"x" * (2 * 1024 * 1024)}),  # over 1 MiB
    ("status", {"status": 200, "body": b"{\"object\": \"api_key\""}),  # cut JSON
    ("status", {"status": 200, "body": b"\xff\xfe\x00garbage"}),
    ("status", {"status": 500, "body": b"<html>" + b"A" * 100000}),
    ("garbage", {}), ("truncated", {}), ("refuse", {}), ("stall", {}), ("trickle", {"delay": 0.3}),
], ids=lambda v: str(v)[:40])
def test_every_outage_shape_is_503_with_retry_after(clerk_api: Any, mode: str, kw: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    auth = ClerkAuth(secret_key=clerk_api.secret_key, api_url=clerk_api.url, fetch_timeout=0.8)
    key = clerk_api.add_api_key()
    clerk_api.fault("verifyApiKey", mode, **kw)
    handler = recording(auth.require_auth(accepts_token="api_key"))
    for shape in ("http_v2", "rest_v1", "alb_multi"):
        out = call(handler, shape, bearer=key.secret)
        assert out.status == 503 and out.session is NOT_CALLED, (shape, out.status, out.reason)
        assert 1 <= int(out.headers["retry-after"]) <= 300
        assert key.secret not in json.dumps(out.response) and clerk_api.secret_key not in json.dumps(out.response)
    assert clerk_api.secret_key not in caplog.text and key.secret not in caplog.text
    assert "while authenticating" not in caplog.text  # no exception fell through to the catch-all
    clerk_api.clear_faults()
    clerk_api.take_violations()


@pytest.mark.parametrize("value,expected", [
    ("7", 7), ("120", 60), ("999999999", 60), ("1e308", 60), ("1e999", 60), ("inf", 60), ("-5", 1), ("0", 1), ("0.2", 1),
    ("nan", 5), ("abc", 5), ("Wed, 21 Oct 2015 07:28:00 GMT", 5), ("7, 8", 5), ("", 5), ("0x10", 5),
])
def test_retry_after_from_clerk_is_bounded(auth: ClerkAuth, clerk_api: Any, value: str, expected: int) -> None:
    clerk_api.fault("verifyApiKey", "status", status=429, headers={"Retry-After": value})
    out = call(recording(auth.require_auth(accepts_token="api_key")), "http_v2", bearer=clerk_api.add_api_key().secret)
    assert out.status == 503 and int(out.headers["retry-after"]) == expected
    clerk_api.clear_faults()


def test_retry_after_missing_from_clerk_is_five_seconds(auth: ClerkAuth, clerk_api: Any) -> None:
    clerk_api.fault("verifyApiKey", "status", status=429)
    out = call(recording(auth.require_auth(accepts_token="api_key")), "http_v2", bearer=clerk_api.add_api_key().secret)
    assert out.status == 503 and out.headers["retry-after"] == "5"
    clerk_api.clear_faults()


@pytest.mark.parametrize("status", [401, 403])
def test_our_key_refused_is_never_the_callers_401(auth: ClerkAuth, clerk_api: Any, status: int) -> None:
    clerk_api.fault("verifyApiKey", "status", status=status)
    clerk_api.fault("verifyM2MToken", "status", status=status)
    clerk_api.fault("verifyOAuthAccessToken", "status", status=status)
    handler = recording(auth.require_auth(accepts_token="any"))
    # Only a 401 means our key (as @clerk/backend); a 403 is unexpected: both 503, never 401.
    reason = "secret-key-invalid" if status == 401 else "unexpected-error"
    for token in (clerk_api.add_api_key().secret, clerk_api.add_m2m_token().secret, clerk_api.add_oauth_token().secret, "ak_" + "z" * 40):
        out = call(handler, "http_v2", bearer=token)
        assert (out.status, out.reason) == (503, reason)
    authorize = make_authorizer(auth, accepts_token="any")
    with pytest.raises(AuthError) as info:
        authorize(authorizer_event(bearer=clerk_api.add_api_key().secret), None)
    assert info.value.status == 503
    rest = make_authorizer(auth, accepts_token="any", simple_responses=False)
    with pytest.raises(AuthError):
        rest(authorizer_event("rest_v1", bearer=clerk_api.add_api_key().secret), None)
    clerk_api.clear_faults()


@pytest.mark.parametrize("body", [
    b"[" * 100000 + b"]" * 100000,  # JSON nested past the recursion limit
    b'{"object":"api_key","subject":"' + USER.encode() + b'","revoked":false,"expired":false,"expiration":1' + b"0" * 400 + b"}",
], ids=["deep-nesting", "huge-integer"])
def test_finding_garbage_json_from_clerk_becomes_a_401(clerk_api: Any, body: bytes, caplog: pytest.LogCaptureFixture) -> None:
    """LOW. Two 200 answers from the Backend API (or anything at ``api_url``) that
    are garbage: JSON nested past Python's recursion limit (``json.loads``
    raises RecursionError, not ValueError) and an integer ``expiration`` too big
    for a float (OverflowError in ``MachineAuth.from_backend_api``). Neither is
    caught where the Backend API answer is read; both fall through to the
    catch-all in ``gate.admit``, which answers **401** ("unexpected
    RecursionError while authenticating; answering 401"). A garbage answer is an
    unreadable answer: 503 + Retry-After, as for non-JSON."""
    caplog.set_level(logging.DEBUG)
    auth = ClerkAuth(secret_key=clerk_api.secret_key, api_url=clerk_api.url)
    clerk_api.fault("verifyApiKey", "status", status=200, body=body)
    out = call(recording(auth.require_auth(accepts_token="api_key")), "http_v2", bearer=clerk_api.add_api_key().secret)
    clerk_api.clear_faults()
    assert out.status in (200, 503) and "while authenticating" not in caplog.text, (out.status, out.reason, caplog.text[-200:])


def test_the_secret_keys_never_leak(clerk_api: Any, key: SigningKey, caplog: pytest.LogCaptureFixture) -> None:
    """Not in answers, logs, exception messages or reprs, whatever fails."""
    caplog.set_level(logging.DEBUG)
    auth = ClerkAuth(secret_key=clerk_api.secret_key, machine_secret_key=clerk_api.machine_secret_key,
                     api_url=clerk_api.url, authorized_parties=[ORIGIN])
    secrets = (clerk_api.secret_key, clerk_api.machine_secret_key, clerk_api.secret_key[8:], clerk_api.machine_secret_key[3:])
    seen: list[str] = [repr(auth), str(auth.settings), repr(auth.settings), repr(auth.backend_api), repr(auth.key_store)]
    handler = recording(auth.require_auth(accepts_token="any"))
    for mode, kw in (("status", {"status": 401}), ("status", {"status": 500}), ("garbage", {}), ("refuse", {}),
                     ("status", {"status": 302, "headers": {"Location": "/x"}}), (None, {})):
        if mode:
            clerk_api.fault("*", mode, **kw)
        for token in (clerk_api.add_api_key().secret, clerk_api.add_m2m_token().secret, clerk_api.add_oauth_token().secret):
            out = call(handler, "http_v2", bearer=token)
            seen.append(json.dumps(out.response))
            try:
                identity = auth.verify_token(token, accepts_token="any")
                seen += [repr(identity), json.dumps(identity.to_dict()), str(identity)]
            except AuthError as exc:
                seen += [str(exc), repr(exc), repr(exc.args), str(exc.__cause__), str(exc.__context__)]
        clerk_api.clear_faults()
    seen.append(caplog.text)
    blob = "\n".join(seen)
    for secret in secrets:
        assert secret not in blob
    clerk_api.take_violations()


def test_session_user_and_machine_calls_send_the_right_key(clerk_api: Any) -> None:
    """M2M verifies use the machine secret key when set, everything else the
    secret key; a machine-secret-only instance never sends the machine key for
    API keys or OAuth tokens."""
    auth = ClerkAuth(secret_key=clerk_api.secret_key, machine_secret_key=clerk_api.machine_secret_key, api_url=clerk_api.url)
    auth.verify_token(clerk_api.add_m2m_token().secret, accepts_token="m2m_token")
    auth.verify_token(clerk_api.add_api_key().secret, accepts_token="api_key")
    auth.verify_token(clerk_api.add_oauth_token().secret, accepts_token="oauth_token")
    by_op = {c.operation: c.bearer for c in posts(clerk_api)}
    assert by_op == {"verifyM2MToken": clerk_api.machine_secret_key, "verifyApiKey": clerk_api.secret_key,
                     "verifyOAuthAccessToken": clerk_api.secret_key}


# =================================================================================================
# 4. The authorizer and trust_authorizer
# =================================================================================================


def test_authorizer_machine_answers_simple_and_iam(auth: ClerkAuth, clerk_api: Any, key: SigningKey) -> None:
    api_key = clerk_api.add_api_key(subject="org_2vYVtestTESTtestTESTtestTES", scopes=["read:foo"])
    simple = make_authorizer(auth, accepts_token="api_key", scopes=["read:foo"])
    answer = simple(authorizer_event(bearer=api_key.secret), None)
    assert answer["isAuthorized"] is True and all(isinstance(v, str) for v in answer["context"].values())
    assert api_key.secret not in json.dumps(answer)
    for shape, fn in (("http_v2", make_authorizer(auth, accepts_token="api_key", simple_responses=False)),
                      ("rest_v1", make_authorizer(auth, accepts_token="api_key"))):
        answer = fn(authorizer_event(shape, bearer=api_key.secret), None)
        assert answer["principalId"] == "org_2vYVtestTESTtestTESTtestTES"
        assert answer["policyDocument"]["Statement"][0]["Effect"] == "Allow"
        assert all(isinstance(v, str) for v in answer["context"].values()) and api_key.secret not in json.dumps(answer)
    token = make_authorizer(auth, accepts_token="m2m_token")
    answer = token({"type": "TOKEN", "authorizationToken": f"Bearer {m2m_jwt(key)}", "methodArn": METHOD_ARN}, None)
    assert answer["principalId"] == MACHINE
    # refusals: no scope → Deny (403) / isAuthorized false; a session on a machine authorizer → 401
    missing = make_authorizer(auth, accepts_token="api_key", scopes=["write"], simple_responses=False)
    denied = missing(authorizer_event("rest_v1", bearer=api_key.secret), None)
    assert denied["policyDocument"]["Statement"][0]["Effect"] == "Deny" and "context" not in denied
    with pytest.raises(Unauthorized):
        make_authorizer(auth, accepts_token="api_key")(authorizer_event("rest_v1", bearer=mint(key)), None)
    with pytest.raises(Unauthorized):
        make_authorizer(auth, accepts_token="api_key")(authorizer_event("rest_v1", cookies=[f"__session={api_key.secret}"]), None)


def test_authorizer_machine_context_carries_each_identity_field(auth: ClerkAuth, clerk_api: Any, key: SigningKey) -> None:
    """The context of a machine identity holds its user_id, org_id,
    machine_id, client_id and name as the identity has them, "" when it has
    none: strings only (API Gateway refuses any other value), never another
    field's value. Mutation testing of trusted.authorizer_context found every
    one of these fields replaceable by "" (or None) with the suite green."""
    key_user = "user_2vYVtestTESTtestTESTtestTES"
    user_key = clerk_api.add_api_key(subject=key_user, name="USER_KEY")
    org_key = clerk_api.add_api_key(subject="org_2vYVtestTESTtestTESTtestTES", name="ORG_KEY")
    authorizer = make_authorizer(auth, accepts_token="any")
    fields = ("user_id", "org_id", "machine_id", "client_id", "name")
    seen = {}
    for token in (user_key.secret, org_key.secret, m2m_jwt(key), oauth_jwt(key)):
        identity = auth.verify_token(token, accepts_token="any")
        context = authorizer(authorizer_event(bearer=token), None)["context"]
        assert all(isinstance(v, str) for v in context.values()), context
        assert {f: context[f] for f in fields} == {f: getattr(identity, f) or "" for f in fields}
        seen[identity.token_type, identity.subject] = {f: context[f] for f in fields if context[f]}
    assert seen == {
        ("api_key", key_user): {"user_id": key_user, "name": "USER_KEY"},
        ("api_key", "org_2vYVtestTESTtestTESTtestTES"): {"org_id": "org_2vYVtestTESTtestTESTtestTES", "name": "ORG_KEY"},
        ("m2m_token", MACHINE): {"machine_id": MACHINE},
        ("oauth_token", USER): {"user_id": USER, "client_id": "client_2VTWUzvGC5UhdJCNx6xG1D98edc"},
    }


def _machine_ctx(auth: ClerkAuth, clerk_api: Any, **key_fields: Any) -> tuple[dict[str, str], str]:
    key = clerk_api.add_api_key(**key_fields)
    answer = make_authorizer(auth, accepts_token="api_key")(authorizer_event(bearer=key.secret), None)
    assert answer["isAuthorized"] is True
    return dict(answer["context"]), key.secret


def test_trusted_machine_context_still_meets_the_route(auth: ClerkAuth, clerk_api: Any, key: SigningKey) -> None:
    downstream = ClerkAuth(secret_key=clerk_api.secret_key, api_url=clerk_api.url, authorized_parties=[ORIGIN], trust_authorizer=True)
    ctx, secret = _machine_ctx(auth, clerk_api, scopes=["read:foo"])
    verifying = ClerkAuth(secret_key=clerk_api.secret_key, api_url=clerk_api.url, authorized_parties=[ORIGIN])
    # a machine context on session-only routes, and on routes for other machine types: the verdict verifying gives
    for options in ({}, {"accepts_token": "m2m_token"}, {"accepts_token": ["session_token", "oauth_token"]}):
        out = call(recording(downstream.require_auth(**options)), "http_v2", routed(ctx, bearer=secret))
        direct = call(recording(verifying.require_auth(**options)), "http_v2", make_event("http_v2", bearer=secret))
        assert out.status == 401 and out.reason == direct.reason, options
    # scopes, permissions, features, reverification of the route itself
    for options in ({"scopes": ["write"]}, {"permissions": ["org:a:b"]}, {"features": ["x"]}, {"reverification": "lax"}, {"roles": ["org:admin"]}):
        out = call(recording(downstream.require_auth(accepts_token="api_key", **options)), "http_v2", routed(ctx, bearer=secret))
        assert out.status == 403, options
    # token_type tricks
    for token_type in ("API_KEY", " api_key", "api_key\x00", "any", "machine", "", None, 5, ["api_key"]):
        forged = dict(ctx, token_type=token_type)
        out = call(recording(downstream.require_auth(accepts_token="api_key")), "http_v2", routed(forged, bearer=secret))
        assert out.status == 401, token_type
    # an expired machine context (a cached authorizer result that outlived the token)
    expired = dict(ctx, exp=str(int(time.time()) - 60))
    assert call(recording(downstream.require_auth(accepts_token="api_key")), "http_v2", routed(expired, bearer=secret)).status == 401
    # a context without our marker is no context: the (absent) token is verified
    for marker in ("", "Verified", "true", None, True):
        out = call(recording(downstream.require_auth(accepts_token="api_key")), "http_v2", routed(dict(ctx, clerk_auth=marker)))
        assert (out.status, out.reason) == (401, "session-token-missing"), marker


def test_trusted_contexts_with_garbage_never_raise(clerk_api: Any) -> None:
    downstream = ClerkAuth(secret_key=clerk_api.secret_key, api_url=clerk_api.url, trust_authorizer=True)
    machine = recording(downstream.require_auth(accepts_token="api_key"))
    session = recording(downstream.require_session)
    base_machine = {"clerk_auth": "verified", "token_type": "api_key", "token_id": "ak_1", "subject": USER, "exp": ""}
    base_session = {"clerk_auth": "verified", "token_type": "session_token", "user_id": USER, "session_id": "sess_1",
                    "exp": str(int(time.time()) + 60)}
    bomb = "[" * 100000 + "]" * 100000
    for ctx in (dict(base_machine, claims=bomb), dict(base_machine, claims="{" * 5000), dict(base_machine, claims='{"a":' * 3000),
                dict(base_machine, exp="12abc"), dict(base_machine, exp=[1]), dict(base_machine, scopes=["a"]),
                dict(base_machine, claims={"a": 1}), dict(base_machine, subject={"x": 1})):
        out = call(machine, "http_v2", routed(ctx, bound=UNKNOWN_KEY))
        assert out.status in (200, 401), ctx
    for ctx in (dict(base_session, exp="soon"), dict(base_session, exp=None), dict(base_session, user_id=""),
                dict(base_session, fva="x,y"), dict(base_session, fva="1e999,1e999"), dict(base_session, org_permissions=5),
                dict(base_session, fea={"o": "x"}), dict(base_session, exp=str(10**400))):
        out = call(session, "http_v2", routed(ctx, bound="a.b.c"))
        assert out.status in (200, 401), ctx


def test_finding_trusted_contexts_accept_exp_that_never_passes(clerk_api: Any) -> None:
    """LOW (needs a forged context: a direct invocation of a trust_authorizer
    function). The downstream ``exp`` check is the one defence against a cached
    authorizer result that outlived its token, but ``float()`` turns ``"nan"``,
    ``"inf"`` and ``"1e999"`` into values no clock ever passes, so such a context
    never expires. An exp that is not a finite number must be refused, as in a
    token (``check_time_claims``)."""
    downstream = ClerkAuth(secret_key=clerk_api.secret_key, api_url=clerk_api.url, trust_authorizer=True)
    session = recording(downstream.require_session)
    machine = recording(downstream.require_auth(accepts_token="api_key"))
    admitted = []
    for exp in ("nan", "inf", "1e999", "Infinity", " NaN "):
        s = call(session, "http_v2", routed({"clerk_auth": "verified", "token_type": "session_token", "user_id": USER,
                                              "session_id": "sess_1", "exp": exp}, bound="a.b.c"))
        m = call(machine, "http_v2", routed({"clerk_auth": "verified", "token_type": "api_key", "token_id": "ak_1",
                                              "subject": USER, "exp": exp}, bound=UNKNOWN_KEY))
        admitted += [f"session exp={exp!r}"] * (s.status == 200) + [f"api_key exp={exp!r}"] * (m.status == 200)
    assert admitted == []


def test_finding_a_partial_machine_context_is_an_identity(clerk_api: Any) -> None:
    """LOW (needs a forged or truncated context). A session context must carry
    ``user_id`` and ``exp``; a machine context needs nothing but the marker and
    a token type: ``{"clerk_auth": "verified", "token_type": "api_key"}`` admits
    a caller with an empty subject and ID on an API-key route (and becomes
    ``principalId`` "" downstream). Our authorizer always writes ``subject`` and
    ``token_id``; a context without them is not ours and must be refused."""
    downstream = ClerkAuth(secret_key=clerk_api.secret_key, api_url=clerk_api.url, trust_authorizer=True)
    handler = recording(downstream.require_auth(accepts_token=["api_key", "m2m_token", "oauth_token"]))
    admitted = []
    for token_type in ("api_key", "m2m_token", "oauth_token"):
        out = call(handler, "http_v2", routed({"clerk_auth": "verified", "token_type": token_type}, bound=UNKNOWN_KEY))
        if out.status == 200:
            admitted.append((token_type, handler.seen["auth"].subject))
    assert admitted == []


def test_finding_a_scope_with_a_space_becomes_two_scopes_downstream(auth: ClerkAuth, clerk_api: Any) -> None:
    """MEDIUM. Clerk's API key ``scopes`` are an array of free strings (the spec
    has no pattern). The authorizer writes them space-joined into its context
    and ``trust_authorizer`` splits them on spaces again, so a key granted the
    single scope ``"reports:read admin"`` reaches the downstream route as
    ``("reports:read", "admin")`` and passes ``scopes=["admin"]`` — a scope it
    was never granted and that the same route refuses when it verifies the key
    itself. The context must round-trip scopes exactly (e.g. a JSON list)."""
    key = clerk_api.add_api_key(scopes=["reports:read admin"])
    direct = recording(auth.require_auth(accepts_token="api_key", scopes=["admin"]))
    assert (call(direct, "http_v2", bearer=key.secret).status) == 403  # verified here: refused
    ctx = make_authorizer(auth, accepts_token="api_key")(authorizer_event(bearer=key.secret), None)["context"]
    downstream = ClerkAuth(secret_key=clerk_api.secret_key, api_url=clerk_api.url, trust_authorizer=True)
    handler = recording(downstream.require_auth(accepts_token="api_key", scopes=["admin"]))
    out = call(handler, "http_v2", routed(ctx, bearer=key.secret))
    assert out.status == 403, f"admitted downstream with scopes {handler.seen['auth'].scopes}"


def test_cookie_context_is_rechecked_for_cross_site_writes(key: SigningKey, jwks: Any) -> None:
    auth = ClerkAuth(jwks_url=jwks.url, authorized_parties=[ORIGIN], issuer=ISSUER)
    authorize = make_authorizer(auth)
    token = mint(key)
    ctx = authorize(authorizer_event(cookies=[f"__session={token}"], origin=ORIGIN), None)["context"]
    assert ctx["token_carrier"] == "cookie"
    downstream = recording(ClerkAuth(jwks_url=jwks.url, authorized_parties=[ORIGIN], issuer=ISSUER, trust_authorizer=True).require_session)
    for method, origin, status in (("GET", EVIL, 200), ("POST", EVIL, 403), ("POST", "null", 403), ("POST", ORIGIN, 200), ("DELETE", EVIL, 403)):
        out = call(downstream, "http_v2", routed(ctx, method=method, origin=origin, cookies=[f"__session={token}"]))
        assert out.status == status, (method, origin)


def test_authorizer_outage_raises_never_allows_or_401s(clerk_api: Any) -> None:
    auth = ClerkAuth(secret_key=clerk_api.secret_key, api_url=clerk_api.url, fetch_timeout=0.5)
    clerk_api.fault("verifyApiKey", "stall")
    for simple, shape in ((True, "http_v2"), (False, "http_v2"), (True, "rest_v1")):
        with pytest.raises(KeysUnavailableError):  # API Gateway answers 500 and caches nothing
            make_authorizer(auth, accepts_token="api_key", simple_responses=simple)(
                authorizer_event(shape, bearer=clerk_api.add_api_key().secret), None)
    clerk_api.clear_faults()


def test_finding_entry_points_with_the_default_auth_disguise_a_config_error_as_401(
    monkeypatch: pytest.MonkeyPatch, clerk_api: Any,
) -> None:
    """MEDIUM. "Config mistake → ClerkConfigError …, never disguised as a 401".
    The decorators check a lazily-built default ``ClerkAuth`` against the route
    on the first request (ClerkConfigError). ``make_authorizer(...)``, the ASGI
    ``ClerkMiddleware``, the FastAPI dependency and the Powertools middleware
    built without ``auth=`` never do: with no secret key configured, every
    valid API key is answered 401 ``token-invalid`` ("no secret key to verify
    machine tokens with") — clients discard good keys, and the authorizer's
    ``Unauthorized`` is even cacheable by API Gateway."""
    from fastapi import Depends, FastAPI
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from clerk_serverless import require_auth
    from clerk_serverless.integrations.asgi import ClerkMiddleware
    from clerk_serverless.integrations.fastapi import require_clerk_auth

    monkeypatch.setenv("CLERK_JWKS_URL", clerk_api.jwks_url)  # a key source, but no secret key
    api_key = clerk_api.add_api_key().secret
    verdicts: dict[str, Any] = {}

    decorated = require_auth(accepts_token="api_key")(lambda event, context: {"statusCode": 200, "body": ""})
    try:
        verdicts["decorator"] = decorated(make_event("http_v2", bearer=api_key), None)["statusCode"]
    except ClerkConfigError:
        verdicts["decorator"] = "ClerkConfigError"

    authorize = make_authorizer(accepts_token="api_key", simple_responses=False)
    try:
        verdicts["authorizer"] = authorize(authorizer_event("rest_v1", bearer=api_key), None)
    except Unauthorized:
        verdicts["authorizer"] = 401
    except ClerkConfigError:
        verdicts["authorizer"] = "ClerkConfigError"

    app = FastAPI()

    @app.get("/d")
    def dep(identity: Any = Depends(require_clerk_auth(accepts_token="api_key"))) -> dict[str, Any]:
        return {}

    async def endpoint(request: Request) -> JSONResponse:
        return JSONResponse({})

    star = Starlette(routes=[Route("/m", endpoint)])
    star.add_middleware(ClerkMiddleware, accepts_token="api_key")
    for name, client, path in (("fastapi", TestClient(app, raise_server_exceptions=False), "/d"),
                               ("asgi", TestClient(star, raise_server_exceptions=False), "/m")):
        verdicts[name] = client.get(path, headers={"Authorization": f"Bearer {api_key}"}).status_code
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

    from clerk_serverless.integrations.powertools import ClerkMiddleware as PowertoolsMiddleware

    resolver = APIGatewayHttpResolver()
    resolver.use(middlewares=[PowertoolsMiddleware(accepts_token="api_key")])

    @resolver.get("/p")
    def powertools_route() -> dict[str, Any]:
        return {}

    event = make_event("http_v2", bearer=api_key)
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/p"
    try:
        verdicts["powertools"] = resolver.resolve(event, None)["statusCode"]
    except ClerkConfigError:
        verdicts["powertools"] = "ClerkConfigError"
    assert posts(clerk_api) == []
    disguised = {name: v for name, v in verdicts.items() if v == 401}
    assert not disguised, f"config mistake answered 401 by {sorted(disguised)}; decorator: {verdicts['decorator']}"


# =================================================================================================
# 5. Reverification, plans, features: malformed claims
# =================================================================================================


MALFORMED = [
    {"fva": "10,10"}, {"fva": [0]}, {"fva": [0, 0, 0]}, {"fva": [True, True]}, {"fva": ["0", "0"]}, {"fva": [None, 0]},
    {"fva": [-2, 0]}, {"fva": [0, -5]}, {"fva": {"0": 0, "1": 0}}, {"fva": [1e308, -1]}, {"fva": [[0], [0]]},
    {"fva": [-0.0, -0.0]}, {"fva": 0},
    {"fea": 123}, {"fea": ["o:reports"]}, {"fea": "o:reports,bad"}, {"fea": "reports"}, {"fea": "O:reports"},
    {"fea": "o\u200b:reports"}, {"fea": "x:reports"}, {"fea": "o:" + "r" * 5000}, {"fea": ",,,"}, {"fea": "o:rep\u00f6rts"},
    {"pla": {"o": "pro"}}, {"pla": ["u:pro"]}, {"pla": "pro"}, {"pla": "U:pro"}, {"pla": "o:pro:extra"}, {"pla": 1},
    {"v": 2, "o": {"id": "org_1", "rol": "admin", "per": "read", "fpm": "-1"}, "fea": "o:reports"},
    {"v": 2, "o": {"id": "org_1", "rol": "admin", "per": "read", "fpm": "1" * 5000}, "fea": "u:reports"},
    {"v": 2, "o": {"id": "org_1", "rol": "admin", "per": 5, "fpm": "1"}, "fea": "o:reports"},
    {"v": 2, "o": ["org_1"], "fea": "o:reports"},
]
REQUIREMENTS = [
    {"reverification": "strict"}, {"reverification": "strict_mfa"},
    {"reverification": {"level": "multi_factor", "after_minutes": 5}},
    {"features": ["org:reports"]}, {"features": ["user:reports"]}, {"features": ["reports"]},
    {"plans": ["org:pro", "user:pro"]}, {"plans": ["pro"]}, {"permissions": ["org:reports:read"]},
]


@pytest.mark.parametrize("requirement", REQUIREMENTS, ids=lambda r: json.dumps(r)[:40])
def test_malformed_fva_fea_pla_never_raise_and_never_grant(auth: ClerkAuth, key: SigningKey, requirement: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    handler = recording(auth.require_session(**requirement))
    for extra in MALFORMED:
        if extra.get("fva") == [-0.0, -0.0] and "reverification" in requirement:
            continue  # -0 is a verification 0 minutes ago: fresh, rightly granted
        if "o" in extra and "features" in requirement:
            continue  # these rows carry a well-formed fea; their malformed part is the permission mask
        out = call(handler, "http_v2", bearer=mint(key, **extra))
        assert out.status == 403 and out.session is NOT_CALLED, (extra, out.status, out.reason)
    assert "while authenticating" not in caplog.text


def test_reverification_body_is_clerks_shape_only(auth: ClerkAuth, key: SigningKey, clerk_api: Any) -> None:
    """Nothing from the token or the request is echoed in the 403."""
    marker = "<script>ATTACKER"
    handler = recording(auth.require_auth(accepts_token="any", reverification="strict"))
    token = mint(key, fva=[9999, 9999], fea=f"o:{marker}", pla=f"u:{marker}", sts=marker, org_slug=marker)
    for request in ({"bearer": token}, {"bearer": clerk_api.add_api_key(claims={"x": marker}, name=marker).secret},
                    {"bearer": token, "headers": {"X-Reverification": marker}, "query": {"reverification": marker}}):
        out = call(handler, "http_v2", **request)
        assert out.status == 403 and marker not in out.response["body"] and marker not in json.dumps(out.headers)
        assert set(out.body) == {"clerk_error", "error", "reason", "message"}
        assert out.body["clerk_error"] == {"type": "forbidden", "reason": "reverification-error", "metadata": {"reverification": "strict"}}


# =================================================================================================
# 6. Everything else: FastAPI's security declaration, list-valued headers
# =================================================================================================


def test_fastapi_security_declaration_changes_nothing(auth: ClerkAuth, clerk_api: Any, key: SigningKey) -> None:
    from fastapi import Depends, FastAPI
    from starlette.testclient import TestClient

    from clerk_serverless.integrations.fastapi import require_clerk_auth

    app = FastAPI()

    @app.post("/machines")
    def machines(identity: Any = Depends(require_clerk_auth(auth=auth, accepts_token="api_key"))) -> dict[str, Any]:
        return {"subject": identity.subject}

    @app.post("/any")
    def anything(identity: Any = Depends(require_clerk_auth(auth=auth, accepts_token="any"))) -> dict[str, Any]:
        return {"type": identity.token_type}

    client = TestClient(app)
    api_key = clerk_api.add_api_key().secret
    # FastAPI's own HTTPBearer/APIKeyCookie never answer (no 403 "Not authenticated")
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer"}, {"Authorization": "Bearer null"}):
        out = client.post("/machines", headers=headers)
        assert out.status_code == 401 and out.json()["detail"]["reason"] == "session-token-missing", headers
    assert client.post("/machines", headers={"Authorization": api_key}).status_code == 200  # no scheme, as Clerk reads it
    assert client.post("/machines", headers={"Authorization": f"bearer {api_key}"}).status_code == 200
    assert client.post("/machines", headers={"Cookie": f"__session={api_key}"}).status_code == 401
    # a cookie-only machine token on an "any" POST: no identity, no CSRF bypass
    out = client.post("/any", headers={"Cookie": f"__session={api_key}", "Origin": EVIL})
    assert out.status_code in (401, 403)
    out = client.post("/any", headers={"Cookie": f"__session={mint(key)}", "Origin": EVIL})
    assert out.status_code == 403
    spec = app.openapi()
    assert spec["paths"]["/machines"]["post"]["security"] == [{"ClerkBearer": []}]


@pytest.mark.parametrize("shape", ["vpc_lattice_v2", "rest_v1", "alb_multi"])
def test_multiple_authorization_values(auth: ClerkAuth, clerk_api: Any, key: SigningKey, shape: str) -> None:
    """List-valued headers are one value joined with ", ", as fetch's Headers
    (what Clerk's SDK reads) and HTTP API events give them: two tokens are one
    bogus token, a Basic line first means no header token, a bad first token
    is never rescued by a good second one."""
    good = clerk_api.add_api_key().secret
    handler = recording(auth.require_auth(accepts_token="api_key"))
    for values, status in ((["Bearer null", f"Bearer {good}"], 401), (["Basic eA==", f"Bearer {good}"], 401),
                           ([f"Bearer {good}", "Bearer ak_" + "0" * 40], 401),
                           (["Bearer ak_" + "0" * 40, f"Bearer {good}"], 401),
                           ([f"Bearer {mint(key)}", f"Bearer {good}"], 401),
                           # fetch's Headers joins an empty line too: ", Bearer …" has no scheme (review 9)
                           (["", f"Bearer {good}"], 401)):
        out = call(handler, shape, headers={"Authorization": values})
        assert out.status == status, (values[0][:20], out.reason)


def test_http_v2_comma_joined_authorization_is_one_bogus_token(auth: ClerkAuth, clerk_api: Any) -> None:
    good = clerk_api.add_api_key().secret
    handler = recording(auth.require_auth(accepts_token="api_key"))
    event = make_event("http_v2")
    event["headers"]["authorization"] = f"Bearer {good},Bearer {good}"
    assert call(handler, "http_v2", event).status == 401


@pytest.mark.parametrize("shape,mutate", [
    ("http_v2", lambda e: e["headers"].__setitem__("authorization", ["Bearer x"])),
    ("http_v2", lambda e: e["headers"].__setitem__("authorization", 5)),
    ("http_v2", lambda e: e["headers"].__setitem__("authorization", None)),
    ("rest_v1", lambda e: e["multiValueHeaders"].__setitem__("Authorization", "Bearer x")),
    ("rest_v1", lambda e: e["multiValueHeaders"].__setitem__("Authorization", [None, 5])),
    ("rest_v1", lambda e: e["headers"].__setitem__("Authorization", {"Bearer": "x"})),
    ("vpc_lattice_v2", lambda e: e["headers"].__setitem__("authorization", [5])),
    ("vpc_lattice_v2", lambda e: e["headers"].__setitem__("authorization", {"a": "b"})),
    ("alb", lambda e: e["headers"].__setitem__("authorization", True)),
    ("alb_multi", lambda e: e["multiValueHeaders"].__setitem__("authorization", [b"Bearer x"])),
], ids=lambda v: v if isinstance(v, str) else "")
def test_odd_header_value_types_are_answered_never_raised(auth: ClerkAuth, shape: str, mutate: Any) -> None:
    event = make_event(shape)
    mutate(event)
    for handler in (recording(auth.require_auth(accepts_token="api_key")), recording(auth.with_auth(accepts_token="any"))):
        out = call(handler, shape, event)
        assert out.status in (200, 400, 401)
        if out.status == 200:
            assert handler.seen["auth"] is None


# =================================================================================================
# More: spellings, shared verdicts, rate limits
# =================================================================================================


def test_a_machine_token_has_one_spelling(auth: ClerkAuth, clerk_api: Any, key: SigningKey) -> None:
    """Trailing newlines, padding or whitespace inside never make another
    accepted spelling of a token (and never a second cache entry)."""
    jwt = m2m_jwt(key)
    api_key = clerk_api.add_api_key().secret
    for variant in (jwt + "\n", jwt + "=", jwt + " ", "\n" + jwt, jwt.replace(".", ". ", 1), jwt + "\x00"):
        with pytest.raises(AuthError):
            auth.verify_token(variant, accepts_token="m2m_token")
    for variant in (api_key + "\n", api_key + " ", " " + api_key, api_key + "\x00", api_key + "\u00a0"):
        with pytest.raises(AuthError):
            auth.verify_token(variant, accepts_token="api_key")


def test_a_handler_cannot_rewrite_a_cached_machine_identity(auth: ClerkAuth, clerk_api: Any) -> None:
    """LOW. A verified opaque token's ``MachineAuth`` is cached and the *same
    object* is handed to every request with that token for up to 60 s, on every
    route of the ``ClerkAuth``, in every thread. Its fields are writable, and
    ``check_access`` reads ``scopes`` from it: a handler that adjusts the
    identity it was given (``event["auth"].scopes += ("x",)``, or a nested
    claim) changes what the next request is authorized for. Each request must
    get its own immutable identity (or the policy must read the cached verdict)."""
    key = clerk_api.add_api_key(scopes=["read"], claims={"roles": ["viewer"]})

    @auth.require_auth(accepts_token="api_key")
    def lenient(event: dict[str, Any], context: Any) -> dict[str, Any]:
        identity = event["auth"]
        with pytest.raises(AttributeError):  # fixed: MachineAuth is read-only
            identity.scopes = (*identity.scopes, "admin")  # e.g. "normalising" scopes for the app
        with pytest.raises(TypeError):
            identity.claims["roles"] = ["admin"]
        return {"statusCode": 200, "body": ""}

    strict = recording(auth.require_auth(accepts_token="api_key", scopes=["admin"]))
    assert call(strict, "http_v2", bearer=key.secret).status == 403
    assert call(lenient, "http_v2", bearer=key.secret).status == 200
    out = call(strict, "http_v2", bearer=key.secret)
    assert out.status == 403, f"the next request carried scopes {strict.seen['auth'].scopes}"


def test_finding_clerk_rate_limits_are_not_honoured_for_machine_tokens(auth: ClerkAuth, clerk_api: Any) -> None:
    """MEDIUM (availability). Every distinct opaque token costs a Backend API
    call, and Clerk's Backend API rate limit is per instance — shared with every
    other Backend API call the application makes. When Clerk answers 429 with
    ``Retry-After: 30``, the next requests (any token; an unauthenticated
    attacker sends random ``ak_…`` strings) still call Clerk, one call each,
    keeping the instance rate-limited. The key store backs off for the
    server's Retry-After ("an outage costs a fetch per window, not per
    request"); the machine-token path must too: 503 + Retry-After without a call
    until the window ends."""
    handler = recording(auth.require_auth(accepts_token="api_key"))
    clerk_api.fault("verifyApiKey", "status", status=429, headers={"Retry-After": "30"})
    first = call(handler, "http_v2", bearer="ak_" + "1" * 40)
    assert first.status == 503 and first.headers["retry-after"] == "30"
    before = clerk_api.count("verifyApiKey")
    for i in range(10):
        out = call(handler, "http_v2", bearer=f"ak_{i:040d}")
        assert out.status == 503
    clerk_api.clear_faults()
    assert clerk_api.count("verifyApiKey") == before, f"{clerk_api.count('verifyApiKey') - before} calls during Clerk's Retry-After window"


def test_machine_jwt_claims_are_checked_like_a_sessions(auth: ClerkAuth, key: SigningKey) -> None:
    now = int(time.time())
    m2m_head = {"alg": "RS256", "kid": key.kid, "typ": "JWT", "cat": M2M_CAT}
    oauth_head = {"alg": "RS256", "kid": key.kid, "typ": "at+jwt"}
    bad = [
        m2m_jwt(key, nbf=now + 600), m2m_jwt(key, iat=now + 600), m2m_jwt(key, exp=None), m2m_jwt(key, exp=str(now + 600)),
        m2m_jwt(key, exp=True), m2m_jwt(key, exp=[now + 600]), oauth_jwt(key, nbf=now + 600), oauth_jwt(key, exp=None),
        oauth_jwt(key, sub=""), oauth_jwt(key, sub=5), oauth_jwt(key, azp=ORIGIN + "/"), oauth_jwt(key, azp="null"),
        oauth_jwt(key, azp=[ORIGIN]),
        sign_raw(key, m2m_head, b'{"sub":"' + MACHINE.encode() + b'","exp":NaN}'),
        sign_raw(key, m2m_head, b'{"sub":"' + MACHINE.encode() + b'","exp":Infinity}'),
        sign_raw(key, oauth_head, b'{"sub":"user_1","exp":1e999}'),
        m2m_jwt(key, header={"alg": "RS512"}), m2m_jwt(key, header={"crit": ["exp"]}), m2m_jwt(key, header={"kid": None}),
        oauth_jwt(key, header={"alg": "none"}), oauth_jwt(key, header={"kid": "ins_attacker"}),
    ]
    handler = recording(auth.require_auth(accepts_token="any"))
    for token in bad:
        out = call(handler, "http_v2", bearer=token)
        assert out.status == 401 and out.session is NOT_CALLED, out.reason


def test_an_attackers_key_never_signs_a_machine_token(auth: ClerkAuth, signing_keys: Any) -> None:
    attacker = signing_keys["attacker"]
    handler = recording(auth.require_auth(accepts_token="any"))
    for header in ({"kid": attacker.kid}, {"kid": signing_keys["current"].kid},
                   {"kid": signing_keys["current"].kid, "jwk": attacker.jwk, "jku": "https://evil.example/jwks"}):
        for token in (m2m_jwt(attacker, header=header), oauth_jwt(attacker, header=header)):
            out = call(handler, "http_v2", bearer=token)
            assert out.status == 401 and out.session is NOT_CALLED


def test_duplicate_json_keys_are_read_one_way(auth: ClerkAuth, key: SigningKey) -> None:
    """The classifier and the verifier read the same (last) value of a repeated
    member: a token cannot be routed as one type and checked as another."""
    now = int(time.time())
    exp = now + 300
    session_then_machine = b'{"sub":"user_2abc","sid":"sess_1","iss":"%s","azp":"%s","exp":%d,"iat":%d,"sub":"%s"}' % (
        ISSUER.encode(), ORIGIN.encode(), exp, now, MACHINE.encode())
    machine_then_session = b'{"sub":"%s","exp":%d,"iat":%d,"sid":"sess_1","iss":"%s","azp":"%s","sub":"user_2abc"}' % (
        MACHINE.encode(), exp, now, ISSUER.encode(), ORIGIN.encode())
    head = {"alg": "RS256", "kid": key.kid, "typ": "JWT"}
    session_only = recording(auth.require_session)
    m2m_only = recording(auth.require_auth(accepts_token="m2m_token"))
    a = sign_raw(key, head, session_then_machine)
    b = sign_raw(key, head, machine_then_session)
    assert call(session_only, "http_v2", bearer=a).status == 401
    assert call(m2m_only, "http_v2", bearer=a).status == 200 and m2m_only.seen["auth"].subject == MACHINE
    assert call(m2m_only, "http_v2", bearer=b).status == 401
    assert call(session_only, "http_v2", bearer=b).status == 200
    # a repeated typ in the header
    dup_typ = sign_raw(key, {"alg": "RS256", "kid": key.kid, "typ": "JWT"}, {"sub": USER, "exp": exp}).split(".")
    raw_head = b'{"alg":"RS256","kid":"%s","typ":"at+jwt","typ":"JWT"}' % key.kid.encode()
    forged = f"{b64url(raw_head)}.{dup_typ[1]}.{dup_typ[2]}"  # signature no longer matches: refused either way
    assert call(recording(auth.require_auth(accepts_token="any")), "http_v2", bearer=forged).status == 401
