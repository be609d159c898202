"""Pagination hooks, Suspense, GraphQL clients, superagent and axios-retry, in a real browser.

The other browser modules cover one-shot reads and writes. This one runs the
patterns pages build around them (tests/browser/round22.jsx): SWR's
``useSWRInfinite`` and @tanstack/react-query v5's ``useInfiniteQuery`` paging
through a list with the docs' throwing Bearer fetcher; v5's
``useSuspenseQuery`` inside ``<Suspense>`` and react-error-boundary's
``<ErrorBoundary>`` (a 401 lands in the boundary after one request, never a
retry loop); the QueryClient's ``prefetchQuery`` / ``fetchQuery``; GraphQL
clients as a Lambda GraphQL endpoint is called — @apollo/client with a
``setContext`` auth link (and its ``useQuery``, and ``useSuspenseQuery`` in
an error boundary) or ``credentials: "include"``,
urql with ``fetchOptions``, graphql-request with a ``requestMiddleware`` —
POSTing ``application/json`` to a ``require_session`` function
(tests/browser/feed, GraphQL-ish without a GraphQL library); superagent with
``.withCredentials()`` and ``.set("Authorization", …)``; and axios-retry
(Retry-After honoured on our 503; 401/403 never retried).

Each runs on an HTTP API route and a REST API route, from an authorized
origin (A: Bearer token, and the cookie alone), same-origin through ``serve
--static`` (B: the cookie alone, relative URLs) and from an origin that is
not an authorized party (C: reads nothing, and its writes never reach a
handler, proved by the recorder's log): signed in, signed out, expired. Every
library comes from the npm registry (tests/browser/package-lock.json); only
Clerk's hooks are the stub. Each page's table is saved as
``artifacts/browser-round22-*.png``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.browser import ShotPage, page_bundle, page_opener, publish, shot_name
from support.browser_recorder import Recorder, recorder_resources
from support.browser_stack import USER, Stack, make_stack, served, url

pytestmark = pytest.mark.browser
FEED_FN = Path(__file__).resolve().parent / "browser" / "feed"
KINDS = ("http", "rest")
# (lib, op): op "read" GETs /feed (or queries /graphql), "write" POSTs a GraphQL mutation to /graphql.
GRAPHQL = ("apollo", "urql", "graphql-request")
READS = [("useSWRInfinite", "read"), ("useInfiniteQuery", "read"), ("useSuspenseQuery", "read"),
         ("fetchQuery", "read"), ("prefetchQuery", "read"), ("superagent", "read"), ("axios-retry", "read"),
         *[(lib, "read") for lib in GRAPHQL]]
WRITES = [*[(lib, "write") for lib in GRAPHQL], ("superagent", "write"), ("axios-retry", "write")]
PAGED = ("useSWRInfinite", "useInfiniteQuery")
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>round 22</title>
<style>
  body { font: 12px system-ui, sans-serif; margin: 12px; }
  #page { display: inline-block; }
  table { border-collapse: collapse; }
  td, th { border: 1px solid #bbb; padding: 2px 6px; text-align: left; white-space: nowrap; }
</style></head>
<body><div id="page"><h1>Pagination, Suspense, GraphQL from <code id="origin"></code>: <span id="test"></span></h1>
<table id="log"><thead><tr><th>#</th><th>client</th><th>op</th><th>request</th><th>what the page saw</th></tr></thead>
<tbody></tbody></table></div>
<script src="round22.js"></script></body></html>
"""


def _feed_function(log: Path) -> dict[str, Any]:
    def route(kind: str, path: str) -> dict[str, Any]:
        key, api = ("ApiId", "HttpApi") if kind == "HttpApi" else ("RestApiId", "RestApi")
        return {"Type": kind, "Properties": {key: {"Ref": api}, "Path": path, "Method": "ANY"}}

    return {"FeedFunction": {"Type": "AWS::Serverless::Function", "Properties": {
        "CodeUri": str(FEED_FN), "Handler": "app.handler", "Environment": {"Variables": {"RECORDER_LOG": str(log)}},
        "Events": {"HttpFeed": route("HttpApi", "/feed"), "HttpGraphql": route("HttpApi", "/graphql"),
                   "RestFeed": route("Api", "/feed"), "RestGraphql": route("Api", "/graphql")},
    }}}


