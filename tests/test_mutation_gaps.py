"""Verdicts that mutation testing of the security core found unpinned.

Each test here was written for a mutant of verify.py, lookup.py, policy.py,
trusted.py, cors.py or token_types.py that the rest of the suite let live:
it names the bound or branch it pins. Real RS256 tokens from the suite's keys,
the loopback JWKS, real-shaped events.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from support.tokens import SigningKey, b64url, claims, sign_raw

from clerk_serverless.errors import TokenInvalidError
from clerk_serverless.verify import MAX_TOKEN_LENGTH

Keys = dict[str, SigningKey]


def _signed_of_length(key: SigningKey, length: int) -> str:
    """A valid session token of exactly ``length`` characters (filler in a
    header field and a claim, both ignored by verification)."""
    header = {"alg": "RS256", "kid": key.kid, "typ": "JWT"}
    base = len(sign_raw(key, {**header, "x": ""}, claims(f="")))
    for extra_header in range(4):
        for extra in range(max(0, (length - base) * 3 // 4 - 8), (length - base) * 3 // 4 + 8):
            head = {**header, "x": "h" * extra_header}
            body = claims(f="p" * extra)
            size = len(b64url(json.dumps(head))) + len(b64url(json.dumps(body))) + 2 + 342  # RSA-2048 signature
            if size == length:
                token = sign_raw(key, head, body)
                assert len(token) == length
                return token
    raise AssertionError(f"no token of length {length}")


def test_token_length_bound_is_exact(signing_keys: Keys, make_auth: Any) -> None:
    """verify.py MAX_TOKEN_LENGTH: a token of exactly 8192 characters is
    verified, one character more is refused (token-invalid) before any key or
    JSON is touched. Pins the bound both ways (8191 and 8193 mutants)."""
    key = signing_keys["current"]
    auth = make_auth()
    at_bound = _signed_of_length(key, MAX_TOKEN_LENGTH)
    assert auth.verify_token(at_bound).user_id == "user_2abc"
    over = _signed_of_length(key, MAX_TOKEN_LENGTH + 1)
    with pytest.raises(TokenInvalidError, match="longer than 8192"):
        auth.verify_token(over)
