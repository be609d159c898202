"""Differential, machine tokens in detail: ours against the published @clerk/backend.

tests/test_differential_clerk_backend.py judges every token kind on a few
instances; this module looks closer at machine tokens, with the same oracle
(:mod:`support.clerk_oracle`) and a loopback Clerk Backend API
(:mod:`support.clerk_api`) that both sides call — the oracle's ``apiUrl``
points at it, and the oracle cannot reach anything else:

* the whole machine auth object, not just type and subject: ``id``,
  ``scopes``, ``claims`` and the per-type IDs (``userId``/``orgId``/``name``,
  ``machineId``, ``clientId``), for API keys, opaque and JWT M2M tokens,
  opaque and JWT OAuth access tokens, the keys configured every way Clerk's
  SDKs take them (secret key; machine secret key; both; keys from the
  Backend API's JWKS rather than a PEM; an audience);
* every answer the Backend API can give a verify call (404, 401, other 4xx,
  5xx, 429, a broken body, a closed connection), each from a fresh server:
  @clerk/backend's reason, which is ours, and our status (401 for 404, else
  503: an outage is never the caller's fault).

Where we differ on purpose, the case says so (:class:`Differ`) with a
one-line why, and the test checks the difference runs that way only.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from support.clerk_api import ClerkBackendApi, fail_on_violations, token_secret
from support.clerk_oracle import Oracle, clerk_fields, machine_detail, publishable_key, run_oracle
from support.events import make_event, response_headers
from support.tokens import Clock, SigningKey, m2m_jwt, oauth_jwt, sign_raw

from clerk_serverless import ClerkAuth, MachineAuth

NOW = int(time.time())
FAPI = "clerk.machine-diff.example"
ISSUER = f"https://{FAPI}"
PK = publishable_key("live", FAPI)
SK = token_secret("sk_live_")
ORIGIN = "https://app.example.com"
EVIL = "https://evil.example"
AUDIENCE = "https://api.machine-diff.example"
USER = "user_2mdifUSERmdifUSERmdifUSER01"  # Clerk IDs: 27 characters after the prefix
ORG = "org_2mdifORGxmdifORGxmdifORGx01"
MACHINE = "mch_2mdifMACHmdifMACHmdifMACH01"


@pytest.fixture(scope="module")
def oracle(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Oracle]:
    yield from run_oracle(request, tmp_path_factory)


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.generate("ins_mdiff")


# -- what both sides are given ----------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    """One way to configure both sides."""

    secret_key: bool = True  # the instance's secret key
    machine_secret_key: bool = False  # the default machine's key (M2M verifies)
    pem: bool = True  # a PEM key; else the Backend API's JWKS, fetched with the secret key
    audience: bool = False
    parties: bool = False


CONFIGS = {
    "sk": Config(),
    "msk": Config(secret_key=False, machine_secret_key=True),
    "both": Config(machine_secret_key=True),
    "jwks": Config(pem=False),
    "aud": Config(audience=True),
    "azp": Config(parties=True),
}


def clerk_case(config: Config, server: ClerkBackendApi, pem: str, token: str, accepts: Any) -> dict[str, Any]:
    """The oracle's input: createClerkClient(client).authenticateRequest(request, options)."""
    client: dict[str, Any] = {"publishableKey": PK, "apiUrl": server.url}
    if config.secret_key:
        client["secretKey"] = server.secret_key
    if config.machine_secret_key:
        client["machineSecretKey"] = server.machine_secret_key
    options: dict[str, Any] = {"acceptsToken": accepts, "issuer": ISSUER}
    if config.pem:
        options["jwtKey"] = pem
    if config.audience:
        options["audience"] = [AUDIENCE]
    if config.parties:
        options["authorizedParties"] = [ORIGIN]
    return {"now": NOW * 1000, "client": client, "method": "GET", "url": "https://api.example.com/me",
            "headers": [["authorization", f"Bearer {token}"]], "options": options}


