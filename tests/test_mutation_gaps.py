"""Verdicts that mutation testing of the security core found unpinned.

Each test here was written for a mutant of verify.py, lookup.py, policy.py,
trusted.py, cors.py or token_types.py (first round), or of authorization.py,
gate.py, keys/store.py, machine.py, backend_api.py or webhooks.py (second
round), or of the event adapters in sources/ (third round), or of
keys/store.py's refresh, stale and backoff paths, sources/base.py,
sources/__init__.py, sources/asgi.py and webhooks.py (fourth round) that the
rest of the suite let live:
it names the bound or branch it pins. Real RS256 tokens from the suite's keys,
the loopback JWKS, real-shaped events.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from support.calls import NOT_CALLED, call, recording_handler, run_async
from support.events import behind_authorizer, make_event
from support.jwks_server import JwksServer
from support.tokens import ISSUER, ORIGIN, Clock, SigningKey, b64url, claims, m2m_jwt, mint, sign_raw

from clerk_serverless import ClerkAuth, ClerkConfigError, KeysUnavailableError
from clerk_serverless.authorization import authorization_from_claims
from clerk_serverless.backend_api import BackendApi
from clerk_serverless.errors import (
    ClerkAPIError,
    TokenInvalidError,
    TokenInvalidSignatureError,
    TokenTypeMismatchError,
    TokenVerificationFailedError,
)
from clerk_serverless.keys import JwksKeyStore, fetch_jwks, parse_jwks
from clerk_serverless.trusted import authorizer_context
from clerk_serverless.verify import MAX_TOKEN_LENGTH
from clerk_serverless.webhooks import signing_key

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


def test_a_session_without_organization_rebuilds_the_same_downstream(make_auth: Any, key: SigningKey) -> None:
    """A session without an organization: its context holds strings only
    (org_role "" rather than None, which API Gateway refuses), and the
    trusting route rebuilds the session the verified path gives, with no
    organization (org fields None, not "")."""
    token = mint(key)
    verified = make_auth().verify_token(token)
    context = authorizer_context(verified)
    assert all(isinstance(v, str) for v in context.values()), context
    handler = recording_handler(make_auth(trust_authorizer=True).require_session)
    trusted = call(handler, "http_v2", behind_authorizer(context, bearer=token)).session
    fields = ("user_id", "session_id", "org_id", "org_role", "org_slug", "org_permissions")
    assert {f: getattr(trusted, f) for f in fields} == {f: getattr(verified, f) for f in fields}
    assert (trusted.org_id, trusted.org_role, trusted.org_slug, trusted.org_permissions) == (None, None, None, ())


def test_a_context_without_our_marker_is_never_trusted(make_auth: Any, key: SigningKey) -> None:
    """trusted.trusted_context: a context bound to the request's token but
    without ``clerk_auth: verified`` (another authorizer's, or ours
    tampered with) is not ours: the token itself is verified, and what the
    handler sees is the token's identity, never the context's."""
    token = mint(key)
    context = dict(authorizer_context(make_auth().verify_token(token)), user_id="user_other")
    handler = recording_handler(make_auth(trust_authorizer=True).require_session)
    assert call(handler, "http_v2", behind_authorizer(context, bearer=token)).session.user_id == "user_other"  # ours: trusted
    for marker in ("something else", None):
        foreign = {k: v for k, v in dict(context, clerk_auth=marker).items() if v is not None}
        out = call(handler, "http_v2", behind_authorizer(foreign, bearer=token))
        assert (out.status, out.session.user_id) == (200, "user_2abc"), marker


@pytest.mark.parametrize("broken", [{"user_id": ""}, {"exp": None}, {"exp": "soon"}, {"exp": "inf"}, {"exp": "nan"}])
def test_our_context_without_a_user_or_exp_is_refused(
    make_auth: Any, key: SigningKey, broken: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """trusted.session_claims: a context of ours, bound to the token, that
    lacks the user or a finite expiry is refused as token-invalid (401): never a
    session with an empty user, never an unexpected error (which the gate
    would also answer with 401, but logged as an ERROR)."""
    token = mint(key)
    context = dict(authorizer_context(make_auth().verify_token(token)), **broken)
    context = {k: v for k, v in context.items() if v is not None}
    handler = recording_handler(make_auth(trust_authorizer=True).require_session)
    out = call(handler, "http_v2", behind_authorizer(context, bearer=token))
    assert (out.status, out.reason, out.session) == (401, "token-invalid", NOT_CALLED)
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text


@pytest.mark.parametrize("segment", ["header", "payload", "signature"])
def test_a_segment_of_length_one_mod_four_is_token_invalid(make_auth: Any, key: SigningKey, segment: str) -> None:
    """verify._b64url_bytes: a base64url segment whose length is 1 mod 4
    encodes no bytes at all: token-invalid, as any other malformed segment
    (a mutant that sent it through the canonical-last-character table
    instead failed with an unexpected KeyError, and the suite stayed green)."""
    parts = mint(key).split(".")
    index = ("header", "payload", "signature").index(segment)
    parts[index] += "A" * ((1 - len(parts[index])) % 4)
    assert len(parts[index]) % 4 == 1
    if segment == "payload":  # signed as it is, so that the payload is the one thing wrong
        signature = key.private.sign(f"{parts[0]}.{parts[1]}".encode(), padding.PKCS1v15(), hashes.SHA256())
        parts[2] = b64url(signature)
    with pytest.raises(TokenInvalidError, match="not base64url"):
        make_auth().verify_token(".".join(parts))


def test_the_trusted_session_keeps_the_factor_verification_ages_in_order(make_auth: Any, key: SigningKey) -> None:
    """trusted.session_claims reads ``fva`` back as it was written: first
    factor, then second (a mutant reading the second twice survived). The
    trust path then judges reverification as the verified path does: a first
    factor verified 3 minutes ago passes a 10-minute first-factor check, a
    second factor verified 30 minutes ago fails ``strict``."""
    token = mint(key, fva=[3, 30])
    context = authorizer_context(make_auth().verify_token(token))
    handler = recording_handler(make_auth(trust_authorizer=True).require_session)
    assert call(handler, "http_v2", behind_authorizer(context, bearer=token)).session.factor_verification_age == (3, 30)
    first = make_auth(trust_authorizer=True).require_session(reverification={"level": "first_factor", "after_minutes": 10})
    strict = make_auth(trust_authorizer=True).require_session(reverification="strict")
    for event in (behind_authorizer(context, bearer=token), make_event("http_v2", bearer=token)):  # trusted, verified
        assert call(recording_handler(first), "http_v2", event).status == 200
        out = call(recording_handler(strict), "http_v2", event)
        assert (out.status, out.reason) == (403, "reverification-error")


#: this module's M2M JWT: a shorter machine ID, one scope, no ``aud`` (its assertions name them)
M2M_CLAIMS: dict[str, Any] = {"sub": "mch_2vYVtestTESTtestTESTtestTES", "scopes": "mch_1xxxxx", "aud": None}


@pytest.mark.parametrize("broken", [{}, {"subject": ""}, {"token_id": ""}, {"subject": "", "token_id": ""}])
def test_a_machine_context_without_subject_or_token_id_is_refused(
    clerk_api: Any, key: SigningKey, broken: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """trusted.machine_auth: a machine context of ours missing either its
    subject or its token ID is refused (token-invalid), each alone (a mutant
    refusing only when both are missing survived)."""
    def make_auth(**kw: Any) -> ClerkAuth:
        return ClerkAuth(secret_key=clerk_api.secret_key, api_url=clerk_api.url, authorized_parties=[ORIGIN], **kw)

    token = m2m_jwt(key, **M2M_CLAIMS)
    context = dict(authorizer_context(make_auth().verify_token(token, accepts_token="m2m_token")), **broken)
    seen: dict[str, Any] = {}

    @make_auth(trust_authorizer=True).require_auth(accepts_token="m2m_token")
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen["auth"] = event["auth"]
        return {"statusCode": 200, "body": ""}

    out = call(handler, "http_v2", behind_authorizer(context, bearer=token))
    if not broken:
        assert out.status == 200
        trusted, verified = seen["auth"], make_auth().verify_token(token, accepts_token="m2m_token")
        fields = ("token_type", "id", "subject", "machine_id", "user_id", "org_id", "client_id", "name", "scopes")
        assert {f: getattr(trusted, f) for f in fields} == {f: getattr(verified, f) for f in fields}
        assert (trusted.client_id, trusted.name) == (None, None)
        return
    assert (out.status, out.reason, seen) == (401, "token-invalid", {})
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text


def test_json_whitespace_around_header_and_payload_is_json(make_auth: Any, key: SigningKey) -> None:
    """verify.json_object: JSON text may open and end with whitespace
    (RFC 8259 §2; JSON.parse, which @clerk/backend uses, agrees): a validly
    signed token whose header and payload are spelled so verifies like any
    other. Only text opening with ``{`` takes the fast path; a mutant sending
    all other text through it instead refused these tokens, with the suite green."""
    header = b' \n{"alg": "RS256", "kid": "%s", "typ": "JWT"}' % key.kid.encode()
    payload = b"\t" + json.dumps(claims()).encode() + b" \r\n"
    signing_input = f"{b64url(header)}.{b64url(payload)}"
    signature = key.private.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    assert make_auth().verify_token(f"{signing_input}.{b64url(signature)}").user_id == "user_2abc"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
@pytest.mark.parametrize("part", ["header", "payload"])
def test_json_in_another_encoding_is_token_invalid(make_auth: Any, key: SigningKey, encoding: str, part: str) -> None:
    """@clerk/backend reads a segment as UTF-8 (TextDecoder) before
    JSON.parse, so a signed token whose JSON is UTF-16 or UTF-32 does not
    parse there; json.loads sniffed the encoding from the bytes and read it."""
    header = json.dumps({"alg": "RS256", "kid": key.kid, "typ": "JWT"})
    payload = json.dumps(claims())
    header_bytes = header.encode(encoding) if part == "header" else header.encode()
    payload_bytes = payload.encode(encoding) if part == "payload" else payload.encode()
    signing_input = f"{b64url(header_bytes)}.{b64url(payload_bytes)}"
    signature = key.private.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    with pytest.raises(TokenInvalidError):
        make_auth().verify_token(f"{signing_input}.{b64url(signature)}")


def test_a_utf8_bom_before_the_json_is_dropped(make_auth: Any, key: SigningKey) -> None:
    """TextDecoder drops a leading UTF-8 BOM, so @clerk/backend reads such a
    payload; so do we."""
    header = json.dumps({"alg": "RS256", "kid": key.kid, "typ": "JWT"}).encode()
    payload = b"\xef\xbb\xbf" + json.dumps(claims()).encode()
    signing_input = f"{b64url(header)}.{b64url(payload)}"
    signature = key.private.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    assert make_auth().verify_token(f"{signing_input}.{b64url(signature)}").user_id == "user_2abc"


@pytest.mark.parametrize("change", ["leading zero byte dropped", "zero byte prepended"])
def test_a_signature_not_as_long_as_the_modulus_is_refused(make_auth: Any, key: SigningKey, change: str) -> None:
    """verify.signature_valid: RSASSA-PKCS1-v1_5 verification first requires
    a signature exactly as long as the modulus (RFC 8017 §8.2.2 step 1), as
    cryptography's verify and WebCrypto do. The RSA public operation alone
    (what recovering the signed DigestInfo runs) reads a signature whose
    leading zero byte was dropped as the same number: a mutant without the
    length check accepted that second spelling of a valid token."""
    header = {"alg": "RS256", "kid": key.kid, "typ": "JWT"}
    for attempt in range(4096):  # one signature in 256 opens with a zero byte
        token = sign_raw(key, header, claims(f=str(attempt)))
        signing_input, _, encoded = token.rpartition(".")
        signature = base64.urlsafe_b64decode(encoded + "==")
        if signature[0] == 0:
            break
    else:
        raise AssertionError("no signature opening with a zero byte")
    auth = make_auth()
    assert auth.verify_token(token).user_id == "user_2abc"
    other = signature[1:] if change == "leading zero byte dropped" else b"\x00" + signature
    with pytest.raises(TokenInvalidSignatureError):
        auth.verify_token(f"{signing_input}.{b64url(other)}")


# -- policy.py ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, 1, "false", None])
def test_treat_pending_as_signed_out_must_be_a_bool(make_auth: Any, value: Any) -> None:
    """policy.Policy.build: ``treat_pending_as_signed_out`` is True or False,
    a configuration error at decoration time otherwise (``0`` or ``None``
    would quietly admit pending sessions). The check had no test at all."""
    with pytest.raises(ClerkConfigError, match="treat_pending_as_signed_out"):
        make_auth().require_session(treat_pending_as_signed_out=value)


def test_a_trusted_session_on_a_machine_route_is_refused_as_when_verified(clerk_api: Any, key: SigningKey) -> None:
    """trusted.TrustedAuthorizer.identity: a session context of ours, its
    token in the header, on a route admitting M2M tokens only, is refused
    with the verified path's reason (token-type-mismatch), not the
    no-header-token one (a mutant answering that survived); from the cookie,
    it is no token at all for such a route, on both paths."""

    def make_auth(**kw: Any) -> ClerkAuth:
        return ClerkAuth(secret_key=clerk_api.secret_key, api_url=clerk_api.url, authorized_parties=[ORIGIN],
                         issuer=ISSUER, **kw)

    token = mint(key)
    context = authorizer_context(make_auth().verify_token(token))
    trusting = recording_handler(make_auth(trust_authorizer=True).require_auth(accepts_token="m2m_token", scopes=[]))
    for request in ({"bearer": token}, {"cookies": [f"__session={token}"]}):
        trusted = call(trusting, "http_v2", behind_authorizer(context, **request))
        verified = call(trusting, "http_v2", make_event("http_v2", **request))
        assert (trusted.status, trusted.reason) == (verified.status, verified.reason), request
        assert trusted.status == 401 and trusted.session == NOT_CALLED
    assert trusted.reason != "token-type-mismatch"
    assert call(trusting, "http_v2", behind_authorizer(context, bearer=token)).reason == "token-type-mismatch"


def test_a_machine_context_is_never_bound_to_a_cookie(clerk_api: Any, key: SigningKey) -> None:
    """trusted.TrustedAuthorizer.identity: only a session context may be
    bound to the cookie. A machine context whose token comes back in the
    ``__session`` cookie instead of the header (a mutant reading the cookie
    for every kind survived) is not this request's: the request has no
    machine token, as the verified path says too."""
    def make_auth(**kw: Any) -> ClerkAuth:
        return ClerkAuth(secret_key=clerk_api.secret_key, api_url=clerk_api.url, authorized_parties=[ORIGIN],
                         issuer=ISSUER, **kw)

    token = m2m_jwt(key, **M2M_CLAIMS)
    context = authorizer_context(make_auth().verify_token(token, accepts_token="m2m_token"))
    route = make_auth(trust_authorizer=True).require_auth(accepts_token=["m2m_token", "session_token"])
    handler = recording_handler(route)
    assert call(handler, "http_v2", behind_authorizer(context, bearer=token)).status == 200
    in_cookie = call(handler, "http_v2", behind_authorizer(context, cookies=[f"__session={token}"]))
    verified = call(handler, "http_v2", make_event("http_v2", cookies=[f"__session={token}"]))
    assert in_cookie.status == 401 and (in_cookie.status, in_cookie.reason) == (verified.status, verified.reason)


@pytest.mark.parametrize("sub", [123, ["user_2abc"], {"id": "user_2abc"}, True])
def test_a_non_string_sub_is_verification_failed(make_auth: Any, key: SigningKey, sub: Any) -> None:
    """verify.check_session_claims: a validly signed token whose ``sub`` is
    truthy but no string is token-verification-failed ("sub missing"), never an
    unexpected error (a mutant keeping only the emptiness check survived)."""
    with pytest.raises(TokenVerificationFailedError, match="sub missing"):
        make_auth().verify_token(mint(key, sub=sub))


@pytest.mark.parametrize("sid", ["", 123, True, ["sess_2xyz"]])
def test_a_session_token_needs_a_non_empty_string_sid(make_auth: Any, key: SigningKey, sid: Any) -> None:
    """verify.check_session_claims: ``sid`` must be a non-empty string; an
    empty or non-string one is no session token (token-type-mismatch). A
    mutant refusing only a missing ``sid`` survived, admitting ``"sid": ""``."""
    with pytest.raises(TokenTypeMismatchError, match="sid missing"):
        make_auth().verify_token(mint(key, sid=sid))


def test_a_context_written_for_a_cookie_keeps_the_cookie_write_rule(make_auth: Any, key: SigningKey) -> None:
    """trusted.TrustedAuthorizer.identity: a context our authorizer wrote for
    a cookie session (``token_carrier: cookie``) is held to the cross-site
    write rule even when the request shows that token in its header: a cached
    context may come from another request than this one. A mutant applying
    the rule only to requests without a header token survived."""
    token = mint(key)
    context = authorizer_context(make_auth().verify_token(token), from_cookie=True)
    assert context["token_carrier"] == "cookie"
    handler = recording_handler(make_auth(trust_authorizer=True).require_session)
    evil = call(handler, "http_v2", behind_authorizer(context, method="POST", origin="https://evil.example", bearer=token))
    assert (evil.status, evil.reason, evil.session) == (403, "origin-invalid", NOT_CALLED)
    assert call(handler, "http_v2", behind_authorizer(context, method="POST", origin=ORIGIN, bearer=token)).status == 200
    header_context = authorizer_context(make_auth().verify_token(token))
    ok = call(handler, "http_v2", behind_authorizer(header_context, method="POST", origin="https://evil.example", bearer=token))
    assert ok.status == 200  # a header context on a header request: no cookie, no cross-site write


# -- cors.py / http_v* entry points -------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_preflight_headers_on_another_method_are_no_preflight(make_auth: Any, method: str) -> None:
    """cors.is_preflight: only an ``OPTIONS`` request is a preflight. A GET or
    POST carrying ``Origin`` and ``Access-Control-Request-Method`` is an
    ordinary request, authenticated (401 without a token), never answered 204
    without running the checks (a mutant dropping the method test survived)."""
    handler = recording_handler(make_auth().require_session)
    out = call(handler, "http_v2", method=method, origin=ORIGIN, headers={"Access-Control-Request-Method": "PUT"})
    assert (out.status, out.reason, out.session) == (401, "session-token-missing", NOT_CALLED)
    preflight = call(handler, "http_v2", method="OPTIONS", origin=ORIGIN, headers={"Access-Control-Request-Method": "PUT"})
    assert preflight.status == 204 and preflight.session == NOT_CALLED


@pytest.mark.parametrize("iss", ["http://clerk.test-instance.example", "clerk.test-instance.example", None])
def test_iss_must_be_https_without_a_configured_issuer(make_auth: Any, key: SigningKey, iss: Any) -> None:
    """verify.check_session_claims: without a configured issuer, ``iss`` must
    still be an https URL (a mutant refusing only non-strings that are also
    not https survived: an http issuer passed)."""
    with pytest.raises(TokenVerificationFailedError, match="iss missing or not https"):
        make_auth(issuer=None).verify_token(mint(key, iss=iss))
    assert make_auth(issuer=None).verify_token(mint(key)).user_id == "user_2abc"


# -- token_types.py -------------------------------------------------------------------------


def test_machine_only_verify_token_tells_undecodable_jwts_from_other_kinds(make_auth: Any, key: SigningKey) -> None:
    """token_types.is_undecodable_jwt, as verifyMachineAuthToken: where only
    machine tokens are accepted, a JWT-shaped token whose header (or payload)
    is no JSON object is token-invalid; a token of another kind that is no JWT
    at all (an API key) is token-type-mismatch. Mutants calling every
    non-JWT undecodable, or checking the payload only, survived."""
    auth = make_auth()
    payload = b64url(json.dumps(claims(sub="mch_2vYVtestTESTtestTESTtestTES")))
    for header in (b64url("not json"), b64url("[1]")):
        with pytest.raises(TokenInvalidError, match="not a JWT"):
            auth.verify_token(f"{header}.{payload}.c2ln", accepts_token="m2m_token")
    with pytest.raises(TokenTypeMismatchError):
        auth.verify_token("ak_" + "0" * 32, accepts_token="m2m_token")


def test_a_preflight_without_authorized_parties_grants_nothing(make_auth: Any) -> None:
    """cors.preflight_parts: with no authorized parties configured, a real
    preflight is answered 204 with no CORS grant at all (a mutant testing
    membership in the missing set survived; it fails with a TypeError)."""
    handler = recording_handler(make_auth(authorized_parties=None).require_session)
    out = call(handler, "http_v2", method="OPTIONS", origin=ORIGIN, headers={"Access-Control-Request-Method": "PUT"})
    assert out.status == 204 and "access-control-allow-origin" not in out.headers


def test_an_empty_session_cookie_is_no_token(make_auth: Any) -> None:
    """lookup.find_token: ``__session=`` (empty) is no token: signed out."""
    handler = recording_handler(make_auth().require_session)
    out = call(handler, "http_v2", cookies=["__session="])
    assert (out.status, out.reason) == (401, "session-token-missing")


def test_classify_peeks_at_tokens_up_to_16384_characters() -> None:
    """token_types._peek: a JWT is read to tell its kind only up to 16384
    characters (a bound on work for an unauthenticated request); past it, it
    is no machine JWT (a session token, which the verifier then refuses)."""
    from clerk_serverless.token_types import M2M_TOKEN, SESSION_TOKEN, classify

    def m2m_of_length(n: int) -> str:
        head = b64url(json.dumps({"alg": "RS256", "typ": "JWT"}))
        body = b64url(json.dumps({"sub": "mch_2vYVtestTESTtestTESTtestTES", "pad": ""}))
        pad = (n - len(head) - len(body) - 6) * 3 // 4
        body = b64url(json.dumps({"sub": "mch_2vYVtestTESTtestTESTtestTES", "pad": "x" * pad}))
        return f"{head}.{body}.".ljust(n, "A")

    at_bound, over = m2m_of_length(16384), m2m_of_length(16385)
    assert (len(at_bound), len(over)) == (16384, 16385)
    assert (classify(at_bound), classify(over)) == (M2M_TOKEN, SESSION_TOKEN)


def test_a_preflight_allows_the_request_headers_it_asks_for(make_auth: Any) -> None:
    """cors.preflight_parts: the headers a real preflight from an authorized
    origin asks for are allowed beside ours (a mutant ignoring the request
    header survived: the browser would then refuse the actual request)."""
    handler = recording_handler(make_auth().require_session)
    out = call(handler, "http_v2", method="OPTIONS", origin=ORIGIN,
               headers={"Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "X-Custom, Authorization"})
    assert out.status == 204
    assert out.headers["access-control-allow-headers"] == "authorization, content-type, x-custom"


def test_a_null_aud_counts_as_none(make_auth: Any, key: SigningKey) -> None:
    """verify.check_audience: ``"aud": null`` is no audience claim (as
    @clerk/backend's ``if (!aud)``): it passes an audience check as an absent
    one does (a mutant refusing it survived); a wrong one is still refused."""
    auth = make_auth(audience="api://reports")
    assert auth.verify_token(sign_raw(key, {"alg": "RS256", "kid": key.kid, "typ": "JWT"}, claims(aud=None) | {"aud": None})).user_id == "user_2abc"
    with pytest.raises(TokenVerificationFailedError, match="aud"):
        auth.verify_token(mint(key, aud="api://other"))


@pytest.mark.parametrize("aud", [["api://reports", 5], ["api://reports", None], ["api://reports", {"a": 1}]])
def test_an_aud_list_with_a_non_string_is_refused(make_auth: Any, key: SigningKey, aud: list[Any]) -> None:
    """verify.check_audience: an ``aud`` list must hold strings only, even
    when one of them names this audience (a mutant dropping that check
    survived, admitting the first two and failing with a TypeError on the third)."""
    token = sign_raw(key, {"alg": "RS256", "kid": key.kid, "typ": "JWT"}, claims(aud=aud))
    with pytest.raises(TokenVerificationFailedError, match="aud"):
        make_auth(audience="api://reports").verify_token(token)


def test_requested_headers_are_merged_up_to_1024_characters(make_auth: Any) -> None:
    """cors.preflight_parts: an ``Access-Control-Request-Headers`` list of
    up to 1024 characters is echoed (lowercased, beside ours); a longer one is
    not echoed at all, only our own headers are allowed (the bound moved
    either way with the suite green)."""
    handler = recording_handler(make_auth().require_session)

    def allowed(length: int) -> str:
        names = ", ".join(f"x-h{i:04d}" for i in range(length // 9 + 1))[:length].rstrip(", -")
        names = names.ljust(length, "x")
        assert len(names) == length
        out = call(handler, "http_v2", method="OPTIONS", origin=ORIGIN,
                   headers={"Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": names})
        assert out.status == 204
        return str(out.headers["access-control-allow-headers"])

    assert allowed(1024).startswith("authorization, content-type, x-h0000") and len(allowed(1024)) > 1024
    assert allowed(1025) == "authorization, content-type"


# -- authorization.py (round 2) -------------------------------------------------------------


def test_an_infinite_factor_age_makes_fva_malformed(make_auth: Any, key: SigningKey) -> None:
    """authorization._factor_ages: ``1e999`` is valid JSON that parses to
    infinity; an ``fva`` holding it is malformed and fails every
    reverification (deliberately stricter than @clerk/shared, where
    ``[1e999, 0]`` passes ``second_factor``). A mutant that dropped the
    ``isfinite`` check let the second factor's 0 minutes through."""
    payload = json.dumps(claims(fva=[0, 0])).replace('"fva": [0, 0]', '"fva": [1e999, 0]').encode()
    session = make_auth().verify_token(sign_raw(key, {"alg": "RS256", "kid": key.kid, "typ": "JWT"}, payload))
    assert session.factor_verification_age is None
    assert not session.has(reverification={"level": "second_factor", "after_minutes": 10})
    # the same claims with a finite first factor age pass
    assert make_auth().verify_token(mint(key, fva=[1e300, 0])).has(reverification="strict")


def test_masks_longer_than_a_decoding_chunk_decode_exactly() -> None:
    """authorization._low_bits: with over 1000 ``o.per`` names, a mask of
    over 1000 digits is decoded in chunks; the bits granted are exactly
    those of the decimal number (compared with Python's own int), whatever
    the chunk size."""
    names = [f"p{i}" for i in range(1001)]
    mask = int("123456789" * 112)  # 1008 digits
    org = {"id": "org_1", "rol": "admin", "per": ",".join(names), "fpm": str(mask)}
    granted = authorization_from_claims({"sub": "user_1", "v": 2, "fea": "o:f", "o": org}).org_permissions
    assert granted == tuple(f"org:f:{name}" for j, name in enumerate(names) if mask >> j & 1)
    assert len(granted) > 100


# -- gate.py --------------------------------------------------------------------------------


def test_a_refusal_is_logged_at_debug_on_the_package_logger(
    make_auth: Any, key: SigningKey, caplog: pytest.LogCaptureFixture
) -> None:
    """gate._refuse: each refusal is one DEBUG record on the
    ``clerk_serverless`` logger, status and reason only (no token): a
    deployment at INFO sees none, one at DEBUG can tell why requests fail."""
    caplog.set_level(logging.DEBUG, logger="clerk_serverless")
    token = mint(key, exp=int(time.time()) - 3600)
    out = call(recording_handler(make_auth().require_session), "http_v2", bearer=token)
    assert (out.status, out.reason) == (401, "token-expired")
    records = [r for r in caplog.records if r.getMessage() == "clerk_serverless: 401 token-expired"]
    assert [(r.name, r.levelno) for r in records] == [("clerk_serverless", logging.DEBUG)]
    assert token not in caplog.text


# -- keys/store.py --------------------------------------------------------------------------


def test_failed_fetches_back_off_5_10_20_up_to_60_seconds(jwks: JwksServer) -> None:
    """keys.store FAILURE_BACKOFF / MAX_BACKOFF: after the n-th consecutive
    failed fetch no new attempt is made for ``5 * 2**(n-1)`` seconds, capped
    at 60; a request inside the window fails fast without a fetch, the first
    at its end fetches again. Pins both constants and the ``<`` of the window."""
    clock = Clock(1_700_000_000.0)  # halves add up exactly: the window ends on the dot
    store = JwksKeyStore(lambda prev: parse_jwks(fetch_jwks(jwks.url), prev), label="t", clock=clock)
    jwks.set("status", status=500)
    with pytest.raises(KeysUnavailableError):
        store.keys()
    for window in (5, 10, 20, 40, 60, 60):
        count = jwks.count
        clock.advance(window - 0.5)
        with pytest.raises(KeysUnavailableError) as info:
            store.keys()
        assert jwks.count == count  # still backing off
        assert info.value.retry_after == 1.0  # 0.5 s left, never below one second
        clock.advance(0.5)
        with pytest.raises(KeysUnavailableError):
            store.keys()
        assert jwks.count == count + 1  # the window is over: one new attempt



def test_the_store_defaults_fresh_300_cooldown_30_stale_24h_to_the_second(jwks: JwksServer, signing_keys: Keys) -> None:
    """keys.store JwksKeyStore defaults and the bounds they feed: keys are
    fresh for less than 300 s (``needs_fetch`` says so); a refresh starts a
    30 s window in which an unknown kid forces no refetch; keys last fetched
    24 h ago no longer serve when Clerk is down. Each bound is probed half a
    second before and on the dot (``<`` against ``<=`` mutants, constants ±1)."""
    clock = Clock(1_700_000_000.0)
    store = JwksKeyStore(lambda prev: parse_jwks(fetch_jwks(jwks.url), prev), label="t", clock=clock)
    assert store.needs_fetch()  # nothing loaded yet
    store.keys()
    assert (jwks.count, store.needs_fetch()) == (1, False)
    clock.advance(299.5)
    store.keys()
    assert (jwks.count, store.needs_fetch()) == (1, False)
    clock.advance(0.5)
    assert store.needs_fetch()
    store.keys()  # a refresh: starts the unknown-kid window
    assert jwks.count == 2
    jwks.keys = [signing_keys["current"].jwk, signing_keys["next"].jwk]
    clock.advance(29.5)
    assert signing_keys["next"].kid not in store.refresh_for(signing_keys["next"].kid)
    assert jwks.count == 2
    clock.advance(0.5)
    assert signing_keys["next"].kid in store.refresh_for(signing_keys["next"].kid)
    assert jwks.count == 3
    store.mark_stale()
    assert store.needs_fetch()  # a restored snapshot revalidates
    store.keys()
    assert (jwks.count, store.needs_fetch()) == (4, False)
    jwks.set("refuse")
    clock.advance(24 * 3600 - 0.5)
    held = store.keys()  # stale-if-error, still within a day
    assert signing_keys["current"].kid in held
    clock.advance(0.5)
    with pytest.raises(KeysUnavailableError):
        store.keys()


def test_a_loader_bug_is_an_outage_that_names_no_detail(jwks: JwksServer, caplog: pytest.LogCaptureFixture) -> None:
    """keys.store JwksKeyStore._fetch: a loader that raises something other
    than a JwksError (a bug, a library's own error) is an outage like any
    failed fetch: KeysUnavailableError (a 503), backoff, the good keys kept;
    its message names the exception's type only (its text may hold anything).
    A good fetch resets the backoff to its first 5 s; failures log at
    WARNING, a load at INFO."""
    caplog.set_level(logging.DEBUG, logger="clerk_serverless")
    clock = Clock(1_700_000_000.0)
    broken = {"on": True}

    def load(previous: Any) -> Any:
        if broken["on"]:
            raise RuntimeError("sk_live_secret in a message")
        return parse_jwks(fetch_jwks(jwks.url), previous)

    store = JwksKeyStore(load, label="t", clock=clock)
    with pytest.raises(KeysUnavailableError) as info:
        store.keys()
    assert "unexpected RuntimeError while loading keys" in str(info.value)
    assert "sk_live" not in str(info.value)
    assert info.value.retry_after == 5.0
    broken["on"] = False
    clock.advance(5)
    assert len(store.keys()) == 1
    broken["on"] = True
    clock.advance(300)
    assert len(store.keys()) == 1  # stale-if-error: the bug costs no 401
    outage = store.outage()
    assert outage is not None and outage.retry_after == 5.0  # the success reset the failure count
    clock.advance(4.5)
    outage = store.outage()
    assert outage is not None and outage.retry_after == 1.0  # half a second left: never below one
    levels = [(r.levelno, r.getMessage().split(" ")[0]) for r in caplog.records if r.name == "clerk_serverless.keys"]
    assert levels == [(logging.WARNING, "JWKS"), (logging.INFO, "loaded"), (logging.WARNING, "JWKS")]


def test_keys_past_the_stale_limit_are_not_reported_as_served(jwks: JwksServer, caplog: pytest.LogCaptureFixture) -> None:
    """keys.store JwksKeyStore._fetch: when a fetch fails and the keys held
    are over a day old, nothing is served: listeners hear the fetch but no
    ``jwks-stale-served``, and the warning says no cached keys (a mutant
    counting any held keys as served survived)."""
    caplog.set_level(logging.WARNING, logger="clerk_serverless")
    clock = Clock(1_700_000_000.0)
    store = JwksKeyStore(lambda prev: parse_jwks(fetch_jwks(jwks.url), prev), label="t", clock=clock)
    heard: list[str] = []
    store.subscribe(heard.append)
    store.keys()
    clock.advance(1.23456)
    assert store.snapshot()["age"] == 1.235  # seconds, to the millisecond
    jwks.set("status", status=500)
    clock.advance(24 * 3600 - 1 - 1.23456)
    store.keys()
    assert heard == ["jwks-fetch", "jwks-fetch", "jwks-stale-served"]
    assert caplog.records[-1].getMessage().endswith("serving cached keys")
    clock.advance(0.5)
    store.keys()  # backing off: served without a fetch, and heard as served
    assert heard[3:] == ["jwks-stale-served"]
    clock.advance(60)
    heard.clear()
    with pytest.raises(KeysUnavailableError):
        store.keys()
    assert heard == ["jwks-fetch"]
    assert caplog.records[-1].getMessage().endswith("; no cached keys")
    clock.advance(1)
    with pytest.raises(KeysUnavailableError):
        store.keys()  # backing off, nothing to serve: nothing heard
    assert heard == ["jwks-fetch"]


def test_a_failing_listener_is_logged_at_debug_and_breaks_nothing(jwks: JwksServer, caplog: pytest.LogCaptureFixture) -> None:
    """keys.store JwksKeyStore._emit: a metrics listener that raises costs
    the request nothing (the keys still load) and is logged at DEBUG with its
    traceback, never above (it would flood the logs on every fetch)."""
    caplog.set_level(logging.DEBUG, logger="clerk_serverless")
    store = JwksKeyStore(lambda prev: parse_jwks(fetch_jwks(jwks.url), prev), label="t")

    def broken(name: str) -> None:
        raise RuntimeError("metrics backend down")

    store.subscribe(broken)
    assert len(store.keys()) == 1
    failed = [r for r in caplog.records if r.getMessage() == "key store listener failed"]
    assert [(r.levelno, r.exc_info is not None) for r in failed] == [(logging.DEBUG, True)]


def test_a_caller_that_waited_out_a_stalled_fetch_serves_stale_keys_only_within_a_day(jwks: JwksServer) -> None:
    """keys.store JwksKeyStore._refresh, past the budget of a fetch in
    flight: keys 5 minutes old are served (and heard as stale-served); keys
    over a day old are not: KeysUnavailableError, a 503 (mutants serving
    them, or staying silent about the stale keys, survived)."""
    clock = Clock(1_700_000_000.0)
    started = threading.Event()

    def load(previous: Any) -> Any:
        started.set()
        return parse_jwks(fetch_jwks(jwks.url, timeout=30.0), previous)

    store = JwksKeyStore(load, label="t", clock=clock, fetch_timeout=0.2)
    store.keys()
    heard: list[str] = []
    store.subscribe(heard.append)
    clock.advance(301)
    jwks.set("stall")
    started.clear()
    stalled = threading.Thread(target=lambda: pytest.raises(KeysUnavailableError, store.keys), daemon=True)
    stalled.start()
    try:
        assert started.wait(30)
        assert len(store.keys()) == 1  # waited out the fetch's budget: the held keys serve
        assert heard == ["jwks-fetch", "jwks-stale-served"]
        clock.advance(24 * 3600 - 301)
        with pytest.raises(KeysUnavailableError) as info:
            store.keys()  # the same fetch still stalls, and these keys are a day old to the second
        assert info.value.retry_after == 1.0  # no failure yet to back off from: "retry in a second"
    finally:
        jwks.release()
        stalled.join(30)


class _ThreadClock(Clock):
    """A manual clock that reports when a given thread first reads it."""

    def __init__(self, now: float) -> None:
        super().__init__(now)
        self.watch: threading.Thread | None = None
        self.read = threading.Event()

    def __call__(self) -> float:
        if threading.current_thread() is self.watch:
            self.read.set()
        return self.now


def _held_fetch_store(jwks: JwksServer, clock: Clock) -> tuple[JwksKeyStore, threading.Event, threading.Event]:
    """A store whose fetches wait for ``proceed`` once ``started``."""
    started, proceed = threading.Event(), threading.Event()

    def load(previous: Any) -> Any:
        started.set()
        proceed.wait(30)
        return parse_jwks(fetch_jwks(jwks.url), previous)

    return JwksKeyStore(load, label="t", clock=clock, fetch_timeout=3.0), started, proceed


def _second_caller_during_fetch(
    store: JwksKeyStore, clock: _ThreadClock, started: threading.Event, proceed: threading.Event
) -> dict[str, Any]:
    """``store.keys()`` twice, the second call made while the first one's
    fetch is held; what each returned."""
    got: dict[str, Any] = {}
    first = threading.Thread(target=lambda: got.update(first=store.keys()), daemon=True)
    first.start()
    assert started.wait(30)
    second = threading.Thread(target=lambda: got.update(second=store.keys()), daemon=True)
    clock.watch = second
    second.start()
    assert clock.read.wait(30)  # the second caller is in the store, the fetch still in flight
    proceed.set()
    first.join(30)
    second.join(30)
    assert not first.is_alive() and not second.is_alive()
    return got


def test_a_caller_waiting_on_the_fetch_in_flight_is_woken_when_it_ends(jwks: JwksServer) -> None:
    """keys.store JwksKeyStore._refresh: a caller that finds a fetch in
    flight waits for it and shares its keys (one fetch for both). (That the
    fetch's end wakes it, rather than the end of its budget, is now only
    observable as time: ``fetch_timeout`` is capped at 3 s.)"""
    clock = _ThreadClock(1_700_000_000.0)
    store, started, proceed = _held_fetch_store(jwks, clock)
    got = _second_caller_during_fetch(store, clock, started, proceed)
    assert got["first"] is got["second"] and jwks.count == 1


def test_a_caller_that_waited_on_a_failed_fetch_is_heard_serving_stale_keys(jwks: JwksServer) -> None:
    """keys.store JwksKeyStore._refresh: a caller that waited on a fetch in
    flight which then failed takes the held keys as a caller arriving now
    would, through the backoff, and so is counted as stale-served like the
    caller that fetched (it used to return them unheard: metrics undercounted
    an outage by every waiter)."""
    clock = _ThreadClock(1_700_000_000.0)
    store, started, proceed = _held_fetch_store(jwks, clock)
    proceed.set()
    store.keys()
    started.clear()
    proceed.clear()
    heard: list[str] = []
    store.subscribe(heard.append)
    clock.advance(301)  # past the cache TTL: the next caller refetches
    jwks.set("status", status=503)
    got = _second_caller_during_fetch(store, clock, started, proceed)
    assert got["first"] is got["second"] and len(got["second"]) == 1
    assert heard == ["jwks-fetch", "jwks-stale-served", "jwks-stale-served"]


def test_racing_unknown_kids_force_one_refetch_per_window(jwks: JwksServer, signing_keys: Keys) -> None:
    """keys.store JwksKeyStore.refresh_for: the cooldown is judged under the
    store's lock, where the refetch starts, so a burst of forged kids (threads
    all past any check made before it) still costs Clerk one fetch."""
    clock = Clock(1_700_000_000.0)
    store = JwksKeyStore(lambda prev: parse_jwks(fetch_jwks(jwks.url), prev), label="t", clock=clock)
    store.keys()
    jwks.set("slow", delay=0.2)
    barrier = threading.Barrier(8)

    def forge(i: int) -> None:
        barrier.wait()
        store.refresh_for(f"ins_forged_{i}")

    threads = [threading.Thread(target=forge, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert jwks.count == 2 and jwks.max_in_flight == 1
    clock.advance(29.5)
    for i in range(8):
        store.refresh_for(f"ins_forged_late_{i}")
    assert jwks.count == 2


# -- machine.py -----------------------------------------------------------------------------


@pytest.mark.parametrize("expiration", [True, False])
def test_a_boolean_expiration_from_clerk_is_no_expiration(clerk_api: Any, expiration: bool) -> None:
    """machine._seconds_from_ms: a Backend API answer whose ``expiration`` is
    ``true``/``false`` carries no expiry (None), as any non-number. A mutant
    that dropped the bool check read ``true`` as 1 ms after the epoch and
    refused a live API key as expired."""
    auth = ClerkAuth(secret_key=clerk_api.secret_key, api_url=clerk_api.url)
    body = {"object": "api_key", "id": "ak_" + "0" * 32, "subject": "user_" + "a" * 27, "scopes": [],
            "revoked": False, "expired": False, "expiration": expiration}
    clerk_api.fault("verifyApiKey", "status", status=200, body=json.dumps(body).encode())
    identity = auth.verify_token("ak_" + "1" * 32, accepts_token="api_key")
    assert (identity.token_type, identity.subject, identity.expiration) == ("api_key", body["subject"], None)
    clerk_api.clear_faults()
    clerk_api.take_violations()  # a boolean expiration is outside Clerk's spec: that is the point


@pytest.mark.parametrize(("field", "value"), [("id", 7), ("name", 12), ("name", ""), ("id", "")])
def test_backend_answer_fields_that_are_not_non_empty_strings_are_dropped(clerk_api: Any, field: str, value: Any) -> None:
    """machine._str: an ``id`` or ``name`` from the Backend API that is not a
    non-empty string is no value (``id`` "" and ``name`` None), never passed
    through as a number or an empty name. Pins both halves of the check."""
    auth = ClerkAuth(secret_key=clerk_api.secret_key, api_url=clerk_api.url)
    body = {"object": "api_key", "id": "ak_" + "0" * 32, "name": "CI", "subject": "user_" + "a" * 27,
            "scopes": [], "revoked": False, "expired": False, "expiration": None, field: value}
    clerk_api.fault("verifyApiKey", "status", status=200, body=json.dumps(body).encode())
    identity = auth.verify_token("ak_" + "1" * 32, accepts_token="api_key")
    assert (identity.id, identity.name) == ({"id": "", "name": "ak_" + "0" * 32}[field], None if field == "name" else "CI")
    clerk_api.clear_faults()
    clerk_api.take_violations()


@pytest.mark.parametrize(("kind", "subject", "user_id", "org_id", "machine_id"), [
    ("m2m_token", "user_" + "a" * 27, None, None, "user_" + "a" * 27),
    ("m2m_token", "org_" + "a" * 27, None, None, "org_" + "a" * 27),
    ("api_key", "org_" + "a" * 27, None, "org_" + "a" * 27, None),
    ("api_key", "mch_" + "a" * 27, None, None, None),
])
def test_only_api_keys_and_oauth_tokens_act_for_a_user(
    clerk_api: Any, kind: str, subject: str, user_id: Any, org_id: Any, machine_id: Any
) -> None:
    """machine.MachineAuth: ``user_id`` is the subject of an OAuth token or of
    an API key whose subject is a user, never of an M2M token, whatever its
    subject says; ``org_id`` only of an organization's API key (mutants keyed
    them on the subject's prefix alone)."""
    auth = ClerkAuth(secret_key=clerk_api.secret_key, api_url=clerk_api.url)
    token = (clerk_api.add_m2m_token(subject=subject) if kind == "m2m_token" else clerk_api.add_api_key(subject=subject)).secret
    identity = auth.verify_token(token, accepts_token=kind)
    assert (identity.user_id, identity.org_id, identity.machine_id) == (user_id, org_id, machine_id)
    clerk_api.take_violations()


def test_a_machine_jwt_identity_keeps_its_exp_and_reads_back_whole(clerk_api: Any, key: SigningKey) -> None:
    """machine.MachineAuth.from_jwt / to_dict: an M2M JWT's ``exp`` is the
    identity's ``expiration`` and ``to_dict`` gives every field under its
    name (mutants renamed ``exp`` and the ``to_dict`` keys unnoticed)."""
    token = m2m_jwt(key, **M2M_CLAIMS)
    auth = ClerkAuth(secret_key=clerk_api.secret_key, api_url=clerk_api.url)
    identity = auth.verify_token(token, accepts_token="m2m_token")
    exp = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "==="))["exp"]
    assert identity.expiration == float(exp)
    assert identity.to_dict() == {
        "token_type": "m2m_token", "id": "mt_2xKa9Bgv7NxMRDFyQw8LpZ3cTmU1vHjE",
        "subject": "mch_2vYVtestTESTtestTESTtestTES", "scopes": ["mch_1xxxxx"], "claims": {"scopes": "mch_1xxxxx"},
        "user_id": None, "org_id": None, "machine_id": "mch_2vYVtestTESTtestTESTtestTES",
        "client_id": None, "name": None, "expiration": float(exp),
    }


def test_backend_answer_scopes_and_subject_are_read_strictly(clerk_api: Any) -> None:
    """machine._str_list / from_backend_api: only non-empty string scopes
    are kept (numbers and "" dropped, each alone); an empty subject stays ""
    (never None)."""
    auth = ClerkAuth(secret_key=clerk_api.secret_key, api_url=clerk_api.url)
    body = {"object": "api_key", "id": "ak_" + "0" * 32, "subject": "", "scopes": [1, "", "read", None, "write"],
            "revoked": False, "expired": False, "expiration": None}
    clerk_api.fault("verifyApiKey", "status", status=200, body=json.dumps(body).encode())
    identity = auth.verify_token("ak_" + "1" * 32, accepts_token="api_key")
    assert (identity.subject, list(identity.scopes)) == ("", ["read", "write"])
    clerk_api.clear_faults()
    clerk_api.take_violations()


# -- backend_api.py -------------------------------------------------------------------------


def test_get_user_refuses_an_answer_about_another_user(clerk_api: Any) -> None:
    """backend_api.get_user: a 200 whose object is not the user asked for (or
    not an object) is a ClerkAPIError, never handed to the handler as if it
    were the session's user."""
    auth = ClerkAuth(secret_key=clerk_api.secret_key, api_url=clerk_api.url)
    other = clerk_api.add_user("user_2other")
    for body in (other, [other], {"object": "user"}):
        clerk_api.fault("/v1/users/user_2abc", "status", status=200, body=json.dumps(body).encode())
        with pytest.raises(ClerkAPIError, match="unexpected user object"):
            auth.backend_api.get_user("user_2abc")
    clerk_api.clear_faults()
    clerk_api.take_violations()


@pytest.mark.parametrize("user_id", ["user_2abc/../../v1/jwks", "../users/user_2abc", "org_2abc", "user_", "", "user_2abc\n", None, 2])
def test_get_user_asks_nothing_for_what_is_no_user_id(clerk_api: Any, user_id: Any) -> None:
    """backend_api.get_user: an ID that is not ``user_`` + alphanumerics is
    refused before any request (no path games against the Backend API)."""
    auth = ClerkAuth(secret_key=clerk_api.secret_key, api_url=clerk_api.url)
    with pytest.raises(ClerkAPIError, match="not a Clerk user ID"):
        auth.backend_api.get_user(user_id)
    assert clerk_api.count() == 0


def test_get_user_without_a_secret_key_sends_nothing(clerk_api: Any) -> None:
    """backend_api.get_user: without a secret key, no unauthenticated request
    goes out; the error says what is missing."""
    with pytest.raises(ClerkAPIError, match="secret key is needed"):
        BackendApi(clerk_api.url, None).get_user("user_2abc")
    assert clerk_api.count() == 0


def test_prefetch_always_fetches_even_within_the_refetch_window(jwks: JwksServer) -> None:
    """keys.store JwksKeyStore.prefetch: an explicit load (the init phase, a
    restored snapshot's hook) is not held to the unknown-kid cooldown that a
    refresh just started; only forged-kid refetches are."""
    clock = Clock(1_700_000_000.0)
    store = JwksKeyStore(lambda prev: parse_jwks(fetch_jwks(jwks.url), prev), label="t", clock=clock)
    store.keys()
    clock.advance(300)
    store.keys()  # a refresh: the cooldown window starts
    store.refresh_for("ins_unknown")
    assert jwks.count == 2  # a forged kid forces nothing within the window
    store.prefetch()
    assert jwks.count == 3


# -- webhooks.py ----------------------------------------------------------------------------


@pytest.mark.parametrize("secret", [None, 5, b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_abc", "abc"])
def test_a_signing_secret_that_is_not_a_string_is_a_config_error(secret: Any) -> None:
    """webhooks.signing_key: a secret of the wrong type, or of fewer than 4
    base64 characters (standardwebhooks refuses those too), is a
    ClerkConfigError naming the setting (never an AttributeError at the
    first webhook, never a 2-byte HMAC key)."""
    with pytest.raises(ClerkConfigError, match="signing_secret"):
        signing_key(secret)


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        (" \t", "is empty"), ("whsec_", "has nothing after its prefix"), ("whsec_ab", "is not a webhook signing secret"),
        ("whsec_AAAA====", "is not a webhook signing secret"),  # padding past two '=': only that check refuses it
    ],
)
def test_a_signing_secret_s_problem_is_named(secret: str, problem: str) -> None:
    """webhooks.signing_key: each malformed secret is refused with its own
    reason (blank, a bare prefix, too short), so the message says what to
    fix (mutants dropping the first two checks fell through to a vaguer one)."""
    with pytest.raises(ClerkConfigError, match=problem):
        signing_key(secret)


@pytest.mark.parametrize("size", [7, 8, 10, 11])
def test_unpadded_signing_secrets_of_any_length_decode(size: int) -> None:
    """webhooks.signing_key: padding is optional whatever the key's length
    (10, 11, 14 or 15 base64 characters need their own count of ``=``)."""
    raw = bytes(range(1, size + 1))
    assert signing_key("whsec_" + base64.b64encode(raw).decode().rstrip("=")) == raw


# -- sources/ (third round) -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "adds"),
    [("http_v2", False), ("function_url", False), ("rest_v1", True), ("alb", True), ("alb_multi", True), ("vpc_lattice_v2", True)],
)
def test_only_sources_whose_gateway_adds_no_cors_get_it_from_the_decorator(
    make_auth: Any, key: SigningKey, shape: str, adds: bool
) -> None:
    """sources/*.adds_cors: the handler's own 200 to an authorized origin
    carries our CORS grant on REST APIs and ALBs (their gateways add none),
    and none on HTTP APIs and Function URLs, whose ``CorsConfiguration`` is
    the one source of it (a mutant setting HTTP API's flag survived). On an
    ALB in multi-value mode the ``Origin`` is read from ``multiValueHeaders``,
    the only header field it sends (a mutant reading only ``headers`` took
    the grant away)."""
    handler = recording_handler(make_auth().require_session)
    out = call(handler, shape, bearer=mint(key), origin=ORIGIN)
    assert out.status == 200
    assert (out.headers.get("access-control-allow-origin") == ORIGIN) is adds
    assert ("access-control-allow-origin" in out.headers) is adds
    forced = call(recording_handler(make_auth().require_session(cors=True)), shape, bearer=mint(key), origin=ORIGIN)
    assert forced.headers.get("access-control-allow-origin") == ORIGIN
    # Only ALB multi-value answers carry multiValueHeaders (HTTP APIs ignore them).
    if shape != "alb_multi":
        assert "multiValueHeaders" not in forced.response
        assert forced.response["headers"]["Access-Control-Allow-Origin"] == ORIGIN


@pytest.mark.parametrize("http", ["GET", ["GET"], 3])
def test_a_payload_2_event_whose_request_context_http_is_no_object_is_malformed(make_auth: Any, http: Any) -> None:
    """sources/http_v2.read: a payload 2.0 event (picked by ``version``) whose
    ``requestContext.http`` is not an object is a 400 event-malformed, never
    an AttributeError out of the handler (a mutant dropping the check survived)."""
    handler = recording_handler(make_auth().require_session)
    event = {"version": "2.0", "requestContext": {"http": http}, "headers": {}}
    out = call(handler, "http_v2", event)
    assert (out.status, out.reason, out.session) == (400, "event-malformed", NOT_CALLED)


@pytest.mark.parametrize(
    "context",
    [None, {}, {"http": {}}, {"http": None}],
    ids=["no-requestContext", "empty-requestContext", "empty-http", "null-http"],
)
def test_a_hand_written_payload_2_event_with_parts_missing_is_read(
    make_auth: Any, key: SigningKey, context: dict[str, Any] | None
) -> None:
    """sources/__init__.source_of's last case, http_v2.read, base.context_dict
    and base.method_of: a payload 2.0 event (``version`` 2.0) missing
    ``requestContext``, ``http`` or the method is read, not refused: no method
    is ``""``, no context is ``{}``, and the token decides (200 with it, 401
    without). Mutants refusing an absent context, an absent ``http`` or an
    absent method as malformed survived."""
    handler = recording_handler(make_auth().require_session)
    event: dict[str, Any] = {"version": "2.0", "headers": {"authorization": f"Bearer {mint(key)}"}}
    if context is not None:
        event["requestContext"] = context
    ok = call(handler, "http_v2", event)
    assert (ok.status, ok.session.user_id) == (200, "user_2abc")
    del event["headers"]
    out = call(handler, "http_v2", event)
    assert (out.status, out.reason, out.session) == (401, "session-token-missing", NOT_CALLED)


@pytest.mark.parametrize("shape", ["http_v2", "function_url"])
@pytest.mark.parametrize("field", ["queryStringParameters", "headers", "cookies"])
def test_a_payload_2_field_of_the_wrong_type_is_malformed_even_with_a_good_token(
    make_auth: Any, key: SigningKey, shape: str, field: str
) -> None:
    """sources/http_v2.read_with: ``queryStringParameters`` or ``headers``
    that is not an object, or ``cookies`` that is not a list, is a 400
    event-malformed before any token is looked at, the handler not run —
    even when a valid Bearer token is there (a mutant dropping the query
    check let the handler run)."""
    handler = recording_handler(make_auth().require_session)
    event = make_event(shape, bearer=mint(key))
    event[field] = "a=b"
    if field == "headers":
        event["cookies"] = [f"__session={mint(key)}"]
    out = call(handler, shape, event)
    assert (out.status, out.reason, out.session) == (400, "event-malformed", NOT_CALLED)


@pytest.mark.parametrize("shape", ["alb_multi", "rest_v1", "vpc_lattice_v2"])
def test_request_query_reads_the_multi_value_field_of_every_source(shape: str) -> None:
    """sources/base.Request.query (public, beside query_values): a source
    that carries query parameters as lists only (ALB multi-value mode, VPC
    Lattice v2) is read from them, ALB's percent-encoding decoded (a mutant
    reading the single-value field only survived: None)."""
    from clerk_serverless.sources import read_request

    event = make_event(shape, query={"q": "a%20b" if shape.startswith("alb") else "a b", "_clerk_session_id": "sess_1"})
    request = read_request(event)
    assert request.query("q") == "a b" and request.query_values("q") == ["a b"]
    assert request.query("_clerk_session_id") == "sess_1" and request.query("absent") is None
    if shape == "rest_v1":  # a repeated parameter: the first value, though ``queryStringParameters`` holds the last
        event["multiValueQueryStringParameters"]["q"] = ["first", "last"]
        event["queryStringParameters"]["q"] = "last"
        assert read_request(event).query("q") == "first"


@pytest.mark.parametrize("shape", ["alb", "alb_multi"])
def test_alb_query_values_decode_plus_as_space(shape: str) -> None:
    """sources/alb._unquote: ALB leaves query values as sent, so ``+`` is a
    space even in a value with no ``%`` (as API Gateway and a browser's form
    encoding have it); a mutant decoding only values holding ``%`` survived."""
    from clerk_serverless.sources import read_request

    request = read_request(make_event(shape, query={"q": "a+b", "r": "a+b%2Bc"}))
    assert request.query("q") == "a b" and request.query_values("r") == ["a b+c"]


@pytest.mark.parametrize("shape", ["http_v2", "function_url", "alb"])
def test_a_query_value_that_is_no_string_is_malformed_where_parameters_are_single_valued(
    make_auth: Any, key: SigningKey, shape: str
) -> None:
    """sources/base.Request.query: a ``queryStringParameters`` value that is
    not a string (here ``_clerk_session_id``, which every session request
    reads) is a 400 event-malformed, never skipped (HTTP API) nor handed to
    ALB's percent-decoder (a TypeError out of the handler): a mutant dropping
    the type check survived."""
    handler = recording_handler(make_auth().require_session)
    event = make_event(shape, bearer=mint(key), query={"q": "1"})
    event["queryStringParameters"]["_clerk_session_id"] = 3
    out = call(handler, shape, event)
    assert (out.status, out.reason, out.session) == (400, "event-malformed", NOT_CALLED)


@pytest.mark.parametrize("shape", ["http_v2", "rest_v1", "alb_multi", "vpc_lattice_v2"])
def test_a_cookie_pair_without_equals_is_skipped_not_taken_as_empty(make_auth: Any, key: SigningKey, shape: str) -> None:
    """sources/base.parse_cookies, as the ``cookie`` package @clerk/backend
    reads with: a pair with no ``=`` (``__session; __session=<token>``) is
    skipped, so the later ``__session`` is the token (a mutant reading it as
    an empty first ``__session``, which wins, signed the request out)."""
    handler = recording_handler(make_auth().require_session)
    out = call(handler, shape, cookies=["__session", f"__session={mint(key)}"])
    assert (out.status, out.session.user_id) == (200, "user_2abc")


@pytest.mark.parametrize("shape", ["rest_v1", "alb_multi", "http_v2", "vpc_lattice_v2"])
def test_an_ambiguous_origin_gets_no_cors_grant(make_auth: Any, key: SigningKey, shape: str) -> None:
    """sources/base.Request.origin: a request carrying two Origins (repeated
    lines, or one comma-joined value as HTTP APIs give them), an authorized
    one first, has no Origin to grant to: our 401 and the handler's answer
    carry no CORS grant (a mutant taking the first value survived)."""
    handler = recording_handler(make_auth().require_session(cors=True))
    origins = [ORIGIN, "https://evil.example"]
    for bearer in (None, mint(key)):
        out = call(handler, shape, headers={"Origin": origins}, bearer=bearer)
        assert out.status == (401 if bearer is None else 200)
        assert "access-control-allow-origin" not in out.headers
    single = call(handler, shape, headers={"Origin": ORIGIN}, bearer=mint(key))
    assert single.headers["access-control-allow-origin"] == ORIGIN


@pytest.mark.parametrize("shape", ["vpc_lattice_v2", "vpc_lattice"])
def test_vpc_lattice_fields_of_the_wrong_type_are_malformed_and_nulls_absent(
    make_auth: Any, key: SigningKey, shape: str
) -> None:
    """sources/vpc_lattice._as_lists: Lattice ``headers`` or query parameters
    that are no object are a 400 event-malformed (never an AttributeError out
    of the handler), and a ``null`` value is an absent one, not a malformed
    event (mutants dropping either check survived)."""
    handler = recording_handler(make_auth().require_session)
    query_field = "queryStringParameters" if shape == "vpc_lattice_v2" else "query_string_parameters"
    for field in ("headers", query_field):
        for bad in (["authorization", "x"], {"x-other": [3]}, {"x-other": 3}, {"x-other": ["a", None]}):
            event = make_event(shape, bearer=mint(key), query={"q": "1"})
            event[field] = bad
            out = call(handler, shape, event)
            assert (out.status, out.reason, out.session) == (400, "event-malformed", NOT_CALLED)
    event = make_event(shape, bearer=mint(key), query={"q": "1"})
    event["headers"]["x-null"] = None
    event[query_field]["_clerk_session_id"] = None
    ok = call(handler, shape, event)
    assert (ok.status, ok.session.user_id) == (200, "user_2abc")


def test_a_webhook_event_without_a_base64_flag_is_read_as_text() -> None:
    """sources/base.body_bytes: an event with no ``isBase64Encoded`` at all
    (a hand-written test event) has its body read as text, not refused as
    malformed (a mutant refusing an absent flag survived)."""
    from datetime import UTC, datetime

    from standardwebhooks import Webhook

    from clerk_serverless.webhooks import verify_webhook

    secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
    body = json.dumps({"type": "user.created", "data": {"id": "user_1"}})
    now = 1_764_000_000
    signature = Webhook(secret).sign("msg_1", datetime.fromtimestamp(now, tz=UTC), body)
    event = make_event("rest_v1", method="POST", headers={"svix-id": "msg_1", "svix-timestamp": str(now), "svix-signature": signature})
    event["body"] = body
    event.pop("isBase64Encoded", None)
    assert verify_webhook(event, secret, clock=lambda: now).type == "user.created"


def test_a_lattice_v1_shape_without_a_method_is_no_lattice_event() -> None:
    """sources/vpc_lattice.VpcLattice.matches: ``raw_path`` and
    ``is_base64_encoded`` without ``method`` are no VPC Lattice event (nor
    any other): unsupported, a 400 (a mutant dropping the method test read it
    as a Lattice request); nor is a version 2.0 event with ``method`` and
    ``path`` but no Lattice ``requestContext`` (mutants reading ``in`` on a
    missing context raised a TypeError)."""
    from clerk_serverless.errors import UnsupportedEventError
    from clerk_serverless.sources import read_request

    with pytest.raises(UnsupportedEventError):
        read_request({"raw_path": "/me", "is_base64_encoded": False, "headers": {}})
    assert read_request({"raw_path": "/me", "is_base64_encoded": False, "headers": {}, "method": "GET"}).method == "GET"
    # Version 2.0 with Lattice's method and path but no Lattice requestContext: no event either.
    lattice = {"serviceArn": "arn:aws:vpc-lattice:us-east-1:123456789012:service/svc-0"}
    with pytest.raises(UnsupportedEventError):  # no path: no Lattice event
        read_request({"version": "2.0", "method": "GET", "headers": {}, "requestContext": lattice})
    for context in (lattice, {"targetGroupArn": "arn:aws:vpc-lattice:us-east-1:123456789012:targetgroup/tg-0"}):
        request = read_request({"version": "2.0", "method": "GET", "path": "/p", "requestContext": context})
        assert (request.method, request.path) == ("GET", "/p")
    assert read_request({"raw_path": "/q", "is_base64_encoded": False, "method": "GET"}).path == "/q"
    for context in ({}, None, "arn", {"elb": {}}):
        event: dict[str, Any] = {"version": "2.0", "method": "GET", "path": "/me", "headers": {}}
        if context is not None:
            event["requestContext"] = context
        with pytest.raises(UnsupportedEventError):
            read_request(event)


def test_a_machine_jwt_without_jti_has_the_empty_id(clerk_api: Any, key: SigningKey) -> None:
    """machine.MachineAuth.from_jwt: an M2M JWT with no ``jti`` has the id
    ``""`` (as @clerk/backend's ``payload.jti ?? ''``), never None: ``id`` is a
    ``str`` (a mutant dropping the ``or ""`` survived)."""
    token = m2m_jwt(key, **M2M_CLAIMS, jti=None)
    identity = ClerkAuth(secret_key=clerk_api.secret_key, api_url=clerk_api.url).verify_token(token, accepts_token="m2m_token")
    assert identity.id == "" and identity.to_dict()["id"] == ""
    assert identity.subject == "mch_2vYVtestTESTtestTESTtestTES"


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("%41%42c", "ABc"),  # consecutive escapes: each is three characters
        ("x%41", "xA"),  # an escape at the very end
        ("%E2%82%AC1", "\u20ac1"),  # UTF-8 over several escapes
        ("%e2%82%ac", "\u20ac"),  # lowercase hex
        ("x%4", "x%4"),  # a cut escape: the value as it was (decodeURIComponent throws)
        ("%", "%"),
        ("%4G1", "%4G1"),  # not hex
        ("%G41", "%G41"),
        ("%FF", "%FF"),  # not UTF-8
        ("%41%4", "%41%4"),  # one bad escape keeps the whole value undecoded
        ("%41\ud800", "%41\ud800"),  # a lone surrogate (JSON can carry one): no UTF-8, kept as it was
    ],
)
def test_cookie_values_are_percent_decoded_as_decode_uri_component(raw: str, value: str) -> None:
    """sources/base.parse_cookies: values are decoded as the ``cookie``
    package does (``decodeURIComponent``, the value unchanged where that
    throws); mutants of the escape's length, bounds and hex test survived."""
    from clerk_serverless.sources import parse_cookies

    assert parse_cookies([f"a={raw}; b=1"]) == {"a": value, "b": "1"}


