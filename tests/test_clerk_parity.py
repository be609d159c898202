"""@clerk/backend's own test cases for where the token is, replayed here.

Sources (clerk/javascript at e21ae9a4): packages/backend/src/tokens/__tests__/
authenticateContext.test.ts (cookie selection, lines cited per row) and
request.test.ts (Authorization parsing); packages/shared keys tests (cookie
suffixes). Fixtures as there: ``pkLive``/``pkTest`` for the instance
``clerk.inspired.puma-74.lcl.dev``, tokens with its ``iss``, time frozen at
the fixture token's ``iat``. Where we differ on purpose, the row says so.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from support.events import make_event

from clerk_serverless.config import cookie_suffix, frontend_api_from_publishable_key
from clerk_serverless.lookup import CookieRules, find_token, token_in_header
from clerk_serverless.sources import read_request

PK_LIVE = "pk_live_Y2xlcmsuaW5zcGlyZWQucHVtYS03NC5sY2wuZGV2JA"
PK_TEST = "pk_test_Y2xlcmsuaW5zcGlyZWQucHVtYS03NC5sY2wuZGV2JA"
IAT = 1666648250
CLIENT_UAT, SUFFIXED_CLIENT_UAT = "1717490192", "1717490193"


def jwt(header: dict[str, Any] | None = None, **payload: Any) -> str:
    claims = {"azp": "https://accounts.inspired.puma-74.lcl.dev", "exp": 1666648310, "iat": IAT,
              "iss": "https://clerk.inspired.puma-74.lcl.dev", "nbf": 1666648240,
              "sid": "sess_2GbDB4enNdCa5vS1zpC3Xzg9tK9", "sub": "user_2GIpXOEpVyJw51rkZn9Kmnc6Sxr"}
    claims.update(payload)

    def seg(value: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{seg(header or {'alg': 'RS256', 'kid': 'ins_2GIoQhbUpy0hX7B2cVkuTMinXoD', 'typ': 'JWT'})}.{seg(claims)}.c2ln"


SESSION = jwt()
SUFFIXED_SESSION = jwt({"alg": "RS256"})
NEW_SESSION = jwt(iat=IAT + 60)
EXPIRED_SUFFIXED = jwt({"alg": "RS256"}, exp=IAT)


def rules(pk: str) -> CookieRules:
    return CookieRules(cookie_suffix(pk), frontend_api_from_publishable_key(pk, "pk"), pk.startswith("pk_live_"))


def select(pk: str, cookies: str) -> tuple[str | None, str | None]:
    request = read_request(make_event("rest_v1", headers={"Cookie": cookies}))
    found = find_token(request, rules(pk), IAT)
    return found.token, found.client_uat


def test_suffixes_match_clerk_shared() -> None:
    assert cookie_suffix(PK_LIVE) == "MqCvchyS" and cookie_suffix(PK_TEST) == "vWCgMp3A"
    assert cookie_suffix("pk_live_Y2xlcmsuY2xlcmsuZGV2JA") == "1Z8AzTQD"
    assert cookie_suffix("pk_test_Y2xlcmsuY2xlcmsuZGV2JA") == "QvfNY2dr"
    assert cookie_suffix("pk_test_ZW5vdWdoLWFscGFjYS04Mi5jbGVyay5hY2NvdW50cy5sY2xjbGVyay5jb20k") == "jtYvyt_H"
    assert cookie_suffix("pk_test_eHh4eHh4LXhhYWFhYS1hYS5jbGVyay5hY2NvdW50cy5sY2xjbGVyay5jb20k") == "tZJdb-5s"
    assert cookie_suffix("pk_live_ZmFrZS1jbGVyay10ZXN0LmNsZXJrLmFjY291bnRzLmRldiQ=") == "qReyu04C"


L, T = "MqCvchyS", "vWCgMp3A"


@pytest.mark.parametrize(
    "line,pk,cookies,token,uat",
    [
        ("30-45", PK_LIVE, f"__client_uat={CLIENT_UAT}; __session={SESSION}", SESSION, CLIENT_UAT),
        ("47-67 ClerkJS downgrade, plain newer", PK_LIVE,
         f"__client_uat={CLIENT_UAT}; __client_uat_{L}={SUFFIXED_CLIENT_UAT}; __session={NEW_SESSION}; __session_{L}={SUFFIXED_SESSION}",
         NEW_SESSION, CLIENT_UAT),
        ("69-86 downgrade, suffixed uat 0", PK_TEST, f"__client_uat={CLIENT_UAT}; __client_uat_{T}=0; __session={SESSION}", SESSION, CLIENT_UAT),
        ("88-105", PK_LIVE, f"__client_uat=0; __client_uat_{L}=0; __session={SESSION}; __session_{L}={SUFFIXED_SESSION}", SUFFIXED_SESSION, "0"),
        ("109-125", PK_LIVE,
         f"__client_uat={CLIENT_UAT}; __client_uat_{L}={SUFFIXED_CLIENT_UAT}; __session={SESSION}; __session_{L}={SUFFIXED_SESSION}",
         SUFFIXED_SESSION, SUFFIXED_CLIENT_UAT),
        ("127-143 another app's plain cookie", PK_LIVE,
         f"__client_uat={CLIENT_UAT}; __client_uat_{L}={SUFFIXED_CLIENT_UAT}; __session={jwt(iss='http:whatever')}; __session_{L}={SUFFIXED_SESSION}",
         SUFFIXED_SESSION, SUFFIXED_CLIENT_UAT),
        ("175-195", PK_TEST, f"__client_uat=0; __client_uat_{T}=0; __session={SESSION}; __session_{T}={SUFFIXED_SESSION}", SUFFIXED_SESSION, "0"),
        ("197-213 no suffixed session: no token", PK_LIVE, f"__client_uat=0; __client_uat_{L}=0; __session={SESSION}", None, "0"),
        # usesSuffixedCookies' development-instance downgrade rule, on each side of each of its conditions
        ("development downgrade: suffixed expired, plain uat 0", PK_TEST,
         f"__client_uat=0; __client_uat_{T}={SUFFIXED_CLIENT_UAT}; __session={SESSION}; __session_{T}={EXPIRED_SUFFIXED}",
         SESSION, "0"),
        ("production: no downgrade rule", PK_LIVE,
         f"__client_uat=0; __client_uat_{L}={SUFFIXED_CLIENT_UAT}; __session={SESSION}; __session_{L}={EXPIRED_SUFFIXED}",
         EXPIRED_SUFFIXED, SUFFIXED_CLIENT_UAT),
        ("development, suffixed uat 0 too: suffixed", PK_TEST,
         f"__client_uat=0; __client_uat_{T}=0; __session={SESSION}; __session_{T}={EXPIRED_SUFFIXED}",
         EXPIRED_SUFFIXED, "0"),
        ("development, plain uat not 0: suffixed", PK_TEST,
         f"__client_uat={CLIENT_UAT}; __client_uat_{T}={SUFFIXED_CLIENT_UAT}; __session={SESSION}; __session_{T}={EXPIRED_SUFFIXED}",
         EXPIRED_SUFFIXED, SUFFIXED_CLIENT_UAT),
        ("development, suffixed exp not a number: not expired", PK_TEST,
         f"__client_uat=0; __client_uat_{T}={SUFFIXED_CLIENT_UAT}; __session={SESSION}; __session_{T}={jwt(exp='soon')}",
         jwt(exp="soon"), SUFFIXED_CLIENT_UAT),
        ("development, suffixed exp a boolean: not expired", PK_TEST,
         f"__client_uat=0; __client_uat_{T}={SUFFIXED_CLIENT_UAT}; __session={SESSION}; __session_{T}={jwt(exp=True)}",
         jwt(exp=True), SUFFIXED_CLIENT_UAT),
        ("ours: a boolean iat counts as none (0), not as 1", PK_LIVE,
         f"__client_uat={CLIENT_UAT}; __client_uat_{L}={SUFFIXED_CLIENT_UAT}; __session={jwt(iat=True)}; __session_{L}={jwt(iat=0)}",
         jwt(iat=0), SUFFIXED_CLIENT_UAT),
        ("ours: a non-string iss is another app's, even when newer", PK_LIVE,
         f"__client_uat={CLIENT_UAT}; __client_uat_{L}={SUFFIXED_CLIENT_UAT}; __session={jwt(iss=123, iat=IAT + 60)}; __session_{L}={SUFFIXED_SESSION}",
         SUFFIXED_SESSION, SUFFIXED_CLIENT_UAT),
        ("a plain cookie without iss is malformed: plain, signed out", PK_LIVE,
         f"__client_uat_{L}={SUFFIXED_CLIENT_UAT}; __session={jwt(iss=None)}; __session_{L}={SUFFIXED_SESSION}",
         jwt(iss=None), None),
        ("plain newer but plain uat 0: suffixed", PK_LIVE,
         f"__client_uat=0; __client_uat_{L}={SUFFIXED_CLIENT_UAT}; __session={NEW_SESSION}; __session_{L}={SUFFIXED_SESSION}",
         SUFFIXED_SESSION, SUFFIXED_CLIENT_UAT),
        ("217-231 non-string iss", PK_LIVE,
         f"__client_uat_{L}={SUFFIXED_CLIENT_UAT}; __session={jwt(iss=123)}; __session_{L}={SUFFIXED_SESSION}",
         SUFFIXED_SESSION, SUFFIXED_CLIENT_UAT),
    ],
)
def test_cookie_selection(line: str, pk: str, cookies: str, token: str | None, uat: str | None) -> None:
    assert select(pk, cookies) == (token, uat), line


def test_without_a_publishable_key_only_plain_cookies_count() -> None:
    request = read_request(make_event("http_v2", cookies=[f"__session_{L}={SUFFIXED_SESSION}", f"__client_uat={CLIENT_UAT}"]))
    assert find_token(request, CookieRules(), IAT).token is None


@pytest.mark.parametrize(
    "value,token,note",
    [
        ("Bearer abc", "abc", "Clerk"),
        ("abc", "abc", "Clerk: no scheme, the whole value is the token"),
        ("Basic dXNlcjpwYXNzd29yZA==", None, "Clerk: another scheme is no token; the cookie stays usable"),
        ("Bearer null", None, "the docs' `Bearer ${await getToken()}` signed out (Clerk verifies 'null')"),
        ("Bearer undefined", None, "likewise"),
        ("Bearer ", None, "likewise (Clerk verifies the word 'Bearer')"),
        ("Bearer", None, "likewise"),
        ("Bearer Bearer", None, "likewise: the scheme word as the token is none, after the scheme too"),
        ("Bearer bEARER", None, "likewise, in any case"),
        ("Bearer abc123", "abc123", "a six-character token is one (only the word 'Bearer' is none)"),
        ("bearer abc123", "abc123", "likewise, after a lowercase scheme"),
        ("bearer Bearer", None, "the word 'Bearer' as the token, after a lowercase scheme"),
        ("bearer abc", "abc", "ours: schemes are case-insensitive (RFC 9110 §11.1); Clerk ignores the header"),
        ("Bearer  abc", "abc", "ours: Clerk takes the word 'Bearer' as the token"),
        ("  Bearer abc  ", "abc", "Clerk (Headers trim)"),
        ("", None, "Clerk"),
        # authenticateContext.ts:352-370 splits on ' ' only (RFC 9110 §11.4: 1*SP), after
        # Headers.get trimmed spaces and tabs from both ends.
        ("Bearer\tabc", "Bearer\tabc", "Clerk: a tab is no separator; no scheme, the whole value is the token"),
        ("bearer\tabc", "bearer\tabc", "Clerk: likewise"),
        ("Basic\tdXNlcg==", "Basic\tdXNlcg==", "Clerk: likewise"),
        ("Bearer \tabc", "\tabc", "Clerk: the token starts with the tab"),
        ("Bearer  \tabc", "\tabc", "ours: spaces skipped, the tab kept"),
        ("\tBearer abc\t", "abc", "Clerk (Headers trim tabs too)"),
        ("Bearer abc def", "abc def", "ours, stricter: the whole rest (Clerk: 'abc', the words after it dropped)"),
    ],
)
def test_authorization_header(value: str, token: str | None, note: str) -> None:
    request = read_request(make_event("http_v2", headers={"Authorization": value}))
    assert token_in_header(request) == token, note


# -- several Authorization lines ----------------------------------------------------------
# fetch's Headers (what @clerk/backend reads) joins repeated lines with ", ", as
# HTTP API and Function URL events do; REST and ALB multi-value events keep
# them apart. Every source reads them as the one joined value.
@pytest.mark.parametrize("shape", ["http_v2", "function_url", "rest_v1", "alb_multi", "vpc_lattice_v2", "vpc_lattice"])
@pytest.mark.parametrize(
    ("lines", "want"),
    [
        (["Bearer aaa.bbb.ccc"], "aaa.bbb.ccc"),
        (["Bearer aaa.bbb.ccc", "Bearer ddd.eee.fff"], "aaa.bbb.ccc, Bearer ddd.eee.fff"),  # refused when verified
        (["Basic dXNlcjpwdw==", "Bearer aaa.bbb.ccc"], None),  # Basic first: no token, the cookie stays usable
        (["Bearer aaa.bbb.ccc", "Basic dXNlcjpwdw=="], "aaa.bbb.ccc, Basic dXNlcjpwdw=="),
    ],
)
def test_repeated_authorization_lines_read_as_one_joined_value(shape: str, lines: list[str], want: str | None) -> None:
    request = read_request(make_event(shape, headers={"Authorization": lines}))
    got = token_in_header(request)
    # HTTP API and Lattice v1 join with "," where fetch joins with ", "
    assert (got and got.replace(", ", ",")) == (want and want.replace(", ", ","))


def test_peek_payload_reads_tokens_up_to_16384_characters() -> None:
    """Cookie selection peeks at unverified payloads of at most 16384
    characters (a bound on work done for an unauthenticated request); a longer
    cookie reads as no JWT at all."""
    from clerk_serverless.lookup import peek_payload

    def of_length(n: int) -> str:
        token = jwt(pad="")
        return jwt(pad="x" * ((n - len(token)) * 3 // 4)).ljust(n, "A")

    at_bound, over = of_length(16384), of_length(16385)
    assert (len(at_bound), len(over)) == (16384, 16385)
    assert peek_payload(at_bound) is not None and peek_payload(at_bound)["sub"].startswith("user_")
    assert peek_payload(over) is None