def our_auth(config: Config, server: ClerkBackendApi, pem: str) -> ClerkAuth:
    """Our ``ClerkAuth`` for ``config`` (keys from the Backend API: no PEM, no
    publishable key, whose Frontend API JWKS would come first)."""
    return ClerkAuth(
        jwt_key=pem if config.pem else None,
        publishable_key=PK if config.pem else None,
        issuer=ISSUER,
        secret_key=server.secret_key if config.secret_key else None,
        machine_secret_key=server.machine_secret_key if config.machine_secret_key else None,
        api_url=server.url,
        audience=[AUDIENCE] if config.audience else None,
        authorized_parties=[ORIGIN] if config.parties else None,
        clock=Clock(NOW),
    )


# -- verdicts ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Verdict:
    """Signed in (as what, with which fields) or the reason; our HTTP status."""

    authenticated: bool
    what: str  # "<type> <subject> <fields as JSON>", or the reason
    status: int | None = None  # ours only: 200, 401, 503

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Verdict) and (self.authenticated, self.what) == (other.authenticated, other.what)

    def __hash__(self) -> int:
        return hash((self.authenticated, self.what))

    def __str__(self) -> str:
        return f"{'signed in' if self.authenticated else 'signed out'}: {self.what}"


def signed_in(token_type: str, subject: Any, fields: dict[str, Any]) -> Verdict:
    return Verdict(True, f"{token_type} {subject} {machine_detail(token_type, fields)}")


def clerk_verdict(answer: dict[str, Any]) -> Verdict:
    """@clerk/backend's verdict (a thrown error is its own verdict: ``threw``)."""
    if "error" in answer:
        return Verdict(False, "threw")
    auth = answer["auth"] or {}
    if auth.get("isAuthenticated"):
        if auth["tokenType"] == "session_token":
            return Verdict(True, f"session_token {auth['userId']} {auth['sessionId']}")
        return signed_in(auth["tokenType"], auth["subject"], auth)
    return Verdict(False, str(answer["reason"]))


def our_verdict(handler: Callable[..., Any], token: str) -> Verdict:
    response = handler(make_event("http_v2", bearer=token), None)
    status = response["statusCode"]
    if status == 200:
        return Verdict(True, json.loads(response["body"])["what"], status)
    headers = response_headers("http_v2", response)
    if status == 503:
        assert int(headers["retry-after"]) > 0
    return Verdict(False, headers["x-clerk-auth-reason"], status)


def route(auth: ClerkAuth, accepts: Any) -> Callable[..., Any]:
    @auth.require_auth(accepts_token=accepts)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        caller = event["auth"]
        if isinstance(caller, MachineAuth):
            what = signed_in(caller.token_type, caller.subject, clerk_fields(caller)).what
        else:
            what = f"session_token {caller.user_id} {caller.session_id}"
        return {"statusCode": 200, "body": json.dumps({"what": what})}

    return handler


@dataclass(frozen=True)
class Differ:
    """A documented difference: our verdict (``"signed-in"`` or a reason), and why."""

    ours: str
    why: str


# -- the tokens -------------------------------------------------------------------------------


#: this run's M2M and OAuth JWT claims over :func:`support.tokens.machine_jwt`'s: its own
#: identities, times at the frozen NOW both SDKs judge at, and (as Clerk mints them) no ``azp``
M2M_CLAIMS: dict[str, Any] = {"iss": ISSUER, "sub": MACHINE, "aud": ["mch_2mdifOTHER"], "scopes": "mch_2mdifOTHER",
                              "jti": "mt_2mdifJTI", "iat": NOW - 2, "nbf": NOW - 7, "exp": NOW + 300}
OAUTH_CLAIMS: dict[str, Any] = {"iss": ISSUER, "sub": USER, "client_id": "client_2mdifCLIENT", "scope": "read write",
                                "jti": "oat_2mdifJTI", "azp": None, "iat": NOW - 2, "nbf": NOW - 7, "exp": NOW + 300}


def m2m(header: dict[str, Any] | None = None, **changes: Any) -> Callable[[SigningKey], str]:
    """An M2M JWT of this run with ``header`` and ``changes`` laid over it (None drops a field)."""
    return lambda key: m2m_jwt(key, header, **{**M2M_CLAIMS, **changes})


def oauth(header: dict[str, Any] | None = None, **changes: Any) -> Callable[[SigningKey], str]:
    """An OAuth access token JWT of this run, likewise."""
    return lambda key: oauth_jwt(key, header=header, **{**OAUTH_CLAIMS, **changes})


