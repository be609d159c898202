"""API clients as their READMEs build them, and the headers a page reads, in a real browser.

The other browser modules call the APIs with fetch, axios, ky and ofetch one
request at a time. Pages usually build one client instance: a base URL and a
hook that adds ``Authorization: Bearer ${await getToken()}``. This module runs
that for wretch (``.auth()``, catchers, the replay-on-401 catcher, its
``retry()`` middleware), redaxios (``create({ baseURL })``), an
``axios.create`` instance with async request and refresh-on-401 response
interceptors, ``ky.create`` with a ``beforeRequest`` hook and
``ofetch.create`` with ``onRequest``; and @tanstack/react-query v5
``useMutation`` / SWR ``useSWRMutation`` around them — against every API
type of template.yaml (``http``, ``rest``, ``url``, ``http-authorizer``,
``rest-authorizer``), from an authorized origin (A), same-origin through
``serve --static`` (B, the cookie alone) and from an origin that is not an
authorized party (C): signed in, signed out (the refusal's JSON through each
client's error), the docs' ``Bearer null``, ``_clerk_session_id`` through each
client's query option, JSON writes of every method and ``keepalive`` (a
test-only recorder proves which writes reached a handler: none of C's), our
503 + ``Retry-After``, PUT/PATCH/DELETE on the template's Function URL, and
what a page can read of an answer's own headers (``ETag``, ``Location``,
``X-Request-Id``: the template's ``CorsExposeHeaders`` on the HTTP API and
Function URLs; every header the handler sends, on the REST API).

Every library comes from the npm registry (tests/browser/package-lock.json)
and is bundled with esbuild (tests/browser/round20.jsx); only Clerk's hooks
are the stub. Each page's table is saved as ``artifacts/browser-round20-*.png``.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.browser import ShotPage, page_bundle, page_opener, publish, shot_name
from support.browser_recorder import Recorder, recorder_resources
from support.browser_stack import ROOT, USER, Stack, make_stack, served, url, wait_served

from clerk_serverless_local.gateway import LocalGateway
from clerk_serverless_local.template import Template

pytestmark = pytest.mark.browser
HEADERS_FN = Path(__file__).resolve().parent / "browser" / "headers"
LIBS = ("wretch", "redaxios", "axios", "ky", "ofetch")
KINDS = ("http", "rest", "url", "http-authorizer", "rest-authorizer")
# API Gateway's own refusals on the authorizer routes: no x-clerk-auth-reason.
REFUSAL = {"http": 401, "rest": 401, "url": 401, "http-authorizer": 403, "rest-authorizer": 401}
# What a library calls a refusal: wretch's catchers name it.
WRETCH_OUTCOME = {401: "unauthorized", 403: "forbidden"}
OWN_HEADERS = {"etag": '"v1"', "location": "/items/1", "x-total-count": "42", "x-request-id": "req-1"}
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>round 20</title>
<style>
  body { font: 12px system-ui, sans-serif; margin: 12px; }
  #page { display: inline-block; }
  table { border-collapse: collapse; }
  td, th { border: 1px solid #bbb; padding: 2px 6px; text-align: left; white-space: nowrap; }
</style></head>
<body><div id="page"><h1>API clients from <code id="origin"></code>: <span id="test"></span></h1>
<table id="log"><thead><tr><th>#</th><th>client</th><th>request</th><th>what the page saw</th></tr></thead>
<tbody></tbody></table></div>
<script src="round20.js"></script></body></html>
"""


def _headers_function() -> dict[str, Any]:
    def route(kind: str, path: str) -> dict[str, Any]:
        key = "ApiId" if kind == "HttpApi" else "RestApiId"
        api = "HttpApi" if kind == "HttpApi" else "RestApi"
        return {"Type": kind, "Properties": {key: {"Ref": api}, "Path": path, "Method": "ANY"}}

    return {"HeadersFunction": {"Type": "AWS::Serverless::Function", "Properties": {
        "CodeUri": str(HEADERS_FN), "Handler": "app.handler",
        "Events": {"Http": route("HttpApi", "/headers"), "Rest": route("Api", "/headers")},
        # The template's own Function URL configuration (FastApiFunction's), as a user copies it.
        "FunctionUrlConfig": Template(ROOT / "template.yaml", {}).resources["FastApiFunction"]["Properties"]["FunctionUrlConfig"],
    }}}