@pytest.mark.parametrize("shape", ["vpc_lattice_v2", "vpc_lattice", "alb", "alb_multi"])
def test_lattice_and_alb_answers_carry_a_status_description(make_auth: Any, shape: str) -> None:
    """sources/vpc_lattice.render and alb.render: our answers carry
    ``statusDescription`` (``"401 Unauthorized"``), as both load balancers'
    formats have it (a mutant renaming the key in Lattice's survived)."""
    out = call(recording_handler(make_auth().require_session), shape)
    assert (out.status, out.response["statusDescription"]) == (401, "401 Unauthorized")


@pytest.mark.parametrize(("shape", "field"), [("alb", "path"), ("alb_multi", "path"), ("rest_v1", "path"), ("http_v2", "rawPath")])
def test_every_source_reads_its_own_path_field(shape: str, field: str) -> None:
    """sources/*.path: the request path (logged by the Powertools observer)
    is read from each source's own field (a mutant renaming ALB's survived)."""
    from clerk_serverless.sources import read_request

    event = make_event(shape)
    event[field] = "/only/here"
    assert read_request(event).path == "/only/here"


@pytest.mark.parametrize("shape", ["rest_v1", "alb_multi", "vpc_lattice_v2"])
@pytest.mark.parametrize(
    "bad", [[3], [], "sess_1", [None], [3, "sess_1"]], ids=["number", "empty", "string", "null", "number-first"]
)
def test_a_multi_value_query_that_is_no_list_of_strings_is_malformed(
    make_auth: Any, key: SigningKey, shape: str, bad: Any
) -> None:
    """sources/base.Request.query_values and query: a multi-value query
    parameter that is no non-empty list of strings (here the
    ``_clerk_session_id`` every session request reads) is a 400
    event-malformed, never an AttributeError out of the handler, and
    ``Request.query`` raises the same (mutants dropping either check survived)."""
    from clerk_serverless.errors import MalformedEventError
    from clerk_serverless.sources import read_request

    field = "queryStringParameters" if shape == "vpc_lattice_v2" else "multiValueQueryStringParameters"
    event = make_event(shape, bearer=mint(key), query={"q": "1"})
    event[field]["_clerk_session_id"] = bad
    if shape == "vpc_lattice_v2" and bad == "sess_1":
        return  # Lattice v2: a plain string is read as one value (older examples)
    out = call(recording_handler(make_auth().require_session), shape, event)
    assert (out.status, out.reason, out.session) == (400, "event-malformed", NOT_CALLED)
    if shape != "vpc_lattice_v2":
        with pytest.raises(MalformedEventError):
            read_request(event).query("_clerk_session_id")


