"""Red-team probes, sixth pass: what changed since 184275b — machine JWT
verdicts, the request path's nbf/iat names and kind-first order, whole-second
times, ``__client_uat`` read as ``Number.parseInt``, the 401 body parser and
secret-key-invalid, read-only claims and scopes, ``split_options`` refusals.

Tests named ``test_finding_*`` are attacks (or regressions) that succeeded on
the code as reviewed (bcf0e26), kept with their fixes; every other test is a
probe the library withstood, kept as a regression test.
"""

from __future__ import annotations

import copy
import json
import pickle
import time
from typing import Any

import pytest
from support.calls import NOT_CALLED, call, recording_handler
from support.tokens import ISSUER, ORIGIN, Clock, SigningKey, fresh, m2m_jwt, mint, oauth_jwt

from clerk_serverless.readonly import ReadOnlyDict, ReadOnlyList, frozen_json

# ============================================================================
# 1. __client_uat as Number.parseInt: odd strings never raise
# ============================================================================

HUGE_DEC_310 = "9" * 310  # past a double (1.8e308), under the 400-digit shortcut
HUGE_HEX_300 = "0x" + "f" * 300  # 16**300 = 2**1200, past a double


@pytest.mark.parametrize(
    "uat,reason",
    [
        (HUGE_DEC_310, "session-token-iat-before-client-uat"),  # parseInt: Infinity
        ("9" * 401, "session-token-iat-before-client-uat"),
        (HUGE_HEX_300, "session-token-iat-before-client-uat"),
        ("-" + HUGE_DEC_310, None),  # -Infinity: active, before any iat
        ("\u0661\u0662", "session-token-but-no-client-uat"),  # Arabic-Indic digits: NaN -> 0
        ("+-1", "session-token-but-no-client-uat"),
        ("0x", "session-token-but-no-client-uat"),
        ("-0", "session-token-but-no-client-uat"),
        ("0" * 401, "session-token-but-no-client-uat"),  # parseInt: 0, signed out
        ("0" * 400 + "1", None),  # parseInt: 1, an active client, before the token's iat
    ],
)
def test_client_uat_odd_strings_answer_not_raise(make_auth: Any, key: SigningKey, uat: str, reason: str | None) -> None:
    clock = Clock(float(int(time.time())))
    auth = make_auth(clock=clock)
    handler = recording_handler(auth.require_session)
    token = fresh(key, clock)
    out = call(handler, "http_v2", cookies=[f"__session={token}", f"__client_uat={uat}"])
    if reason is None:
        assert out.status == 200
    else:
        assert out.status == 401 and out.reason == reason and out.session is NOT_CALLED


@pytest.mark.parametrize("uat", [HUGE_DEC_310, HUGE_HEX_300, "-" + HUGE_DEC_310])
def test_client_uat_huge_without_session_cookie(make_auth: Any, uat: str) -> None:
    """No token, an active (huge) __client_uat: client-uat-but-no-session-token, not a 500."""
    handler = recording_handler(auth := make_auth().require_session)  # noqa: F841
    out = call(handler, "http_v2", cookies=[f"__client_uat={uat}"])
    assert out.status == 401 and out.reason == "client-uat-but-no-session-token"


def test_client_uat_matches_parseint() -> None:
    from clerk_serverless.lookup import client_uat_time as _client_uat

    cases = {
        "  12abc": 12.0, "\u3000\ufeff7": 7.0, "-0x10": -16.0, "0X1f": 31.0, "+5": 5.0,
        "1e3": 1.0, "1.9": 1.0, "\u0661": 0.0, "0x": 0.0, "+-1": 0.0, "-": 0.0,
        "9" * 309: float("inf"), "f" * 20: 0.0, "0x" + "f" * 257: float("inf"),
        # leading zeros carry no magnitude, however many (they once read as Infinity past 400 digits)
        "0" * 401: 0.0, "0" * 400 + "1": 1.0, "0x" + "0" * 401 + "f": 15.0, "-" + "0" * 500 + "7": -7.0,
        "0" * 401 + "9" * 400: float("inf"),
    }
    for raw, want in cases.items():
        assert _client_uat(raw) == want, raw


