"""Pure verification of Clerk JWTs: no I/O, no clock of its own.

The order is deliberate and each step only runs if the previous one passed:

1. size cap and JWS compact shape, every segment canonical base64url (no
   padding, no stray characters, unused trailing bits zero: one token has
   exactly one spelling);
2. protected header: ``alg`` on the allow-list (RS256 only, before any key is
   touched), a ``kid``, no ``crit``; ``jku``/``x5u``/``jwk`` are ignored (keys
   come from configuration only). ``typ`` and ``cat`` are read here and judged
   by the caller, which knows what kind of token it expects;
3. the RS256 signature, with a key the caller chose by ``kid``;
4. only then the claims (:func:`check_session_claims`, :func:`check_times`,
   :func:`check_authorized_party`, :func:`check_audience`).

Signature verification calls ``cryptography`` directly (its RSA public
operation and PKCS#1 v1.5 padding check; the DigestInfo it recovers is then
compared whole, see :func:`signature_valid`); a differential test runs the
same corpus through PyJWT's ``jwt.decode``.
"""

from __future__ import annotations

import binascii
import json
import math
from binascii import a2b_base64
from typing import TYPE_CHECKING, Any

from .errors import (
    JSON_ERRORS,
    TokenExpiredError,
    TokenIatInTheFutureError,
    TokenInvalidAlgorithmError,
    TokenInvalidAuthorizedPartiesError,
    TokenInvalidError,
    TokenInvalidIssuerError,
    TokenNotActiveYetError,
    TokenTypeMismatchError,
    TokenVerificationFailedError,
)
from .token_types import M2M_SUBJECT_PREFIX, OAUTH_ACCESS_TOKEN_TYPES

if TYPE_CHECKING:  # cryptography loads with the first signature check, not with the package
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

MAX_TOKEN_LENGTH = 8192
ALLOWED_ALGORITHMS = frozenset({"RS256"})
# JOSE header `cat` values (clerk/javascript packages/backend/src/tokens/jwtCategories.ts).
# An absent `cat` is accepted: tokens minted before the category rollout have none.
SESSION_TOKEN_CATEGORY = "cl_B7d4PD111AAA"
JWT_TEMPLATE_CATEGORY = "cl_B7d4PD222AAA"
M2M_TOKEN_CATEGORY = "cl_B7d4PD333AAA"
IGNORE_CATEGORY = "cl_I7d4PD111III"  # stamped on every class by some instances: no class info
SESSION_CATEGORIES = frozenset({SESSION_TOKEN_CATEGORY, IGNORE_CATEGORY})

# base64url → standard alphabet; "+", "/" and "=" become "*", which the
# strict decoder rejects, so only unpadded base64url gets through.
_URLSAFE_TO_STD = bytes.maketrans(b"-_+/=", b"+/***")
_PADDING = (b"", b"*", b"==", b"=")  # by length mod 4; 1 is never valid
# A segment of length 2 or 3 mod 4 ends in a character carrying 4 or 2 unused
# bits; canonical encoders leave them zero (RFC 4648 §3.5), so only these may end it.
_CANONICAL_LAST = {
    2: frozenset(b"AQgw"),
    3: frozenset(b"AEIMQUYcgkosw048"),
}
_HEADER_CACHE_SIZE = 64
# A byte, not b".": ``b"." in segment`` first tries to read b"." as an
# integer and formats a TypeError it then drops (~100 ns on every new token).
_DOT = ord(".")

_pkcs1v15: Any = None
_sha256: Any = None
# What RSASSA-PKCS1-v1_5 signs for SHA-256, ahead of the digest: the DER
# DigestInfo prefix (RFC 8017 §9.2, note 1).
_SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")


