"""Differential: our verdicts against the published @clerk/backend, run by node.

Every request here is answered twice:

* by **@clerk/backend** itself (``tests/differential_js``: the version pinned in
  its ``package.json``/``package-lock.json``, installed with ``npm ci`` from the
  npm registry into pytest's cache directory on first use): one long-lived
  ``node oracle.mjs`` per test module, fed one JSON case per line, calling
  ``createClerkClient(...).authenticateRequest(new Request(...), {jwtKey,
  authorizedParties, audience, issuer, acceptsToken})`` (or ``verifyToken``)
  with ``Date.now()`` frozen at the case's time;
* by **us**, through a real entry point: ``ClerkAuth.require_auth`` on a
  real-shaped HTTP API (payload 2.0) event from ``support.events`` (the
  corpus also on REST API and ALB multi-value events), with the same PEM key,
  publishable key, authorized parties, audience, issuer and clock; and
  ``ClerkAuth.verify_token`` against ``verifyToken``.

Opaque machine tokens (``ak_``/``mt_``/``oat_``) go to one loopback Backend API
(``support.clerk_api``, built from Clerk's OpenAPI spec) that both sides call.

The oracle is :mod:`support.clerk_oracle`: it reaches nothing but 127.0.0.1
(a case that tries fails). Machine tokens in more detail, and the Backend
API's every answer: tests/test_differential_clerk_machine.py.

What is compared: authenticated or not; then the token type, the subject
(``userId``/``subject``), the session ID and the organization ID, and a
machine token's other fields (:data:`support.clerk_oracle.MACHINE_FIELDS`); or the reason code. Clerk's reason names are mapped to ours only where the README documents
the difference (:func:`clerk_reason`). Where we differ on purpose, the case
says so (:class:`Differ` in the hand-written corpus, a :data:`LENIENT` /
:data:`STRICT` tag on the generated ones) with a one-line why, and the test
checks the difference runs in the documented direction only.

A third opinion on the verifyToken corpus: clerk-backend-api's (clerk-sdk-python)
``verify_token``, in process, PyJWT's clock frozen alike. Where it and
@clerk/backend agree, ours must too, except the documented differences
(:data:`BOTH_SDKS_DIFFER`).

Without node/npm the module is skipped (failed in CI, which has them).
``DIFFERENTIAL_EXAMPLES`` sets the number of generated requests (400).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from support.clerk_api import ClerkBackendApi, fail_on_violations, token_secret
from support.clerk_oracle import Oracle, clerk_fields, machine_detail, publishable_key, run_oracle
from support.events import make_event, response_headers
from support.tokens import Clock, SigningKey, b64url

from clerk_serverless import ClerkAuth, MachineAuth
from clerk_serverless.config import cookie_suffix
from clerk_serverless.errors import AuthError

# -- the instance both sides are configured for ------------------------------------------------

NOW = int(time.time())  # the frozen wall clock of every case (Clerk: Date.now(); ours: ClerkAuth(clock=))
ORIGIN = "https://app.example.com"
ORIGIN2 = "https://admin.example.com"
EVIL = "https://evil.example"
AUDIENCE = "https://api.diff.example"
FAPI_LIVE = "clerk.diff-live.example"
FAPI_DEV = "clerk.diff-dev.example"
OTHER_ISS = "https://clerk.other-app.example"
PROXY_ISS = "https://app.diff-live.example/__clerk"  # iss behind a Frontend API proxy: the proxy URL
USER = "user_2diffUSERdiffUSERdiffUSER01"
SID = "sess_2diffSESSdiffSESSdiffSESS01"
ORG = "org_2diffORGxdiffORGxdiffORGx01"
MACHINE = "mch_2diffMACHdiffMACHdiffMACH01"
TEMPLATE_CAT = "cl_B7d4PD222AAA"
SESSION_CAT = "cl_B7d4PD111AAA"
IGNORE_CAT = "cl_I7d4PD111III"
M2M_CAT = "cl_B7d4PD333AAA"


PK_LIVE = publishable_key("live", FAPI_LIVE)
PK_DEV = publishable_key("test", FAPI_DEV)
SUFFIX_LIVE = cookie_suffix(PK_LIVE)
SUFFIX_DEV = cookie_suffix(PK_DEV)


@dataclass(frozen=True)
class Instance:
    """One configuration, given alike to both sides."""

    name: str
    publishable_key: str
    authorized_parties: tuple[str, ...] | None
    audience: tuple[str, ...] | None = None
    machine: bool = True  # the secret key and the Backend API (machine tokens)
    issuers: tuple[str, ...] | None = None  # `issuer` as a list (else the Frontend API's, a string)

    @property
    def production(self) -> bool:
        return self.publishable_key.startswith("pk_live_")

    @property
    def issuer(self) -> str:
        return f"https://{FAPI_LIVE if self.production else FAPI_DEV}"

    @property
    def expected_issuer(self) -> str | list[str]:
        """The ``issuer`` option both sides are given."""
        return list(self.issuers) if self.issuers else self.issuer

    @property
    def suffix(self) -> str:
        return SUFFIX_LIVE if self.production else SUFFIX_DEV


LIVE = Instance("live", PK_LIVE, (ORIGIN, ORIGIN2))
OPEN = Instance("open", PK_LIVE, None, audience=(AUDIENCE, "urn:diff:other"),
                issuers=(f"https://{FAPI_LIVE}", PROXY_ISS))
DEV = Instance("dev", PK_DEV, (ORIGIN,), machine=False)
INSTANCES = {i.name: i for i in (LIVE, OPEN, DEV)}


# -- @clerk/backend, from the npm registry, run by node (support.clerk_oracle) -----------------


@pytest.fixture(scope="module")
def oracle(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Oracle]:
    yield from run_oracle(request, tmp_path_factory)


# -- keys, tokens and the Backend API ---------------------------------------------------------


@pytest.fixture(scope="module")
def keys() -> dict[str, SigningKey]:
    """The instance's signing key, and an attacker's."""
    return {name: SigningKey.generate(f"ins_diff_{name}") for name in ("current", "attacker")}


SECRET_KEY = token_secret("sk_live_")


@dataclass
class Opaque:
    """The opaque machine tokens the Backend API knows (and some it does not)."""

    tokens: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def bapi(keys: dict[str, SigningKey]) -> Iterator[tuple[ClerkBackendApi, Opaque]]:
    server = ClerkBackendApi(secret_key=SECRET_KEY).start()
    server.keys = [keys["current"].jwk]
    opaque = Opaque()
    for name, record in (
        ("ak_valid", server.add_api_key(subject=USER, scopes=["read"])),
        ("ak_revoked", server.add_api_key(subject=USER, revoked=True)),
        ("mt_valid", server.add_m2m_token(subject=MACHINE)),
        ("mt_expired", server.add_m2m_token(subject=MACHINE, expired=True)),
        ("oat_valid", server.add_oauth_token(subject=USER)),
        ("oat_revoked", server.add_oauth_token(subject=USER, revoked=True)),
    ):
        opaque.tokens[name] = record.secret
    opaque.tokens["ak_unknown"] = token_secret("ak_")
    opaque.tokens["mt_unknown"] = token_secret("mt_")
    opaque.tokens["oat_unknown"] = token_secret("oat_")
    yield server, opaque
    server.stop()
    fail_on_violations(server)


_HASHES: dict[str, Any] = {"RS256": hashes.SHA256, "RS384": hashes.SHA384, "RS512": hashes.SHA512}


def sign(key: SigningKey, header: dict[str, Any], payload: dict[str, Any], alg: str = "RS256") -> str:
    """A JWT over exactly this header (``alg`` set) and payload; RS256/384/512
    signed with ``key``, anything else given a junk signature."""
    head = {"alg": alg, **header}
    signing_input = f"{b64url(json.dumps(head))}.{b64url(json.dumps(payload))}"
    if alg in _HASHES:
        signature = key.private.sign(signing_input.encode(), padding.PKCS1v15(), _HASHES[alg]())
    else:
        signature = b"\x01" * 32
    return f"{signing_input}.{b64url(signature)}"


# One token spec: claims and header changes ("_drop" lists claims to remove),
# the signing key's name and alg. Values may be callables of the instance.
TOKENS: dict[str, dict[str, Any]] = {
    "valid": {},
    "valid_v1_org": {"claims": {"org_id": ORG, "org_role": "org:admin", "org_slug": "acme",
                                "org_permissions": ["org:reports:read"]}},
    "valid_v2": {"claims": {"v": 2, "o": {"id": ORG, "rol": "admin", "slg": "acme", "per": "read", "fpm": "1"},
                            "fea": "o:reports", "pla": "o:pro"}},
    "valid_v2_active": {"claims": {"v": 2, "sts": "active"}},
    "pending_v2": {"claims": {"v": 2, "sts": "pending"}},
    "expired": {"claims": {"iat": NOW - 120, "nbf": NOW - 125, "exp": NOW - 60}},
    "exp_in_skew": {"claims": {"exp": NOW - 4}},
    "exp_at_skew": {"claims": {"exp": NOW - 5}},
    "nbf_future": {"claims": {"nbf": NOW + 60}},
    "nbf_in_skew": {"claims": {"nbf": NOW + 5}},
    "nbf_past_skew": {"claims": {"nbf": NOW + 6}},
    "iat_future": {"claims": {"iat": NOW + 60}},
    "iat_in_skew": {"claims": {"iat": NOW + 5}},
    "wrong_key": {"key": "attacker"},
    "unknown_kid": {"header": {"kid": "ins_diff_unknown"}},
    "no_kid": {"header": {"kid": None}},
    "rs384": {"alg": "RS384"},
    "rs512": {"alg": "RS512"},
    "hs256": {"alg": "HS256"},
    "alg_none": {"alg": "none"},
    "typ_jose": {"header": {"typ": "JOSE"}},
    "no_typ": {"header": {"typ": None}},
    "azp_absent": {"claims": {"_drop": ["azp"]}},
    "azp_evil": {"claims": {"azp": EVIL}},
    "azp_second": {"claims": {"azp": ORIGIN2}},
    "aud_str": {"claims": {"aud": AUDIENCE}},
    "aud_list": {"claims": {"aud": ["urn:diff:nope", AUDIENCE]}},
    "aud_wrong": {"claims": {"aud": "urn:diff:nope"}},
    "aud_list_wrong": {"claims": {"aud": ["urn:diff:nope", "urn:diff:nope2"]}},
    "no_sid": {"claims": {"_drop": ["sid"]}},
    "sid_number": {"claims": {"sid": 123}},
    "sub_empty": {"claims": {"sub": ""}},
    "sub_number": {"claims": {"sub": 42}},
    "no_iat": {"claims": {"_drop": ["iat"]}},
    "no_nbf": {"claims": {"_drop": ["nbf"]}},
    "exp_float": {"claims": {"exp": NOW + 60.75}},
    "exp_string": {"claims": {"exp": str(NOW + 60)}},
    "nbf_string": {"claims": {"nbf": str(NOW - 7)}},
    "azp_slash": {"claims": {"azp": ORIGIN + "/"}},
    "azp_empty": {"claims": {"azp": ""}},
    "azp_number": {"claims": {"azp": 7}},
    "aud_empty_list": {"claims": {"aud": []}},
    "oversized": {"claims": {"pad": "x" * 9000}},
    "no_sub": {"claims": {"_drop": ["sub"]}},
    "no_exp": {"claims": {"_drop": ["exp"]}},
    "iss_other": {"claims": {"iss": OTHER_ISS}},
    "iss_absent": {"claims": {"_drop": ["iss"]}},
    "iss_proxy": {"claims": {"iss": PROXY_ISS}},
    "iss_slash": {"claims": {"iss": lambda i: i.issuer + "/"}},
    "iss_http": {"claims": {"iss": lambda i: "http://" + i.issuer[len("https://"):]}},
    "iss_other_expired": {"claims": {"iss": OTHER_ISS, "iat": NOW - 120, "nbf": NOW - 125, "exp": NOW - 60}},
    "iss_other_azp_evil": {"claims": {"iss": OTHER_ISS, "azp": EVIL}},
    "iss_other_aud_wrong": {"claims": {"iss": OTHER_ISS, "aud": "urn:diff:nope"}},
    "iss_other_nbf_future": {"claims": {"iss": OTHER_ISS, "nbf": NOW + 60}},
    "cat_template": {"header": {"cat": TEMPLATE_CAT}},
    "cat_session": {"header": {"cat": SESSION_CAT}},
    "cat_ignore": {"header": {"cat": IGNORE_CAT}},
    "cat_m2m_session": {"header": {"cat": M2M_CAT}},
    "m2m_jwt": {"m2m": True},
    "m2m_jwt_expired": {"m2m": True, "claims": {"iat": NOW - 400, "nbf": NOW - 400, "exp": NOW - 60}},
    "m2m_jwt_wrong_key": {"m2m": True, "key": "attacker"},
    "m2m_jwt_azp_evil": {"m2m": True, "claims": {"azp": EVIL}},
    "m2m_jwt_no_cat": {"m2m": True, "header": {"cat": None}},
    "m2m_jwt_aud": {"m2m": True, "claims": {"aud": AUDIENCE}},
    "oauth_jwt": {"oauth": True},
    "oauth_jwt_app_typ": {"oauth": True, "header": {"typ": "application/at+jwt"}},
    "oauth_jwt_azp_origin": {"oauth": True, "claims": {"azp": ORIGIN}},
    "oauth_jwt_azp_evil": {"oauth": True, "claims": {"azp": EVIL}},
    "oauth_jwt_expired": {"oauth": True, "claims": {"iat": NOW - 400, "exp": NOW - 60}},
    "oauth_jwt_aud": {"oauth": True, "claims": {"aud": AUDIENCE}},
}
OPAQUE = ("ak_valid", "ak_revoked", "ak_unknown", "mt_valid", "mt_expired", "mt_unknown",
          "oat_valid", "oat_revoked", "oat_unknown")
GARBAGE = {"garbage": "not-a-jwt", "dots": "a.b.c", "bearer_word": "Bearer"}


def make_token(spec_name: str, instance: Instance, keys: dict[str, SigningKey], opaque: Opaque) -> str:
    """The token ``spec_name`` names, for ``instance`` (its issuer)."""
    if spec_name in opaque.tokens:
        return opaque.tokens[spec_name]
    if spec_name in GARBAGE:
        return GARBAGE[spec_name]
    spec = TOKENS[spec_name]
    key = keys[spec.get("key", "current")]
    header: dict[str, Any] = {"kid": keys["current"].kid, "typ": "JWT"}
    if spec.get("oauth"):
        header["typ"] = "at+jwt"
        claims: dict[str, Any] = {"sub": USER, "client_id": "client_2diffCLIENTdiff", "scope": "read write",
                                  "jti": "oat_2diffJTIdiffJTIdiffJTIdiff01", "iss": instance.issuer,
                                  "iat": NOW - 2, "nbf": NOW - 7, "exp": NOW + 300}
    elif spec.get("m2m"):
        header["cat"] = M2M_CAT
        claims = {"sub": MACHINE, "aud": ["mch_2diffOTHER"], "scopes": "mch_2diffOTHER",
                  "jti": "mt_2diffJTIdiffJTIdiffJTIdiff01", "iss": instance.issuer,
                  "iat": NOW - 2, "nbf": NOW - 7, "exp": NOW + 300}
    else:
        claims = {"sub": USER, "sid": SID, "iss": instance.issuer, "azp": ORIGIN,
                  "iat": NOW - 2, "nbf": NOW - 7, "exp": NOW + 60}
    for name, value in spec.get("header", {}).items():
        if value is None:
            header.pop(name, None)
        else:
            header[name] = value
    changes = dict(spec.get("claims", {}))
    for name in changes.pop("_drop", []):
        claims.pop(name, None)
    claims.update({name: value(instance) if callable(value) else value for name, value in changes.items()})
    return sign(key, header, claims, spec.get("alg", "RS256"))


# -- one request, both sides ------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One request: Authorization lines, cookies (``name=value``), method,
    the route's ``acceptsToken``, the instance."""

    instance: str = "live"
    authorization: tuple[str, ...] = ()
    cookies: tuple[str, ...] = ()
    method: str = "GET"
    accepts: str | tuple[str, ...] = "session_token"
    later: int = 0  # seconds after NOW the request is judged at (both clocks)
    origin: str | None = None  # the Origin header
    session_param: str | None = None  # ?_clerk_session_id=
    shape: str = "http_v2"  # the Lambda event our side gets (support.events)