@pytest.fixture(scope="module")
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    bundle = page_bundle(request, tmp_path_factory, "round22.jsx", "round22.js", "round22-bundle")
    work = tmp_path_factory.mktemp("browser-round22")
    log = work / "recorder.jsonl"
    (work / "stack").mkdir()
    resources = {**recorder_resources(log), **_feed_function(log)}
    with make_stack(work / "stack", resources, key_down=("DownFunction",)) as stack:
        publish(stack.dirs.values(), "round22", PAGE, bundle)
        yield World(stack, Recorder(log))


class World:
    """The stack, the recorder and where each API kind's routes are."""

    def __init__(self, stack: Stack, recorder: Recorder) -> None:
        self.stack, self.recorder = stack, recorder
        prefix = {"http": "", "rest": "/Prod"}
        self.feed = {kind: f"{prefix[kind]}/feed" for kind in KINDS}
        self.graphql = {kind: f"{prefix[kind]}/graphql" for kind in KINDS}
        self.down = {kind: f"{prefix[kind]}/down" for kind in KINDS}

    def token(self, page: str = "a", expired: bool = False) -> str:
        return self.stack.token(self.stack.origins[page], f"sess_{page}", expired=expired)


class Page(ShotPage):
    """One page on one origin running window.R22; its table is screenshot when the test ends."""

    API, PREFIX = "R22", "browser-round22"

    def __init__(self, browser: Any, origin: str, shot: str) -> None:
        super().__init__(browser, f"{origin}/round22.html", shot)

    def calls(self, cases: list[dict[str, Any]], parallel: bool = False) -> list[dict[str, Any]]:
        """What each of ``cases`` saw, one after another (or all at once)."""
        got: list[dict[str, Any]] = self.page.evaluate(f"(cs) => window.R22.{'parallel' if parallel else 'calls'}(cs)", cases)
        return got


@pytest.fixture
def page_on(browser: Any, world: World, request: pytest.FixtureRequest) -> Iterator[Any]:
    with page_opener(lambda opened, origin: Page(browser, origin, shot_name(request, opened))) as open_page:
        yield open_page


class Cases:
    """The cases of one page run, each tied to its requests by a fresh probe."""

    def __init__(self, world: World, base: str, **common: Any) -> None:
        self.world, self.base, self.common = world, base, common
        self.list: list[dict[str, Any]] = []
        self.numbers: list[int] = []

    def add(self, lib: str, op: str, kind: str, path: str | None = None, **extra: Any) -> dict[str, Any]:
        if path is None:
            graphql = lib in GRAPHQL or op == "write"
            path = (self.world.graphql if graphql else self.world.feed)[kind]
        address, number = url(path)
        made = {"lib": lib, "op": op, "kind": kind, "base": self.base, "path": address, "title": f"{lib} {kind}",
                **self.common, **extra}
        self.list.append(made)
        self.numbers.append(number)
        return made

    def apollo_hooks(self) -> Cases:
        """Apollo's ``useQuery`` and its ``useSuspenseQuery`` (in an error boundary), on each API."""
        return self.all([("apollo", "read")], hook=True).all([("apollo", "read")], hook="suspense")

    def all(self, pairs: list[tuple[str, str]], **extra: Any) -> Cases:
        for lib, op in pairs:
            for kind in KINDS:
                self.add(lib, op, kind, **extra)
        return self


def sent(stack: Stack, number: int) -> int:
    """How many requests (preflights aside) the gateway answered for ``probe=<number>``."""
    return len([line for line in served(stack, number) if not line.startswith("OPTIONS ")])


def check(world: World, cases: Cases, got: list[dict[str, Any]], expect: Any) -> list[str]:
    """The mismatches between what each case saw and ``expect(case)``: a dict of what the page
    read, plus ``sent`` (requests that reached the gateway) and ``recorded`` (handler runs)."""
    wrong = []
    for c, g, number in zip(cases.list, got, cases.numbers, strict=True):
        want = dict(expect(c))
        requests, recorded = want.pop("sent", None), want.pop("recorded", None)
        seen = {k: g.get(k) for k in want}
        if requests is not None:
            seen["sent"], want["sent"] = sent(world.stack, number), requests
        if recorded is not None:
            seen["recorded"], want["recorded"] = len(world.recorder.calls(number)), recorded
        if seen != want:
            wrong.append(f"{c['lib']} {c['op']} {c['kind']} {c['base']}{c['path']}: expected {want}, saw {seen} ({g})")
    return wrong