@pytest.mark.parametrize(
    ("shape", "path", "ip"),
    [("rest_v1", ("requestContext", "identity", "sourceIp"), "198.51.100.21"),
     ("http_v2", ("requestContext", "http", "sourceIp"), "198.51.100.22")],
)
def test_api_gateway_sources_read_the_source_ip_from_their_own_context(shape: str, path: tuple[str, ...], ip: str) -> None:
    """sources/rest_v1 and http_v2 source_ip: the client address (logged by
    the Powertools observer) is the one API Gateway vouches for in its own
    requestContext field (mutants renaming REST's survived)."""
    from clerk_serverless.sources import read_request

    event = make_event(shape)
    event[path[0]][path[1]][path[2]] = ip
    assert read_request(event).source_ip == ip


def test_source_of_tells_function_urls_by_their_domain_only() -> None:
    """sources/function_url.matches: ``source_of`` (public, and the path of a
    Powertools data class) names a Function URL by its ``*.lambda-url.*``
    domain, an HTTP API otherwise, and a context with no (or no string)
    domain is an HTTP API, never a TypeError (mutants survived)."""
    from clerk_serverless.sources import source_of

    event = make_event("function_url")
    assert ".lambda-url." in event["requestContext"]["domainName"]
    assert source_of(event).name == "function_url"
    for domain in (None, 3, "abc.execute-api.us-east-1.amazonaws.com"):
        if domain is None:
            event["requestContext"].pop("domainName")
        else:
            event["requestContext"]["domainName"] = domain
        assert source_of(event).name == "http_api_v2"


