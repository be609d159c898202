"""Every entry point, the same verdicts (issue #11, "Everywhere").

One table of request scenarios × route options, run through every entry
point the library has:

* ``require_auth`` (and ``require_session``, where the options allow) on an
  HTTP API v2 event and on a REST v1 event;
* the ASGI ``ClerkMiddleware`` and the FastAPI ``require_clerk_auth``
  dependency, each through Mangum with the same Lambda event and directly as
  an ASGI app;
* the Powertools ``ClerkMiddleware`` on an ``APIGatewayHttpResolver``;
* the Lambda authorizer (HTTP API simple responses, REST policies), followed,
  when it allows, by a downstream ``ClerkAuth(trust_authorizer=True)``
  decorator given the authorizer's context;
* ``ClerkAuth.authenticate_request``.

Each must give the same status, ``x-clerk-auth-reason``, ``WWW-Authenticate``
presence, reverification body and the same identity fields the handler sees,
wherever the entry point can express them (an authorizer can only allow or
deny; ``authenticate_request`` answers no HTTP). The expected status and
reason are the table's; the expected identity is what ``require_auth`` on the
HTTP API event hands its handler.

Real parts only: a loopback JWKS server, a loopback Clerk Backend API checked
against Clerk's OpenAPI spec (opaque machine tokens), real RS256 tokens, real
FastAPI, Starlette, Mangum and Powertools.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, APIGatewayRestResolver
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from mangum import Mangum
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route
from support.calls import run_async
from support.clerk_api import ClerkBackendApi, fail_on_violations, now_ms
from support.events import AUTHORIZER_ROUTE_ARN, response_headers, routed
from support.jwks_server import JwksServer
from support.tokens import ISSUER, ORIGIN, SigningKey, m2m_jwt, mint, oauth_jwt

from clerk_serverless import AuthError, ClerkAuth, ClerkConfigError, MachineAuth, Policy, Session
from clerk_serverless.authorizer import Unauthorized, make_authorizer
from clerk_serverless.integrations.asgi import ClerkMiddleware as AsgiClerkMiddleware
from clerk_serverless.integrations.fastapi import require_clerk_auth
from clerk_serverless.integrations.powertools import ClerkMiddleware as PowertoolsClerkMiddleware

EVIL = "https://evil.example"
OTHER = "https://other.example.com"
REST_METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/me"
V2_ORG = {
    "v": 2, "fea": "o:reports,u:beta", "pla": "o:business",
    "o": {"id": "org_1", "rol": "admin", "slg": "acme", "per": "read", "fpm": "1"},
}
UNSEEN: Any = "<unseen>"  # a field this entry point cannot express


# -- the table ------------------------------------------------------------------------------------


@dataclass
class Scenario:
    id: str
    token: str | None = None  # a name in the tokens fixture
    via: str = "bearer"  # "bearer" or "cookie"
    status: int = 200
    reason: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    method: str = "GET"
    origin: str | None = None
    headers: dict[str, str] = field(default_factory=dict)  # "{name}" is the named token
    cookies: tuple[str, ...] = ()  # besides __session; "{name}" is the named token
    query: dict[str, str] = field(default_factory=dict)
    env: str = "up"  # "down": JWKS and Backend API both failing
    preflight: bool = False  # API Gateway and authenticate_request never see one


ANY = {"accepts_token": "any"}
NOW = int(time.time())

SCENARIOS = [
    # signed in, signed out
    Scenario("no-token", None, status=401, reason="session-token-missing"),
    Scenario("no-token-from-page", None, origin=ORIGIN, status=401, reason="session-token-missing"),
    Scenario("no-token-route-parties-cors", None, origin=OTHER, options={"authorized_parties": [ORIGIN, OTHER]},
             status=401, reason="session-token-missing"),
    Scenario("session-bearer", "session"),
    Scenario("session-cookie", "session", via="cookie"),
    Scenario("session-cookie-client-uat", "session", via="cookie", cookies=(f"__client_uat={NOW - 100}",)),
    Scenario("session-bearer-any", "session", options=ANY),
    Scenario("session-bearer-list", "session", options={"accepts_token": ["session_token", "api_key"]}),
    Scenario("session-v2-org", "session_org"),
    Scenario("session-actor", "session_actor"),
    Scenario("session-fva", "session_fva_fresh"),
    Scenario("expired-bearer", "expired", status=401, reason="token-expired"),
    Scenario("expired-cookie", "expired", via="cookie", status=401, reason="token-expired"),
    Scenario("bad-signature", "attacker", status=401, reason="token-invalid-signature"),
    Scenario("garbage-bearer", "garbage", status=401, reason="token-invalid"),
    Scenario("wrong-azp", "wrong_azp", status=401, reason="token-invalid-authorized-parties"),
    Scenario("no-azp", "no_azp", status=401, reason="token-invalid-authorized-parties"),
    Scenario("not-yet-valid", "future_nbf", status=401, reason="session-token-nbf"),
    # where the token is found
    Scenario("bearer-null-then-cookie", None, headers={"Authorization": "Bearer null"},
             cookies=("__session={session}",)),
    Scenario("basic-auth-then-cookie", None, headers={"Authorization": "Basic dXNlcjpwYXNz"},
             cookies=("__session={session}",)),
    Scenario("lowercase-bearer", None, headers={"Authorization": "bearer {session}"}),
    Scenario("header-beats-cookie", "wrong_azp", cookies=("__session={session}",),
             status=401, reason="token-invalid-authorized-parties"),
    Scenario("bearer-with-trailing-junk", None, headers={"Authorization": "Bearer {session} more"},
             status=401, reason="token-invalid"),
    Scenario("route-parties-exclude-azp", "session", options={"authorized_parties": [OTHER]},
             status=401, reason="token-invalid-authorized-parties"),
    Scenario("route-parties-include-azp", "session", options={"authorized_parties": [OTHER, ORIGIN]}),
    # pending sessions
    Scenario("pending", "pending", status=401, reason="session-pending"),
    Scenario("pending-cookie", "pending", via="cookie", status=401, reason="session-pending"),
    Scenario("pending-allowed", "pending", options={"treat_pending_as_signed_out": False}),
    Scenario("pending-allowed-any", "pending", options={"treat_pending_as_signed_out": False, **ANY}),
    # permissions, roles, features, plans
    Scenario("missing-permission", "session", options={"permissions": ["org:reports:read"]},
             status=403, reason="missing-permission"),
    Scenario("has-permission", "session_org", options={"permissions": ["org:reports:read"]}),
    Scenario("missing-role", "session", options={"roles": ["org:admin"]}, status=403, reason="missing-role"),
    Scenario("has-role", "session_org", options={"roles": ["org:member", "admin"]}),
    Scenario("missing-feature", "session", options={"features": ["org:reports"]},
             status=403, reason="missing-feature"),
    Scenario("has-feature", "session_org", options={"features": ["org:reports", "user:beta"]}),
    Scenario("missing-plan", "session", options={"plans": ["org:business"]}, status=403, reason="missing-plan"),
    Scenario("has-plan", "session_org", options={"plans": ["org:enterprise", "org:business"]}),
    Scenario("permission-before-reverification", "session_fva_stale",
             options={"permissions": ["org:reports:read"], "reverification": "strict"},
             status=403, reason="missing-permission"),
    # reverification
    Scenario("reverification-no-fva", "session", options={"reverification": "strict"},
             status=403, reason="reverification-error"),
    Scenario("reverification-stale", "session_fva_stale", options={"reverification": "strict"},
             status=403, reason="reverification-error"),
    Scenario("reverification-stale-custom", "session_fva_stale",
             options={"reverification": {"level": "first_factor", "after_minutes": 5}},
             status=403, reason="reverification-error"),
    Scenario("reverification-fresh", "session_fva_fresh", options={"reverification": "strict_mfa"}),
    Scenario("reverification-fresh-cookie", "session_fva_fresh", via="cookie",
             options={"reverification": "moderate"}),
    # the request's own checks
    Scenario("session-id-mismatch", "session", query={"_clerk_session_id": "sess_other"},
             status=401, reason="session-id-mismatch"),
    Scenario("session-id-mismatch-cookie", "session", via="cookie", query={"_clerk_session_id": "sess_other"},
             status=401, reason="session-id-mismatch"),
    Scenario("session-id-match", "session", query={"_clerk_session_id": "sess_2xyz"}),
    Scenario("client-uat-zero", "session", via="cookie", cookies=("__client_uat=0",),
             status=401, reason="session-token-but-no-client-uat"),
    Scenario("client-uat-after-iat", "session", via="cookie", cookies=(f"__client_uat={NOW + 3600}",),
             status=401, reason="session-token-iat-before-client-uat"),
    Scenario("client-uat-without-session", None, cookies=(f"__client_uat={NOW - 100}",),
             status=401, reason="client-uat-but-no-session-token"),
    Scenario("client-uat-zero-bearer", "session", cookies=("__client_uat=0",)),  # header path: not read
    # cross-site writes with the cookie
    Scenario("cross-site-cookie-post", "session", via="cookie", method="POST", origin=EVIL,
             status=403, reason="origin-invalid"),
    Scenario("cross-site-cookie-post-fetch-site", "session", via="cookie", method="POST",
             headers={"Sec-Fetch-Site": "cross-site"}, status=403, reason="origin-invalid"),
    Scenario("cross-site-cookie-delete-null", "session", via="cookie", method="DELETE", origin="null",
             status=403, reason="origin-invalid"),
    Scenario("cross-site-cookie-post-route-parties", "session", via="cookie", method="POST", origin=ORIGIN,
             options={"authorized_parties": [ORIGIN, OTHER]}),
    Scenario("cross-site-cookie-post-narrowed", "session_other_azp", via="cookie", method="POST", origin=ORIGIN,
             options={"authorized_parties": [OTHER]}, status=403, reason="origin-invalid"),
    Scenario("same-site-cookie-post", "session", via="cookie", method="POST", origin=ORIGIN),
    Scenario("cross-site-cookie-get", "session", via="cookie", origin=EVIL),
    Scenario("cross-site-bearer-post", "session", method="POST", origin=EVIL),
    # OPTIONS
    Scenario("preflight", None, method="OPTIONS", origin=ORIGIN,
             headers={"Access-Control-Request-Method": "POST"}, status=204, preflight=True),
    Scenario("preflight-foreign", None, method="OPTIONS", origin=EVIL,
             headers={"Access-Control-Request-Method": "POST"}, status=204, preflight=True),
    Scenario("preflight-route-parties", None, method="OPTIONS", origin=OTHER,
             options={"authorized_parties": [ORIGIN, OTHER]},
             headers={"Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "X-Request-Id"},
             status=204, preflight=True),
    Scenario("preflight-machine-route", None, method="OPTIONS", origin=ORIGIN, options={"accepts_token": "api_key"},
             headers={"Access-Control-Request-Method": "GET"}, status=204, preflight=True),
    Scenario("options-no-token", None, method="OPTIONS", status=401, reason="session-token-missing"),
    Scenario("options-origin-only", None, method="OPTIONS", origin=ORIGIN, status=401, reason="session-token-missing"),
    Scenario("options-with-token", "session", method="OPTIONS", origin=ORIGIN,
             headers={"Access-Control-Request-Method": ""}),
    # machine tokens, opaque (the loopback Backend API)
    Scenario("api-key", "api_key", options={"accepts_token": "api_key"}),
    Scenario("api-key-of-user", "api_key_user", options={"accepts_token": "api_key"}),
    Scenario("api-key-any", "api_key", options=ANY),
    Scenario("api-key-list", "api_key", options={"accepts_token": ["m2m_token", "api_key"]}),
    # a session-only route verifies any header token as a session token, as @clerk/backend does
    Scenario("api-key-on-session-route", "api_key", status=401, reason="token-invalid"),
    Scenario("api-key-other-type", "api_key", options={"accepts_token": "m2m_token"},
             status=401, reason="token-type-mismatch"),
    Scenario("api-key-scope", "api_key", options={"accepts_token": "api_key", "scopes": ["read:foo"]}),
    Scenario("api-key-scope-missing", "api_key", options={"accepts_token": "api_key", "scopes": ["read:foo", "x"]},
             status=403, reason="missing-scope"),
    Scenario("api-key-permission", "api_key", options={**ANY, "permissions": ["org:reports:read"]},
             status=403, reason="missing-permission"),
    Scenario("api-key-reverification", "api_key", options={**ANY, "reverification": "lax"},
             status=403, reason="reverification-error"),
    Scenario("api-key-in-cookie", "api_key", via="cookie", options=ANY, status=401, reason="token-invalid"),
    Scenario("api-key-expired", "api_key_expired", options={"accepts_token": "api_key"},
             status=401, reason="token-invalid"),
    Scenario("api-key-revoked", "api_key_revoked", options={"accepts_token": "api_key"},
             status=401, reason="token-invalid"),
    Scenario("api-key-session-id-query", "api_key", options=ANY, query={"_clerk_session_id": "sess_other"}),
    Scenario("api-key-refused-from-page", "api_key", origin=ORIGIN, options={"accepts_token": "api_key", "scopes": ["x"]},
             status=403, reason="missing-scope"),
    Scenario("api-key-cross-site-post", "api_key", method="POST", origin=EVIL, options=ANY),
    Scenario("m2m-opaque", "m2m_opaque", options={"accepts_token": "m2m_token"}),
    Scenario("m2m-opaque-scope-missing", "m2m_opaque", options={"accepts_token": "m2m_token", "scopes": ["nope"]},
             status=403, reason="missing-scope"),
    Scenario("oauth-opaque", "oauth_opaque", options={"accepts_token": "oauth_token"}),
    Scenario("oauth-opaque-scopes", "oauth_opaque", options={"accepts_token": "any", "scopes": ["profile", "email"]}),
    Scenario("machine-route-no-token", None, options={"accepts_token": "api_key"},
             status=401, reason="session-token-missing"),
    # a list without session_token: @clerk/backend's array check
    Scenario("machine-route-cookie-only", "session", via="cookie", options={"accepts_token": ["api_key"]},
             status=401, reason="token-type-mismatch"),
    Scenario("machine-type-cookie-only", "session", via="cookie", options={"accepts_token": "api_key"},
             status=401, reason="session-token-missing"),
    Scenario("session-on-machine-route", "session", options={"accepts_token": ["api_key", "oauth_token"]},
             status=401, reason="token-type-mismatch"),
    Scenario("session-scopes", "session", options={**ANY, "scopes": ["read:foo"]}, status=403, reason="missing-scope"),
    # machine tokens, JWT
    Scenario("m2m-jwt", "m2m_jwt", options={"accepts_token": "m2m_token"}),
    Scenario("m2m-jwt-scopes", "m2m_jwt", options={**ANY, "scopes": ["mch_1xxxxx"]}),
    Scenario("m2m-jwt-scope-missing", "m2m_jwt", options={**ANY, "scopes": ["other"]},
             status=403, reason="missing-scope"),
    Scenario("m2m-jwt-on-session-route", "m2m_jwt", status=401, reason="token-type-mismatch"),
    Scenario("m2m-jwt-expired", "m2m_jwt_expired", options={"accepts_token": "m2m_token"},
             status=401, reason="token-verification-failed"),
    Scenario("m2m-jwt-wrong-azp", "m2m_jwt_evil", options={"accepts_token": "m2m_token"},
             status=401, reason="token-verification-failed"),
    Scenario("oauth-jwt", "oauth_jwt", options={"accepts_token": "oauth_token"}),
    Scenario("oauth-jwt-scopes", "oauth_jwt", options={"accepts_token": "oauth_token", "scopes": ["read:foo"]}),
    Scenario("oauth-jwt-wrong-azp", "oauth_jwt_evil", options={"accepts_token": "oauth_token"},
             status=401, reason="token-verification-failed"),
    Scenario("oauth-jwt-route-parties", "oauth_jwt", options={"accepts_token": "oauth_token",
                                                              "authorized_parties": [OTHER]},
             status=401, reason="token-verification-failed"),
    Scenario("oauth-jwt-on-m2m-route", "oauth_jwt", options={"accepts_token": "m2m_token"},
             status=401, reason="token-type-mismatch"),
    # outages
    Scenario("jwks-down", "session", env="down", status=503, reason="jwk-remote-failed-to-load"),
    Scenario("jwks-down-from-page", "session", origin=ORIGIN, env="down", status=503,
             reason="jwk-remote-failed-to-load"),
    Scenario("jwks-down-cookie", "session", via="cookie", env="down", status=503, reason="jwk-remote-failed-to-load"),
    Scenario("backend-api-down", "api_key", options={"accepts_token": "api_key"}, env="down",
             status=503, reason="unexpected-error"),
    Scenario("backend-api-down-any", "m2m_opaque", options=ANY, env="down", status=503, reason="unexpected-error"),
]


# -- what an entry point is observed to do ---------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """What one entry point did. ``status``: the HTTP status, or for an
    authorizer that refused, ``"deny"`` / ``"deny-401"`` / ``"deny-403"``."""

    status: int | str
    reason: str | None = UNSEEN
    www_authenticate: bool | None = UNSEEN
    retry_after: bool | None = UNSEEN
    reverification: Any = UNSEEN  # the clerk_error object of a reverification 403
    identity: Any = UNSEEN  # what the handler saw; None when it never ran
    answer_headers: Any = UNSEEN  # the headers of our own answers (refusals, preflights)

    def differences(self, expected: Verdict) -> list[str]:
        out = []
        for name in ("status", "reason", "www_authenticate", "retry_after", "reverification", "identity",
                     "answer_headers"):
            mine, theirs = getattr(self, name), getattr(expected, name)
            if UNSEEN in (mine, theirs):
                continue
            if name == "identity":  # identical JSON: an int is no float, a list no tuple
                mine, theirs = json.dumps(mine, sort_keys=True), json.dumps(theirs, sort_keys=True)
            if mine != theirs:
                out.append(f"{name}: got {mine!r}, expected {theirs!r}")
        return out


def identity_fields(identity: Any, session: Any) -> dict[str, Any] | None:
    """The identity a handler sees, as comparable JSON (no token, no raw claims)."""
    if identity is None:
        return None
    if isinstance(identity, Session):
        fva = identity.factor_verification_age
        fields = {
            **identity.to_dict(),
            "features": sorted(identity.features),
            "plans": sorted(identity.plans),
            "fva": list(fva) if fva is not None else None,
            "exp": identity.expires_at,
            "session_slot": "same" if session is identity else repr(session),
        }
    elif isinstance(identity, MachineAuth):
        fields = {**identity.to_dict(), "session_slot": "none" if session is None else repr(session)}
    else:
        fields = {"unexpected": repr(identity)}
    return json.loads(json.dumps(fields))


ANSWER_HEADERS = ("x-clerk-auth-status", "www-authenticate", "cache-control", "vary", "content-type")


def answer_headers(status: int, headers: dict[str, str]) -> dict[str, str] | None:
    """The headers our own answers carry (a handler's 200 is its own business)."""
    if status == 200:
        return None
    picked = {k: v for k, v in headers.items() if k in ANSWER_HEADERS or k.startswith("access-control-")}
    if status == 204:
        picked.pop("content-type", None)  # Mangum gives every HTTP API v2 answer one
    elif "content-type" in picked:
        picked["content-type"] = picked["content-type"].split(";")[0].strip()
    if "retry-after" in headers:
        picked["retry-after"] = "present"  # its value counts down with the outage
    return picked


def verdict_from_http(status: int, headers: dict[str, str], body: Any, *, detail: bool = False) -> Verdict:
    if detail and isinstance(body, dict) and status >= 400:
        body = body.get("detail")  # FastAPI's HTTPException body, as documented
    refused = status >= 300
    return Verdict(
        answer_headers=answer_headers(status, headers),
        status=status,
        reason=headers.get("x-clerk-auth-reason"),
        www_authenticate="www-authenticate" in headers,
        retry_after="retry-after" in headers,
        reverification=body.get("clerk_error") if isinstance(body, dict) and refused else None,
        identity=None if refused else (body.get("identity") if isinstance(body, dict) else body),
    )


def decode(body: Any) -> Any:
    if isinstance(body, bytes):
        body = body.decode()
    try:
        return json.loads(body) if body else None
    except ValueError:
        return body


# -- fixtures: the instance, the tokens, the apps ----------------------------------------------------


@dataclass
class Env:
    auth: ClerkAuth
    trusted: ClerkAuth
    apps: dict[str, Any] = field(default_factory=dict)


@pytest.fixture(scope="module")
def jwks_up(signing_keys: dict[str, SigningKey]) -> Iterator[JwksServer]:
    server = JwksServer().start()
    server.keys = [signing_keys["current"].jwk]
    yield server
    server.stop()


@pytest.fixture(scope="module")
def jwks_down() -> Iterator[JwksServer]:
    server = JwksServer().start()
    server.set("status", status=503)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def api_up(signing_keys: dict[str, SigningKey]) -> Iterator[ClerkBackendApi]:
    server = ClerkBackendApi().start()
    server.keys = [signing_keys["current"].jwk]
    yield server
    server.stop()
    fail_on_violations(server)


@pytest.fixture(scope="module")
def api_down() -> Iterator[ClerkBackendApi]:
    server = ClerkBackendApi().start()
    server.fault("*", "status", status=503)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def envs(jwks_up: JwksServer, jwks_down: JwksServer, api_up: ClerkBackendApi, api_down: ClerkBackendApi) -> dict[str, Env]:
    def pair(jwks: JwksServer, api: ClerkBackendApi) -> Env:
        settings = {"jwks_url": jwks.url, "secret_key": api.secret_key, "api_url": api.url,
                    "authorized_parties": [ORIGIN], "issuer": ISSUER}
        return Env(ClerkAuth(**settings), ClerkAuth(**settings, trust_authorizer=True))

    return {"up": pair(jwks_up, api_up), "down": pair(jwks_down, api_down)}


def _valid(**claims: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"iat": now - 2, "nbf": now - 7, "exp": now + 900, **claims}


@pytest.fixture(scope="module")
def tokens(signing_keys: dict[str, SigningKey], api_up: ClerkBackendApi, api_down: ClerkBackendApi) -> dict[str, str]:
    key = signing_keys["current"]
    now = int(time.time())
    api_key = api_up.add_api_key(subject="org_2vYVtestTESTtestTESTtestTES", scopes=["read:foo"],
                                 claims={"tier": "gold"}, expiration=now_ms() // 1000 * 1000 + 3_600_500)
    api_down.api_keys[api_key.secret] = api_key  # the same credential, for the outage rows
    m2m = api_up.add_m2m_token(subject="mch_2vYVtestTESTtestTESTtestTES", expiration=now_ms() + 3_600_250)
    api_down.m2m_tokens[m2m.secret] = m2m
    revoked = api_up.add_api_key(scopes=["read:foo"])
    api_up.revoke(revoked.secret)
    return {
        "session": mint(key, **_valid()),
        "session_org": mint(key, **_valid(**V2_ORG)),
        "session_actor": mint(key, **_valid(act={"sub": "user_admin", "iss": "https://dashboard.clerk.com"})),
        "session_fva_fresh": mint(key, **_valid(fva=[1, 1])),
        "session_fva_stale": mint(key, **_valid(fva=[100, 100])),
        "session_other_azp": mint(key, **_valid(azp=OTHER)),
        "expired": mint(key, iat=now - 200, nbf=now - 210, exp=now - 100),
        "attacker": mint(signing_keys["attacker"], headers={"kid": key.kid}, **_valid()),
        "garbage": "not-a-token",
        "wrong_azp": mint(key, **_valid(azp=EVIL)),
        "no_azp": mint(key, **_valid(azp=None)),
        "future_nbf": mint(key, **_valid(nbf=now + 120)),
        "pending": mint(key, **_valid(sts="pending")),
        "api_key": api_key.secret,
        "api_key_user": api_up.add_api_key(subject="user_2vYVtestTESTtestTESTtestTES", scopes=[]).secret,
        "api_key_revoked": revoked.secret,
        "api_key_expired": api_up.add_api_key(scopes=["read:foo"], expired=True).secret,
        "m2m_opaque": m2m.secret,
        "oauth_opaque": api_up.add_oauth_token(subject="user_2vYVtestTESTtestTESTtestTES",
                                               expiration=now_ms() + 3_600_000).secret,
        "m2m_jwt": m2m_jwt(key, lifetime=900),
        "m2m_jwt_evil": m2m_jwt(key, azp=EVIL, lifetime=900),
        "m2m_jwt_expired": m2m_jwt(key, exp=now - 100, iat=now - 200, nbf=now - 210),
        "oauth_jwt": oauth_jwt(key, lifetime=900),
        "oauth_jwt_evil": oauth_jwt(key, azp=EVIL, lifetime=900),
    }


# -- the request, as each entry point receives it ---------------------------------------------------


@dataclass
class Req:
    method: str
    bearer: str | None
    cookies: list[str]
    origin: str | None
    headers: dict[str, str]
    query: dict[str, str]

    def lambda_event(self, shape: str) -> dict[str, Any]:
        return routed(shape, "/me", method=self.method, bearer=self.bearer, cookies=self.cookies or None,
                      origin=self.origin, headers=dict(self.headers), query=dict(self.query))

    def asgi_scope(self) -> dict[str, Any]:
        headers = [(k.lower(), v) for k, v in self.headers.items()]
        if self.bearer is not None:
            headers.append(("authorization", f"Bearer {self.bearer}"))
        if self.origin is not None:
            headers.append(("origin", self.origin))
        if self.cookies:
            headers.append(("cookie", "; ".join(self.cookies)))
        headers.append(("host", "api.example.com"))
        return {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": self.method,
            "scheme": "https", "path": "/me", "raw_path": b"/me", "root_path": "",
            "query_string": urllib.parse.urlencode(self.query).encode(),
            "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers],
            "client": ("203.0.113.7", 41234), "server": ("api.example.com", 443),
        }


def request_of(scenario: Scenario, tokens: dict[str, str]) -> Req:
    token = tokens[scenario.token] if scenario.token else None
    cookies = [cookie.format(**tokens) for cookie in scenario.cookies]
    headers = {name: value.format(**tokens) for name, value in scenario.headers.items()}
    bearer = None
    if token is not None and scenario.via == "cookie":
        cookies.insert(0, f"__session={token}")
    elif token is not None:
        bearer = token
    return Req(scenario.method, bearer, cookies, scenario.origin, headers, scenario.query)


def options_key(options: dict[str, Any]) -> str:
    return json.dumps(options, sort_keys=True)


def session_only(options: dict[str, Any]) -> bool:
    return not ({"accepts_token", "scopes"} & options.keys())


# -- the entry points ---------------------------------------------------------------------------


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    body = {"identity": identity_fields(event["auth"], event["session"])}
    return {"statusCode": 200, "body": json.dumps(body)}


def run_lambda(handler: Callable[..., Any], event: dict[str, Any], shape: str) -> Verdict:
    response = handler(event, None)
    return verdict_from_http(response["statusCode"], response_headers(shape, response), decode(response["body"]))


def cached(env: Env, name: str, options: dict[str, Any], build: Callable[[], Any]) -> Any:
    slot = f"{name}:{options_key(options)}"
    if slot not in env.apps:
        env.apps[slot] = build()
    return env.apps[slot]


def via_require_auth(shape: str, required: bool = True) -> Callable[[Env, Scenario, Req], Verdict]:
    def run(env: Env, scenario: Scenario, req: Req) -> Verdict:
        decorator = env.auth.require_auth if required else env.auth.with_auth
        handler = cached(env, f"require_auth-{required}", scenario.options,
                         lambda: decorator(**scenario.options)(lambda_handler))
        return run_lambda(handler, req.lambda_event(shape), shape)

    return run


def via_require_session(required: bool = True) -> Callable[[Env, Scenario, Req], Verdict | None]:
    def run(env: Env, scenario: Scenario, req: Req) -> Verdict | None:
        if not session_only(scenario.options):
            return None  # require_session takes no accepts_token or scopes
        decorator = env.auth.require_session if required else env.auth.with_session
        handler = cached(env, f"require_session-{required}", scenario.options,
                         lambda: decorator(**scenario.options)(lambda_handler))
        return run_lambda(handler, req.lambda_event("http_v2"), "http_v2")

    return run


def starlette_app(auth: ClerkAuth, options: dict[str, Any], required: bool = True) -> Starlette:
    async def me(request: Any) -> JSONResponse:
        return JSONResponse({"identity": identity_fields(request.state.auth, request.state.session)})

    return Starlette(
        routes=[Route("/me", me, methods=["GET", "POST", "DELETE", "OPTIONS"])],
        middleware=[Middleware(AsgiClerkMiddleware, auth=auth, required=required, **options)],
    )


def fastapi_app(auth: ClerkAuth, options: dict[str, Any], required: bool = True) -> FastAPI:
    app = FastAPI()
    dependency = require_clerk_auth(auth=auth, required=required, **options)

    @app.api_route("/me", methods=["GET", "POST", "DELETE", "OPTIONS"])
    def me(request: Request, identity: Any = Depends(dependency)) -> JSONResponse:
        return JSONResponse({"identity": identity_fields(identity, request.state.session)})

    return app


APPS = {"asgi-middleware": starlette_app, "fastapi-dependency": fastapi_app}


def via_mangum(kind: str, required: bool = True, shape: str = "http_v2") -> Callable[[Env, Scenario, Req], Verdict]:
    def run(env: Env, scenario: Scenario, req: Req) -> Verdict:
        handler = cached(env, f"mangum-{kind}-{required}", scenario.options,
                         lambda: Mangum(APPS[kind](env.auth, scenario.options, required), lifespan="off"))
        response = handler(req.lambda_event(shape), None)
        return verdict_from_http(response["statusCode"], response_headers(shape, response),
                                 decode(response["body"]), detail=kind == "fastapi-dependency")

    return run


async def call_asgi(app: Any, scope: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    messages: list[dict[str, Any]] = []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if delivered:
            return {"type": "http.disconnect"}
        delivered = True
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    await app(scope, receive, send)
    start = next(m for m in messages if m["type"] == "http.response.start")
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in start.get("headers", [])}
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return start["status"], headers, body


def via_asgi(kind: str, required: bool = True) -> Callable[[Env, Scenario, Req], Verdict]:
    def run(env: Env, scenario: Scenario, req: Req) -> Verdict:
        app = cached(env, f"asgi-{kind}-{required}", scenario.options,
                     lambda: APPS[kind](env.auth, scenario.options, required))
        status, headers, body = run_async(call_asgi(app, req.asgi_scope()))
        return verdict_from_http(status, headers, decode(body), detail=kind == "fastapi-dependency")

    return run


class LambdaContext:
    function_name = "fn"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:fn"
    aws_request_id = "req-1"


RESOLVERS = {"http_v2": APIGatewayHttpResolver, "rest_v1": APIGatewayRestResolver}


def via_powertools(required: bool = True, shape: str = "http_v2") -> Callable[[Env, Scenario, Req], Verdict]:
    def run(env: Env, scenario: Scenario, req: Req) -> Verdict:
        def build() -> Any:
            app = RESOLVERS[shape]()
            middleware = PowertoolsClerkMiddleware(auth=env.auth, required=required, **scenario.options)

            @app.route("/me", method=["GET", "POST", "DELETE", "OPTIONS"], middlewares=[middleware])
            def me() -> dict[str, Any]:
                return {"identity": identity_fields(app.context.get("auth"), app.context.get("session"))}

            return app

        app = cached(env, f"powertools-{shape}-{required}", scenario.options, build)
        event = req.lambda_event(shape)
        return run_lambda(lambda event, ctx: app.resolve(event, LambdaContext()), event, shape)

    return run


def authorizer_outcome(authorize: Callable[..., Any], event: dict[str, Any]) -> tuple[str, Any]:
    try:
        return "answer", authorize(event, None)
    except Unauthorized:
        return "unauthorized", None
    except AuthError as error:
        return "error", error


def via_authorizer_http(env: Env, scenario: Scenario, req: Req) -> Verdict | None:
    if scenario.preflight:
        return None  # the HTTP API's CorsConfiguration answers preflights before any authorizer
    authorize = cached(env, "authorizer-http", scenario.options,
                       lambda: make_authorizer(env.auth, **scenario.options))
    event = req.lambda_event("http_v2")
    event.update({"type": "REQUEST", "routeArn": AUTHORIZER_ROUTE_ARN, "identitySource": []})
    kind, answer = authorizer_outcome(authorize, event)
    if kind == "error":
        return Verdict(status=answer.status, reason=str(answer.reason), retry_after=hasattr(answer, "retry_after"))
    if kind == "unauthorized" or answer != {"isAuthorized": True, "context": answer.get("context")}:
        return Verdict(status="deny" if answer == {"isAuthorized": False} else f"unexpected {kind} {answer!r}")
    downstream = cached(env, "downstream-http", scenario.options,
                        lambda: env.trusted.require_auth(**scenario.options)(lambda_handler))
    behind = req.lambda_event("http_v2")
    behind["requestContext"]["authorizer"] = {"lambda": dict(answer["context"])}
    return run_lambda(downstream, behind, "http_v2")


#: An authorizer that admits every valid token of any kind (pending sessions
#: too): what its downstream route then decides must be what that route
#: decides on its own.
LENIENT = {"accepts_token": "any", "treat_pending_as_signed_out": False}


def via_lenient_authorizer(env: Env, scenario: Scenario, req: Req) -> Verdict | None:
    if scenario.preflight:
        return None
    authorize = cached(env, "authorizer-lenient", LENIENT, lambda: make_authorizer(env.auth, **LENIENT))
    event = req.lambda_event("http_v2")
    event.update({"type": "REQUEST", "routeArn": AUTHORIZER_ROUTE_ARN, "identitySource": []})
    kind, answer = authorizer_outcome(authorize, event)
    if kind == "error":
        return Verdict(status=answer.status, reason=str(answer.reason), retry_after=hasattr(answer, "retry_after"))
    if answer == {"isAuthorized": False}:
        return Verdict(status="deny")
    downstream = cached(env, "downstream-http", scenario.options,
                        lambda: env.trusted.require_auth(**scenario.options)(lambda_handler))
    behind = req.lambda_event("http_v2")
    behind["requestContext"]["authorizer"] = {"lambda": dict(answer["context"])}
    return run_lambda(downstream, behind, "http_v2")


def via_authorizer_rest(env: Env, scenario: Scenario, req: Req) -> Verdict | None:
    if scenario.preflight:
        return None  # REST OPTIONS methods carry no authorizer
    authorize = cached(env, "authorizer-rest", scenario.options,
                       lambda: make_authorizer(env.auth, **scenario.options))
    event = req.lambda_event("rest_v1")
    event.update({"type": "REQUEST", "methodArn": REST_METHOD_ARN})
    kind, answer = authorizer_outcome(authorize, event)
    if kind == "error":
        return Verdict(status=answer.status, reason=str(answer.reason), retry_after=hasattr(answer, "retry_after"))
    if kind == "unauthorized":
        return Verdict(status="deny-401")
    effect = answer["policyDocument"]["Statement"][0]["Effect"]
    if effect == "Deny":
        return Verdict(status="deny-403")
    downstream = cached(env, "downstream-rest", scenario.options,
                        lambda: env.trusted.require_auth(**scenario.options)(lambda_handler))
    behind = req.lambda_event("rest_v1")
    behind["requestContext"]["authorizer"] = {"principalId": answer["principalId"], **answer["context"],
                                              "integrationLatency": 0}
    return run_lambda(downstream, behind, "rest_v1")


def via_authenticate_request(env: Env, scenario: Scenario, req: Req) -> Verdict | None:
    if scenario.preflight:
        return None  # no answer to give: preflights are the entry points' business
    policy = Policy.build(**scenario.options)
    try:
        identity = env.auth.authenticate_request(req.lambda_event("http_v2"), policy)
    except AuthError as error:
        body = getattr(error, "body", None)
        return Verdict(status=error.status, reason=str(error.reason),
                       retry_after=hasattr(error, "retry_after") if error.status == 503 else False,
                       reverification=body.get("clerk_error") if isinstance(body, dict) else None, identity=None)
    session = identity if isinstance(identity, Session) else None
    return Verdict(status=200, reason=None, retry_after=False, reverification=None,
                   identity=identity_fields(identity, session))


ENTRY_POINTS: dict[str, Callable[[Env, Scenario, Req], Verdict | None]] = {
    "require_auth@http_v2": via_require_auth("http_v2"),
    "require_auth@rest_v1": via_require_auth("rest_v1"),
    "require_session@http_v2": via_require_session(),
    "asgi-middleware@mangum": via_mangum("asgi-middleware"),
    "asgi-middleware@asgi": via_asgi("asgi-middleware"),
    "fastapi-dependency@mangum": via_mangum("fastapi-dependency"),
    "fastapi-dependency@asgi": via_asgi("fastapi-dependency"),
    "asgi-middleware@mangum-rest_v1": via_mangum("asgi-middleware", shape="rest_v1"),
    "fastapi-dependency@mangum-rest_v1": via_mangum("fastapi-dependency", shape="rest_v1"),
    "powertools@http_v2": via_powertools(),
    "powertools@rest_v1": via_powertools(shape="rest_v1"),
    "authorizer-http+trusted": via_authorizer_http,
    "authorizer-rest+trusted": via_authorizer_rest,
    "authenticate_request": via_authenticate_request,
    "lenient-authorizer+trusted(route)": via_lenient_authorizer,
}
REFERENCE = "require_auth@http_v2"

#: The optional forms (``with_auth``, ``required=False``): the handler always
#: runs, with the identity or None.
OPTIONAL_ENTRY_POINTS: dict[str, Callable[[Env, Scenario, Req], Verdict | None]] = {
    "with_auth@http_v2": via_require_auth("http_v2", required=False),
    "with_auth@rest_v1": via_require_auth("rest_v1", required=False),
    "with_session@http_v2": via_require_session(required=False),
    "asgi-middleware(required=False)@mangum": via_mangum("asgi-middleware", required=False),
    "asgi-middleware(required=False)@asgi": via_asgi("asgi-middleware", required=False),
    "fastapi-dependency(required=False)@mangum": via_mangum("fastapi-dependency", required=False),
    "fastapi-dependency(required=False)@asgi": via_asgi("fastapi-dependency", required=False),
    "powertools(required=False)@http_v2": via_powertools(required=False),
}
REQUIREMENTS = {"permissions", "roles", "features", "plans", "reverification", "scopes"}
OPTIONAL_SCENARIOS = [s for s in SCENARIOS if not REQUIREMENTS & s.options.keys()]


# -- the matrix -----------------------------------------------------------------------------------


def expected_verdict(entry: str, scenario: Scenario, reference_identity: Any, reference_headers: Any = UNSEEN) -> Verdict:
    status, reason = scenario.status, scenario.reason
    refused = status >= 400
    rev = None
    if reason == "reverification-error":
        config = scenario.options["reverification"]
        if isinstance(config, dict):  # @clerk/shared's spelling in the body
            config = {"level": config["level"], "afterMinutes": config["after_minutes"]}
        rev = {"type": "forbidden", "reason": "reverification-error", "metadata": {"reverification": config}}
    full = Verdict(
        status=status,
        reason=reason,
        www_authenticate=status in (401, 403),
        retry_after=status == 503,
        reverification=rev,
        identity=reference_identity if not refused and status != 204 else None,
        answer_headers=reference_headers,
    )
    if entry.startswith("authorizer-") and status != 503 and refused:
        if entry.startswith("authorizer-http"):
            return Verdict(status="deny")  # simple responses: allow or deny, nothing more
        return Verdict(status=f"deny-{status}")
    if entry.startswith("authorizer-") and status == 503:
        return Verdict(status=503, reason=reason, retry_after=True)
    if entry == "authenticate_request":
        return Verdict(status=status, reason=reason, retry_after=full.retry_after, reverification=rev,
                       identity=full.identity)
    return full


_reference: dict[str, Verdict] = {}


def reference_verdict(envs: dict[str, Env], tokens: dict[str, str], scenario: Scenario) -> Verdict:
    if scenario.id not in _reference:
        verdict = ENTRY_POINTS[REFERENCE](envs[scenario.env], scenario, request_of(scenario, tokens))
        assert verdict is not None
        _reference[scenario.id] = verdict
    return _reference[scenario.id]


def reference_identity(envs: dict[str, Env], tokens: dict[str, str], scenario: Scenario) -> Any:
    return reference_verdict(envs, tokens, scenario).identity


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.id for s in SCENARIOS])
def test_same_verdict_everywhere(envs: dict[str, Env], tokens: dict[str, str], scenario: Scenario, entry: str) -> None:
    env = envs[scenario.env]
    verdict = ENTRY_POINTS[entry](env, scenario, request_of(scenario, tokens))
    if verdict is None:
        pytest.skip(f"{entry} has no answer for this request")
    reference = reference_verdict(envs, tokens, scenario)
    expected = expected_verdict(entry, scenario, reference.identity, reference.answer_headers)
    if entry.startswith("lenient-"):
        # Refused by the authorizer when the route's decorator with its
        # options refuses; otherwise the route's own verdict.
        lenient = ENTRY_POINTS[REFERENCE](env, replace(scenario, options=LENIENT), request_of(scenario, tokens))
        assert lenient is not None and isinstance(lenient.status, int)
        if lenient.status == 503:
            expected = Verdict(status=503, reason=lenient.reason, retry_after=True)
        elif lenient.status >= 400:
            expected = Verdict(status="deny")
    differences = verdict.differences(expected)
    assert not differences, f"{scenario.id} through {entry}:\n  " + "\n  ".join(differences)