# ============================================================================
# 2. Whole-second times: no int() on something that cannot be one
# ============================================================================


@pytest.mark.parametrize("field,value", [("exp", 1e308), ("nbf", -1e308), ("iat", -1e308), ("exp", 2**80)])
def test_whole_second_times_with_extreme_values(make_auth: Any, key: SigningKey, field: str, value: Any) -> None:
    clock = Clock(float(int(time.time())))
    handler = recording_handler(make_auth(clock=clock).require_session)
    out = call(handler, "http_v2", bearer=fresh(key, clock, **{field: value}))
    assert out.status == 200


@pytest.mark.parametrize("field", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("value", [True, "1", None, [1]])
def test_time_claims_of_wrong_type_are_401(make_auth: Any, key: SigningKey, field: str, value: Any) -> None:
    clock = Clock(float(int(time.time())))
    handler = recording_handler(make_auth(clock=clock).require_session)
    out = call(handler, "http_v2", bearer=fresh(key, clock, **{field: value}))
    if value is None and field != "exp":
        return  # nbf/iat: null is tolerated
    assert out.status == 401 and out.session is NOT_CALLED


def _non_finite_token(key: SigningKey, clock: Clock, field: str, literal: str) -> str:
    from support.tokens import claims, sign_raw

    now = int(clock.now)
    body = claims(**{"iat": now - 2, "nbf": now - 7, "exp": now + 60, field: "@@"})
    text = json.dumps(body).replace('"@@"', literal)
    return sign_raw(key, {"alg": "RS256", "typ": "JWT", "kid": key.kid}, text.encode())


@pytest.mark.parametrize("field", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("literal", ["Infinity", "-Infinity", "NaN"])
@pytest.mark.parametrize("via", ["bearer", "cookie"])
def test_non_finite_time_claims_are_401(make_auth: Any, key: SigningKey, field: str, literal: str, via: str) -> None:
    """Python's json reads Infinity/NaN; the whole-second int() must never see them."""
    clock = Clock(float(int(time.time())))
    handler = recording_handler(make_auth(clock=clock).require_session)
    token = _non_finite_token(key, clock, field, literal)
    if via == "bearer":
        out = call(handler, "http_v2", bearer=token)
    else:
        out = call(handler, "http_v2", cookies=[f"__session={token}", f"__client_uat={int(clock.now) - 100}"])
    assert out.status == 401 and out.session is NOT_CALLED


# ============================================================================
# 3. Read-only claims and scopes: no ordinary way to edit what is shared
# ============================================================================


def _mutations_dict(d: Any) -> list[Any]:
    return [
        lambda: d.__setitem__("org_role", "org:admin"),
        lambda: d.__delitem__("sub"),
        lambda: d.update(org_role="org:admin"),
        lambda: d.setdefault("x", 1),
        lambda: d.pop("sub"),
        lambda: d.popitem(),
        lambda: d.clear(),
        lambda: d.__ior__({"org_role": "org:admin"}),
    ]


def _mutations_list(v: Any) -> list[Any]:
    return [
        lambda: v.__setitem__(0, "admin"),
        lambda: v.__setitem__(slice(0, 0), ["admin"]),
        lambda: v.__delitem__(0),
        lambda: v.append("admin"),
        lambda: v.extend(["admin"]),
        lambda: v.insert(0, "admin"),
        lambda: v.remove(v[0]),
        lambda: v.pop(),
        lambda: v.clear(),
        lambda: v.sort(),
        lambda: v.reverse(),
        lambda: v.__iadd__(["admin"]),
        lambda: v.__imul__(2),
    ]


def test_readonly_claims_refuse_ordinary_edits(make_auth: Any, key: SigningKey) -> None:
    clock = Clock(float(int(time.time())))
    auth = make_auth(clock=clock)
    token = fresh(key, clock, o={"id": "org_1", "rol": "member", "per": "read"}, extra=["a", "b"])
    first = auth.verify_token(token)
    claims = first.claims
    before = json.dumps(claims, sort_keys=True)
    for mutate in _mutations_dict(claims) + _mutations_dict(claims["o"]) + _mutations_list(claims["extra"]):
        with pytest.raises(TypeError):
            mutate()
    with pytest.raises(TypeError):
        claims |= {"org_role": "org:admin"}  # noqa: PLW0127
    extra = claims["extra"]
    with pytest.raises(TypeError):
        extra += ["admin"]
    with pytest.raises(TypeError):
        extra[:] = []
    # copies are plain and writable, and never reach the shared claims
    for clone in (dict(claims), claims.copy(), copy.copy(claims), copy.deepcopy(claims), pickle.loads(pickle.dumps(claims)),
                  json.loads(json.dumps(claims)), {**claims}, claims | {"z": 1}):
        assert type(clone) is dict
        clone["sub"] = "user_evil"
    lst = claims["extra"]
    for clone in (list(lst), lst[:], lst + [], lst * 1, copy.copy(lst), copy.deepcopy(lst), pickle.loads(pickle.dumps(lst))):
        assert type(clone) is list
        clone.append("admin")
    second = auth.verify_token(token)
    assert json.dumps(second.claims, sort_keys=True) == before
    assert second.claims == json.loads(before) and isinstance(second.claims, dict)


def test_finding_readonly_reinit_rewrites_shared_claims(make_auth: Any, key: SigningKey) -> None:
    """``__init__`` called again on a read-only dict or list (``list.__init__``
    clears, then fills; ``dict.__init__`` updates) edited the shared, cached
    claims, and a cached machine identity's ``scopes`` (which ``scopes=[…]``
    checks on later requests), in place. Now it changes nothing."""
    clock = Clock(float(int(time.time())))
    auth = make_auth(clock=clock)
    token = fresh(key, clock, extra=["a"])
    claims = auth.verify_token(token).claims
    claims.__init__({"sub": "user_evil"})
    claims["extra"].__init__(["admin"])
    assert auth.verify_token(token).claims["sub"] == "user_2abc"
    assert auth.verify_token(token).claims["extra"] == ["a"]
    scopes = ReadOnlyList(["read"])
    scopes.__init__(["read", "write"])
    empty = ReadOnlyList()
    empty.__init__(["write"])
    assert scopes == ["read"] and empty == []
    # construction still works, empty or not, with every dict/list form
    assert ReadOnlyDict() == {} and ReadOnlyDict({"a": 1}, b=2) == {"a": 1, "b": 2}
    assert ReadOnlyDict([("a", 1)]) == {"a": 1}
    assert ReadOnlyList() == [] and ReadOnlyList(iter("ab")) == ["a", "b"]
    assert pickle.loads(pickle.dumps(ReadOnlyDict(a=ReadOnlyList([1])))) == {"a": [1]}


def test_readonly_serialises_as_json(make_auth: Any, key: SigningKey) -> None:
    clock = Clock(float(int(time.time())))
    auth = make_auth(clock=clock)
    session = auth.verify_token(fresh(key, clock, act={"sub": "user_admin", "x": [1, {"y": 2}]}))
    text = json.dumps({"claims": session.claims, "session": session.to_dict()})
    back = json.loads(text)
    assert back["claims"]["act"]["x"][1]["y"] == 2
    assert type(session.to_dict()["actor"]) is dict and type(session.to_dict()["actor"]["x"]) is list
    frozen = frozen_json({"a": [1, {"b": (2, 3)}]})
    assert frozen == {"a": [1, {"b": [2, 3]}]}
    assert json.loads(json.dumps(frozen)) == {"a": [1, {"b": [2, 3]}]}


def test_readonly_claims_through_fastapi_response_model(make_auth: Any, key: SigningKey) -> None:
    """A FastAPI route returning ``session.claims`` (and with a dict response
    model) serialises it as the JSON it is."""
    fastapi = pytest.importorskip("fastapi")
    from fastapi import Depends
    from fastapi.testclient import TestClient

    from clerk_serverless.integrations.fastapi import require_clerk_session

    clock = Clock(float(int(time.time())))
    auth = make_auth(clock=clock)
    app = fastapi.FastAPI()
    dep = require_clerk_session(auth=auth)

    @app.get("/claims")
    def claims_route(session: Any = Depends(dep)) -> Any:
        return session.claims

    @app.get("/typed", response_model=dict[str, Any])
    def typed_route(session: Any = Depends(dep)) -> Any:
        return session.claims

    @app.get("/orjson", response_class=fastapi.responses.ORJSONResponse)
    def orjson_route(session: Any = Depends(dep)) -> Any:
        return {"claims": session.claims}

    token = fresh(key, clock, o={"id": "org_1", "rol": "admin"}, extra=["x"])
    with TestClient(app) as client:
        for path in ("/claims", "/typed"):
            r = client.get(path, headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 200 and r.json()["o"]["rol"] == "admin" and r.json()["extra"] == ["x"]
        try:
            import orjson  # noqa: F401
        except ImportError:
            return
        r = client.get("/orjson", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200 and r.json()["claims"]["extra"] == ["x"]


# ============================================================================
# 4. A 401's body: Clerk's error code, parsed without raising; secret-key-invalid stays a 503
# ============================================================================


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b"{" * 100_000,
        b'{"errors":' + b"[" * 50_000 + b"]" * 50_000 + b"}",
        b'{"errors": {"code": "clerk_key_invalid"}}',
        b'{"errors": "clerk_key_invalid"}',
        b'{"errors": []}',
        b'{"errors": [null]}',
        b'{"errors": [{"code": 1}]}',
        b'{"errors": [{"code": ["clerk_key_invalid"]}]}',
        b'{"errors": [{"code": "clerk_key_invalid\\n"}]}',
        b'{"errors": [{"code": "' + b"x" * 65 + b'"}]}',
        b'{"errors": [{"code": "\xff\xfe"}]}',
        b"\xff\xfe{\x00}\x00",
        b'{"n": ' + b"1" * 5000 + b"}",
        b'{"errors": [{"code": "clerk_key_invalid"}], "pad": "' + b"x" * (64 * 1024) + b'"}',
        b"[]",
        b'{"errors": [{"code": NaN}]}',
    ],
)
def testclerk_error_code_never_raises(body: bytes) -> None:
    from clerk_serverless.httpget import clerk_error_code

    assert clerk_error_code(body) is None


def testclerk_error_code_reads_the_first_code() -> None:
    from clerk_serverless.httpget import clerk_error_code

    body = json.dumps({"errors": [{"code": "clerk_key_invalid", "message": "x"}, {"code": "other"}]}).encode()
    assert clerk_error_code(body) == "clerk_key_invalid"
    assert clerk_error_code(body + b" " * (64 * 1024 - len(body))) == "clerk_key_invalid"  # exactly the limit


@pytest.mark.parametrize("code", ["clerk_key_invalid", "authentication_invalid", None])
def test_jwks_401_is_a_503_and_leaks_no_secret(clerk_api: Any, key: SigningKey, caplog: Any, code: str | None) -> None:
    """/v1/jwks refusing our key is our outage (503 + Retry-After), whatever its
    code; its answer, reason and logs carry neither the secret key nor the token."""
    import logging

    from clerk_serverless import ClerkAuth

    caplog.set_level(logging.DEBUG)
    errors = [{"code": code, "message": "m", "long_message": "lm"}] if code else []
    body = json.dumps({"errors": errors, "clerk_trace_id": "0" * 32}).encode()
    clerk_api.fault("GetJWKS", "status", status=401, body=body)
    auth = ClerkAuth(secret_key=clerk_api.secret_key, api_url=clerk_api.url, authorized_parties=[ORIGIN], issuer=ISSUER)
    handler = recording_handler(auth.require_session)
    token = mint(key)
    for _ in range(2):  # the first fetch, then the backoff's remembered error
        out = call(handler, "http_v2", bearer=token)
        assert out.status == 503 and out.session is NOT_CALLED
        assert "retry-after" in out.headers
        want = "secret-key-invalid" if code == "clerk_key_invalid" else "jwk-remote-failed-to-load"
        assert out.reason == want
        text = json.dumps(out.response) + caplog.text
        assert clerk_api.secret_key not in text and token not in text
    clerk_api.take_violations()
    # the key accepted again: signed in, and the next outage is no longer "secret-key-invalid"
    clerk_api.clear_faults()
    auth.key_store._retry_at = 0.0  # skip the backoff
    assert call(handler, "http_v2", bearer=token).status == 200


# ============================================================================
# 5. Machine JWTs: verdicts for parity, never an outage turned into a 401
# ============================================================================

SK = "sk_test_" + "r" * 40


@pytest.mark.parametrize("azp", ["", 1, ["https://app.example.com"], "https://evil.example"])
def test_oauth_jwt_azp_is_held_to_the_parties(make_auth: Any, key: SigningKey, azp: Any) -> None:
    handler = recording_handler(make_auth(secret_key=SK).require_auth(accepts_token="oauth_token"))
    out = call(handler, "http_v2", bearer=oauth_jwt(key, azp=azp))
    assert out.status == 401 and out.reason == "token-verification-failed" and out.session is NOT_CALLED
    # without one it passes, as in @clerk/backend 3.25 (Clerk's OAuth JWTs carry no azp)
    assert call(handler, "http_v2", bearer=oauth_jwt(key, azp=None)).status == 200
    # a route narrowing the parties holds a good azp to its own list too
    narrow = recording_handler(make_auth(secret_key=SK).require_auth(accepts_token="oauth_token", authorized_parties=["https://other.example"]))
    assert call(narrow, "http_v2", bearer=oauth_jwt(key)).status == 401
    assert call(handler, "http_v2", bearer=oauth_jwt(key)).status == 200


@pytest.mark.parametrize("aud,status", [
    (None, 401),  # an OAuth token must name the audience once one is set (assertOAuthAudienceClaim)
    ("", 401),
    ([], 401),
    (["https://api.example.com", ""], 401),  # no empty entries
    (7, 401),
    ("https://other.example", 401),
    ("https://api.example.com", 200),
    (["urn:x", "https://api.example.com"], 200),
])
def test_oauth_jwt_must_carry_the_audience_when_one_is_set(make_auth: Any, key: SigningKey, aud: Any, status: int) -> None:
    """Found by the differential run against @clerk/backend 3.25
    (test_differential_clerk_backend.py): an OAuth JWT without ``aud`` passed
    an ``audience=`` instance, which Clerk refuses (token-verification-failed)."""
    handler = recording_handler(make_auth(secret_key=SK, audience="https://api.example.com").require_auth(accepts_token="oauth_token"))
    out = call(handler, "http_v2", bearer=oauth_jwt(key, aud=aud))
    assert out.status == status, aud
    if status == 401:
        assert out.reason == "token-verification-failed" and out.session is NOT_CALLED
    # an M2M JWT without aud still passes, as a session token does (assertAudienceClaim)
    m2m = recording_handler(make_auth(secret_key=SK, audience="https://api.example.com").require_auth(accepts_token="m2m_token"))
    assert call(m2m, "http_v2", bearer=m2m_jwt(key, aud=None)).status == 200


def test_m2m_jwt_azp_when_present_is_checked(make_auth: Any, key: SigningKey) -> None:
    handler = recording_handler(make_auth(secret_key=SK).require_auth(accepts_token="m2m_token"))
    assert call(handler, "http_v2", bearer=m2m_jwt(key)).status == 200
    for azp in ("https://evil.example", "", 7):
        out = call(handler, "http_v2", bearer=m2m_jwt(key, azp=azp))
        assert out.status == 401 and out.session is NOT_CALLED, azp


@pytest.mark.parametrize("make", [m2m_jwt, oauth_jwt])
def test_machine_jwt_unknown_kid_during_outage_is_503(make_auth: Any, jwks: Any, key: SigningKey, make: Any) -> None:
    """A kid the cached set lacks, while the JWKS is down: our outage (503),
    not token-verification-failed (which signs machines out)."""
    auth = make_auth(secret_key=SK)
    handler = recording_handler(auth.require_auth(accepts_token="any"))
    assert call(handler, "http_v2", bearer=make(key)).status == 200  # keys loaded
    jwks.mode, jwks.status = "status", 503
    auth.key_store._cooldown_from = -1e18  # outside the unknown-kid cooldown
    out = call(handler, "http_v2", bearer=make(key, header={"kid": "ins_rotated"}))
    assert out.status == 503 and out.session is NOT_CALLED
    # ... and with the JWKS up, an unknown kid is Clerk's verdict: 401
    jwks.mode = "ok"
    auth.key_store._cooldown_from = -1e18
    auth.key_store._retry_at = 0.0
    out = call(handler, "http_v2", bearer=make(key, header={"kid": "ins_nobody"}))
    assert out.status == 401 and out.reason == "token-verification-failed"


@pytest.mark.parametrize("make", [m2m_jwt, oauth_jwt])
@pytest.mark.parametrize("via", ["bearer", "cookie"])
def test_machine_jwt_on_session_route_is_refused_before_any_key_fetch(
    make_auth: Any, jwks: Any, key: SigningKey, make: Any, via: str
) -> None:
    auth = make_auth(secret_key=SK)
    handler = recording_handler(auth.require_session)
    assert call(handler, "http_v2", bearer=mint(key)).status == 200
    fetched = jwks.count
    token = make(key, header={"kid": "ins_unknown"})
    if via == "bearer":
        out = call(handler, "http_v2", bearer=token)
    else:
        out = call(handler, "http_v2", cookies=[f"__session={token}", f"__client_uat={int(time.time()) - 50}"])
    assert out.status == 401 and out.reason == "token-type-mismatch" and out.session is NOT_CALLED
    assert jwks.count == fetched


def test_verify_token_session_only_never_admits_machine_tokens(make_auth: Any, key: SigningKey) -> None:
    from clerk_serverless.errors import AuthError

    auth = make_auth(secret_key=SK)
    for token in (m2m_jwt(key), oauth_jwt(key), "ak_" + "x" * 32, "mt_" + "x" * 32, "oat_" + "x" * 32):
        with pytest.raises(AuthError) as info:
            auth.verify_token(token)
        assert info.value.status == 401


@pytest.mark.parametrize("field,delta,ok", [("exp", 0.9, False), ("nbf", 0.9, True), ("iat", 0.9, True), ("exp", 1.0, True)])
def test_whole_seconds_on_machine_jwts(make_auth: Any, key: SigningKey, field: str, delta: float, ok: bool) -> None:
    clock = Clock(float(int(time.time())))
    auth = make_auth(clock=clock, secret_key=SK, clock_skew=0)
    handler = recording_handler(auth.require_auth(accepts_token="m2m_token"))
    out = call(handler, "http_v2", bearer=m2m_jwt(key, **{field: clock.now + delta}))
    assert (out.status == 200) is ok


def test_an_empty_client_uat_is_signed_out_as_clerk_reads_it(make_auth: Any, key: SigningKey) -> None:
    """``__client_uat=`` (present, empty) is ``parseInt('') || 0`` for Clerk:
    no active client, so the cookie token is refused; only a *missing*
    ``__client_uat`` is tolerated (an API on another domain never gets it)."""
    handler = recording_handler(make_auth().require_session)
    token = mint(key)
    empty = call(handler, "http_v2", cookies=[f"__session={token}", "__client_uat="])
    assert (empty.status, empty.reason) == (401, "session-token-but-no-client-uat")
    assert call(handler, "http_v2", cookies=[f"__session={token}"]).status == 200


@pytest.mark.parametrize("alg", ["HS256", "none", "RS512"])
def test_a_token_that_does_not_decode_is_token_invalid_whatever_its_alg(make_auth: Any, key: SigningKey, alg: str) -> None:
    """@clerk/backend decodes all three segments (decodeJwt) before verifyJwt
    judges ``alg``; found by the differential run (a second token joined
    after the first: ``Bearer <hs256 token>,Bearer <garbage>``)."""
    from support.tokens import b64url

    header = b64url(json.dumps({"alg": alg, "kid": key.kid, "typ": "JWT"}))
    payload = b64url(json.dumps({"sub": "user_1", "sid": "sess_1"}))
    handler = recording_handler(make_auth().require_session)
    for token in (f"{header}.{payload}.c2ln,Bearer", f"{header}.{b64url('not json')}.c2ln", f"{header}.{payload}.c2l!"):
        out = call(handler, "http_v2", bearer=token)
        assert (out.status, out.reason) == (401, "token-invalid"), token[-12:]
    # decodable, with that alg: the alg is what is refused
    assert call(handler, "http_v2", bearer=f"{header}.{payload}.c2ln").reason == "token-invalid-algorithm"


def test_claims_are_judged_in_clerks_order(make_auth: Any, key: SigningKey) -> None:
    """@clerk/backend's verifyJwt order, sub, aud, azp, iss, exp, nbf, iat,
    each claim's type and value together (found by the differential run: a
    malformed nbf on an expired token is token-expired there)."""
    clock = Clock()
    now = int(clock.now)
    handler = recording_handler(make_auth(clock=clock).require_session)
    cases = [
        ({"iss": "https://clerk.other.example", "exp": "soon"}, "token-invalid-issuer"),
        ({"exp": now - 60, "nbf": "then"}, "token-expired"),
        ({"exp": now - 60, "iat": "then"}, "token-expired"),
        ({"nbf": now + 60, "iat": "then"}, "session-token-nbf"),
        ({"azp": 7, "iss": "https://clerk.other.example"}, "token-invalid-authorized-parties"),
        # azp before iss when both are wrong (found by the differential run, @clerk/backend 3.25)
        ({"azp": "https://evil.example", "iss": "https://clerk.other.example"}, "token-invalid-authorized-parties"),
        ({"azp": None, "iss": None}, "token-invalid-authorized-parties"),
        ({"nbf": "then"}, "token-verification-failed"),
    ]
    for claims, reason in cases:
        out = call(handler, "http_v2", bearer=mint(key, **claims))
        assert (out.status, out.reason) == (401, reason), claims


def test_a_token_refused_on_the_clock_is_not_cached_with_unchecked_claims(make_auth: Any, key: SigningKey) -> None:
    """Not valid yet, with a malformed iat: refused for its nbf now, and for its
    iat once the nbf has passed (never admitted from the verified-token cache)."""
    clock = Clock()
    now = int(clock.now)
    handler = recording_handler(make_auth(clock=clock).require_session)
    token = mint(key, nbf=now + 30, iat={"not": "a number"}, exp=now + 120)
    assert call(handler, "http_v2", bearer=token).reason == "session-token-nbf"
    clock.advance(60)
    out = call(handler, "http_v2", bearer=token)
    assert (out.status, out.reason) == (401, "token-verification-failed")