@pytest.mark.parametrize("shape", ["alb", "alb_multi", "vpc_lattice_v2"])
def test_an_empty_appended_forwarded_for_entry_is_no_address(shape: str) -> None:
    """sources/base.appended_forwarded_for: the load balancer's entry is the
    rightmost of the last ``X-Forwarded-For`` line; an empty one is no
    address (None, not ``""``: a mutant returning the empty string survived)."""
    from clerk_serverless.sources import read_request

    assert read_request(make_event(shape, headers={"X-Forwarded-For": "203.0.113.1, "})).source_ip is None
    assert read_request(make_event(shape, headers={"X-Forwarded-For": "6.6.6.6, 203.0.113.1"})).source_ip == "203.0.113.1"


@pytest.mark.parametrize("shape", ["http_v2", "function_url"])
@pytest.mark.parametrize("method", [3, ["GET"], True])
def test_a_payload_2_method_that_is_no_string_is_malformed(make_auth: Any, key: SigningKey, shape: str, method: Any) -> None:
    """sources/http_v2.read_with: ``requestContext.http.method`` that is not
    a string is a 400 event-malformed, even under a valid token (a mutant
    taking a non-string method as it came survived)."""
    event = make_event(shape, bearer=mint(key))
    event["requestContext"]["http"]["method"] = method
    out = call(recording_handler(make_auth().require_session), shape, event)
    assert (out.status, out.reason, out.session) == (400, "event-malformed", NOT_CALLED)


