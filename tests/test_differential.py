"""Differential test: our verifier (``cryptography`` called directly) and
PyJWT's ``jwt.decode`` give the same accept/reject verdict on one corpus.

The corpus varies what both are meant to judge alike: the signing key, the
``alg``, tampering with each segment, and ``exp``/``nbf``/``iat`` around the
clock skew. It leaves out where we are deliberately stricter than PyJWT
(tested in test_attacks.py): a missing ``kid``, ``typ``/``cat``, non-canonical
base64url, non-numeric times, and Clerk's own claims (``sid``, ``iss``,
``mch_`` subjects); and where Clerk tokens never go (``aud``).
"""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.tokens import SigningKey, b64url, claims, raw_token, sign_raw

from clerk_serverless import AuthError, ClerkAuth

SKEW = 5
OFFSETS = [-3600, -60, -20, -1 * (SKEW + 5), SKEW + 5, 20, 60, 3600]


def _ours(auth: ClerkAuth, token: str) -> bool:
    try:
        auth.verify_token(token)
        return True
    except AuthError:
        return False


def _pyjwt(key: SigningKey, token: str) -> bool:
    try:
        jwt.decode(
            token,
            key.private.public_key(),
            algorithms=["RS256"],
            leeway=SKEW,
            options={"require": ["exp", "sub"], "verify_aud": True},
        )
        return True
    except jwt.PyJWTError:
        return False


spec = st.fixed_dictionaries(
    {
        "signer": st.sampled_from(["current", "attacker", "hmac", "none"]),
        "alg": st.sampled_from(["RS256", "RS256", "RS256", "none", "HS256", "RS512", "PS256", "ES256", ""]),
        "exp": st.one_of(st.none(), st.sampled_from(OFFSETS)),
        "nbf": st.one_of(st.none(), st.sampled_from(OFFSETS)),
        "iat": st.one_of(st.none(), st.sampled_from(OFFSETS)),
        "float_times": st.booleans(),
        "mutation": st.sampled_from(
            ["none", "none", "payload", "header", "signature-bitflip", "signature-truncate", "signature-empty", "drop-segment", "extra-segment"]
        ),
        "typ": st.sampled_from([None, "JWT"]),
    }
)


def _build(keys: dict[str, SigningKey], s: dict[str, Any]) -> str:
    now = int(time.time())
    payload = claims()
    for name in ("exp", "nbf", "iat"):
        if s[name] is None:
            payload.pop(name, None)
        else:
            payload[name] = now + s[name] + (0.0 if s["float_times"] else 0)
    header = {"alg": s["alg"], "kid": keys["current"].kid}
    if s["typ"]:
        header["typ"] = s["typ"]
    if s["signer"] in ("current", "attacker") and s["alg"] == "RS256":
        token = sign_raw(keys[s["signer"]], header, payload)
    elif s["signer"] == "hmac":
        import hashlib
        import hmac

        signing_input = f"{b64url(json.dumps(header))}.{b64url(json.dumps(payload))}"
        mac = hmac.new(keys["current"].public_pem.encode(), signing_input.encode(), hashlib.sha256).digest()
        token = f"{signing_input}.{b64url(mac)}"
    else:
        token = raw_token(header, payload, b"\x01" * 256 if s["signer"] != "none" else b"")
    h, p, sig = token.split(".")
    mutation = s["mutation"]
    if mutation == "payload":
        p = b64url(json.dumps({**payload, "sub": "user_other"}))
    elif mutation == "header":
        h = b64url(json.dumps({**header, "kid": keys["current"].kid, "x": 1}))
    elif mutation == "signature-bitflip" and sig:
        sig = sig[:10] + ("A" if sig[10] != "A" else "B") + sig[11:]
    elif mutation == "signature-truncate":
        sig = sig[:-8]
    elif mutation == "signature-empty":
        sig = ""
    elif mutation == "drop-segment":
        return f"{h}.{p}"
    elif mutation == "extra-segment":
        return f"{h}.{p}.{sig}.{sig}"
    return f"{h}.{p}.{sig}"


@pytest.fixture(scope="module")
def differential_auth(signing_keys: dict[str, SigningKey]) -> ClerkAuth:
    return ClerkAuth(jwt_key=signing_keys["current"].public_pem, clock_skew=SKEW, token_cache_size=0)


@settings(max_examples=500, deadline=None)
@given(s=spec)
def test_same_verdict_as_pyjwt(signing_keys: dict[str, SigningKey], differential_auth: ClerkAuth, s: dict[str, Any]) -> None:
    token = _build(signing_keys, s)
    assert _ours(differential_auth, token) == _pyjwt(signing_keys["current"], token), s


def test_the_corpus_contains_both_verdicts(signing_keys: dict[str, SigningKey], differential_auth: ClerkAuth) -> None:
    good = {"signer": "current", "alg": "RS256", "exp": 60, "nbf": -60, "iat": -20, "float_times": False, "mutation": "none", "typ": "JWT"}
    assert _ours(differential_auth, _build(signing_keys, good)) and _pyjwt(signing_keys["current"], _build(signing_keys, good))
    bad = dict(good, exp=-60)
    assert not _ours(differential_auth, _build(signing_keys, bad))