@dataclass(frozen=True)
class Verdict:
    """What both sides are compared on."""

    authenticated: bool
    reason: str | None = None
    token_type: str | None = None
    subject: str | None = None
    session_id: str | None = None
    org_id: str | None = None
    detail: str | None = None  # a machine token's other fields (:func:`machine_detail`)

    def __str__(self) -> str:
        if self.authenticated:
            return (f"signed in: {self.token_type} {self.subject} {self.session_id or ''} {self.org_id or ''}"
                    f" {self.detail or ''}").strip()
        return f"signed out: {self.reason}"


def clerk_case(request: Request, pem: str, bapi_url: str) -> dict[str, Any]:
    """The oracle's input for ``request``."""
    instance = INSTANCES[request.instance]
    # Header lines as the event carries them, which is what @clerk/backend would
    # read behind the same API: an HTTP API joins repeats with ","; REST APIs and
    # ALBs in multi-value mode keep each line (fetch's Headers joins them with ", ").
    comma = "," if request.shape in ("http_v2", "function_url") else ", "
    headers = [["authorization", comma.join(request.authorization)]] if request.authorization else []
    if request.origin:
        headers.append(["origin", request.origin])
    if request.cookies:
        headers.append(["cookie", "; ".join(request.cookies)])
    options: dict[str, Any] = {"jwtKey": pem, "issuer": instance.expected_issuer,
                               "acceptsToken": list(request.accepts) if isinstance(request.accepts, tuple)
                               else request.accepts}
    if instance.authorized_parties:
        options["authorizedParties"] = list(instance.authorized_parties)
    if instance.audience:
        options["audience"] = list(instance.audience)
    client = {"publishableKey": instance.publishable_key,
              "secretKey": SECRET_KEY if instance.machine else "sk_test_" + "x" * 40}
    if instance.machine:
        client["apiUrl"] = bapi_url
    return {"now": (NOW + request.later) * 1000, "client": client, "method": request.method,
            "url": "https://api.example.com/me" + (f"?_clerk_session_id={request.session_param}"
                                                   if request.session_param else ""),
            "headers": headers, "options": options}


