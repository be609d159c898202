"""One reading of a repeated header on every event source (issues #10, #11).

A client may send a header twice. AWS hands the lines on differently by
source: REST APIs keep the last in ``headers`` and all in
``multiValueHeaders``; HTTP APIs, Function URLs and VPC Lattice v1 join them
with commas; ALB in multi-value mode and VPC Lattice v2 keep them as lists;
ALB in single-value mode keeps only the last. @clerk/backend reads a fetch
``Headers``, whose ``get`` joins a repeated header's lines with ", ".

So every source must give the verdict of that joined value: ``Bearer a,
Bearer b`` is no token, an Origin list is no authorized party, a
Sec-Fetch-Site list that holds ``cross-site`` is cross-site and is no lone
``same-origin`` — never the laxer of the readings (first line, last line).
The one exception is the source that drops lines: ALB single-value mode is
judged on the last line, as if the client had sent only it.

Each request goes through ``require_session`` on a real-shaped event of every
source, with a real RS256 token; the Authorization cases are asked of
@clerk/backend too (its oracle, ``tests/differential_js``, is fed the
client's lines, which its ``Headers`` joins).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from support.calls import NOT_CALLED, call, recording_handler
from support.clerk_oracle import Oracle, publishable_key, run_oracle
from support.events import SHAPES, make_event
from support.tokens import ISSUER, ORIGIN, SigningKey, mint

from clerk_serverless import ClerkAuth

EVIL = "https://evil.example"
HOST = {"Host": "app.example.com", "X-Forwarded-Proto": "https"}  # the null rule's own origin: ORIGIN
LAST_LINE_ONLY = ("alb",)  # ALB single-value mode: AWS hands on the last line only
PUBLISHABLE_KEY = publishable_key("live", ISSUER.removeprefix("https://"))


@dataclass(frozen=True)
class Case:
    """A request whose ``header`` is sent once per item of ``lines``
    (``{t}`` is the valid token), and the verdict of the joined value."""

    name: str
    header: str
    lines: tuple[str, ...]
    status: int  # the verdict of the lines joined, as fetch reads them
    reason: str | None = None
    cookie: bool = False  # authenticated by the __session cookie (a POST), not a Bearer header (a GET)
    others: tuple[tuple[str, str], ...] = ()

    def request(self, token: str, lines: tuple[str, ...] | None = None) -> dict[str, Any]:
        """make_event's arguments: this request, or it with ``lines`` instead."""
        values = [line.replace("{t}", token) for line in (lines if lines is not None else self.lines)]
        headers: dict[str, str | list[str]] = {**dict(self.others), self.header: values}
        if self.cookie:
            return {"method": "POST", "headers": headers, "cookies": [f"__session={token}"]}
        return {"headers": headers}


def cases() -> list[Case]:
    """Every header we read that a client may repeat × once, twice the same, twice different."""
    out: list[Case] = []
    bad = "Bearer not.a.token"
    for name, lines, status, reason in (
        ("once", ("Bearer {t}",), 200, None),
        ("twice-same", ("Bearer {t}", "Bearer {t}"), 401, "token-invalid"),
        ("twice-bad-first", (bad, "Bearer {t}"), 401, "token-invalid"),
        ("twice-good-first", ("Bearer {t}", bad), 401, "token-invalid"),
    ):
        out.append(Case(f"authorization-{name}", "Authorization", lines, status, reason))
    for name, lines, status in (
        ("once", (ORIGIN,), 200),
        ("twice-same", (ORIGIN, ORIGIN), 403),
        ("twice-foreign-last", (ORIGIN, EVIL), 403),
        ("twice-foreign-first", (EVIL, ORIGIN), 403),
    ):
        out.append(Case(f"origin-{name}", "Origin", lines, status, "origin-invalid" if status == 403 else None,
                        cookie=True))
    for name, lines, status in (
        ("once-same-origin", ("same-origin",), 200),
        ("once-cross-site", ("cross-site",), 403),
        ("twice-same-origin", ("same-origin", "same-origin"), 200),
        ("twice-cross-site", ("cross-site", "cross-site"), 403),
        ("twice-cross-last", ("same-origin", "cross-site"), 403),
        ("twice-cross-first", ("cross-site", "same-origin"), 403),
    ):
        out.append(Case(f"sec-fetch-site-{name}", "Sec-Fetch-Site", lines, status,
                        "origin-invalid" if status == 403 else None, cookie=True))
    # The null rule: Origin: null passes with a lone Sec-Fetch-Site: same-origin from the API's own origin.
    null = (("Origin", "null"), *HOST.items())
    for name, lines, status in (
        ("once", ("same-origin",), 200),
        ("twice-same", ("same-origin", "same-origin"), 403),
        ("twice-different", ("same-origin", "cross-site"), 403),
        ("twice-different-reversed", ("same-site", "same-origin"), 403),
    ):
        out.append(Case(f"null-origin-sec-fetch-site-{name}", "Sec-Fetch-Site", lines, status,
                        "origin-invalid" if status == 403 else None, cookie=True, others=null))
    same_origin = (("Origin", "null"), ("Sec-Fetch-Site", "same-origin"))
    for header, value in HOST.items():
        other = tuple((h, v) for h, v in HOST.items() if h != header)
        for name, lines, status in (("once", (value,), 200), ("twice-same", (value, value), 403)):
            out.append(Case(f"null-origin-{header.lower()}-{name}", header, lines, status,
                            "origin-invalid" if status == 403 else None, cookie=True, others=same_origin + other))
    return out