# -- sources/ (fourth round) ----------------------------------------------------------------


@pytest.mark.parametrize("shape", ["rest_v1", "http_v2", "alb_multi", "vpc_lattice_v2"])
def test_a_header_name_that_is_no_string_is_skipped(make_auth: Any, key: SigningKey, shape: str) -> None:
    """sources/base.Request._lookup and all_header_values: a hand-written
    event whose header map holds a key that is no string (JSON never has
    one, a Python test event may) is read as if the key were not there: the
    token still decides and the Origin still gets its grant, never an
    AttributeError out of the handler (mutants dropping either isinstance
    check survived)."""
    handler = recording_handler(make_auth().require_session(cors=True))
    event = make_event(shape, bearer=mint(key), origin=ORIGIN)
    for field, stray in (("headers", "x"), ("multiValueHeaders", ["x"])):
        if isinstance(event.get(field), dict):
            event[field][7] = stray
    out = call(handler, shape, event)
    assert (out.status, out.session.user_id) == (200, "user_2abc")
    assert out.headers.get("access-control-allow-origin") == ORIGIN
    refused = make_event(shape, origin=ORIGIN)  # no token: the cookie lookup walks every key
    for field, stray in (("headers", "x"), ("multiValueHeaders", ["x"])):
        if isinstance(refused.get(field), dict):
            refused[field][7] = stray
    out = call(handler, shape, refused)
    assert (out.status, out.reason) == (401, "session-token-missing")  # not a caught AttributeError's token-invalid
    assert out.headers.get("access-control-allow-origin") == ORIGIN