# Clerk's reason names mapped to ours, each a difference the README documents
# ("Where we differ from @clerk/backend, on purpose").
def clerk_reason(reason: str | None) -> str | None:
    """Clerk's reason under our name, where the README documents the renaming."""
    if reason in ("session-token-and-uat-missing", "No token in header"):
        return "session-token-missing"  # README: "No token at all is 401 session-token-missing"
    if reason is not None and reason.startswith("session-token-expired-refresh-"):
        return "token-expired"  # README: no refresh; "an expired token is 401 token-expired"
    return reason


def clerk_verdict(answer: dict[str, Any]) -> Verdict:
    """@clerk/backend's verdict, from the oracle's answer (``toAuth()`` decides)."""
    assert "error" not in answer, f"@clerk/backend threw: {answer['error']}"
    auth = answer["auth"] or {}
    if auth.get("isAuthenticated"):
        session = auth["tokenType"] == "session_token"
        return Verdict(True, None, auth["tokenType"], auth["userId"] if session else auth["subject"],
                       auth["sessionId"] if session else None, auth["orgId"] if session else None,
                       None if session else machine_detail(auth["tokenType"], auth))
    if answer["status"] == "signed-in" and auth.get("sessionStatus") == "pending":
        # Clerk: signed in, but toAuth() (treatPendingAsSignedOut) signs a pending
        # session out, with no reason code; ours names it (README: session-pending).
        return Verdict(False, "session-pending")
    return Verdict(False, clerk_reason(answer["reason"]))


class Ours:
    """Our side: one ``ClerkAuth`` per instance, one decorated handler per route."""

    def __init__(self, pem: str, bapi_url: str) -> None:
        self.clock = Clock(NOW)
        self.auths = {
            name: ClerkAuth(
                jwt_key=pem, publishable_key=instance.publishable_key,
                secret_key=SECRET_KEY if instance.machine else None,
                api_url=bapi_url if instance.machine else None,
                authorized_parties=list(instance.authorized_parties) if instance.authorized_parties else None,
                audience=list(instance.audience) if instance.audience else None,
                issuer=instance.expected_issuer,
                clock=self.clock,
            )
            for name, instance in INSTANCES.items()
        }
        self.routes: dict[tuple[str, Any], Callable[..., Any]] = {}

    def route(self, instance: str, accepts: str | tuple[str, ...]) -> Callable[..., Any]:
        """The decorated handler for ``instance`` and ``accepts`` (built once)."""
        if (instance, accepts) not in self.routes:
            @self.auths[instance].require_auth(accepts_token=list(accepts) if isinstance(accepts, tuple) else accepts)
            def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
                auth = event["auth"]
                if isinstance(auth, MachineAuth):
                    body = {"type": auth.token_type, "subject": auth.subject,
                            "detail": machine_detail(auth.token_type, clerk_fields(auth))}
                else:
                    body = {"type": auth.token_type, "subject": auth.user_id, "sid": auth.session_id,
                            "org": auth.org_id}
                return {"statusCode": 200, "body": json.dumps(body)}

            self.routes[(instance, accepts)] = handler
        return self.routes[(instance, accepts)]

    def verdict(self, request: Request) -> Verdict:
        """Our verdict: the handler's answer to ``request`` as a Lambda event."""
        headers: dict[str, str | list[str]] = {}
        if request.authorization:
            headers["Authorization"] = list(request.authorization)
        event = make_event(request.shape, method=request.method, headers=headers, cookies=list(request.cookies),
                           origin=request.origin,
                           query={"_clerk_session_id": request.session_param} if request.session_param else None)
        self.clock.now = NOW + request.later
        response = self.route(request.instance, request.accepts)(event, None)
        if response["statusCode"] == 200:
            body = json.loads(response["body"])
            return Verdict(True, None, body["type"], body["subject"], body.get("sid"), body.get("org"),
                           body.get("detail"))
        return Verdict(False, response_headers(request.shape, response)["x-clerk-auth-reason"])