CASES = cases()


@pytest.fixture
def auth(key: SigningKey) -> ClerkAuth:
    return ClerkAuth(jwt_key=key.public_pem, issuer=ISSUER, authorized_parties=[ORIGIN])


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_repeated_header_gets_one_verdict_on_every_source(
    auth: ClerkAuth, key: SigningKey, shape: str, case: Case
) -> None:
    """The verdict of the joined lines on every source; on ALB single-value
    mode, which keeps the last line only, the verdict of that line alone."""
    handler = recording_handler(auth.require_session)
    token = mint(key)
    out = call(handler, shape, **case.request(token))
    if shape in LAST_LINE_ONLY:
        alone = call(handler, shape, **case.request(token, case.lines[-1:]))
        assert (out.status, out.reason) == (alone.status, alone.reason)
        return
    assert (out.status, out.reason) == (case.status, case.reason), shape
    assert (out.session is NOT_CALLED) == (case.status != 200)


def test_the_alb_single_value_event_holds_the_last_line_only() -> None:
    """Why ALB single-value mode is the exception: the event itself holds
    only the last line (support.events builds it as AWS documents), so a
    foreign first Origin, or a Bearer line before a good one, is not there
    to be seen (docs/guide/requests.md says so)."""
    event = make_event("alb", headers={"Origin": [EVIL, ORIGIN]})
    assert event["headers"]["origin"] == ORIGIN and "multiValueHeaders" not in event


# -- against @clerk/backend -------------------------------------------------------------------


@pytest.fixture(scope="module")
def oracle(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Oracle]:
    yield from run_oracle(request, tmp_path_factory)


AUTHORIZATION = [c for c in CASES if c.header == "Authorization"]


@pytest.mark.parametrize("case", AUTHORIZATION, ids=[c.name for c in AUTHORIZATION])
def test_repeated_authorization_matches_clerk_backend(oracle: Oracle, auth: ClerkAuth, key: SigningKey, case: Case) -> None:
    """@clerk/backend, handed the client's Authorization lines (its ``Headers``
    joins them), gives the verdict every source gives (ALB single-value mode
    aside: it never sees the lines)."""
    token = mint(key)
    lines = [["authorization", line.replace("{t}", token)] for line in case.lines]
    (answer,) = oracle.ask([{
        "now": int(time.time()) * 1000, "method": "GET", "url": "https://api.example.com/me", "headers": lines,
        "client": {"publishableKey": PUBLISHABLE_KEY, "secretKey": "sk_test_" + "x" * 40},
        "options": {"jwtKey": key.public_pem, "issuer": ISSUER, "authorizedParties": [ORIGIN],
                    "acceptsToken": "session_token"},
    }])
    assert "error" not in answer, answer
    theirs = (200, None) if (answer["auth"] or {}).get("isAuthenticated") else (401, answer["reason"])
    assert theirs == (case.status, case.reason)
    handler = recording_handler(auth.require_session)
    for shape in SHAPES:
        if shape not in LAST_LINE_ONLY:
            out = call(handler, shape, **case.request(token))
            assert (out.status, out.reason) == theirs, shape