@pytest.fixture(scope="module")
def world_parts(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, Recorder]]:
    bundle = page_bundle(request, tmp_path_factory, "round20.jsx", "round20.js", "round20-bundle")
    work = tmp_path_factory.mktemp("browser-round20")
    log = work / "recorder.jsonl"
    (work / "stack").mkdir()
    resources = recorder_resources(log)
    with make_stack(work / "stack", {**resources, **_headers_function()}, key_down=("DownFunction",)) as stack:
        publish(stack.dirs.values(), "round20", PAGE, bundle)
        yield stack, Recorder(log)


class World:
    """The stack, the recorder and where each API kind's routes are."""

    def __init__(self, stack: Stack, recorder: Recorder) -> None:
        self.stack, self.recorder = stack, recorder
        api, writes_url = stack.api, stack.gateway.origin("WritesFunction")
        # (base, path) per kind: the recorder, which answers every method.
        self.writes = {"http": (api, "/writes"), "rest": (api, "/Prod/writes"), "url": (writes_url, "/writes"),
                       "http-authorizer": (api, "/guarded"), "rest-authorizer": (api, "/Prod/guarded")}
        down_url = stack.gateway.origin("DownFunction")
        self.down = {"http": (api, "/down"), "rest": (api, "/Prod/down"), "url": (down_url, "/down")}
        headers_url = stack.gateway.origin("HeadersFunction")
        self.headers = {"http": (api, "/headers"), "rest": (api, "/Prod/headers"), "url": (headers_url, "/headers")}

    def token(self, page: str = "a") -> str:
        return self.stack.token(self.stack.origins[page], f"sess_{page}")