@dataclass
class Both:
    """Ask both sides about a batch of requests."""

    oracle: Oracle
    ours: Ours
    pem: str
    bapi_url: str

    def ask(self, requests: list[Request]) -> list[tuple[Verdict, Verdict]]:
        answers = self.oracle.ask([clerk_case(r, self.pem, self.bapi_url) for r in requests])
        return [(clerk_verdict(a), self.ours.verdict(r)) for a, r in zip(answers, requests, strict=True)]


@pytest.fixture(scope="module")
def both(oracle: Oracle, keys: dict[str, SigningKey], bapi: tuple[ClerkBackendApi, Opaque]) -> Both:
    server, _ = bapi
    pem = keys["current"].public_pem
    return Both(oracle, Ours(pem, server.url), pem, server.url)


@pytest.fixture(scope="module")
def tok(keys: dict[str, SigningKey], bapi: tuple[ClerkBackendApi, Opaque]) -> Callable[[str, str], str]:
    _, opaque = bapi
    cache: dict[tuple[str, str], str] = {}

    def token(name: str, instance: str = "live") -> str:
        if (name, instance) not in cache:
            cache[(name, instance)] = make_token(name, INSTANCES[instance], keys, opaque)
        return cache[(name, instance)]

    return token


# -- the hand-written corpus ------------------------------------------------------------------

_FIELD = re.compile(r"\{(\w+)\}")


def resolve(request: Request, tok: Callable[[str, str], str]) -> Request:
    """``request`` with ``{token_name}``, ``{sfx}``, ``{uat_old}`` (before the
    tokens' ``iat``) and ``{uat_new}`` (after it) filled in."""
    instance = INSTANCES[request.instance]
    fixed = {"sfx": instance.suffix, "uat_old": str(NOW - 100), "uat_new": str(NOW + 100)}

    def fill(text: str) -> str:
        return _FIELD.sub(lambda m: fixed.get(m.group(1)) or tok(m.group(1), request.instance), text)

    return Request(request.instance, tuple(fill(a) for a in request.authorization),
                   tuple(fill(c) for c in request.cookies), request.method, request.accepts, request.later,
                   request.origin, request.session_param, request.shape)


@dataclass(frozen=True)
class Differ:
    """A documented difference: our verdict (``"signed-in"`` or a reason), and why."""

    ours: str
    why: str


def header(value: str, **kw: Any) -> Request:
    """A request with one ``Authorization`` line."""
    return Request(authorization=(value,), **kw)


def cookies(*values: str, **kw: Any) -> Request:
    """A request with these cookies (``name=value``)."""
    return Request(cookies=values, **kw)