def test_a_lone_surrogate_in_a_webhook_body_is_signed_as_u_fffd() -> None:
    """sources/base.utf8_bytes (via body_bytes): a body string holding a
    lone surrogate (JSON's ``\\ud800`` can put one there) is verified over
    the bytes JavaScript's TextEncoder writes for it, U+FFFD, as Svix signs
    it; never a LookupError or UnicodeEncodeError out of the verifier."""
    import hashlib
    import hmac

    from clerk_serverless.webhooks import verify_webhook

    raw_key = b"lone-surrogate-webhook-key-32byt"
    secret = "whsec_" + base64.b64encode(raw_key).decode()
    text = '{"type":"user.updated","data":{"first_name":"a\ud800b\udfff"}}'  # each end of the surrogate range
    sent = text.replace("\ud800", "\ufffd").replace("\udfff", "\ufffd").encode()
    now = 1_764_000_000
    digest = hmac.new(raw_key, b"msg_1.%d.%s" % (now, sent), hashlib.sha256).digest()
    event = make_event(
        "rest_v1",
        method="POST",
        headers={"svix-id": "msg_1", "svix-timestamp": str(now), "svix-signature": "v1," + base64.b64encode(digest).decode()},
    )
    event["body"], event["isBase64Encoded"] = text, False
    got = verify_webhook(event, secret, clock=lambda: now + 0.5)
    assert got.data["first_name"] == "a\ufffdb\ufffd"