class Header:
    """What the protected header says, once ``alg`` is known to be RS256.

    A plain slotted class, not a ``NamedTuple``: nothing unpacks or compares
    it, and a ``NamedTuple`` costs a cold start ~100 µs to define."""

    __slots__ = ("kid", "typ", "cat", "plain_session")

    def __init__(self, kid: str, typ: str | None, cat: str | None) -> None:
        self.kid = kid
        self.typ = typ
        self.cat = cat
        #: True when every header check of a session token passes (``typ``
        #: absent or ``JWT``, ``cat`` absent or a session category): decided
        #: once per header, so a request's token skips those checks' calls.
        self.plain_session = (typ is None or typ == "JWT") and (cat is None or cat in SESSION_CATEGORIES)


# Parsed headers by their base64url text: the tokens of one instance share a
# handful of headers, so this skips a base64 + JSON decode per new token.
_header_cache: dict[bytes, Header] = {}


def b64url_decode(segment: str | bytes) -> bytes:
    """Strict, canonical, unpadded base64url (RFC 7515 §2, RFC 4648 §3.5)."""
    if isinstance(segment, str):
        try:
            segment = segment.encode("ascii")
        except UnicodeEncodeError:
            raise TokenInvalidError("non-ASCII characters in token") from None
    return _b64url_bytes(segment)


def _b64url_bytes(segment: bytes) -> bytes:
    rest = len(segment) % 4
    if rest > 1 and segment[-1] not in _CANONICAL_LAST[rest]:
        raise TokenInvalidError("token segment is not canonical base64url")
    try:
        return a2b_base64(segment.translate(_URLSAFE_TO_STD) + _PADDING[rest], strict_mode=True)
    except binascii.Error:
        raise TokenInvalidError("token segment is not base64url") from None


_decoder = json.JSONDecoder()  # json.loads' own settings