def session(key: SigningKey) -> str:
    return sign_raw(key, {"alg": "RS256", "kid": key.kid, "typ": "JWT"},
                {"sub": USER, "sid": "sess_2mdif", "iss": ISSUER, "azp": ORIGIN, "iat": NOW - 2, "nbf": NOW - 7,
                 "exp": NOW + 60})


@pytest.fixture(scope="module")
def bapi(key: SigningKey) -> Iterator[tuple[ClerkBackendApi, dict[str, str]]]:
    """The Backend API both sides call, and the opaque tokens it knows (and some it does not)."""
    server = ClerkBackendApi(secret_key=SK).start()
    server.keys = [key.jwk]
    other_machine, _ = server.add_machine()
    opaque = {
        "ak_user": server.add_api_key(subject=USER, scopes=["read", "write"], claims={"tier": "gold", "n": [1, 2]}),
        "ak_org": server.add_api_key(subject=ORG, name="ORG_KEY"),
        "ak_expiring": server.add_api_key(subject=USER, expiration=(NOW + 3600) * 1000),
        "ak_revoked": server.add_api_key(subject=USER, revoked=True),
        "ak_expired": server.add_api_key(subject=USER, expired=True),
        "mt_claims": server.add_m2m_token(subject=MACHINE, claims={"env": "prod", "nested": {"a": [1]}}),
        "mt_other_machine": server.add_m2m_token(subject=MACHINE, scopes=[other_machine]),
        "mt_revoked": server.add_m2m_token(subject=MACHINE, revoked=True),
        "mt_expired": server.add_m2m_token(subject=MACHINE, expired=True),
        "oat_user": server.add_oauth_token(subject=USER, scopes=["profile", "email"]),
        "oat_no_scopes": server.add_oauth_token(subject=USER, scopes=()),
        "oat_revoked": server.add_oauth_token(subject=USER, revoked=True),
        "oat_expired": server.add_oauth_token(subject=USER, expired=True),
    }
    # Clerk's newer answers name the token's audience (IdPOAuthAccessToken.aud, @clerk/backend 3.25)
    for name, aud in (("oat_aud_ours", [AUDIENCE]), ("oat_aud_other", ["urn:x"]), ("oat_aud_empty", [])):
        opaque[name] = server.add_oauth_token(subject=USER)
        opaque[name].object["aud"] = aud
    secrets = {name: record.secret for name, record in opaque.items()}
    secrets.update(ak_unknown=token_secret("ak_"), mt_unknown=token_secret("mt_"), oat_unknown=token_secret("oat_"))
    yield server, secrets
    server.stop()
    # The vendored 2026-05-12 spec's answer has no aud: those three answers are
    # newer than it, on purpose; any other violation fails the module.
    server.violations = [v for v in server.take_violations()
                         if not (v.kind == "response" and "'aud': [" in v.message)]
    fail_on_violations(server)


JWTS: dict[str, Callable[[SigningKey], str]] = {
    "session": session,
    "m2m": m2m(),
    "m2m_claims": m2m(env="prod", nested={"a": 1}),
    "m2m_no_scopes": m2m(scopes=None),
    "m2m_no_scopes_no_aud": m2m(scopes=None, aud=None),
    "m2m_no_jti": m2m(jti=None),
    "m2m_iss_other": m2m(iss="https://clerk.other.example"),
    "m2m_no_iss": m2m(iss=None),
    "m2m_aud_ours": m2m(aud=AUDIENCE),
    "m2m_aud_list_ours": m2m(aud=[AUDIENCE, "mch_2mdifOTHER"]),
    "m2m_no_aud": m2m(aud=None),
    "m2m_aud_empty": m2m(aud=[]),
    "m2m_azp_origin": m2m(azp=ORIGIN),
    "m2m_azp_evil": m2m(azp=EVIL),
    "m2m_typ_at_jwt": m2m({"typ": "at+jwt"}),
    "m2m_cat_session": m2m({"cat": "cl_B7d4PD111AAA"}),
    "m2m_no_cat": m2m({"cat": None}),
    "m2m_unknown_kid": m2m({"kid": "ins_mdiff_unknown"}),
    "m2m_scopes_empty": m2m(scopes=""),
    "m2m_scopes_two_spaces": m2m(scopes="a  b"),
    "m2m_scopes_list": m2m(scopes=["a", "b"]),
    "m2m_aud_string_no_scopes": m2m(scopes=None, aud="mch_2mdifOTHER"),
    "oauth": oauth(),
    "oauth_scp": oauth(scp=["x", "y"]),
    "oauth_scp_empty": oauth(scp=[]),
    "oauth_no_client_id": oauth(client_id=None),
    "oauth_claims": oauth(extra="e", act={"sub": "user_2actor"}),
    "oauth_iss_other": oauth(iss="https://clerk.other.example"),
    "oauth_aud_ours": oauth(aud=AUDIENCE),
    "oauth_aud_list_ours": oauth(aud=["urn:x", AUDIENCE]),
    "oauth_aud_other": oauth(aud="urn:x"),
    "oauth_aud_empty_entry": oauth(aud=["", AUDIENCE]),
    "oauth_azp_origin": oauth(azp=ORIGIN),
    "oauth_azp_number": oauth(azp=5),
    "oauth_sub_mch": oauth(sub="mch_2mdif"),
    "oauth_unknown_kid": oauth({"kid": "ins_mdiff_unknown"}),
    "oauth_scope_empty": oauth(scope=""),
    "oauth_scp_string": oauth(scp="x y"),
    "oauth_sub_empty": oauth(sub=""),
}