@pytest.mark.parametrize("shape", ["rest_v1", "alb_multi", "vpc_lattice_v2"])
def test_a_repeated_header_of_a_multi_value_source_reads_joined(shape: str) -> None:
    """sources/base.MultiValueRequest.header: where a header's lines come as
    a list (REST ``multiValueHeaders``, ALB in multi-value mode, VPC Lattice
    v2), a header sent twice reads as fetch's ``Headers.get`` reads it, every
    line joined with ", " (issue #11: the first value here, the last on REST,
    read the same request two ways); every value stays in ``header_values``."""
    from clerk_serverless.sources import read_request

    request = read_request(make_event(shape, headers={"User-Agent": ["first", "second"]}))
    assert request.user_agent == "first, second"
    assert request.header_values("user-agent") == ["first", "second"]
    assert read_request(make_event(shape, headers={"User-Agent": "only"})).user_agent == "only"


@pytest.mark.parametrize("shape", ["http_v2", "function_url"])
def test_a_cookie_header_beside_payload_2_cookies_is_read_too(make_auth: Any, key: SigningKey, shape: str) -> None:
    """sources/base.Request.cookies: a payload 2.0 event that carries a
    ``cookie`` header as well as ``cookies[]`` (a proxy in front, a
    hand-written event) has both read, ``cookies[]`` first: the session
    cookie in the header is found (a mutant reading only ``cookies[]``
    survived), and a ``__session`` in ``cookies[]`` wins over the header's."""
    handler = recording_handler(make_auth().require_session)
    event = make_event(shape, cookies=["theme=dark"])
    event["headers"]["cookie"] = f"__session={mint(key)}"
    out = call(handler, shape, event)
    assert (out.status, out.session.user_id) == (200, "user_2abc")
    event = make_event(shape, cookies=[f"__session={mint(key, sub='user_first')}"])
    event["headers"]["cookie"] = f"__session={mint(key)}"
    out = call(handler, shape, event)
    assert (out.status, out.session.user_id) == (200, "user_first")


def test_an_invalid_base64_body_is_malformed_not_decoded_leniently() -> None:
    """sources/base.body_bytes: a body flagged base64 is decoded strictly
    (what API Gateway writes): a character outside the alphabet or data
    after the padding is an event-malformed 400, never silently dropped so
    that other bytes than those sent reach a webhook's signature check (a
    mutant decoding leniently survived)."""
    from clerk_serverless.errors import MalformedEventError
    from clerk_serverless.sources import read_request

    for body in ("aGVs!bG8=", "aGVsbG8=aGk=", "aGVs bG8="):
        event = make_event("rest_v1", method="POST")
        event["body"], event["isBase64Encoded"] = body, True
        with pytest.raises(MalformedEventError, match="base64"):
            read_request(event).body()
    event["body"] = "aGVsbG8="
    assert read_request(event).body() == b"hello"


def test_a_comma_joined_null_origin_is_refused_without_authorized_parties(key: SigningKey, jwks: JwksServer) -> None:
    """sources/base.Request.origins: an ``Origin`` the gateway joined from
    repeated lines (HTTP APIs join with commas) counts as each of its
    values: with no authorized parties configured, a cookie write whose
    origins include ``null`` is refused as a lone ``null`` is (a mutant
    taking the joined text as one origin let it through)."""
    handler = recording_handler(ClerkAuth(jwks_url=jwks.url, issuer=ISSUER).require_session)
    token = mint(key)
    for origin in ("null", "null,https://app.example.com", "https://app.example.com, null"):
        out = call(handler, "http_v2", method="POST", cookies=[f"__session={token}"], origin=origin)
        assert (out.status, out.reason, out.session) == (403, "origin-invalid", NOT_CALLED), origin
    out = call(handler, "http_v2", method="POST", cookies=[f"__session={token}"], origin="https://app.example.com")
    assert out.status == 200


def test_behind_mangum_the_middleware_trusts_our_authorizer_s_context(make_auth: Any, key: SigningKey) -> None:
    """sources/asgi.AsgiScope.name and trusted.TrustedContexts.identity:
    behind Mangum the Lambda event (with our authorizer's context) is in the
    scope's ``aws.event``; ``trust_authorizer=True`` answers from it without
    fetching keys (here the JWKS URL is dead: verifying would be a 503)."""
    from mangum import Mangum
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from clerk_serverless.integrations.asgi import ClerkMiddleware

    def me(request: Any) -> JSONResponse:
        return JSONResponse({"user_id": request.state.session.user_id})

    token = mint(key)
    context = authorizer_context(make_auth().verify_token(token))
    trusting = make_auth(trust_authorizer=True, jwks_url="http://127.0.0.1:9/jwks")
    app = Starlette(routes=[Route("/me", me)])
    app.add_middleware(ClerkMiddleware, auth=trusting)
    event = behind_authorizer(context, bearer=token)
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/me"
    response = Mangum(app, lifespan="off")(event, None)
    assert (response["statusCode"], json.loads(response["body"])) == (200, {"user_id": "user_2abc"})



@pytest.mark.parametrize("kind", ["lifespan", "webtransport", None])
def test_authenticate_scope_refuses_a_scope_that_is_no_request(make_auth: Any, kind: Any) -> None:
    """sources/asgi.AsgiScope.read (through the public
    ``authenticate_scope``): a scope of another type than ``http`` or
    ``websocket`` is an EventError (the 400 family), never read as a request
    of no method whose missing token is then judged (a mutant dropping the
    type check survived: the middleware checks the type before it reads)."""

    from clerk_serverless.errors import MalformedEventError
    from clerk_serverless.integrations.asgi import authenticate_scope
    from clerk_serverless.policy import Policy

    scope: dict[str, Any] = {"type": kind, "headers": [], "path": "/me"}
    with pytest.raises(MalformedEventError, match="not an ASGI http or websocket scope"):
        run_async(authenticate_scope(make_auth(), scope, Policy.build(), required=True))


def test_an_asgi_scope_without_headers_is_a_request_without_headers(make_auth: Any, key: SigningKey) -> None:
    """sources/asgi.AsgiScope.read: ``headers`` is optional in an ASGI scope
    (a bare test scope, some servers' WebSocket scopes): none is no header,
    so the request is judged (401 without a token), not refused as malformed
    (a mutant iterating the missing field survived)."""

    from clerk_serverless.gate import Refusal
    from clerk_serverless.integrations.asgi import authenticate_scope
    from clerk_serverless.policy import Policy

    scope: dict[str, Any] = {"type": "http", "method": "GET", "path": "/me"}
    with pytest.raises(Refusal) as info:
        run_async(authenticate_scope(make_auth(), scope, Policy.build(), required=True))
    assert info.value.status == 401
    request, session = run_async(authenticate_scope(make_auth(), scope, Policy.build(), required=False))
    assert (request.method, session) == ("GET", None)


@pytest.mark.parametrize(
    ("client", "ip"), [(("203.0.113.9", 51000), "203.0.113.9"), (["203.0.113.9", 1], "203.0.113.9"), (None, None), ((), None), ("203.0.113.9", None)]
)
def test_an_asgi_request_reads_its_path_client_and_websocket_method(make_auth: Any, key: SigningKey, client: Any, ip: Any) -> None:
    """sources/asgi.AsgiScope: the request's path is the scope's ``path``;
    its source IP the first item of ``client`` when that is a non-empty
    pair (none, an empty one or a bare string is no address, never an
    IndexError or a first character); a ``websocket`` scope is read as a
    request of method ``WEBSOCKET`` whose token decides (mutants on each of
    these survived)."""

    from clerk_serverless.integrations.asgi import authenticate_scope
    from clerk_serverless.policy import Policy

    headers = [(b"authorization", f"Bearer {mint(key)}".encode())]
    for kind in ("http", "websocket"):
        scope: dict[str, Any] = {"type": kind, "method": "GET", "path": "/me", "headers": headers, "client": client}
        request, session = run_async(authenticate_scope(make_auth(), scope, Policy.build(), required=True))
        assert (request.method, request.path, request.source_ip) == ("GET" if kind == "http" else "WEBSOCKET", "/me", ip)
        assert session is not None and session.user_id == "user_2abc"


def test_an_agent_event_is_unsupported_even_with_a_request_context(make_auth: Any, key: SigningKey) -> None:
    """sources/__init__.source_of: a Bedrock Agent event (``httpMethod``,
    ``agent``) is no HTTP request, even where a hand-written or future one
    carries a ``requestContext`` object: a 400, the handler never runs (a
    mutant dropping the ``agent`` test read it as a REST API request)."""
    from support.events import base

    event = base("bedrock_agent")
    event["requestContext"] = {}
    event["headers"] = {"Authorization": f"Bearer {mint(key)}"}
    out = call(recording_handler(make_auth().require_session), "rest_v1", event)
    assert (out.status, out.session) == (400, NOT_CALLED)
    # Nor is one that claims payload 2.0 (its httpMethod is payload 1.0's field, and it has no context).
    event = base("bedrock_agent")
    event.update(version="2.0", headers={"authorization": f"Bearer {mint(key)}"})
    for method in ("GET", None):
        event["httpMethod"] = method
        out = call(recording_handler(make_auth().require_session), "rest_v1", event)
        assert (out.status, out.session) == (400, NOT_CALLED), method


def test_an_asgi_query_string_keeps_blank_values_and_decodes_escapes(make_auth: Any) -> None:
    """sources/asgi.AsgiScope.read: the raw query string is parsed with its
    blank values kept (``?q=`` is an empty value, not an absent one) and its
    percent-escapes decoded as UTF-8 (mutants on both survived)."""

    from clerk_serverless.integrations.asgi import authenticate_scope
    from clerk_serverless.policy import Policy

    scope: dict[str, Any] = {"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": b"q=&q=%C3%A9&r=1"}
    request, _ = run_async(authenticate_scope(make_auth(), scope, Policy.build(), required=False))
    assert request.query_values("q") == ["", "\u00e9"]
    assert request.query("r") == "1" and request.has_query