class Page(ShotPage):
    """One page on one origin running window.R20; its table is screenshot when the test ends."""

    API, PREFIX = "R20", "browser-round20"

    def __init__(self, browser: Any, origin: str, shot: str) -> None:
        super().__init__(browser, f"{origin}/round20.html", shot)

    def calls(self, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """What each of ``cases`` (one client call each) saw."""
        got: list[dict[str, Any]] = self.page.evaluate("(cs) => window.R20.calls(cs)", cases)
        return got


@pytest.fixture
def page_on(browser: Any, world: World, request: pytest.FixtureRequest) -> Iterator[Any]:
    with page_opener(lambda opened, origin: Page(browser, origin, shot_name(request, opened))) as open_page:
        yield open_page


@pytest.fixture(scope="module")
def world(world_parts: tuple[Stack, Recorder]) -> World:
    return World(*world_parts)


def case(lib: str, where: tuple[str, str], number_box: list[int] | None = None, **extra: Any) -> dict[str, Any]:
    """One call of ``lib`` to ``where`` (base, path) with a fresh probe."""
    base, path = where
    address, number = url(path)
    if number_box is not None:
        number_box.append(number)
    return {"lib": lib, "base": base, "path": address, **extra}


SIGNED_OUT: dict[str, Any] = {"token": None, "cookie": None, "clientUat": None}


def _wrong(cases: list[dict[str, Any]], got: list[dict[str, Any]], expected: list[dict[str, Any]]) -> list[str]:
    wrong = []
    for c, g, e in zip(cases, got, expected, strict=True):
        if any(g.get(k) != v for k, v in e.items()):
            wrong.append(f"{c['lib']} {c.get('method', 'get')} {c['base']}{c['path']}: expected {e}, got {g}")
    return wrong


# -- reads: a token from the hook, signed in and out ----------------------------------------------------


def test_client_instances_with_a_token_hook(page_on: Any, world: World) -> None:
    """Each client's instance + hook on every API from the authorized page:
    signed in 200; signed out no header and a readable refusal (the toolkit's
    with its reason); the docs' template literal (``Bearer null``) the same."""
    page = page_on(world.stack.origins["a"])
    page.enter(token=world.token("a"), cookie=None, clientUat=None)
    cases = [case(lib, world.writes[kind]) for lib in LIBS for kind in KINDS]
    expected = [{"status": 200, "user": USER, "outcome": "data"} for _ in cases]
    wrong = _wrong(cases, page.calls(cases), expected)
    page.enter(**SIGNED_OUT)
    for naive in (False, True):
        cases = [case(lib, world.writes[kind], naive=naive) for lib in LIBS for kind in KINDS]
        expected = []
        for c in cases:
            kind = next(k for k, w in world.writes.items() if c["path"].startswith(w[1] + "?") and c["base"] == w[0])
            status = REFUSAL[kind]
            reason = "session-token-missing" if kind in ("http", "rest", "url") else ""
            outcome = WRETCH_OUTCOME[status] if c["lib"] == "wretch" else "error"
            # Each client hands the page the refusal's JSON, parsed.
            body = {"error": "unauthorized", "reason": reason, "message": True} if reason else \
                {"error": None, "reason": None, "message": True}  # API Gateway's {"message": "Forbidden"}
            expected.append({"status": status, "reason": reason, "outcome": outcome, "user": "", "body": body})
        wrong += _wrong(cases, page.calls(cases), expected)
    assert not wrong, "\n".join(wrong)


def _kind(world: World, c: dict[str, Any]) -> str:
    return next(k for k, (base, path) in world.writes.items()
                if c["path"].startswith(path + "?") and c["base"] in (base, ""))


def test_same_origin_cookie_only(page_on: Any, world: World) -> None:
    """Served by ``serve --static`` (B): relative URLs, no token (signed in by
    the cookie alone), every client; the Function URL is another origin
    (authorized: the gateway's own), reached with ``credentials: "include"``."""
    page = page_on(world.stack.origins["b"])
    token = world.token("b")
    page.enter(token=None, cookie=token, clientUat="1")
    cases = [case(lib, ("", world.writes[kind][1]) if kind != "url" else world.writes[kind], credentials="include")
             for lib in LIBS for kind in KINDS]
    expected = [{"status": 200, "user": USER} for _ in cases]
    wrong = _wrong(cases, page.calls(cases), expected)
    numbers: list[int] = []
    cases = [case(lib, ("", world.writes[kind][1]) if kind != "url" else world.writes[kind], numbers, credentials="include",
                  method=method, json={"title": f"{lib} {method}"})
             for lib in LIBS for kind in KINDS for method in ("post", "delete")]
    expected = [{"status": 200, "user": USER} for _ in cases]
    wrong += _wrong(cases, page.calls(cases), expected)
    ran = [len(world.recorder.calls(n)) for n in numbers]
    assert not wrong and ran == [1] * len(numbers), ("\n".join(wrong), ran)


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_json_writes_through_every_client(page_on: Any, world: World, method: str) -> None:
    """JSON writes (a content-type preflight) from the authorized page, with the
    hook's Bearer token and with the cookie alone: each reaches the handler once."""
    page = page_on(world.stack.origins["a"])
    token = world.token("a")
    page.enter(token=token, cookie=None, clientUat=None)
    numbers: list[int] = []
    cases = [case(lib, world.writes[kind], numbers, method=method, json={"title": f"{lib} {kind}"})
             for lib in LIBS for kind in KINDS]
    wrong = _wrong(cases, page.calls(cases), [{"status": 200, "user": USER, "recorded": True} for _ in cases])
    page.enter(token=None, cookie=token, clientUat="1")
    cases = [case(lib, world.writes[kind], numbers, method=method, json={"title": f"{lib} {kind}"}, credentials="include")
             for lib in LIBS for kind in KINDS]
    wrong += _wrong(cases, page.calls(cases), [{"status": 200, "user": USER, "recorded": True} for _ in cases])
    calls = [world.recorder.calls(n) for n in numbers]
    bad = [(n, c) for n, c in zip(numbers, calls, strict=True)
           if len(c) != 1 or c[0]["method"] != method.upper() or not c[0]["content_type"].startswith("application/json")]
    assert not wrong and not bad, ("\n".join(wrong), bad)


def test_unauthorized_origin_reads_nothing_and_writes_nothing(page_on: Any, world: World) -> None:
    """C holds a token (azp A) and the cookie the APIs would otherwise accept:
    every client's read fails as a network error, its JSON writes are never
    sent (their preflight gets no grant), nothing reaches a handler."""
    page = page_on(world.stack.origins["c"])
    token = world.token("a")
    page.enter(token=token, cookie=token, clientUat="1")
    numbers: list[int] = []
    cases = [case(lib, world.writes[kind], numbers, credentials="include", **extra)
             for lib in LIBS for kind in KINDS
             for extra in ({}, {"method": "post", "json": {"title": "csrf"}}, {"method": "delete"})]
    got = page.calls(cases)
    wrong = _wrong(cases, got, [{"status": "blocked", "outcome": "error"} for _ in cases])
    reached = {n: world.recorder.calls(n) for n in numbers if world.recorder.calls(n)}
    # GETs are simple requests: answered (CORS hides them), but read nothing; writes never arrive.
    assert not wrong and not reached, ("\n".join(wrong), reached)
    writes = [n for c, n in zip(cases, numbers, strict=True) if c.get("method")]
    assert all(all(line.startswith("OPTIONS ") for line in served(world.stack, n)) for n in writes)


def test_keepalive_writes_on_every_api(page_on: Any, world: World) -> None:
    """``fetch(…, { keepalive: true })`` ("save on unload"): a preflighted JSON
    write with the token, and a JSON write with the cookie, on every API; each
    reaches the handler once."""
    page = page_on(world.stack.origins["a"])
    token = world.token("a")
    numbers: list[int] = []
    page.enter(token=token, cookie=None, clientUat=None)
    cases = [case("fetch", world.writes[kind], numbers, method="post", keepalive=True, json={"title": "keepalive"})
             for kind in KINDS]
    wrong = _wrong(cases, page.calls(cases), [{"status": 200, "user": USER, "recorded": True} for _ in cases])
    page.enter(token=None, cookie=token, clientUat="1")
    cases = [case("fetch", world.writes[kind], numbers, method="post", keepalive=True, json={"title": "keepalive"},
                  credentials="include") for kind in KINDS]
    wrong += _wrong(cases, page.calls(cases), [{"status": 200, "user": USER, "recorded": True} for _ in cases])
    assert not wrong and all(len(world.recorder.calls(n)) == 1 for n in numbers), "\n".join(wrong)


def test_wretch_retry_middleware_ignores_retry_after(page_on: Any, world: World) -> None:
    """wretch's retry() leaves a 401 alone (one request) but retries our 503 on
    its own delays, not after Retry-After, then rejects with a bare "Number of
    attempts exceeded." (README: pass the ``until`` that stops on 503, and
    wait Retry-After yourself)."""
    page = page_on(world.stack.origins["a"])
    page.enter(token=world.token("a"), cookie=None, clientUat=None)
    numbers: list[int] = []
    cases = [case("wretch", world.down["http"], numbers, retry={"maxAttempts": 2, "delayTimer": 10}),
             case("wretch", world.down["http"], numbers, retry={"maxAttempts": 2, "delayTimer": 10}, retryAfter=True)]
    got = page.calls(cases)
    page.enter(**SIGNED_OUT)
    cases = [case("wretch", world.writes["http"], numbers, retry={"maxAttempts": 2, "delayTimer": 10})]
    got += page.calls(cases)
    # Attempts exhausted, the page gets a bare Error: no status, no Retry-After.
    assert (got[0]["status"], got[0]["message"]) == ("blocked", "Number of attempts exceeded."), got
    assert [g["status"] for g in got[1:]] == [503, 401], got
    assert int(got[1]["headers"]["retry-after"]) >= 5, got
    sent = [len([line for line in served(world.stack, n) if not line.startswith("OPTIONS")]) for n in numbers]
    assert sent == [3, 1, 1], sent


def test_form_posts_from_a_no_referrer_page(page_on: Any, world: World) -> None:
    """A page whose referrer policy is ``no-referrer`` (helmet's default
    ``Referrer-Policy``) submits its HTML forms with ``Origin: null``. Served
    from the API's own origin (B), its cookie form posts are same-origin
    (``Sec-Fetch-Site: same-origin``, which no other page can make the
    browser send) and reach the handler; from another origin, authorized or
    not, and from a sandboxed frame of B, ``null`` stays refused (403
    ``origin-invalid``) and nothing runs. fetch sends the real origin."""
    page = page_on(world.stack.origins["b"])
    token = world.token("b")
    page.enter(token=None, cookie=token, clientUat="1")
    same: list[int] = []
    refused: list[int] = []
    cases = [case("form", ("", world.writes[kind][1]), same, noReferrer=True) for kind in KINDS if kind != "url"]
    cases += [case("form", ("", world.writes[kind][1]), refused, noReferrer=True, sandbox=True) for kind in KINDS if kind != "url"]
    # The Function URL is another origin than B's (as the API on another host).
    cases += [case("form", world.writes["url"], refused, noReferrer=True)]
    page.calls(cases)
    for origin in ("a", "c"):
        other = page_on(world.stack.origins[origin])
        other.enter(token=None, cookie=world.token("a"), clientUat="1")
        other.calls([case("form", world.writes[kind], refused, noReferrer=True) for kind in KINDS])
    wrong = [f"same-origin probe {n}: {wait_served(world.stack, n)}" for n in same if len(world.recorder.wait(n)) != 1]
    for n in refused:
        lines = [line for line in wait_served(world.stack, n) if not line.startswith("OPTIONS")]
        # 403 origin-invalid; 401 where the browser sent no cookie (the sandboxed frame is another site).
        if world.recorder.calls(n) or len(lines) != 1 or not lines[0].endswith((" 403", " 401")):
            wrong.append(f"refused probe {n}: {lines} {world.recorder.calls(n)}")
    assert not wrong, "\n".join(wrong)


# -- what a page reads of an answer's own headers ------------------------------------------------------


def test_the_handlers_own_headers(page_on: Any, world: World) -> None:
    """201 with ETag, Location, X-Total-Count, X-Request-Id, from the
    authorized page. ETag, Location and X-Request-Id are readable on every API
    (the template's CorsExposeHeaders; the REST decorator exposes the
    handler's headers). X-Total-Count is not in CorsExposeHeaders: null on
    the HTTP API and the Function URL, whatever Access-Control-Expose-Headers
    the function sets (API Gateway and Lambda ignore a function's CORS
    headers there), readable on the REST API."""
    page = page_on(world.stack.origins["a"])
    page.enter(token=world.token("a"), cookie=None, clientUat=None)
    kinds = [kind for kind in world.headers for _ in ("", "?expose=1")]
    cases = [case(lib, (base, path + suffix), method="post", json={})
             for lib in ("fetch", "axios") for base, path in world.headers.values() for suffix in ("", "?expose=1")]
    for c in cases:  # url() put the probe after the path: keep ?expose=1 a query parameter
        c["path"] = c["path"].replace("?expose=1?", "?expose=1&")
    got = page.calls(cases)
    wrong = []
    for c, g, kind in zip(cases, got, kinds * 2, strict=True):
        expected = {**OWN_HEADERS, "x-total-count": OWN_HEADERS["x-total-count"] if kind == "rest" else None}
        if (g["status"], g["user"]) != (201, USER) or any(g["headers"][k] != v for k, v in expected.items()):
            wrong.append(f"{c['lib']} {c['base']}{c['path']}: {g}")
    assert not wrong, "\n".join(wrong)


def test_cors_expose_headers_is_the_one_place(world: World, tmp_path: Path) -> None:
    """``CorsExposeHeaders`` (a parameter override, as on AWS) is what the
    HTTP API and the Function URL expose: with x-total-count added, a page reads it."""
    template = Template(ROOT / "template.yaml", {"ClerkAuthorizedParties": world.stack.origins["a"],
                                                  "CorsExposeHeaders": "etag,x-total-count"})
    template.resources.update(_headers_function())
    gateway = LocalGateway(template, env_vars={"Parameters": {"CLERK_JWT_KEY": world.stack.key.public_pem}}, port=0,
                           ephemeral_url_ports=True, log=lambda m: None, warn=lambda m: None).start()
    try:
        for base, path in ((gateway.origin(), "/headers"), (gateway.origin("HeadersFunction"), "/headers")):
            request = urllib.request.Request(f"{base}{path}", method="POST", data=b"{}", headers={
                "Authorization": f"Bearer {world.token('a')}", "Origin": world.stack.origins["a"],
                "Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=30) as response:
                assert response.status == 201
                assert response.headers["Access-Control-Expose-Headers"] == "etag,x-total-count", base
    finally:
        gateway.stop()


def test_every_method_on_the_function_url(page_on: Any, world: World) -> None:
    """The template's Function URL (FastAPI) with PUT/PATCH/DELETE and JSON:
    the preflight is granted, so the page reads the answer — FastAPI's 405 for
    a method the app has no route for, the toolkit's readable 401 signed out —
    as on the HTTP API, never a bare network error."""
    page = page_on(world.stack.origins["a"])
    cases = [case(lib, (world.stack.url, "/api/whoami"), method=method, json={"x": 1})
             for lib in ("fetch", "ky") for method in ("put", "patch", "delete")]
    page.enter(token=world.token("a"), cookie=None, clientUat=None)
    wrong = _wrong(cases, page.calls(cases), [{"status": 405} for _ in cases])
    page.enter(**SIGNED_OUT)
    cases = [{**c, "path": url("/api/whoami")[0]} for c in cases]
    wrong += _wrong(cases, page.calls(cases), [{"status": 401, "reason": "session-token-missing"} for _ in cases])
    assert not wrong, "\n".join(wrong)


# -- refresh on a 401, multi-session ------------------------------------------------------------------


def test_refresh_on_401_with_client_instances(page_on: Any, world: World) -> None:
    """axios' "refresh on 401" response interceptor and wretch's documented
    replay catcher: an expired token, one 401, getToken({ skipCache: true }),
    one retry that passes. The HTTP API authorizer answers 403: no replay."""
    page = page_on(world.stack.origins["a"])
    expired = world.stack.token(world.stack.origins["a"], "sess_a", expired=True)
    wrong = []
    for lib in ("axios", "wretch"):
        for kind in KINDS:
            page.enter(token=expired, fresh=[expired, world.token("a")], cookie=None, clientUat=None)
            numbers: list[int] = []
            cases = [case(lib, world.writes[kind], numbers, refresh=True)]
            expected = {"status": 403, "outcome": "forbidden" if lib == "wretch" else "error"} \
                if kind == "http-authorizer" else {"status": 200, "user": USER, "replayed": True}
            wrong += _wrong(cases, page.calls(cases), [expected])
            gets = [line.rsplit(" ", 1)[1] for line in served(world.stack, numbers[0]) if not line.startswith("OPTIONS")]
            if gets != (["403"] if kind == "http-authorizer" else ["401", "200"]):
                wrong.append(f"{lib} {kind}: served {gets}")
    assert not wrong, "\n".join(wrong)


def test_clerk_session_id_through_each_clients_query_option(page_on: Any, world: World) -> None:
    """Multi-session apps add ``_clerk_session_id`` with the client's own query
    option (axios/redaxios ``params``, ky ``searchParams``, ofetch ``query``,
    wretch's ``.query()``), with the header token and the cookie both present:
    the page's session passes, another one is a readable refusal."""
    page = page_on(world.stack.origins["a"])
    token = world.token("a")
    page.enter(token=token, sid="sess_a", cookie=token, clientUat="1")
    wrong = []
    for sid, ok in (("sess_a", True), ("sess_other", False)):
        numbers: list[int] = []
        cases = [case(lib, world.writes[kind], numbers, credentials="include", query={"_clerk_session_id": sid, "page": "2"})
                 for lib in LIBS for kind in KINDS]
        expected = []
        for c in cases:
            status = 200 if ok else REFUSAL[_kind(world, c)]
            reason = "" if ok or _kind(world, c) not in ("http", "rest", "url") else "session-id-mismatch"
            expected.append({"status": status, "reason": reason})
        wrong += _wrong(cases, page.calls(cases), expected)
        # The probe survived next to the client's own query (each request is tied to its case).
        wrong += [f"probe {n} lost" for n in numbers if not served(world.stack, n)]
    assert not wrong, "\n".join(wrong)


def test_our_outage_through_every_client(page_on: Any, world: World) -> None:
    """Keys down: 503 with a readable Retry-After and reason through each
    client's error object, with the token and with the cookie — never a 401."""
    page = page_on(world.stack.origins["a"])
    token = world.token("a")
    page.enter(token=token, cookie=token, clientUat="1")
    cases = [case(lib, world.down[kind], **extra) for lib in LIBS for kind in world.down
             for extra in ({}, {"method": "post", "json": {"x": 1}, "credentials": "include"})]
    got = page.calls(cases)
    wrong = _wrong(cases, got, [{"status": 503, "reason": "jwk-remote-failed-to-load"} for _ in cases])
    wrong += [f"{c['lib']} {c['base']}{c['path']}: Retry-After {g.get('headers', {}).get('retry-after')}"
              for c, g in zip(cases, got, strict=True) if not (g.get("headers", {}).get("retry-after") or "").isdigit()]
    assert not wrong, "\n".join(wrong)


# -- react hooks' mutations --------------------------------------------------------------------------


@pytest.mark.parametrize("hook", ["useMutation", "useSWRMutation"])
def test_hook_mutations_with_the_cookie_and_with_a_token(page_on: Any, world: World, hook: str) -> None:
    """@tanstack/react-query v5 ``useMutation`` and SWR ``useSWRMutation`` whose
    mutation function is a client call: POST/PUT/PATCH/DELETE with JSON on
    every API, from the authorized page with the cookie (``credentials:
    "include"``) and with the token; signed out a readable 401 (the
    authorizers' own refusals) and nothing ran. From C, with the same cookie
    and a token: a network error, and nothing ran."""
    token = world.token("a")
    numbers: list[int] = []
    libs = ("fetch", "axios", "ky")
    methods = ("post", "put", "patch", "delete")

    def cases(**extra: Any) -> list[dict[str, Any]]:
        return [case(lib, world.writes[kind], numbers, hook=hook, method=method, json={"title": hook}, **extra)
                for lib in libs for kind in KINDS for method in methods]

    page = page_on(world.stack.origins["a"])
    page.enter(token=None, cookie=token, clientUat="1")
    made = cases(credentials="include")
    wrong = _wrong(made, page.calls(made), [{"status": 200, "user": USER, "recorded": True} for _ in made])
    page.enter(token=token, cookie=None, clientUat=None)
    made = cases()
    wrong += _wrong(made, page.calls(made), [{"status": 200, "user": USER, "recorded": True} for _ in made])
    ran = [n for n in numbers if len(world.recorder.calls(n)) != 1]
    numbers.clear()
    page.enter(**SIGNED_OUT)
    made = cases(credentials="include")
    wrong += _wrong(made, page.calls(made), [{"status": REFUSAL[_kind(world, c)], "outcome": "error"} for c in made])
    foreign = page_on(world.stack.origins["c"])
    foreign.enter(token=token, cookie=token, clientUat="1")
    made = cases(credentials="include")
    wrong += _wrong(made, foreign.calls(made), [{"status": "blocked", "outcome": "error"} for _ in made])
    ran += [n for n in numbers if world.recorder.calls(n)]
    assert not wrong and not ran, ("\n".join(wrong), ran)