OPAQUE_NAMES = ("ak_user", "ak_org", "ak_expiring", "ak_revoked", "ak_expired", "ak_unknown", "mt_claims",
                "mt_other_machine", "mt_revoked", "mt_expired", "mt_unknown", "oat_user", "oat_no_scopes",
                "oat_revoked", "oat_expired", "oat_unknown", "oat_aud_ours", "oat_aud_other", "oat_aud_empty")
ANY = "any"
MACHINES = ["api_key", "m2m_token", "oauth_token"]
_SCOPES = Differ("signed-in", "scopes are the claim's non-empty names (docs/guide/machine-tokens.md: a claim's empty names are "
                              "dropped; @clerk/backend keeps `split(' ')`'s empty strings, or a string as is)")
_AZP = Differ("token-verification-failed", "a machine JWT's azp, when it has one, is held to the authorized "
                                           "parties (README: stricter)")

# (name, config, token, acceptsToken, difference)
CASES: list[tuple[str, str, str, Any, Differ | None]] = [
    # opaque tokens, the keys held every way, on routes of every kind
    *[(f"{config}-{name}-{accepts}", config, name, accepts, None)
      for config in ("sk", "both", "aud") for name in OPAQUE_NAMES for accepts in (ANY, MACHINES)],
    *[(f"sk-{name}-{kind}", "sk", name, kind, None) for name in OPAQUE_NAMES for kind in MACHINES],
    *[(f"msk-{name}", "msk", name, "m2m_token", None) for name in OPAQUE_NAMES if name.startswith("mt_")],
    # JWTs, with a PEM key, from the Backend API's JWKS, with an audience, with authorized parties
    *[(f"{config}-{name}", config, name, ANY, None) for config in ("sk", "jwks", "aud", "azp") for name in JWTS],
    *[(f"sk-{name}-{kind}", "sk", name, kind, None) for name in ("m2m", "oauth", "session") for kind in MACHINES],
]
DIFFERENCES: dict[str, Differ] = {
    # (with an audience, these tokens are refused alike: their aud is another, or none)
    **{f"{config}-{name}": _SCOPES for config in ("sk", "jwks", "azp")
       for name in ("m2m_scopes_empty", "m2m_scopes_two_spaces", "oauth_scope_empty", "oauth_scp_string")},
    **{f"{config}-m2m_aud_string_no_scopes": _SCOPES for config in ("sk", "jwks", "azp")},
    **{f"{config}-m2m_scopes_list": Differ("signed-in", "a list of scopes is read as one (@clerk/backend throws "
                                                        "`payload.scopes?.split is not a function`)")
       for config in ("sk", "jwks", "azp")},
    **{f"{config}-oauth_sub_empty": Differ("token-verification-failed", "sub non-empty on M2M and OAuth JWTs "
                                                                        "(README: stricter)")
       for config in ("sk", "jwks", "azp")},
    "azp-m2m_azp_evil": _AZP,
    "azp-oauth_azp_number": _AZP,
}