def test_the_reference_sees_what_the_token_says(envs: dict[str, Env], tokens: dict[str, str]) -> None:
    """The reference identities are right in themselves, so agreeing with
    them means something: spot checks of each kind."""
    by_id = {s.id: s for s in SCENARIOS}

    def ref(name: str) -> Any:
        return reference_identity(envs, tokens, by_id[name])

    assert ref("session-bearer")["user_id"] == "user_2abc" and ref("session-bearer")["session_slot"] == "same"
    org = ref("session-v2-org")
    assert (org["org_id"], org["org_role"], org["org_slug"]) == ("org_1", "org:admin", "acme")
    assert org["org_permissions"] == ["org:reports:read"] and org["plans"] == ["org:business"]
    assert ref("session-actor")["actor"] == {"sub": "user_admin", "iss": "https://dashboard.clerk.com"}
    assert ref("session-fva")["fva"] == [1, 1]
    key = ref("api-key")
    assert (key["token_type"], key["org_id"], key["scopes"], key["claims"]) == (
        "api_key", "org_2vYVtestTESTtestTESTtestTES", ["read:foo"], {"tier": "gold"})
    assert key["expiration"] % 1 != 0 and key["session_slot"] == "none"
    assert ref("m2m-opaque")["machine_id"] == "mch_2vYVtestTESTtestTESTtestTES"
    assert ref("oauth-opaque")["user_id"] == "user_2vYVtestTESTtestTESTtestTES"
    assert ref("m2m-jwt")["scopes"] == ["mch_1xxxxx", "mch_2xxxxx"]
    assert ref("oauth-jwt")["client_id"] == "client_2VTWUzvGC5UhdJCNx6xG1D98edc"