SAME = None
ANY = "any"
MACHINES = ("api_key", "m2m_token", "oauth_token")
CORPUS: list[tuple[str, Request, Differ | None]] = [
    # tokens in the header, on a session route
    *[(f"header-{name}", header(f"Bearer {{{name}}}"), SAME) for name in TOKENS],
    *[(f"header-{name}", header(f"Bearer {{{name}}}"), SAME) for name in OPAQUE + tuple(GARBAGE)],
    # the same tokens on the other instances
    *[(f"open-{name}", header(f"Bearer {{{name}}}", instance="open"), SAME) for name in TOKENS],
    *[(f"dev-{name}", header(f"Bearer {{{name}}}", instance="dev"), SAME) for name in TOKENS],
    # acceptsToken: any, a list, one machine type
    *[(f"any-{name}", header(f"Bearer {{{name}}}", accepts=ANY), SAME) for name in (*TOKENS, *OPAQUE)],
    *[(f"list-{name}", header(f"Bearer {{{name}}}", accepts=("session_token", "api_key")), SAME)
      for name in ("valid", "cat_template", "ak_valid", "mt_valid", "m2m_jwt", "oauth_jwt", "expired")],
    *[(f"machines-{name}", header(f"Bearer {{{name}}}", accepts=MACHINES), SAME)
      for name in ("valid", "ak_valid", "mt_valid", "oat_valid", "m2m_jwt", "oauth_jwt", "garbage")],
    *[(f"{kind}-{name}", header(f"Bearer {{{name}}}", accepts=kind), SAME)
      for kind in MACHINES for name in (*OPAQUE, "valid", "m2m_jwt", "oauth_jwt", "m2m_jwt_expired",
                                         "oauth_jwt_expired", "m2m_jwt_wrong_key", "m2m_jwt_azp_evil",
                                         "oauth_jwt_azp_origin", "oauth_jwt_azp_evil", "oauth_jwt_aud")],
    *[(f"open-{kind}-{name}", header(f"Bearer {{{name}}}", accepts=kind, instance="open"), SAME)
      for kind in ("m2m_token", "oauth_token", "api_key", "any")
      for name in ("m2m_jwt", "oauth_jwt", "oauth_jwt_aud", *OPAQUE)],
    # no token
    ("no-token", Request(), SAME),
    ("no-token-any", Request(accepts=ANY), SAME),
    ("no-token-api-key", Request(accepts="api_key"), SAME),
    ("no-token-machines", Request(accepts=MACHINES), SAME),
    # the Authorization header's spellings
    ("bare-token", header("{valid}"), SAME),
    ("bearer-lower", header("bearer {valid}"), SAME),
    ("bearer-upper", header("BEARER {valid}"), SAME),
    ("bearer-two-spaces", header("Bearer  {valid}"), SAME),
    ("bearer-tab", header("Bearer\t{valid}"), SAME),
    ("bearer-trailing-word", header("Bearer {valid} more"), SAME),
    ("bearer-null", header("Bearer null"), SAME),
    ("bearer-undefined", header("Bearer undefined"), SAME),
    ("bearer-empty", header("Bearer "), SAME),
    ("basic", header("Basic dXNlcjpwYXNz"), SAME),
    ("basic-hides-no-cookie", Request(authorization=("Basic dXNlcjpwYXNz",),
                                      cookies=("__session={valid}", "__client_uat={uat_old}")), SAME),
    ("bearer-null-with-cookie", Request(authorization=("Bearer null",),
                                        cookies=("__session={valid}", "__client_uat={uat_old}")), SAME),
    ("two-headers", Request(authorization=("Bearer {valid}", "Bearer {valid}")), SAME),
    ("basic-then-bearer", Request(authorization=("Basic dXNlcjpwYXNz", "Bearer {valid}")), SAME),
    ("header-beats-cookie", Request(authorization=("Bearer {expired}",),
                                    cookies=("__session={valid}", "__client_uat={uat_old}")), SAME),
    ("header-valid-cookie-bad", Request(authorization=("Bearer {valid}",),
                                        cookies=("__session={wrong_key}", "__client_uat={uat_old}")), SAME),
    # cookies
    *[(f"cookie-{name}", cookies(f"__session={{{name}}}", "__client_uat={uat_old}"), SAME)
      for name in (*TOKENS, "garbage", "dots", "ak_valid")],
    ("cookie-post", cookies("__session={valid}", "__client_uat={uat_old}", method="POST"), SAME),
    ("cookie-expired-post", cookies("__session={expired}", "__client_uat={uat_old}", method="POST"), SAME),
    ("cookie-any", cookies("__session={valid}", "__client_uat={uat_old}", accepts=ANY), SAME),
    ("cookie-list", cookies("__session={valid}", "__client_uat={uat_old}", accepts=("session_token", "api_key")), SAME),
    ("cookie-api-key-route", cookies("__session={valid}", "__client_uat={uat_old}", accepts="api_key"), SAME),
    *[(f"cookie-{accepts}-{name}", cookies(f"__session={{{name}}}", "__client_uat={uat_old}", accepts=accepts), SAME)
      for accepts in (ANY, MACHINES, ("session_token", "m2m_token"))
      for name in ("ak_valid", "mt_valid", "oat_valid", "m2m_jwt", "oauth_jwt", "cat_template")],
    ("cookie-no-uat", cookies("__session={valid}"), SAME),
    ("cookie-uat-zero", cookies("__session={valid}", "__client_uat=0"), SAME),
    ("cookie-uat-empty", cookies("__session={valid}", "__client_uat="), SAME),
    ("cookie-uat-junk", cookies("__session={valid}", "__client_uat=abc"), SAME),
    ("cookie-uat-newer", cookies("__session={valid}", "__client_uat={uat_new}"), SAME),
    ("cookie-uat-newer-wrong-key", cookies("__session={wrong_key}", "__client_uat={uat_new}"), SAME),
    *[(f"cookie-uat-newer-{name}", cookies(f"__session={{{name}}}", "__client_uat={uat_new}"), SAME)
      for name in ("hs256", "alg_none", "typ_jose", "expired", "garbage", "cat_template", "m2m_jwt")],
    ("cookie-uat-only", cookies("__client_uat={uat_old}"), SAME),
    *[(f"cookie-uat-{label}", cookies("__session={valid}", f"__client_uat={value}"), SAME) for label, value in (
        ("spaces", "%20{uat_new}"), ("exponent", "1e3"), ("hex", "0x10"), ("negative", "-5"),
        ("digits-then-junk", "{uat_new}abc"), ("float", "{uat_old}.9"), ("quoted", '"{uat_old}"'))],
    ("cookie-duplicate-valid-first", cookies("__session={valid}", "__session=garbage", "__client_uat={uat_old}"), SAME),
    ("cookie-duplicate-valid-last", cookies("__session=garbage", "__session={valid}", "__client_uat={uat_old}"), SAME),
    ("cookie-duplicate-uat", cookies("__session={valid}", "__client_uat={uat_old}", "__client_uat=0"), SAME),
    ("cookie-quoted", cookies('__session="{valid}"', "__client_uat={uat_old}"), SAME),
    ("cookie-empty-session", cookies("__session=", "__client_uat={uat_old}"), SAME),
    ("header-trailing-space", header("Bearer {valid} "), SAME),
    ("header-empty", header(""), SAME),
    ("header-scheme-only", header("Bearer"), SAME),
    ("header-empty-with-cookie", Request(authorization=("",), cookies=("__session={valid}", "__client_uat={uat_old}")), SAME),
    ("cookie-uat-zero-only", cookies("__client_uat=0"), SAME),
    # suffixed cookies (@clerk/backend's usesSuffixedCookies)
    ("suffixed", cookies("__session_{sfx}={valid}", "__client_uat_{sfx}={uat_old}"), SAME),
    ("suffixed-and-plain", cookies("__session_{sfx}={valid_v2}", "__client_uat_{sfx}={uat_old}",
                                   "__session={valid}", "__client_uat={uat_old}"), SAME),
    ("suffixed-other-app-plain", cookies("__session_{sfx}={valid}", "__client_uat_{sfx}={uat_old}",
                                         "__session={iss_other}", "__client_uat={uat_old}"), SAME),
    ("suffixed-downgrade", cookies("__session_{sfx}={valid_v2}", "__client_uat_{sfx}=0",
                                   "__session={valid}", "__client_uat={uat_old}"), SAME),
    ("suffixed-signed-out", cookies("__session_{sfx}={valid}", "__client_uat_{sfx}=0",
                                    "__session=", "__client_uat=0"), SAME),
    ("suffixed-without-uat", cookies("__session_{sfx}={valid_v2}", "__session={valid}",
                                     "__client_uat={uat_old}"), SAME),
    ("suffixed-plain-malformed", cookies("__session_{sfx}={valid}", "__client_uat_{sfx}={uat_old}",
                                         "__session=garbage", "__client_uat={uat_old}"), SAME),
    ("suffixed-plain-no-iss", cookies("__session_{sfx}={valid}", "__client_uat_{sfx}={uat_old}",
                                      "__session={iss_absent}", "__client_uat={uat_old}"), SAME),
    ("dev-suffixed-expired-downgrade", cookies("__session_{sfx}={expired}", "__client_uat_{sfx}={uat_old}",
                                               "__session={valid}", "__client_uat=0", "__clerk_db_jwt=dvb_x",
                                               instance="dev"), SAME),
    ("cookie-post-authorized-origin", cookies("__session={valid}", "__client_uat={uat_old}", method="POST",
                                              origin=ORIGIN), SAME),
    ("cookie-post-foreign-origin", cookies("__session={valid}", "__client_uat={uat_old}", method="POST",
                                           origin=EVIL), SAME),
    ("header-post-foreign-origin", header("Bearer {valid}", method="POST", origin=EVIL), SAME),
    ("session-param-same", header("Bearer {valid}", session_param=SID), SAME),
    ("session-param-other", header("Bearer {valid}", session_param="sess_2other"), SAME),
    ("dev-cookie", cookies("__session={valid}", "__client_uat={uat_old}", "__clerk_db_jwt=dvb_x",
                           instance="dev"), SAME),
    ("dev-cookie-no-dev-browser", cookies("__session={valid}", "__client_uat={uat_old}", instance="dev"), SAME),
]



# Where the corpus differs on purpose: our verdict ("signed-in" or our reason), and why.
_KID = Differ("token-invalid", "kid required (docs/guide/verification.md, What is verified); Clerk's PEM path ignores kid")
_RS = Differ("token-invalid-algorithm",
             "RS256 only (README: stricter); with a PEM key Clerk refuses them too, as token-verification-failed")
_SID = Differ("token-type-mismatch", "sid required of session tokens (README: stricter)")
_AZP = Differ("token-verification-failed",
              "a machine JWT's azp, when it has one, must be an authorized party (README: stricter)")