def token_of(name: str, key: SigningKey, secrets: dict[str, str]) -> str:
    return secrets[name] if name in secrets else JWTS[name](key)


@pytest.fixture(scope="module")
def verdicts(oracle: Oracle, key: SigningKey,
             bapi: tuple[ClerkBackendApi, dict[str, str]]) -> dict[str, tuple[Verdict, Verdict, list[str]]]:
    """Both sides' verdicts on every case, the oracle asked in one batch;
    with the URLs the oracle fetched for each."""
    server, secrets = bapi
    pem = key.public_pem
    assert set(DIFFERENCES) <= {name for name, *_ in CASES}, set(DIFFERENCES) - {name for name, *_ in CASES}
    answers = oracle.ask([clerk_case(CONFIGS[config], server, pem, token_of(token, key, secrets), accepts)
                          for _, config, token, accepts, _ in CASES])
    auths = {name: our_auth(config, server, pem) for name, config in CONFIGS.items()}
    routes: dict[tuple[str, str], Callable[..., Any]] = {}
    out = {}
    for (name, config, token, accepts, _), answer in zip(CASES, answers, strict=True):
        handler = routes.setdefault((config, repr(accepts)), route(auths[config], accepts))
        out[name] = (clerk_verdict(answer), our_verdict(handler, token_of(token, key, secrets)), answer["fetched"])
    return out


def _word(verdict: Verdict) -> str:
    return "signed-in" if verdict.authenticated else verdict.what


@pytest.mark.parametrize("name", [name for name, *_ in CASES])
def test_machine_token(name: str, verdicts: dict[str, tuple[Verdict, Verdict, list[str]]],
                       bapi: tuple[ClerkBackendApi, dict[str, str]]) -> None:
    """Each case: @clerk/backend's verdict, the whole auth object included, or
    the documented difference (and only it). An opaque token of an accepted
    type was verified by the loopback Backend API, on the oracle's side too."""
    theirs, ours, fetched = verdicts[name]
    difference = DIFFERENCES.get(name)
    if difference is None:
        assert ours == theirs, f"@clerk/backend: {theirs}; ours: {ours}"
    else:
        assert _word(ours) == difference.ours, f"ours: {ours} ({difference.why})"
        assert ours != theirs, f"no longer a difference, both {ours} ({difference.why})"
    assert ours.status == (200 if ours.authenticated else 401), ours
    server, _ = bapi
    case = next(case for case in CASES if case[0] == name)
    if case[2] in OPAQUE_NAMES and theirs.what != "token-type-mismatch":
        assert any(url.startswith(f"POST {server.url}/") and url.endswith("/verify") for url in fetched), fetched


# -- the Backend API's answers ----------------------------------------------------------------

OPERATIONS = {"api_key": "verifyApiKey", "m2m_token": "verifyM2MToken", "oauth_token": "verifyOAuthAccessToken"}
# (name, fault mode, fault options, @clerk/backend's reason; ours is the same, 401 for 404, else 503)
FAULTS: list[tuple[str, str, dict[str, Any], str]] = [
    ("404", "status", {"status": 404}, "token-invalid"),
    ("401", "status", {"status": 401}, "secret-key-invalid"),
    ("400", "status", {"status": 400}, "unexpected-error"),
    ("403", "status", {"status": 403}, "unexpected-error"),
    ("422", "status", {"status": 422}, "unexpected-error"),
    ("429", "status", {"status": 429, "headers": {"Retry-After": "7"}}, "unexpected-error"),
    ("500", "status", {"status": 500}, "unexpected-error"),
    ("502", "status", {"status": 502}, "unexpected-error"),
    ("503", "status", {"status": 503}, "unexpected-error"),
    ("refused", "refuse", {}, "unexpected-error"),
]