@pytest.mark.parametrize("entry", list(OPTIONAL_ENTRY_POINTS))
@pytest.mark.parametrize("scenario", OPTIONAL_SCENARIOS, ids=[s.id for s in OPTIONAL_SCENARIOS])
def test_same_optional_verdict_everywhere(
    envs: dict[str, Env], tokens: dict[str, str], scenario: Scenario, entry: str
) -> None:
    """Signed out, refused or in an outage, the optional forms run the handler
    with None; a preflight is answered; otherwise the handler sees the
    identity the required forms admit."""
    verdict = OPTIONAL_ENTRY_POINTS[entry](envs[scenario.env], scenario, request_of(scenario, tokens))
    if verdict is None:
        pytest.skip(f"{entry} has no answer for this request")
    admitted = scenario.status < 300
    expected = Verdict(
        status=204 if scenario.preflight else 200, reason=None, www_authenticate=False, retry_after=False,
        reverification=None,
        identity=reference_identity(envs, tokens, scenario) if admitted and not scenario.preflight else None,
    )
    differences = verdict.differences(expected)
    assert not differences, f"{scenario.id} through {entry}:\n  " + "\n  ".join(differences)


REQUIREMENT_OPTIONS = [
    {"permissions": ["org:reports:read"]}, {"roles": ["org:admin"]}, {"features": ["org:reports"]},
    {"plans": ["org:business"]}, {"reverification": "strict"}, {"scopes": ["read:foo"], "accepts_token": "any"},
]
OPTIONAL_FORMS: dict[str, Callable[[ClerkAuth, dict[str, Any]], Any]] = {
    "with_auth": lambda auth, options: auth.with_auth(**options),
    "asgi-middleware(required=False)": lambda auth, options: starlette_app(auth, options, required=False)
    .build_middleware_stack(),
    "fastapi require_clerk_auth(required=False)": lambda auth, options: require_clerk_auth(
        auth=auth, required=False, **options),
    "powertools(required=False)": lambda auth, options: PowertoolsClerkMiddleware(
        auth=auth, required=False, **options),
}