def signed_in(c: dict[str, Any]) -> dict[str, Any]:
    """Signed in: the data, one request per page (three pages for the infinite lists)."""
    # useSWRInfinite refetches the first page each time the size grows (revalidateFirstPage): 1 + 2 + 2.
    requests = {"useSWRInfinite": 5, "useInfiniteQuery": 3}.get(c["lib"], 1)
    want: dict[str, Any] = {"outcome": "data", "status": 200, "user": USER, "sent": requests, "recorded": requests}
    if c["lib"] in PAGED:
        want.update(pages=3, items=list(range(9)))
    if c["lib"] == "useSuspenseQuery" or c.get("hook") == "suspense":
        want["boundary"] = False
    if c["op"] == "write" and c["lib"] in GRAPHQL:
        want["title"] = c["title"]
    return want


def refused(reason: str) -> Any:
    """A readable 401 with ``reason`` (header and JSON), after one request, nothing run."""

    def expect(c: dict[str, Any]) -> dict[str, Any]:
        # urql reads the body itself and keeps only a GraphQL answer's: the refusal's JSON is not on its error.
        body = None if c["lib"] == "urql" else {"error": "unauthorized", "reason": reason}
        want: dict[str, Any] = {"outcome": "error", "status": 401, "reason": reason, "body": body, "sent": 1, "recorded": 0}
        if c["lib"] == "useSuspenseQuery" or c.get("hook") == "suspense":
            want["boundary"] = True
        if c["lib"] == "prefetchQuery":
            want["resolved"] = True  # prefetchQuery never rejects; the error is in the cache
        return want

    return expect


# -- the authorized origin (A): Bearer token, and the cookie alone --------------------------------------


def test_bearer_token_signed_in_signed_out_expired(page_on: Any, world: World) -> None:
    """From A, each pattern with ``getToken()``'s Bearer token on both APIs:
    signed in the data (three pages for the infinite lists, the mutation's
    echo); signed out and with an expired token a readable 401 whose reason the
    page reads from ``x-clerk-auth-reason`` and the JSON, after one request."""
    page = page_on(world.stack.origins["a"])
    api = world.stack.api
    page.enter(token=world.token("a"), cookie=None, clientUat=None)
    cases = Cases(world, api).all(READS + WRITES).apollo_hooks()
    wrong = check(world, cases, page.calls(cases.list), signed_in)
    page.enter(token=None, cookie=None, clientUat=None)
    cases = Cases(world, api).all(READS + WRITES).apollo_hooks()
    wrong += check(world, cases, page.calls(cases.list), refused("session-token-missing"))
    page.enter(token=world.token("a", expired=True), cookie=None, clientUat=None)
    cases = Cases(world, api).all(READS + WRITES).apollo_hooks()
    wrong += check(world, cases, page.calls(cases.list), refused("token-expired"))
    assert not wrong, "\n".join(wrong)


def test_cookie_alone_with_credentials_include(page_on: Any, world: World) -> None:
    """From A with ``credentials: "include"`` (Apollo's HttpLink option, urql's
    and graphql-request's fetch options, superagent's ``.withCredentials()``,
    axios' ``withCredentials``) and no token: the cookie signs every pattern
    in, writes included; signed out (no cookie) a readable 401."""
    page = page_on(world.stack.origins["a"])
    api = world.stack.api
    page.enter(token=world.token("a"), cookie=world.token("a"), clientUat="1")
    cases = Cases(world, api, credentials="include", cookieOnly=True).all(READS + WRITES)
    wrong = check(world, cases, page.calls(cases.list), signed_in)
    page.enter(token=None, cookie=None, clientUat=None)
    cases = Cases(world, api, credentials="include", cookieOnly=True).all(READS + WRITES)
    wrong += check(world, cases, page.calls(cases.list), refused("session-token-missing"))
    assert not wrong, "\n".join(wrong)


# -- same origin (B, serve --static) ----------------------------------------------------------------------


def test_same_origin_cookie(page_on: Any, world: World) -> None:
    """Served by ``serve --static`` (B), relative URLs and the cookie alone:
    signed in, signed out, and with an expired ``__session`` (401 ``token-expired``)."""
    page = page_on(world.stack.origins["b"])
    page.enter(token=None, cookie=world.token("b"), clientUat="1")
    cases = Cases(world, "", cookieOnly=True).all(READS + WRITES)
    wrong = check(world, cases, page.calls(cases.list), signed_in)
    page.enter(token=None, cookie=None, clientUat=None)
    cases = Cases(world, "", cookieOnly=True).all(READS + WRITES)
    wrong += check(world, cases, page.calls(cases.list), refused("session-token-missing"))
    page.enter(token=None, cookie=world.token("b", expired=True), clientUat="1")
    cases = Cases(world, "", cookieOnly=True).all(READS + WRITES)
    wrong += check(world, cases, page.calls(cases.list), refused("token-expired"))
    assert not wrong, "\n".join(wrong)