def _fault_case(oracle: Oracle, key: SigningKey, kind: str, mode: str, options: dict[str, Any],
                invalid_tokens: str = "not-found") -> tuple[Verdict, Verdict]:
    """One token of ``kind`` verified by a fresh Backend API answering ``mode``
    (nothing cached on either side, no outage remembered)."""
    with ClerkBackendApi(secret_key=SK) as server:
        server.keys = [key.jwk]
        server.invalid_tokens = invalid_tokens
        record = {"api_key": lambda: server.add_api_key(subject=USER, revoked=invalid_tokens == "flagged"),
                  "m2m_token": lambda: server.add_m2m_token(subject=MACHINE, revoked=invalid_tokens == "flagged"),
                  "oauth_token": lambda: server.add_oauth_token(subject=USER, expired=invalid_tokens == "flagged"),
                  }[kind]()
        if mode:
            server.fault(OPERATIONS[kind], mode, **options)
        [answer] = oracle.ask([clerk_case(CONFIGS["sk"], server, key.public_pem, record.secret, kind)])
        theirs = clerk_verdict(answer)
        ours = our_verdict(route(our_auth(CONFIGS["sk"], server, key.public_pem), kind), record.secret)
        server.take_violations()  # the faults are not Clerk's answers
    return theirs, ours


@pytest.mark.parametrize("kind", list(OPERATIONS))
@pytest.mark.parametrize(("name", "mode", "options", "reason"), FAULTS, ids=[f[0] for f in FAULTS])
def test_backend_api_answer(oracle: Oracle, key: SigningKey, kind: str, name: str, mode: str,
                            options: dict[str, Any], reason: str) -> None:
    """Each Backend API answer to a verify call: @clerk/backend's reason, ours
    too; 401 for a token Clerk does not know, 503 (with Retry-After) for
    anything else — signed out there (README: outages are 503, never 401)."""
    theirs, ours = _fault_case(oracle, key, kind, mode, options)
    assert theirs == Verdict(False, reason), theirs
    assert (ours.what, ours.status) == (reason, 401 if name == "404" else 503), ours


@pytest.mark.parametrize("kind", list(OPERATIONS))
def test_backend_api_broken_answer(oracle: Oracle, key: SigningKey, kind: str) -> None:
    """A 200 whose body is no JSON: @clerk/backend throws (API keys) or signs
    in an identity without a subject (M2M, OAuth); ours is our outage, 503
    unexpected-error (README: the Backend API failing is 503)."""
    theirs, ours = _fault_case(oracle, key, kind, "garbage", {})
    assert theirs in (Verdict(False, "threw"), signed_in(kind, None, {})), theirs
    assert (ours.what, ours.status) == ("unexpected-error", 503), ours


@pytest.mark.parametrize("kind", list(OPERATIONS))
def test_backend_api_flags_the_token_invalid(oracle: Oracle, key: SigningKey, kind: str) -> None:
    """A 200 saying the token is revoked (an expired OAuth token: ``{"active":
    false}``): @clerk/backend signs it in, not reading those fields; ours is 401
    token-invalid (README: stricter)."""
    theirs, ours = _fault_case(oracle, key, kind, "", {}, invalid_tokens="flagged")
    assert theirs.authenticated, theirs
    assert (ours.what, ours.status) == ("token-invalid", 401), ours


@pytest.mark.parametrize("status", [401, 429, 503])
@pytest.mark.parametrize("name", ["session", "m2m", "oauth"])
def test_backend_api_jwks_answer(oracle: Oracle, key: SigningKey, name: str, status: int) -> None:
    """Keys from the Backend API's JWKS, which answers ``status``:
    @clerk/backend signs out (jwk-remote-failed-to-load; for an M2M or OAuth
    JWT, token-verification-failed, as every failure once its kind is known);
    ours is 503 jwk-remote-failed-to-load (README: outages are 503, never 401)."""
    with ClerkBackendApi(secret_key=SK) as server:
        server.keys = [key.jwk]
        server.fault("GetJWKS", "status", status=status)
        token = JWTS[name](key)
        [answer] = oracle.ask([{**clerk_case(CONFIGS["jwks"], server, key.public_pem, token, ANY),
                                "immediateTimers": True}])  # its retries' backoff: seconds
        ours = our_verdict(route(our_auth(CONFIGS["jwks"], server, key.public_pem), ANY), token)
        server.take_violations()
    expected = "jwk-remote-failed-to-load" if name == "session" else "token-verification-failed"
    assert clerk_verdict(answer) == Verdict(False, expected)
    assert f"GET {server.url}/v1/jwks" in answer["fetched"], answer["fetched"]
    assert (ours.what, ours.status) == ("jwk-remote-failed-to-load", 503), ours