_NO_TOKEN = Differ("session-token-missing", "Bearer null/undefined/empty count as no token (README: more lenient)")
_SCHEME = Differ("signed-in", "the Bearer scheme is case-insensitive, extra spaces skipped (README: more lenient)")
DIFFERENCES: dict[str, Differ] = {
    **{f"{where}-no_kid": _KID for where in ("header", "open", "dev", "any", "cookie")},
    **{f"{where}-{alg}": _RS for where in ("header", "open", "dev", "any", "cookie") for alg in ("rs384", "rs512")},
    **{f"{where}-{name}": _SID for where in ("header", "open", "dev", "any", "cookie")
       for name in ("no_sid", "sid_number")},
    **{f"{where}-sub_empty": Differ("token-verification-failed", "sub non-empty on session tokens (README: stricter)")
       for where in ("header", "open", "dev", "any", "cookie")},
    **{f"{where}-oversized": Differ("token-invalid", "tokens over 8 KB refused before decoding (README: stricter)")
       for where in ("header", "open", "dev", "any", "cookie")},
    "open-azp_number": Differ("token-invalid-authorized-parties",
                              "a non-string azp refused even with no authorized parties (README: stricter)"),
    **{f"{where}-{kind}_jwt_azp_evil": _AZP for kind in ("m2m", "oauth") for where in ("any", f"{kind}_token")},
    "header-bearer_word": _NO_TOKEN,
    "bearer-null": _NO_TOKEN,
    "bearer-undefined": _NO_TOKEN,
    "bearer-empty": _NO_TOKEN,
    "header-scheme-only": _NO_TOKEN,
    "bearer-null-with-cookie": Differ("signed-in", _NO_TOKEN.why + "; so the cookie still counts"),
    "bearer-lower": _SCHEME,
    "bearer-upper": _SCHEME,
    "bearer-two-spaces": _SCHEME,
    "bearer-trailing-word": Differ("token-invalid", "`Bearer <token> more` is refused (README: stricter)"),
    **{f"cookie-uat-newer-{name}": Differ(reason, "a header we refuse outright is refused before the payload "
                                               "is read, so before iat meets __client_uat (README)")
       for name, reason in (("hs256", "token-invalid-algorithm"), ("alg_none", "token-invalid-algorithm"))},
    "cookie-post-foreign-origin": Differ("origin-invalid", "cookie writes from a foreign Origin are refused (README: "
                                                           "ours, CSRF)"),
    "session-param-other": Differ("session-id-mismatch", "_clerk_session_id is checked (README: Clerk's backend "
                                                         "does not read it)"),
    "cookie-no-uat": Differ("signed-in", "a missing __client_uat is tolerated (README: more lenient)"),
    "dev-cookie-no-dev-browser": Differ("signed-in", "no dev-browser requirement: no handshake (README)"),
}


# The corpus runs through an HTTP API (payload 2.0) event, and through the
# event shapes that keep repeated header lines apart.
CORPUS_SHAPES = ("http_v2", "rest_v1", "alb_multi")


@pytest.fixture(scope="module")
def corpus_verdicts(both: Both, tok: Callable[[str, str], str]) -> dict[tuple[str, str], tuple[Verdict, Verdict]]:
    """Both sides' verdicts on the whole corpus, on every shape, asked in one batch."""
    names = [name for name, _, _ in CORPUS]
    assert len(set(names)) == len(names), "corpus names must be unique"
    assert set(DIFFERENCES) <= set(names), set(DIFFERENCES) - set(names)
    keys = [(shape, name) for shape in CORPUS_SHAPES for name in names]
    requests = [replace(resolve(r, tok), shape=shape) for shape in CORPUS_SHAPES for _, r, _ in CORPUS]
    return dict(zip(keys, both.ask(requests), strict=True))


def _ours_word(verdict: Verdict) -> str:
    return "signed-in" if verdict.authenticated else str(verdict.reason)


@pytest.mark.parametrize("shape", CORPUS_SHAPES)
@pytest.mark.parametrize("name", [name for name, _, _ in CORPUS])
def test_corpus(shape: str, name: str, corpus_verdicts: dict[tuple[str, str], tuple[Verdict, Verdict]]) -> None:
    """Each corpus request: the same verdict, or the documented difference (and only it)."""
    theirs, ours = corpus_verdicts[(shape, name)]
    difference = DIFFERENCES.get(name)
    if difference is None:
        assert ours == theirs, f"@clerk/backend: {theirs}; ours: {ours}"
    else:
        assert _ours_word(ours) == difference.ours, f"ours: {ours} ({difference.why})"
        assert ours != theirs, f"no longer a difference, both {ours}: drop it from DIFFERENCES ({difference.why})"


# -- generated requests -----------------------------------------------------------------------

# A documented difference a generated request may trip, by direction:
# LENIENT: we may sign in where @clerk/backend signs out (never the reverse);
# STRICT: we may sign out where @clerk/backend signs in (never the reverse).
# Either way, a request both sides sign in must give the same identity.
LENIENT = "lenient"
STRICT = "strict"
# REASON: both sign out, for different reasons: on the cookie path a token
# whose header we refuse outright (alg, kid) is refused for that before its
# iat is compared with a later __client_uat (Clerk compares first).
REASON = "reason"
HEADER_FAULTS = ("hs256", "alg_none", "rs384", "rs512", "no_kid")

# Authorization spellings, with the README difference each may trip.
HEADER_FORMS: list[tuple[str, str | None]] = [
    ("Bearer {t}", None),
    ("{t}", None),  # no scheme: the whole value is the token
    ("Basic dXNlcjpwYXNz", None),  # another scheme: no token, the cookie counts
    ("Bearer\t{t}", None),  # a tab is no separator: taken whole, refused
    ("bearer {t}", LENIENT),  # the scheme case-insensitive
    ("Bearer  {t}", LENIENT),  # extra spaces skipped
    ("Bearer null", LENIENT),  # no token: the cookie still counts
    ("Bearer {t} more", STRICT),  # trailing words refused
]
# Tokens, with the README difference each trips.
TOKEN_TAGS: dict[str, str] = {
    "no_kid": STRICT,  # kid required
    "rs384": STRICT, "rs512": STRICT,  # RS256 only (reasons differ; both refuse)
    "no_sid": STRICT, "sid_number": STRICT,  # sid required
    "sub_empty": STRICT, "oversized": STRICT, "azp_number": STRICT,  # sub non-empty, 8 KB, azp a string
    "m2m_jwt_azp_evil": STRICT, "oauth_jwt_azp_evil": STRICT,  # a machine JWT's azp held to the parties
    "bearer_word": LENIENT,  # "Bearer Bearer": no token
}
SESSIONISH = [name for name in TOKENS if not name.startswith(("m2m_", "oauth_"))]
ACCEPTS: list[str | tuple[str, ...]] = ["session_token", "any", "api_key", "m2m_token", "oauth_token",
                                        ("session_token", "api_key"), ("m2m_token", "oauth_token")]
UATS = [None, "0", "", "abc", "{uat_old}", "{uat_new}"]
# Tokens both sides should accept somewhere: drawn as often as all the others.
GOOD_SESSIONS = ["valid", "valid_v1_org", "valid_v2", "valid_v2_active", "cat_session", "cat_ignore", "azp_second",
                 "exp_in_skew", "nbf_in_skew", "iat_in_skew", "aud_str", "aud_list", "pending_v2"]
GOOD_MACHINES = ["ak_valid", "mt_valid", "oat_valid", "m2m_jwt", "m2m_jwt_no_cat", "oauth_jwt", "oauth_jwt_app_typ"]