def test_apollo_docs_auth_link_sends_an_empty_authorization_same_origin(page_on: Any, world: World) -> None:
    """Apollo's documented auth link sends ``authorization: ""`` when there is no
    token; same-origin, the cookie still signs the page in (an empty header is
    no token, as in @clerk/backend), so the docs' link is safe to keep."""
    page = page_on(world.stack.origins["b"])
    page.enter(token=None, cookie=world.token("b"), clientUat="1")
    cases = Cases(world, "").all([("apollo", "read"), ("apollo", "write")]).apollo_hooks()
    assert not (wrong := check(world, cases, page.calls(cases.list), signed_in)), "\n".join(wrong)


# -- the unauthorized origin (C) -------------------------------------------------------------------------


def test_unauthorized_origin_reads_nothing_and_writes_nothing(page_on: Any, world: World) -> None:
    """C holds a token (azp A) and the cookie the APIs would otherwise accept,
    with ``credentials: "include"``: every pattern fails as a network error
    (nothing readable), and no request reaches a handler — the GraphQL
    mutations' JSON preflights get no grant, so the POSTs are never sent."""
    page = page_on(world.stack.origins["c"])
    token = world.token("a")
    page.enter(token=token, cookie=token, clientUat="1")
    # axios-retry without retries here: its network-error retries are the next test's.
    cases = Cases(world, world.stack.api, credentials="include", retries=0).all(READS + WRITES)
    got = page.calls(cases.list)
    wrong = check(world, cases, got, lambda c: {"outcome": "error", "status": "blocked", "recorded": 0})
    for c, number in zip(cases.list, cases.numbers, strict=True):
        if c["op"] == "write" and not all(line.startswith("OPTIONS ") for line in served(world.stack, number)):
            wrong.append(f"{c['lib']} {c['kind']}: a write was sent: {served(world.stack, number)}")
    # The cookie alone: the GETs are simple requests, sent and answered (a read runs, as
    # for @clerk/backend: the token's azp is A), but the page reads nothing; the writes
    # (JSON: preflighted) are never sent.
    page.enter(token=None, cookie=token, clientUat="1")
    cases = Cases(world, world.stack.api, credentials="include", cookieOnly=True, retries=0).all(READS + WRITES)
    wrong += check(world, cases, page.calls(cases.list),
                   lambda c: {"outcome": "error", "status": "blocked", **({"recorded": 0} if c["op"] == "write" else {})})
    # axios-retry's defaults retry a network error, a CORS refusal included (3 times, at once):
    # the JSON write's preflight is refused each time, the POST never sent.
    page.enter(token=token, cookie=token, clientUat="1")
    cases = Cases(world, world.stack.api, credentials="include").all([("axios-retry", "write")])
    wrong += check(world, cases, page.calls(cases.list), lambda c: {"status": "blocked", "retried": 3, "sent": 0})
    assert not wrong, "\n".join(wrong)


# -- retries: Suspense's error boundary, axios-retry ----------------------------------------------------------


def test_suspense_query_refusal_reaches_the_error_boundary(page_on: Any, world: World) -> None:
    """useSuspenseQuery with v5's default retry (3, delays zeroed here) sends 4
    requests for one 401, then the boundary shows it; with the docs'
    ``retry: shouldRetry`` one request. Neither loops."""
    page = page_on(world.stack.origins["a"])
    page.enter(token=None, cookie=None, clientUat=None)
    cases = Cases(world, world.stack.api)
    for kind in KINDS:
        cases.add("useSuspenseQuery", "read", kind, retry="default")
        cases.add("useSuspenseQuery", "read", kind)
    got = page.calls(cases.list)
    wrong = check(world, cases, got, lambda c: {"outcome": "error", "status": 401, "boundary": True,
                                                "reason": "session-token-missing",
                                                "sent": 4 if c.get("retry") == "default" else 1})
    assert not wrong, "\n".join(wrong)