def json_object(data: bytes, what: str) -> dict[str, Any]:
    """Parse UTF-8 JSON text that must hold an object."""
    try:
        if data[:1] == b"{" and data[1:2] != b"\x00":
            # What json.loads(data) does with bytes opening an object, without
            # its encoding sniffing (they can only be UTF-8) and its whitespace
            # scans (there is none before; after, if any, loads' own verdict).
            text = data.decode("utf-8", "surrogatepass")
            value, end = _decoder.raw_decode(text)
            if end != len(text):
                value = _decoder.decode(text)
        else:
            # UTF-8 only, a leading BOM dropped, as @clerk/backend's TextDecoder
            # reads it (json.loads would sniff UTF-16/32 from bytes).
            value = json.loads(data.decode("utf-8-sig", "surrogatepass"))
    except JSON_ERRORS:  # JSONDecodeError, UnicodeDecodeError, too deep
        raise TokenInvalidError(f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise TokenInvalidError(f"{what} is not a JSON object")
    return value


def parse_header(segment: bytes) -> Header:
    """Check the protected header's ``alg``, ``kid`` and ``crit``; return it."""
    cached = _header_cache.get(segment)
    if cached is not None:
        return cached
    return check_header(segment, json_object(b64url_decode(segment), "header"))


def check_header(segment: bytes, header: dict[str, Any]) -> Header:
    """The decoded protected header ``header`` (of base64url text ``segment``)
    checked: ``alg``, ``crit``, ``kid``, the types of ``typ`` and ``cat``."""
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in ALLOWED_ALGORITHMS:
        raise TokenInvalidAlgorithmError("algorithm not allowed (RS256 only)")
    if "crit" in header:
        raise TokenInvalidError("unsupported critical header parameters")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise TokenInvalidError("header has no kid")
    typ, cat = header.get("typ"), header.get("cat")
    if typ is not None and not isinstance(typ, str):
        raise TokenInvalidError("typ is not a string")
    if cat is not None and not isinstance(cat, str):
        raise TokenInvalidError("cat is not a string")
    parsed = Header(kid, typ, cat)
    if len(_header_cache) >= _HEADER_CACHE_SIZE:
        _header_cache.clear()
    _header_cache[segment] = parsed
    return parsed


class UnverifiedToken:
    """A token split into its parts; nothing in it is trusted yet."""

    __slots__ = ("header", "signing_input", "signature", "payload_segment", "_claims")

    def __init__(self, token: str) -> None:
        if len(token) > MAX_TOKEN_LENGTH:
            raise TokenInvalidError(f"token longer than {MAX_TOKEN_LENGTH} characters")
        try:
            raw = token.encode("ascii")
        except UnicodeEncodeError:
            raise TokenInvalidError("non-ASCII characters in token") from None
        # Exactly two dots, around a non-empty header and payload. Two
        # partitions, not split(b"."): bytes.split is ~2x slower here, and the
        # last partition's head is the signing input, with no slice to make.
        # _DOT, an int: bytes' ``in`` tries an int first (see its definition).
        signing_input, dot, signature = raw.rpartition(b".")
        header, dot2, payload = signing_input.partition(b".")
        if not dot or not dot2 or not header or not payload or _DOT in payload:
            raise TokenInvalidError("not a JWS compact token")
        # Every segment decoded before the header is judged, as @clerk/backend's
        # decodeJwt does before verifyJwt looks at alg: a token that does not
        # decode is token-invalid whatever its header says.
        known = _header_cache.get(header)
        decoded: dict[str, Any] = {} if known is not None else json_object(b64url_decode(header), "header")
        self.payload_segment = payload
        # json_object(_b64url_bytes(payload)), the decoding written out: a call less per new token.
        rest = len(payload) % 4
        if rest > 1 and payload[-1] not in _CANONICAL_LAST[rest]:
            raise TokenInvalidError("token segment is not canonical base64url")
        try:
            data = a2b_base64(payload.translate(_URLSAFE_TO_STD) + _PADDING[rest], strict_mode=True)
        except binascii.Error:
            raise TokenInvalidError("token segment is not base64url") from None
        claims: dict[str, Any] | None = None
        if data[:1] == b"{":
            # json_object's usual case, written out too: an object, all of the text.
            # (No NUL test here: read as UTF-8 only, "{" then NUL is not JSON either way.)
            try:
                text = data.decode("utf-8", "surrogatepass")
                value, end = _decoder.raw_decode(text)
            except JSON_ERRORS:
                raise TokenInvalidError("payload is not JSON") from None
            if end == len(text):
                claims = value  # a dict: raw_decode read an object
        self._claims = claims if claims is not None else json_object(data, "payload")  # else: its own verdict
        # _b64url_bytes(signature), written out: a call less on every new token.
        # An empty signature decodes to b"", which the signature check refuses.
        rest = len(signature) % 4
        if rest > 1 and signature[-1] not in _CANONICAL_LAST[rest]:
            raise TokenInvalidError("token segment is not canonical base64url")
        try:
            self.signature = a2b_base64(signature.translate(_URLSAFE_TO_STD) + _PADDING[rest], strict_mode=True)
        except binascii.Error:
            raise TokenInvalidError("token segment is not base64url") from None
        self.signing_input = signing_input
        self.header = known if known is not None else check_header(header, decoded)

    def claims(self) -> dict[str, Any]:
        """The payload as a dict, decoded when the token was split. Untrusted until
        :func:`signature_valid` has said yes; use it before that only to
        tell token kinds apart."""
        return self._claims


def _load_crypto() -> None:
    global _pkcs1v15, _sha256
    import hashlib

    from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15

    _pkcs1v15, _sha256 = PKCS1v15(), hashlib.sha256


def load_signature_check(key: RSAPublicKey | None = None) -> None:
    """Load now what a process's first signature check would: hashlib and
    cryptography's PKCS#1 v1.5 padding (~0.5 ms once ``ssl`` is loaded,
    ~2.5 ms without), and, given ``key``, OpenSSL's RSA signature
    implementation, which OpenSSL fetches on a process's first RSA
    operation (~0.5 ms; a later key's first costs microseconds): one public
    operation on a throwaway all-zero signature, whose refusal is dropped.
    :meth:`~clerk_serverless.ClerkAuth.prefetch` calls it, so that the
    Lambda init phase (or a SnapStart snapshot) pays for these, not the
    first request."""
    if _pkcs1v15 is None:
        _load_crypto()
    if key is None:
        return
    try:
        key.recover_data_from_signature(bytes((key.key_size + 7) // 8), _pkcs1v15, None)
    except (TypeError, ValueError):
        pass
    except Exception as exc:
        if not _is_invalid_signature(exc):
            raise


def _is_invalid_signature(exc: Exception) -> bool:
    """``exc`` is cryptography's ``InvalidSignature``: its module (an enum and
    a few classes, ~0.1 ms) is imported when a signature first fails, not on
    every cold start's first, valid one."""
    from cryptography.exceptions import InvalidSignature

    return isinstance(exc, InvalidSignature)


def signature_valid(token: UnverifiedToken, key: RSAPublicKey) -> bool:
    """RS256 (RSASSA-PKCS1-v1_5 with SHA-256, RFC 8017 §8.2.2) over ``header.payload``.

    The signature must be as long as the modulus (step 1); cryptography's RSA
    public operation and OpenSSL's padding check recover what was signed
    (step 2), which must be, byte for byte, the DigestInfo of the signing
    input's SHA-256 (steps 3-4: encode, then compare the whole, never parse).
    That is what ``key.verify`` does too, ~1 µs slower a token: it looks the
    digest up by name and checks its arguments' types on every call. The
    digest is hashlib's (~0.6 µs less than cryptography's ``Hash`` object;
    its import, on the first signature check, ~0.5 ms once ``ssl`` is
    loaded, ~2.5 ms without)."""
    if _pkcs1v15 is None:
        _load_crypto()
    signature = token.signature
    if len(signature) != (key.key_size + 7) // 8:
        return False  # RSA_public_decrypt takes a shorter one (a leading zero byte dropped); verify does not
    try:
        recovered: bytes = key.recover_data_from_signature(signature, _pkcs1v15, None)
    except (TypeError, ValueError):
        return False
    except Exception as exc:
        if _is_invalid_signature(exc):
            return False
        raise
    expected: bytes = _SHA256_DIGEST_INFO + _sha256(token.signing_input).digest()
    return recovered == expected


def _not_number(value: Any) -> bool:
    kind = type(value)
    return kind is not int and (kind is not float or not math.isfinite(value))


_ABSENT: Any = object()


def check_time_claims(claims: dict[str, Any]) -> None:
    """``exp`` present and numeric; ``nbf``/``iat`` numeric when present."""
    exp = claims.get("exp")
    if type(exp) is not int and _not_number(exp):
        raise TokenVerificationFailedError("exp missing or not a number")
    nbf = claims.get("nbf", _ABSENT)
    if nbf is not _ABSENT and type(nbf) is not int and _not_number(nbf):
        raise TokenVerificationFailedError("nbf is not a number")
    iat = claims.get("iat", _ABSENT)
    if iat is not _ABSENT and type(iat) is not int and _not_number(iat):
        raise TokenVerificationFailedError("iat is not a number")


def check_session_header(header: Header) -> None:
    """Refuse headers of other token kinds where a session token is expected
    (``verifyToken``'s order: an OAuth ``typ``, any other ``typ``, then ``cat``)."""
    _check_not_oauth(header)
    check_session_typ(header)
    _check_session_category(header)


def check_session_typ(header: Header) -> None:
    """``typ``, when present, is ``JWT`` (after :func:`check_session_kind`, the
    only part of :func:`check_session_header` left to check)."""
    if header.typ is not None and header.typ != "JWT":
        raise TokenInvalidError("typ is not JWT")


def _check_not_oauth(header: Header) -> None:
    if header.typ in OAUTH_ACCESS_TOKEN_TYPES:
        raise TokenTypeMismatchError("an OAuth access token, not a session token")


def _check_session_category(header: Header) -> None:
    if header.cat is not None and header.cat not in SESSION_CATEGORIES:
        raise TokenTypeMismatchError("not a session token (header cat)")


def check_session_kind(token: UnverifiedToken) -> None:
    """Refuse a JWT of another kind where a session token is expected, from
    its unverified header and payload, before any key is looked up: an OAuth
    access token's ``typ``, an M2M subject (``mch_…``), a non-session ``cat``.
    @clerk/backend's ``authenticateRequest`` does so on both of its session
    paths (``isMachineJwt``, ``hasNonSessionJwtCategory``), before
    ``verifyToken`` and before comparing ``iat`` with ``__client_uat``."""
    header = token.header
    if not header.plain_session:
        _check_not_oauth(header)
        _check_session_category(header)
    sub = token.claims().get("sub")
    if type(sub) is str and sub.startswith(M2M_SUBJECT_PREFIX):
        raise TokenTypeMismatchError("machine token, not a session token")


def check_session_claims(
    claims: dict[str, Any],
    issuer: tuple[str, ...] | None,
    audience: frozenset[str] | None,
    now: float | None = None,
    skew: float = 0.0,
    parties: frozenset[str] | None = None,
) -> bool:
    """Claims every Clerk session token carries, in @clerk/backend's order
    (``sub``, ``aud``, ``azp``, ``iss``, then ``exp``, ``nbf``, ``iat``).
    ``parties``, the route's authorized parties, are checked here only so that
    a token failing both ``azp`` and ``iss`` is refused for its ``azp``, as
    there; the route checks ``azp`` on every request anyway.
    ``issuer``, when given, holds https:// URLs without a trailing slash, as
    the configuration makes them; ``iss`` must equal one of them.

    Given ``now``, a time claim already failing against the clock (expired,
    not valid yet) ends the checks there, as in @clerk/backend, so a later
    claim's malformed type is not what the token is refused for: the caller's
    time check reports it. Returns False then (the token must not be cached:
    not every claim was checked), True when every claim was."""
    sub = claims.get("sub")
    if type(sub) is not str or not sub:
        raise TokenVerificationFailedError("sub missing")
    if sub.startswith(M2M_SUBJECT_PREFIX):
        raise TokenTypeMismatchError("machine token, not a session token")
    sid = claims.get("sid")
    if type(sid) is not str or not sid:
        # JWT-template tokens: validly signed, but no session behind them.
        raise TokenTypeMismatchError("sid missing: not a session token")
    if audience:
        check_audience(claims.get("aud", _ABSENT), audience)
    azp = claims.get("azp")
    if azp is not None and type(azp) is not str:
        # Never an authorized party: @clerk/backend's verdict where some are
        # configured; refused even where none are (README: stricter).
        raise TokenInvalidAuthorizedPartiesError("azp is not a string")
    if parties is not None and azp not in parties:  # check_authorized_party, written out: a call less per new token
        raise TokenInvalidAuthorizedPartiesError()
    iss = claims.get("iss")
    if type(iss) is not str or not iss.startswith("https://"):
        raise TokenInvalidIssuerError("iss missing or not https")
    if issuer is not None and iss not in issuer:  # exactly, any of them, as @clerk/backend's assertIssuerClaim
        # The expected issuers are configuration, not secrets; the token's
        # own iss (attacker-chosen text) stays out of the log line.
        raise TokenInvalidIssuerError(f"iss is not the configured issuer: expected {' or '.join(issuer)}")
    # Whole seconds, as check_times: a float is truncated (int() once, and
    # only for a float: an int is compared as it is).
    exp: Any = claims.get("exp")
    if type(exp) is not int:
        if _not_number(exp):
            raise TokenVerificationFailedError("exp missing or not a number")
        exp = int(exp)
    if now is not None and exp <= now - skew:
        return False
    nbf = claims.get("nbf", _ABSENT)
    if nbf is not _ABSENT:
        if type(nbf) is not int:
            if _not_number(nbf):
                raise TokenVerificationFailedError("nbf is not a number")
            nbf = int(nbf)
        if now is not None and nbf > now + skew:
            return False
    iat = claims.get("iat", _ABSENT)
    if iat is not _ABSENT and type(iat) is not int and _not_number(iat):
        raise TokenVerificationFailedError("iat is not a number")
    return True


def check_machine_header(header: Header, m2m: bool) -> None:
    """An M2M JWT carries Clerk's M2M ``cat`` or none (token-invalid, before any
    key is touched, as @clerk/backend), and ``typ`` JWT if any; an OAuth
    access token's ``typ`` was what made it one."""
    if m2m:
        if header.cat is not None and header.cat != M2M_TOKEN_CATEGORY:
            raise TokenInvalidError("not an M2M token (header cat)")
        if header.typ is not None and header.typ != "JWT":
            raise TokenVerificationFailedError("typ is not JWT")


def check_machine_claims(
    claims: dict[str, Any],
    audience: frozenset[str] | None,
    parties: frozenset[str] | None,
    now: float,
    skew: float,
    *,
    m2m: bool = False,
) -> None:
    """A machine JWT's claims, as @clerk/backend's ``verifyMachineJwt`` checks
    them: ``sub``, ``aud`` (when an audience is set: an OAuth access token
    must then carry one, see :func:`check_oauth_audience`), the times.
    Deliberately stricter than @clerk/backend, which leaves ``azp`` unchecked
    on machine JWTs: one that carries an ``azp`` is held to the authorized
    parties (Clerk's M2M and OAuth JWTs carry none, and pass)."""
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise TokenVerificationFailedError("sub missing")
    if m2m:
        check_audience(claims.get("aud", _ABSENT), audience)
    else:
        check_oauth_audience(claims.get("aud"), audience)
    check_machine_azp(claims.get("azp"), parties)
    check_time_claims(claims)
    check_times(claims["exp"], claims.get("nbf"), claims.get("iat"), now, skew)


def check_machine_azp(azp: Any, parties: frozenset[str] | None) -> None:
    """A machine JWT's ``azp`` against ``parties``, checked only when it has
    one (see :func:`check_machine_claims`), M2M and OAuth tokens alike. Also
    what a ``trust_authorizer`` route applies to the ``azp`` its authorizer
    passed on."""
    if azp is not None:
        check_authorized_party(azp if isinstance(azp, str) else None, parties)


def check_oauth_audience(aud: Any, audience: frozenset[str] | None) -> None:
    """An OAuth access token's ``aud`` when an audience is set, as
    @clerk/backend's ``assertOAuthAudienceClaim``: required, a non-empty
    string or a non-empty list of non-empty strings, naming one of ``audience``.
    (Unlike a session or M2M token's, a missing ``aud`` does not pass.)"""
    if not audience:
        return
    names = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else None
    if not names or not all(isinstance(a, str) and a for a in names):
        raise TokenVerificationFailedError("aud missing or malformed on an OAuth access token")
    if not any(a in audience for a in names):
        raise TokenVerificationFailedError("aud does not name this audience")


def check_audience(aud: Any, audience: frozenset[str] | None) -> None:
    """``aud`` (a string or a list of strings) must name one of ``audience``
    when both are set, as @clerk/backend's ``verifyToken`` checks it; a token
    without ``aud`` passes (Clerk session tokens carry ``azp`` instead)."""
    if not audience or aud is _ABSENT or aud is None or aud == "" or aud == []:
        return
    names = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if names and all(isinstance(a, str) for a in names) and any(a in audience for a in names):
        return
    raise TokenVerificationFailedError("aud does not name this audience")


def check_times(exp: float, nbf: float | None, iat: float | None, now: float, skew: float) -> None:
    """``exp``, ``nbf`` and ``iat`` against ``now`` with ``skew`` seconds of
    leeway. Whole seconds count, as in @clerk/backend (``Date#setUTCSeconds``
    drops a fraction: assertions.ts:114-118, 140-144, 166-170)."""
    if int(exp) <= now - skew:
        raise TokenExpiredError()
    later = now + skew
    if nbf is not None and int(nbf) > later:
        raise TokenNotActiveYetError()
    if iat is not None and int(iat) > later:
        raise TokenIatInTheFutureError()


def check_authorized_party(azp: str | None, parties: frozenset[str] | None) -> None:
    """``azp`` must be one of ``parties`` when any are configured; a token
    without ``azp`` passes only when none are."""
    if parties is not None and azp not in parties:
        raise TokenInvalidAuthorizedPartiesError()