@st.composite
def requests(draw: st.DrawFn) -> tuple[Request, frozenset[str]]:
    """A request and the documented differences it may trip."""
    tags: set[str] = set()
    instance = draw(st.sampled_from(list(INSTANCES)))
    # (an instance without the secret key takes no machine tokens: a ClerkConfigError, README)
    accepts = draw(st.sampled_from(["session_token", "any"]) | st.sampled_from(ACCEPTS)
                   if INSTANCES[instance].machine else st.just("session_token"))
    machine = INSTANCES[instance].machine
    good = GOOD_SESSIONS + (GOOD_MACHINES if machine else [n for n in GOOD_MACHINES if "_jwt" in n])
    pick_token = st.sampled_from(good) | st.sampled_from(
        [*SESSIONISH, *GARBAGE, *(OPAQUE if machine else ()), *[n for n in TOKENS if n.startswith(("m2m_", "oauth_"))]])
    pick_cookie = st.sampled_from(GOOD_SESSIONS) | st.sampled_from([*SESSIONISH, "garbage"])
    authorization: list[str] = []
    lenient_header = False
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 1, 2]))):
        form, tag = draw(st.just(HEADER_FORMS[0]) | st.sampled_from(HEADER_FORMS))
        name = draw(pick_token)
        authorization.append(form.replace("{t}", "{" + name + "}"))
        tags.update(t for t in (tag, TOKEN_TAGS.get(name)) if t)
        lenient_header = lenient_header or tag == LENIENT
    cookies: list[str] = []
    for session_name, uat_name in (("__session", "__client_uat"), ("__session_{sfx}", "__client_uat_{sfx}")):
        session = draw(st.none() | pick_cookie)
        uat = draw(st.just("{uat_old}") | st.sampled_from(UATS))
        if lenient_header:
            break  # such a header may make us read another token than Clerk: compared without cookies
        if session is not None:
            cookies.append(f"{session_name}={{{session}}}")
            tags.update(t for t in (TOKEN_TAGS.get(session),) if t)
            if uat is None:
                tags.add(LENIENT)  # a missing __client_uat is tolerated
            if session in HEADER_FAULTS and uat == "{uat_new}":
                tags.add(REASON)
        if uat is not None:
            cookies.append(f"{uat_name}={uat}")
    if instance == "dev":
        # Clerk's dev-browser cookie, plain and suffixed (we have no such requirement: no handshake)
        cookies += ["__clerk_db_jwt=dvb_x", "__clerk_db_jwt_{sfx}=dvb_x"]
    cookies = draw(st.permutations(cookies))
    method = draw(st.sampled_from(["GET", "POST"]))
    # The clock around the tokens' times (iat NOW-2, nbf NOW-7, exp NOW+60;
    # machine JWTs exp NOW+300) and the 5 s skew; the verified-token cache
    # (filled at one time, asked at another) included.
    later = draw(st.just(0) | st.sampled_from([-20, -3, -2, 2, 3, 54, 55, 56, 64, 65, 66, 200, 295, 305]))
    return Request(instance, tuple(authorization), tuple(cookies), method, accepts, later), frozenset(tags)


@settings(max_examples=int(os.environ.get("DIFFERENTIAL_EXAMPLES", "400")), deadline=None, derandomize=False,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=requests())
def test_generated_requests(case: tuple[Request, frozenset[str]], both: Both, tok: Callable[[str, str], str]) -> None:
    """Generated requests: the same verdict, or a documented difference in its direction."""
    template, tags = case
    request = resolve(template, tok)
    [(theirs, ours)] = both.ask([request])
    event(f"@clerk/backend {'signed in' if theirs.authenticated else 'signed out'}")
    note = f"{template} (tags {sorted(tags)}): @clerk/backend {theirs}; ours {ours}"
    if not tags or (theirs.authenticated and ours.authenticated):  # the same identity, or the same refusal
        assert ours == theirs, note
    else:
        if ours.authenticated:
            assert LENIENT in tags, note
        if theirs.authenticated:
            assert STRICT in tags, note


# -- verifyToken ------------------------------------------------------------------------------

# Where ClerkAuth.verify_token differs from verifyToken on purpose.
_MACHINE_JWT = Differ("token-type-mismatch", "a machine JWT is token-type-mismatch on every session path "
                                             "(README); verifyToken: token-invalid")
VERIFY_DIFFERENCES: dict[str, Differ] = {
    "open-azp_number": Differ("token-invalid-authorized-parties", "a non-string azp refused (README: stricter)"),
    **{f"{instance}-{name}": difference for instance in INSTANCES for name, difference in (
        ("no_kid", _KID), ("rs384", _RS), ("rs512", _RS), ("no_sid", _SID), ("sid_number", _SID),
        ("sub_empty", Differ("token-verification-failed", "sub non-empty (README: stricter)")),
        ("oversized", Differ("token-invalid", "tokens over 8 KB refused (README: stricter)")),
        ("pending_v2", Differ("session-pending", "sts pending is signed out unless opted in (README); "
                                                 "verifyToken does not read sts")),
        ("cat_template", Differ("token-type-mismatch", "a JWT-template token is no session (README: stricter); "
                                                       "verifyToken verifies any JWT of the instance")),
        *[(name, _MACHINE_JWT) for name in TOKENS if name.startswith(("m2m_jwt", "oauth_jwt"))],
        ("cat_m2m_session", _MACHINE_JWT),
    )},
}


def verify_cases() -> list[tuple[str, str, str]]:
    """(case name, instance, token spec name): every token on every instance."""
    names = [*TOKENS, *GARBAGE]
    return [(f"{instance}-{name}", instance, name) for instance in INSTANCES for name in names]


@pytest.fixture(scope="module")
def verify_verdicts(both: Both, tok: Callable[[str, str], str]) -> dict[str, tuple[Verdict, Verdict]]:
    """verifyToken(token, {jwtKey, authorizedParties, audience, issuer}) and
    ClerkAuth.verify_token(token) on every token, the clock frozen alike."""
    cases = verify_cases()
    asks = []
    for _, instance_name, name in cases:
        instance = INSTANCES[instance_name]
        options: dict[str, Any] = {"jwtKey": both.pem, "issuer": instance.expected_issuer}
        if instance.authorized_parties:
            options["authorizedParties"] = list(instance.authorized_parties)
        if instance.audience:
            options["audience"] = list(instance.audience)
        asks.append({"now": NOW * 1000, "verifyToken": tok(name, instance_name), "options": options})
    answers = both.oracle.ask(asks)
    verdicts: dict[str, tuple[Verdict, Verdict]] = {}
    for (case, instance_name, name), answer in zip(cases, answers, strict=True):
        assert "error" not in answer, answer
        if answer["isAuthenticated"]:
            claims = answer["claims"]
            theirs = Verdict(True, None, "session_token", claims["sub"], claims.get("sid"), claims.get("orgId"))
        else:
            theirs = Verdict(False, answer["reason"])
        both.ours.clock.now = NOW
        try:
            session = both.ours.auths[instance_name].verify_token(tok(name, instance_name))
            ours = Verdict(True, None, "session_token", session.user_id, session.session_id, session.org_id)
        except AuthError as refused:
            ours = Verdict(False, str(refused.reason))
        verdicts[case] = (theirs, ours)
    return verdicts


@pytest.mark.parametrize("name", [case for case, _, _ in verify_cases()])
def test_verify_token(name: str, verify_verdicts: dict[str, tuple[Verdict, Verdict]]) -> None:
    """``verify_token`` gives ``verifyToken``'s verdict, or the documented difference."""
    theirs, ours = verify_verdicts[name]
    difference = VERIFY_DIFFERENCES.get(name)
    if difference is None:
        assert ours == theirs, f"verifyToken: {theirs}; ours: {ours}"
    else:
        assert _ours_word(ours) == difference.ours, f"ours: {ours} ({difference.why})"
        assert ours != theirs, f"no longer a difference, both {ours} ({difference.why})"