def test_an_unsupported_event_s_log_line_names_at_most_five_keys(make_auth: Any, caplog: pytest.LogCaptureFixture) -> None:
    """sources/__init__._describe: the 400's log line for an event of no
    known source names its first five top-level keys and counts the rest,
    bounded whatever the event holds (mutants listing four or six survived)."""
    caplog.set_level(logging.WARNING, logger="clerk_serverless")
    event = {name: 1 for name in "abcdefg"}
    out = call(recording_handler(make_auth().require_session), "rest_v1", event)
    assert out.status == 400
    assert any("(top-level keys: a, b, c, d, e, +2 more)" in r.getMessage() for r in caplog.records)


def _signed_webhook(now: int) -> tuple[str, dict[str, str], str]:
    """A Clerk webhook body, its svix headers signed for ``now``, and the secret."""
    import hashlib
    import hmac

    raw_key = b"a-webhook-signing-key-of-32-byte"
    body = '{"type":"user.created","data":{"id":"user_1"}}'
    digest = hmac.new(raw_key, b"msg_2.%d.%s" % (now, body.encode()), hashlib.sha256).digest()
    headers = {"svix-id": "msg_2", "svix-timestamp": str(now), "svix-signature": "v1," + base64.b64encode(digest).decode()}
    return body, headers, "whsec_" + base64.b64encode(raw_key).decode()


def test_webhooks_verify_on_the_wall_clock_by_default(caplog: pytest.LogCaptureFixture) -> None:
    """webhooks.verify_webhook_payload, verify_webhook and require_webhook
    without ``clock``: the wall clock judges the timestamp (mutants dropping
    the ``time.time`` default survived: every test passed a clock). Header
    maps may hold a key that is no string (skipped). A refusal is logged at
    WARNING on the package logger, with its reason."""
    from clerk_serverless.webhooks import require_webhook, verify_webhook, verify_webhook_payload

    caplog.set_level(logging.WARNING, logger="clerk_serverless")
    body, headers, secret = _signed_webhook(int(time.time()))
    assert verify_webhook_payload(body, {7: "x", **headers}, secret).type == "user.created"
    event = make_event("rest_v1", method="POST", headers=headers)
    event["body"], event["isBase64Encoded"] = body, False
    assert verify_webhook(event, secret).id == "msg_2"
    handler = require_webhook(signing_secret=secret)(lambda event, context: {"statusCode": 204, "body": ""})
    assert handler(event, None)["statusCode"] == 204
    old_body, old_headers, _ = _signed_webhook(int(time.time()) - 3600)
    stale = make_event("rest_v1", method="POST", headers=old_headers)
    stale["body"], stale["isBase64Encoded"] = old_body, False
    refused = handler(stale, None)
    assert refused["statusCode"] == 400
    assert {k.lower(): v for k, v in refused["headers"].items()}["cache-control"] == "no-store"  # never cached by a CDN
    refusals = [r for r in caplog.records if r.name == "clerk_serverless" and "400" in r.getMessage()]
    assert refusals and refusals[-1].levelno == logging.WARNING


def test_require_webhook_names_itself_and_tells_of_an_awaitable_answer_once(caplog: pytest.LogCaptureFixture) -> None:
    """webhooks.require_webhook / _receiver: misuse names ``require_webhook``;
    a handler that hands back an awaitable (Lambda never awaits it) is
    answered 500 handler-async and logged at WARNING the first time only
    (mutants renaming the decorator and starting ``told`` as True survived)."""
    from clerk_serverless.webhooks import require_webhook

    with pytest.raises(TypeError, match="^require_webhook decorates"):
        require_webhook(5)  # type: ignore[call-overload]
    caplog.set_level(logging.WARNING, logger="clerk_serverless")

    async def later() -> dict[str, Any]:
        return {"statusCode": 204}

    body, headers, secret = _signed_webhook(int(time.time()))
    handler = require_webhook(signing_secret=secret)(lambda event, context: later())
    for _ in range(2):
        event = make_event("rest_v1", method="POST", headers=headers)
        event["body"], event["isBase64Encoded"] = body, False
        out = handler(event, None)
        assert (out["statusCode"], json.loads(out["body"])["reason"]) == (500, "handler-async")
    told = [r for r in caplog.records if "does not await" in r.getMessage()]
    assert [r.levelno for r in told] == [logging.WARNING]


@pytest.mark.parametrize(("count", "tail"), [(0, "none)"), (5, "a, b, c, d, e)"), (6, "a, b, c, d, e, +1 more)")])
def test_an_unsupported_event_s_log_line_counts_only_keys_left_out(
    make_auth: Any, caplog: pytest.LogCaptureFixture, count: int, tail: str
) -> None:
    """sources/__init__._describe: "+N more" only when keys were left out,
    "none" for an empty event (mutants writing "+0 more" for five keys, or
    nothing for none, survived)."""
    caplog.set_level(logging.WARNING, logger="clerk_serverless")
    out = call(recording_handler(make_auth().require_session), "rest_v1", {name: 1 for name in "abcdefg"[:count]})
    assert out.status == 400 and out.response["isBase64Encoded"] is False  # the JSON body is text
    assert any(r.getMessage().endswith(f"(top-level keys: {tail}") for r in caplog.records)


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [("svix-timestamp", "0000", "timestamp-too-old"), ("svix-timestamp", "-0", "timestamp-too-old"),
     ("svix-signature", "v1,\ud800", "signature-mismatch"), ("svix-signature", "v1,\ud800 v1,x", "signature-mismatch")],
)
def test_odd_webhook_headers_get_their_verdict_not_an_exception(field: str, value: str, error: str) -> None:
    """webhooks._timestamp and _verify: a timestamp of zeros is 0 (too old),
    and a signature holding a lone surrogate (JSON's ``\\ud800`` can put one
    in an event) simply does not match: verdicts, never a ValueError or an
    encoding error out of the verifier (mutants on both survived)."""
    from clerk_serverless.webhooks import WebhookVerificationError, verify_webhook_payload

    body, headers, secret = _signed_webhook(int(time.time()))
    headers[field] = value
    with pytest.raises(WebhookVerificationError) as info:
        verify_webhook_payload(body, headers, secret)
    assert error in info.value.reason


def test_leading_zeros_do_not_count_toward_a_timestamp_s_size() -> None:
    """webhooks._timestamp: ``parseInt`` reads ``"000…0<now>"`` (40 digits)
    as ``now``; only significant digits count toward the 30-digit bound
    past which the value is taken as infinite (a mutant counting the zeros
    refused this as too new)."""
    from clerk_serverless.webhooks import verify_webhook_payload

    now = int(time.time())
    body, headers, secret = _signed_webhook(now)
    headers["svix-timestamp"] = "0" * 30 + str(now)
    assert verify_webhook_payload(body, headers, secret).timestamp == now


def test_an_object_whose_type_refuses_attribute_lookups_is_no_event(make_auth: Any, caplog: pytest.LogCaptureFixture) -> None:
    """sources/__init__._not_a_dict: an object whose metaclass raises on any
    attribute lookup is answered 400 as "not an HTTP request object", never
    mistaken for a parsed Powertools model (a mutant reading the failure as
    a model survived) nor an exception out of the handler."""

    class Hostile(type):
        def __getattr__(cls, name: str) -> Any:
            raise RuntimeError(name)

    odd = Hostile("Odd", (), {})()
    caplog.set_level(logging.WARNING, logger="clerk_serverless")
    out = recording_handler(make_auth().require_session)(odd, None)
    assert out["statusCode"] == 400
    assert any("the event is a Odd, not an HTTP request object" in r.getMessage() for r in caplog.records)


# -- cors.py (fourth round) -----------------------------------------------------------------


def test_an_answer_to_a_request_without_origin_is_the_handler_s_own(make_auth: Any, key: SigningKey) -> None:
    """cors.add_cors_headers: without an ``Origin`` no CORS header (``Vary``
    included) is added and the handler's answer is passed on as it is; an
    answer that is no dict is passed on with one (a mutant dropping the
    early return added ``Vary: Origin`` to every answer)."""
    answer = {"statusCode": 200, "headers": {"X-Total-Count": "3"}, "body": "{}"}
    handler = make_auth().require_session(cors=True)(lambda event, context: answer)
    out = handler(make_event("rest_v1", bearer=mint(key)), None)
    assert out is answer and out["headers"] == {"X-Total-Count": "3"}
    text = make_auth().require_session(cors=True)(lambda event, context: "plain text")
    assert text(make_event("rest_v1", bearer=mint(key), origin=ORIGIN), None) == "plain text"


def test_an_unsupported_event_s_log_line_cuts_each_key_to_32_characters(
    make_auth: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """sources/__init__._describe: each key named is cut to 32 characters,
    its unprintable characters shown as "?" (mutants cutting at 31 or 33,
    or replacing with another text, survived)."""
    caplog.set_level(logging.WARNING, logger="clerk_serverless")
    out = call(recording_handler(make_auth().require_session), "rest_v1", {"k" * 40: 1, "a\nb\x1b": 2, 3: 4})
    assert out.status == 400
    # ... and each character it cannot print is a "?" (no log injection); a key that is no string is its type
    assert any(r.getMessage().endswith(f"(top-level keys: {'k' * 32}, a?b?, int)") for r in caplog.records)


@pytest.mark.parametrize(("shape", "field"), [("rest_v1", "headers"), ("alb_multi", "multiValueHeaders")])
def test_the_cors_grant_never_stays_in_the_handler_s_own_headers(
    make_auth: Any, key: SigningKey, shape: str, field: str
) -> None:
    """cors.add_cors_headers: a handler that returns the same answer object
    on every call keeps its own ``headers``/``multiValueHeaders`` unchanged:
    the grant goes into copies, so it cannot leak into an answer to another
    origin or route (mutants writing into the handler's dicts survived)."""
    own: dict[str, Any] = {"X-Total-Count": ["3"]} if field == "multiValueHeaders" else {"X-Total-Count": "3"}
    answer = {"statusCode": 200, field: own, "body": "{}"}
    handler = make_auth().require_session(cors=True)(lambda event, context: answer)
    out = handler(make_event(shape, bearer=mint(key), origin=ORIGIN), None)
    granted = {k.lower(): v for k, v in out[field].items()}
    assert granted["access-control-allow-origin"] in (ORIGIN, [ORIGIN])
    assert answer[field] is own and list(own) == ["X-Total-Count"]


@pytest.mark.parametrize("shape", ["http_v2", "function_url"])
def test_read_request_tells_function_urls_by_their_domain(shape: str) -> None:
    """sources/__init__.read_request's fast path for payload 2.0: only a
    ``*.lambda-url.*`` domain makes a Function URL request; any other domain
    is an HTTP API's, as ``source_of`` says (a mutant taking every string
    domain for a Function URL survived; the two adapters differ only in the
    name ``request.source`` reports)."""
    from clerk_serverless.sources import read_request, source_of

    event = make_event(shape)
    assert read_request(event).source is source_of(event)
    assert read_request(event).source.name == {"http_v2": "http_api_v2", "function_url": "function_url"}[shape]


def test_a_handler_s_vary_of_the_wrong_type_is_left_alone(make_auth: Any, key: SigningKey) -> None:
    """cors._vary_on_origin: a ``Vary`` the handler set to something that is
    no string (or list of strings) is left as it is, and the grant still
    goes out: never an AttributeError out of the handler (a mutant dropping
    the type check survived)."""
    answer = {"statusCode": 200, "headers": {"vary": 7}, "body": "{}"}
    handler = make_auth().require_session(cors=True)(lambda event, context: answer)
    out = handler(make_event("rest_v1", bearer=mint(key), origin=ORIGIN), None)
    assert out["headers"]["vary"] == 7
    assert out["headers"]["Access-Control-Allow-Origin"] == ORIGIN
