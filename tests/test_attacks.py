"""The attack corpus, in Bearer and cookie position, on every event shape.

Every hostile token gets a 401 with the reason Clerk's SDKs would give,
never reaches the handler, and never comes back in the response.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from support.calls import NOT_CALLED, recording_handler, send_token
from support.events import SHAPES
from support.tokens import ORIGIN, SigningKey, b64url, claims, mint, raw_token, sign_raw

Keys = dict[str, SigningKey]


def _hs256_with_public_key(keys: Keys) -> str:
    """The classic key-confusion attack: HMAC-sign with the RSA public key."""
    key = keys["current"]
    header = b64url(json.dumps({"alg": "HS256", "kid": key.kid, "typ": "JWT"}))
    payload = b64url(json.dumps(claims()))
    mac = hmac.new(key.public_pem.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64url(mac)}"


def _tampered(keys: Keys) -> str:
    header, _, signature = mint(keys["current"]).split(".")
    return f"{header}.{b64url(json.dumps(claims(sub='user_admin')))}.{signature}"


def _strip_signature(keys: Keys) -> str:
    header, payload, _ = mint(keys["current"]).split(".")
    return f"{header}.{payload}."


def _padded(keys: Keys) -> str:
    header, payload, signature = mint(keys["current"]).split(".")
    return f"{header}.{payload}.{signature}=="


def _non_canonical(keys: Keys) -> str:
    """The same signature with its unused trailing bits set: a second spelling
    of one token, which canonical base64url refuses."""
    header, payload, signature = mint(keys["current"]).split(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(signature[-1])
    return f"{header}.{payload}.{signature[:-1]}{alphabet[last | 1]}"


def _current(keys: Keys, headers: dict[str, Any] | None = None, **kw: Any) -> str:
    return mint(keys["current"], headers, **kw)


# (id, token factory, expected reason)
CORPUS: list[tuple[str, Callable[[Keys], str], str]] = [
    ("alg-none", lambda k: raw_token({"alg": "none", "kid": k["current"].kid}, claims()), "token-invalid-algorithm"),
    ("alg-none-with-sig", lambda k: raw_token({"alg": "none", "kid": k["current"].kid}, claims(), b"x" * 256), "token-invalid-algorithm"),
    ("alg-lowercase", lambda k: sign_raw(k["current"], {"alg": "rs256", "kid": k["current"].kid}, claims()), "token-invalid-algorithm"),
    ("alg-RS512", lambda k: raw_token({"alg": "RS512", "kid": k["current"].kid}, claims(), b"x" * 256), "token-invalid-algorithm"),
    ("alg-PS256", lambda k: raw_token({"alg": "PS256", "kid": k["current"].kid}, claims(), b"x" * 256), "token-invalid-algorithm"),
    ("hs256-public-key-as-secret", _hs256_with_public_key, "token-invalid-algorithm"),
    ("tampered-payload", _tampered, "token-invalid-signature"),
    ("foreign-key-known-kid", lambda k: mint(k["attacker"], {"kid": k["current"].kid}), "token-invalid-signature"),
    ("random-kid", lambda k: mint(k["attacker"], {"kid": "ins_random_1"}), "jwk-kid-mismatch"),
    ("jku-to-attacker", lambda k: mint(k["attacker"], {"kid": "ins_evil", "jku": "https://evil.example/jwks"}), "jwk-kid-mismatch"),
    ("x5u-to-attacker", lambda k: mint(k["attacker"], {"kid": "ins_evil", "x5u": "https://evil.example/cert"}), "jwk-kid-mismatch"),
    ("embedded-jwk", lambda k: mint(k["attacker"], {"kid": k["current"].kid, "jwk": k["attacker"].jwk}), "token-invalid-signature"),
    ("missing-kid", lambda k: mint(k["current"], {"kid": None}), "token-invalid"),
    ("empty-kid", lambda k: mint(k["current"], {"kid": ""}), "token-invalid"),
    ("missing-exp", lambda k: _current(k, exp=None), "token-verification-failed"),
    ("string-exp", lambda k: _current(k, exp=str(int(time.time()) + 60)), "token-verification-failed"),
    ("bool-exp", lambda k: _current(k, exp=True), "token-verification-failed"),
    ("string-iat", lambda k: _current(k, iat="0"), "token-verification-failed"),
    ("missing-sub", lambda k: _current(k, sub=None), "token-verification-failed"),
    ("missing-sid", lambda k: _current(k, sid=None), "token-type-mismatch"),
    ("machine-sub", lambda k: _current(k, sub="mch_2abc"), "token-type-mismatch"),
    ("typ-at+jwt", lambda k: _current(k, {"typ": "at+jwt"}), "token-type-mismatch"),
    ("cat-jwt-template", lambda k: _current(k, {"cat": "cl_B7d4PD222AAA"}), "token-type-mismatch"),
    ("cat-m2m", lambda k: _current(k, {"cat": "cl_B7d4PD333AAA"}), "token-type-mismatch"),
    ("crit-header", lambda k: _current(k, {"crit": ["exp"]}), "token-invalid"),
    ("wrong-issuer", lambda k: _current(k, iss="https://clerk.other-instance.example"), "token-invalid-issuer"),
    ("http-issuer", lambda k: _current(k, iss="http://clerk.test-instance.example"), "token-invalid-issuer"),
    # iss compared exactly, as @clerk/backend's assertIssuerClaim (a trailing slash is another issuer)
    ("issuer-trailing-slash", lambda k: _current(k, iss="https://clerk.test-instance.example/"), "token-invalid-issuer"),
    ("expired", lambda k: _current(k, exp=int(time.time()) - 30, iat=int(time.time()) - 90), "token-expired"),
    ("nbf-future", lambda k: _current(k, nbf=int(time.time()) + 60), "session-token-nbf"),
    ("iat-future", lambda k: _current(k, iat=int(time.time()) + 60), "session-token-iat-in-the-future"),
    ("wrong-azp", lambda k: _current(k, azp="https://evil.example"), "token-invalid-authorized-parties"),
    ("missing-azp", lambda k: _current(k, azp=None), "token-invalid-authorized-parties"),
    ("pending-session", lambda k: _current(k, sts="pending"), "session-pending"),
    ("payload-array", lambda k: sign_raw(k["current"], {"alg": "RS256", "kid": k["current"].kid}, b"[1,2]"), "token-invalid"),
    ("payload-not-json", lambda k: sign_raw(k["current"], {"alg": "RS256", "kid": k["current"].kid}, b"\xff\xfe{"), "token-invalid"),
    ("header-not-json", lambda k: f"{b64url('{nope')}.{b64url('{}')}.{b64url(b'x')}", "token-invalid"),
    ("huge-200kb", lambda k: "eyJ" + "A" * 200_000 + ".e30.AAAA", "token-invalid"),
    ("a.b.c", lambda k: "a.b.c", "token-invalid"),
    ("two-segments", lambda k: ".".join(mint(k["current"]).split(".")[:2]), "token-invalid"),
    ("five-segments-jwe", lambda k: "a.b.c.d.e", "token-invalid"),
    ("empty-signature", _strip_signature, "token-invalid-signature"),
    ("padded-signature", _padded, "token-invalid"),
    ("non-canonical-signature", _non_canonical, "token-invalid"),
    ("non-ascii", lambda k: mint(k["current"]) + "é", "token-invalid"),
    ("control-chars", lambda k: mint(k["current"])[:-4] + "\x00\x01\x02\x03", "token-invalid"),
    ("not-a-jwt", lambda k: "sk_live_notatoken", "token-invalid"),
]


@pytest.fixture
def guarded(make_auth: Any) -> Any:
    return recording_handler(make_auth().require_session)


@pytest.mark.parametrize("via", ["bearer", "cookie"])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name,factory,reason", CORPUS, ids=[c[0] for c in CORPUS])
def test_attack_is_refused(guarded: Any, signing_keys: Keys, shape: str, via: str, name: str, factory: Any, reason: str) -> None:
    token = factory(signing_keys)
    out = send_token(guarded, shape, token, via=via, origin=ORIGIN)
    assert out.status == 401, (name, out.body)
    assert out.reason == reason, name
    assert out.session is NOT_CALLED
    assert out.headers["x-clerk-auth-status"] == "signed-out"
    assert out.headers["www-authenticate"].startswith("Bearer")
    assert token not in json.dumps(out.response)
    assert out.headers["access-control-allow-origin"] == ORIGIN


@pytest.mark.parametrize("via", ["bearer", "cookie"])
@pytest.mark.parametrize("shape", SHAPES)
def test_valid_token_reaches_handler(guarded: Any, key: SigningKey, shape: str, via: str) -> None:
    token = mint(key)
    out = send_token(guarded, shape, token, via=via)
    assert out.status == 200
    assert out.session.user_id == "user_2abc"
    assert out.session.session_id == "sess_2xyz"
    assert out.session.token == token


def test_forged_tokens_cause_at_most_one_extra_fetch(make_auth: Any, jwks: Any, signing_keys: Keys) -> None:
    handler = recording_handler(make_auth(unknown_kid_cooldown=30).require_session)
    assert send_token(handler, "http_v2", mint(signing_keys["current"])).status == 200
    baseline = jwks.count
    for i in range(100):
        assert send_token(handler, "http_v2", mint(signing_keys["attacker"], {"kid": f"ins_rand_{i}"})).reason == "jwk-kid-mismatch"
        out = send_token(handler, "http_v2", mint(signing_keys["attacker"], {"kid": signing_keys["current"].kid}))
        assert out.reason == "token-invalid-signature"
    assert jwks.count - baseline <= 1


def test_forged_tokens_after_cooldown_cause_one_fetch_per_window(jwks: Any, signing_keys: Keys) -> None:
    from clerk_serverless import ClerkAuth

    now = [time.time()]
    auth = ClerkAuth(jwks_url=jwks.url, unknown_kid_cooldown=30, clock=lambda: now[0])
    handler = recording_handler(auth.require_session)
    assert send_token(handler, "http_v2", mint(signing_keys["current"])).status == 200
    fetches = jwks.count
    for window in range(3):
        now[0] += 31
        for i in range(200):
            out = send_token(handler, "http_v2", mint(signing_keys["attacker"], {"kid": f"ins_w{window}_{i}"}))
            assert out.reason == "jwk-kid-mismatch"
    assert jwks.count - fetches == 3