@pytest.fixture(scope="module")
def python_sdk_verdicts(both: Both, tok: Callable[[str, str], str]) -> dict[str, Verdict]:
    """clerk-backend-api's (clerk-sdk-python) ``verify_token`` on every token of
    :func:`verify_cases`, with the same PEM key, authorized parties and
    audience (it has no ``issuer`` option), its clock (PyJWT's) frozen at
    ``NOW`` as the oracle's is: a third opinion, for
    :func:`test_where_both_clerk_sdks_agree_we_agree`."""
    import datetime as dt

    import jwt.api_jwt
    from clerk_backend_api.security.types import TokenVerificationError, VerifyTokenOptions
    from clerk_backend_api.security.verifytoken import verify_token

    class Frozen(dt.datetime):
        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> Frozen:
            return cls.fromtimestamp(NOW, tz)

    verdicts: dict[str, Verdict] = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(jwt.api_jwt, "datetime", Frozen)
        for case, instance_name, name in verify_cases():
            instance = INSTANCES[instance_name]
            options = VerifyTokenOptions(
                jwt_key=both.pem, api_url="http://127.0.0.1:9",  # never reached: JWTs and garbage only
                authorized_parties=list(instance.authorized_parties) if instance.authorized_parties else None,
                audience=list(instance.audience) if instance.audience else None)
            try:
                claims = verify_token(tok(name, instance_name), options)
                verdicts[case] = Verdict(True, None, "session_token", claims.get("sub"), claims.get("sid"))
            except TokenVerificationError as refused:
                verdicts[case] = Verdict(False, refused.reason.value[0])  # (code, message)
    return verdicts


# Where clerk-backend-api and @clerk/backend agree and we do not, on purpose:
# each is also in VERIFY_DIFFERENCES (README, "Where we differ from @clerk/backend, on purpose").
# Today all are tokens both SDKs sign in and we refuse (kid, sid and a non-empty
# sub required, 8 KB, sts pending, JWT-template category).
BOTH_SDKS_DIFFER = {"no_kid", "no_sid", "sid_number", "sub_empty", "oversized", "pending_v2", "cat_template"}


@pytest.mark.parametrize("name", [case for case, _, _ in verify_cases()])
def test_where_both_clerk_sdks_agree_we_agree(
    name: str, verify_verdicts: dict[str, tuple[Verdict, Verdict]], python_sdk_verdicts: dict[str, Verdict]
) -> None:
    """Where clerk-backend-api and @clerk/backend give one verdict (signed in or
    out), ours is that verdict, unless the README documents the difference
    (then listed in :data:`BOTH_SDKS_DIFFER` too, so a new shared verdict we
    break cannot hide behind an old difference)."""
    theirs, ours = verify_verdicts[name]
    python = python_sdk_verdicts[name]
    if python.authenticated is not theirs.authenticated:
        return  # the two SDKs disagree: @clerk/backend decides (test_verify_token)
    token = name.split("-", 1)[1]
    if token in BOTH_SDKS_DIFFER:
        assert name in VERIFY_DIFFERENCES, name
        assert ours.authenticated is not theirs.authenticated, f"{name}: no longer a difference, both {ours}"
        return
    assert ours.authenticated is theirs.authenticated, f"both SDKs: {theirs}; clerk-backend-api: {python}; ours: {ours}"


def test_issuer_list_reaches_both_sides(verify_verdicts: dict[str, tuple[Verdict, Verdict]]) -> None:
    """``issuer`` as a list (instance ``open``: the Frontend API and a proxy
    URL) accepts a token of either issuer and no other, on both sides; as a
    string (``live``) the proxy URL's token is refused: the list is passed
    through, not dropped."""
    for case, authenticated in (("open-iss_proxy", True), ("open-valid", True), ("open-iss_other", False),
                                ("live-iss_proxy", False), ("live-valid", True)):
        theirs, ours = verify_verdicts[case]
        assert theirs.authenticated is ours.authenticated is authenticated, case
        if not authenticated:
            assert theirs.reason == ours.reason == "token-invalid-issuer", case


def test_proxied_instance_each_side_with_its_own_key_source(
    both: Both, tok: Callable[[str, str], str], keys: dict[str, SigningKey]
) -> None:
    """A production instance behind a Frontend API proxy, each side set up as
    it would be there. @clerk/backend: publishable key, secret key and
    ``proxyUrl``, no ``jwtKey``: its keys come from the Backend API's
    /v1/jwks (loadClerkJWKFromRemote), never from the proxy or the key's
    host (the oracle fails a case fetching beyond loopback). Ours: the same
    keys and ``proxy_url`` (here a loopback stand-in for the proxy): its keys
    come through the proxy, from /__clerk/.well-known/jwks.json, once. Same
    verdicts with ``issuer`` unset (iss not pinned: another instance's iss
    passes on both sides, the signature deciding) and set to the proxy URL."""
    from support.jwks_server import JwksServer

    proxy = JwksServer().start()
    try:
        proxy.keys = [keys["current"].jwk]
        names = ("valid", "iss_proxy", "iss_other", "expired", "wrong_key", "unknown_kid", "azp_evil")
        for issuer, accepted in ((None, {"valid", "iss_proxy", "iss_other"}), ([PROXY_ISS], {"iss_proxy"})):
            ours = ClerkAuth(publishable_key=PK_LIVE, secret_key=SECRET_KEY, api_url=both.bapi_url,
                             proxy_url=f"{proxy.base_url}/__clerk", authorized_parties=[ORIGIN, ORIGIN2],
                             issuer=issuer, clock=Clock(NOW))
            handler = ours.require_session(lambda event, context: {"statusCode": 200, "body": event["auth"].user_id})
            options: dict[str, Any] = {"proxyUrl": PROXY_ISS, "authorizedParties": [ORIGIN, ORIGIN2]}
            if issuer:
                options["issuer"] = issuer
            answers = both.oracle.ask([
                {"now": NOW * 1000, "method": "GET", "url": "https://app.diff-live.example/me",
                 "client": {"publishableKey": PK_LIVE, "secretKey": SECRET_KEY, "apiUrl": both.bapi_url},
                 "headers": [["authorization", f"Bearer {tok(name, 'live')}"]], "options": options}
                for name in names
            ])
            for name, answer in zip(names, answers, strict=True):
                theirs = clerk_verdict(answer)
                event = make_event("http_v2", headers={"Authorization": [f"Bearer {tok(name, 'live')}"]})
                response = handler(event, None)
                authenticated = response["statusCode"] == 200
                reason = None if authenticated else response_headers("http_v2", response)["x-clerk-auth-reason"]
                assert (theirs.authenticated, theirs.reason) == (authenticated, reason), (issuer, name)
                assert authenticated is (name in accepted), (issuer, name)
                if authenticated:
                    assert theirs.subject == response["body"] == USER, (issuer, name)
        # One store for both ClerkAuths (same source): fetched once, plus the
        # one refetch unknown_kid may force; never with the secret key.
        assert {r[":path"] for r in proxy.requests} == {"/__clerk/.well-known/jwks.json"}
        assert all("authorization" not in r for r in proxy.requests)
    finally:
        proxy.stop()