def test_axios_retry_honours_retry_after_and_leaves_refusals_alone(page_on: Any, world: World) -> None:
    """axios-retry (``retryDelay: axiosRetry.exponentialDelay``, one retry): our
    503's ``Retry-After`` is readable, so the delay it picks is at least that
    many seconds, and the GET is sent twice; a POST is not retried (not
    idempotent); a 401 (signed out, expired) and the HTTP API authorizer's 403
    are sent once, never retried."""
    page = page_on(world.stack.origins["a"])
    page.enter(token=world.token("a"), cookie=None, clientUat=None)
    cases = Cases(world, world.stack.api, retries=1)
    for kind in KINDS:
        cases.add("axios-retry", "read", kind, path=world.down[kind])
        cases.add("axios-retry", "write", kind, path=world.down[kind])
    got = page.calls(cases.list, parallel=True)
    wrong = check(world, cases, got, lambda c: {"status": 503, "reason": "jwk-remote-failed-to-load",
                                                "retried": 1 if c["op"] == "read" else 0,
                                                "sent": 2 if c["op"] == "read" else 1})
    for c, g in zip(cases.list, got, strict=True):
        # The final 503's Retry-After is readable; each retry waited at least the one it answered.
        delays = g.get("delays") or []
        if not isinstance(g.get("retryAfter"), int) or any(not after or delay < after * 1000 for after, delay in delays):
            wrong.append(f"{c['op']} {c['kind']}: Retry-After {g.get('retryAfter')}, (Retry-After, delay) {delays}")
    for state, reason in (({"token": None}, "session-token-missing"), ({"token": world.token("a", expired=True)}, "token-expired")):
        page.enter(**state, cookie=None, clientUat=None)
        cases = Cases(world, world.stack.api, retries=3).all([("axios-retry", "read"), ("axios-retry", "write")])
        wrong += check(world, cases, page.calls(cases.list, parallel=True),
                       lambda c, r=reason: {"status": 401, "reason": r, "retried": 0, "sent": 1, "recorded": 0})
    page.enter(token=None, cookie=None, clientUat=None)
    cases = Cases(world, world.stack.api, retries=3)
    cases.add("axios-retry", "read", "http", path="/guarded")
    wrong += check(world, cases, page.calls(cases.list), lambda c: {"status": 403, "retried": 0, "sent": 1})
    assert not wrong, "\n".join(wrong)


def test_our_outage_through_graphql_clients_and_superagent(page_on: Any, world: World) -> None:
    """Keys down: every GraphQL client's error carries our 503, its reason and a
    readable ``Retry-After`` (none retries by itself). superagent's
    ``.retry(2)`` retries the 503 at once, the POST too, whatever Retry-After
    says (3 requests each); it leaves a 401 alone."""
    page = page_on(world.stack.origins["a"])
    page.enter(token=world.token("a"), cookie=None, clientUat=None)
    cases = Cases(world, world.stack.api)
    for kind in KINDS:
        for lib in GRAPHQL:
            for op in ("read", "write"):
                cases.add(lib, op, kind, path=world.down[kind])
        for op in ("read", "write"):
            cases.add("superagent", op, kind, path=world.down[kind], retry=2)
    got = page.calls(cases.list)
    wrong = check(world, cases, got, lambda c: {"status": 503, "reason": "jwk-remote-failed-to-load",
                                                "sent": 3 if c.get("retry") else 1})
    wrong += [f"{c['lib']} {c['op']} {c['kind']}: Retry-After {g.get('retryAfter')}"
              for c, g in zip(cases.list, got, strict=True) if not isinstance(g.get("retryAfter"), int)]
    page.enter(token=None, cookie=None, clientUat=None)
    cases = Cases(world, world.stack.api).all([("superagent", "read"), ("superagent", "write")], retry=2)
    wrong += check(world, cases, page.calls(cases.list), refused("session-token-missing"))
    assert not wrong, "\n".join(wrong)


def test_apollo_retry_link_and_client_awareness(page_on: Any, world: World) -> None:
    """Apollo's RetryLink retries every error by default: one 401 is sent 5
    times; with the docs' ``retryIf`` (never a 401/403) once. ``clientAwareness``
    adds ``apollographql-client-name`` / ``-version`` request headers: the HTTP
    API's preflight grants them (the template's ``CorsAllowHeaders``), the REST
    API's decorator grants every header."""
    page = page_on(world.stack.origins["a"])
    page.enter(token=None, cookie=None, clientUat=None)
    cases = Cases(world, world.stack.api)
    for kind in KINDS:
        cases.add("apollo", "read", kind, retryLink="default")
        cases.add("apollo", "read", kind, retryLink="docs")
    wrong = check(world, cases, page.calls(cases.list), lambda c: {
        "status": 401, "reason": "session-token-missing", "sent": 5 if c["retryLink"] == "default" else 1})
    page.enter(token=world.token("a"), cookie=None, clientUat=None)
    cases = Cases(world, world.stack.api).all([("apollo", "read"), ("apollo", "write")], awareness=True)
    wrong += check(world, cases, page.calls(cases.list), signed_in)
    assert not wrong, "\n".join(wrong)