@pytest.mark.parametrize("form", list(OPTIONAL_FORMS))
@pytest.mark.parametrize("options", REQUIREMENT_OPTIONS, ids=[next(iter(o)) for o in REQUIREMENT_OPTIONS])
def test_optional_forms_refuse_requirements_alike(envs: dict[str, Env], form: str, options: dict[str, Any]) -> None:
    """A requirement on a form that lets everyone through is a configuration
    mistake everywhere, when the route is built: taken and then not enforced
    (the handler runs without the identity instead of a 403), it would be a
    silent surprise."""
    with pytest.raises(ClerkConfigError) as info:
        OPTIONAL_FORMS[form](envs["up"].auth, options)
    assert info.value.setting in options


@pytest.mark.parametrize("token,reason", [("m2m_jwt", "token-verification-failed"), ("api_key", "token-invalid"),
                                          ("oauth_opaque", "token-invalid")])
def test_an_outlived_machine_context_is_refused_as_its_token_would_be(
    envs: dict[str, Env], tokens: dict[str, str], token: str, reason: str
) -> None:
    """A cached authorizer allow can outlive its machine token: downstream then
    refuses it under the reason the expired token itself gets (an M2M JWT:
    token-verification-failed; an opaque token, which Clerk calls expired:
    token-invalid)."""
    env = envs["up"]
    req = Req("GET", tokens[token], [], None, {}, {})
    event = req.lambda_event("http_v2")
    event.update({"type": "REQUEST", "routeArn": AUTHORIZER_ROUTE_ARN, "identitySource": []})
    context = make_authorizer(env.auth, accepts_token="any")(event, None)["context"]
    context["exp"] = str(int(time.time()) - 60)
    behind = req.lambda_event("http_v2")
    behind["requestContext"]["authorizer"] = {"lambda": context}
    verdict = run_lambda(env.trusted.require_auth(accepts_token="any")(lambda_handler), behind, "http_v2")
    assert (verdict.status, verdict.reason) == (401, reason)
