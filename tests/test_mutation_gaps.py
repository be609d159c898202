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
from support.calls import NOT_CALLED, call, recording_handler
from support.events import behind_authorizer
from support.tokens import SigningKey, b64url, claims, mint, sign_raw

from clerk_serverless.errors import TokenInvalidError
from clerk_serverless.trusted import authorizer_context
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


# -- trusted.py -----------------------------------------------------------------------------


def test_our_context_on_a_request_without_any_token_is_not_used(make_auth: Any, key: SigningKey) -> None:
    """trusted.bound_to: a context of ours (a cached authorizer result, say)
    on a request that presents no token at all is for no token: the request is
    read as it is, signed out (401 session-token-missing), never answered
    from the context and never an error of the binding check itself (the
    `token is None` guard, which a mutant dropped with the suite green)."""
    token = mint(key)
    context = authorizer_context(make_auth().verify_token(token))
    handler = recording_handler(make_auth(trust_authorizer=True).require_session)
    out = call(handler, "http_v2", behind_authorizer(context))
    assert (out.status, out.reason, out.session) == (401, "session-token-missing", NOT_CALLED)
    # The same context with its token still passes: the refusal is the missing token's.
    assert call(handler, "http_v2", behind_authorizer(context, bearer=token)).status == 200
