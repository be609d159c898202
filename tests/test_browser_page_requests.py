"""More frontend patterns, in a real browser, beyond Clerk's docs.

``tests/test_browser.py`` runs the patterns of Clerk's frontend docs and the
README's; this module runs what real pages do besides, on the same stack
(the same four loopback origins and the local gateway serving template.yaml):

* fetch with PUT/PATCH/DELETE and JSON bodies, extra request headers
  (tracing, conditional, ``X-Requested-With``), ``keepalive``, ``mode: "cors"``
  with ``credentials: "include"`` and a Bearer token, HEAD, aborts, a
  redirect (a trailing slash on the FastAPI Function URL);
* what needs no CORS: ``navigator.sendBeacon``, HTML forms posting across
  origins, ``<img>`` / ``<script>`` loads, a sandboxed frame (``Origin: null``);
* query strings around ``_clerk_session_id``, tokens near the 8 KB limit, 20
  concurrent requests each asking ``getToken()`` for a fresh token, preflight
  caching (``Access-Control-Max-Age``);
* more libraries: react-query v5 ``useMutation``, SWR ``useSWRMutation``,
  axios interceptors and its XSRF defaults, ky, ofetch;
* the page origin spelled ``127.0.0.1`` as well as ``localhost``.

Every library comes from the npm registry at test time (tests/browser/
package-lock.json) and is bundled with esbuild (tests/browser/page_requests.jsx); only
Clerk's hooks are the stub. Each case names the API it calls: ``http`` (HTTP
API ``/me``), ``rest`` (REST API ``/Prod/me``), ``url`` (the FastAPI Function
URL), ``http-authorizer`` / ``rest-authorizer`` (``/secure`` behind the
Lambda authorizer). What the page reads is checked, and so is what reached
the server (its log line) and Chromium's network stack (preflights).
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from support.browser import BrowserPage, page_bundle, page_opener, publish
from support.browser_stack import USER, Stack, make_stack, served, static_gateway, targets, url, wait_served

from clerk_serverless_local.devkeys import DevKey
from clerk_serverless_local.gateway import LocalGateway

pytestmark = pytest.mark.browser
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>more patterns</title></head>
<body><script src="page_requests.js"></script></body></html>
"""
KINDS = ("http", "rest", "url", "http-authorizer", "rest-authorizer")
FN_KINDS = ("http", "rest", "url")  # the toolkit answers (no authorizer in front)


# -- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def more_bundle(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return page_bundle(request, tmp_path_factory, "page_requests.jsx", "page_requests.js", "page-requests-bundle")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, more_bundle: Path) -> Iterator[Stack]:
    with make_stack(tmp_path_factory.mktemp("browser-page-requests")) as made:
        publish(made.dirs.values(), "page_requests", PAGE, more_bundle)
        yield made


# -- pages, cases and what the server saw -----------------------------------------------------------


def not_sent(stack: Stack, number: int) -> bool:
    """The request was preflighted and never sent: its preflight got no CORS grant."""
    lines = served(stack, number)
    return len(lines) == 1 and lines[0].startswith("OPTIONS ") and lines[0].endswith(" 204")


class Page(BrowserPage):
    """One page on one origin, running window.MORE's patterns: ``enter`` takes
    getToken()'s token (``token``, ``fresh``), the cookies (``cookie``, ``clientUat``, ``xsrf``)."""

    API = "MORE"

    def __init__(self, browser: Any, stack: Stack, origin: str) -> None:
        self.stack = stack
        super().__init__(browser, f"{origin}/page_requests.html")


@pytest.fixture
def pages(browser: Any, stack: Stack) -> Iterator[Any]:
    def make(_: int, name: str, origin: str | None = None) -> Page:
        return Page(browser, stack, origin or stack.origins[name])

    with page_opener(make) as open_page:
        yield open_page


def signed_in(stack: Stack, page: str = "a", **extra: Any) -> dict[str, Any]:
    """The state of a page signed in as USER: getToken() and the cookies agree."""
    token = stack.token(stack.origins[page], f"sess_{page}")
    return {"token": token, "sid": f"sess_{page}", "cookie": token, "clientUat": str(int(time.time()) - 300), **extra}


def todos(stack: Stack) -> list[str]:
    """The signed-in user's todos, asked directly (no Origin: not a browser)."""
    request = urllib.request.Request(f"{stack.api}/todos", headers={"Authorization": f"Bearer {stack.token(stack.origins['a'], 'sess_a')}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return list(json.loads(response.read())["todos"])


def padded_token(stack: Stack, azp: str, length: int) -> str:
    """A valid session token about ``length`` characters long (custom claims make tokens grow)."""
    base = stack.token(azp, "sess_a")
    claims = jwt.decode(base, options={"verify_signature": False})
    header = jwt.get_unverified_header(base)
    claims["metadata"] = ""
    bare = len(jwt.encode(claims, stack.key.private_key, algorithm="RS256", headers=header))
    claims["metadata"] = "x" * ((length - bare) * 3 // 4)
    return jwt.encode(claims, stack.key.private_key, algorithm="RS256", headers=header)


# -- writes with JSON bodies, and the headers real pages add ---------------------------------------


def test_put_patch_delete_with_json_bodies(pages: Any, stack: Stack) -> None:
    """The preflight (method + content-type + authorization) is granted and the
    request reaches the toolkit, which reads the Bearer token: signed in it lets
    the write through (the sample Powertools app has no PUT/PATCH/DELETE
    route: 404 from the app, not a refusal), signed out it is a readable 401."""
    page = pages("a")
    for method in ("PUT", "PATCH", "DELETE"):
        for state, expected in (("in", (404, "")), ("out", (401, "session-token-missing"))):
            page.enter(**(signed_in(stack) if state == "in" else {"token": None, "cookie": None, "clientUat": None}))
            address, number = url(f"{stack.api}/todos/1")
            token = stack.token(stack.origins["a"], "sess_a") if state == "in" else None
            got = page.run("fetch", url=address, method=method, bearer=token,
                           headers={"Content-Type": "application/json"}, body={"title": "x", "done": True})
            assert (got["status"], got["reason"]) == expected, (method, state, got)
            assert served(stack, number) == ["OPTIONS preflight 204", f"{method} PowertoolsFunction (http) {expected[0]}"]
    # The REST API has no PUT method on /me: API Gateway's own 403, readable by
    # the first authorized origin (its gateway responses), after the function
    # granted the preflight.
    address, number = url(f"{stack.api}/Prod/me")
    got = page.run("fetch", url=address, method="PUT", bearer=stack.token(stack.origins["a"], "sess_a"),
                   headers={"Content-Type": "application/json"}, body={"title": "x"})
    assert got["status"] == 403, got
    assert served(stack, number) == ["OPTIONS MeFunction (rest) 204", "PUT RestApi (no route) 403"]
    # The Function URL's CORS allows every method the app may route (template.yaml):
    # the DELETE is sent, and the FastAPI app, which has no such route, answers 405.
    address, number = url(f"{stack.url}/api/whoami")
    got = page.run("fetch", url=address, method="DELETE", bearer=stack.token(stack.origins["a"], "sess_a"))
    assert got["status"] == 405 and served(stack, number) == ["OPTIONS FastApiFunction (preflight) 204",
                                                               "DELETE FastApiFunction 405"], got


SAFELISTED = {"Accept-Language": "fr-CH, fr;q=0.9", "Content-Language": "de-DE", "Accept": "application/json"}
# Headers real pages add, each needing the preflight to allow it: jQuery, the
# W3C trace context (OpenTelemetry, Datadog), Sentry's tracing, conditional
# requests, axios' XSRF header (withXSRFToken), an app's own request ID.
EXTRA = {"X-Requested-With": "XMLHttpRequest", "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
         "sentry-trace": "0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-1", "baggage": "sentry-environment=dev",
         "If-None-Match": '"v1"', "Cache-Control": "no-cache", "X-Request-Id": "4f1c2a"}


@pytest.mark.parametrize("kind", KINDS)
def test_extra_request_headers(pages: Any, stack: Stack, kind: str) -> None:
    page = pages("a")
    token = stack.token(stack.origins["a"], "sess_a")
    refused = []
    for name, value in {**SAFELISTED, **EXTRA}.items():
        address, number = url(targets(stack)[kind])
        got = page.run("fetch", url=address, bearer=token, headers={name: value})
        if got["status"] != 200 or got["user"] != USER:
            refused.append(f"{name}: {got['status']} (server: {', '.join(served(stack, number))})")
    assert not refused, f"{kind}: the page could not read {len(refused)} answers: {refused}"


def test_safelisted_headers_need_no_grant(pages: Any, stack: Stack) -> None:
    """Accept, Accept-Language, Content-Language: no header to grant beyond authorization, on every API."""
    page = pages("a")
    token = stack.token(stack.origins["a"], "sess_a")
    for kind, target in targets(stack).items():
        for name, value in SAFELISTED.items():
            got = page.run("fetch", url=url(target)[0], bearer=token, headers={name: value})
            assert (got["status"], got["user"]) == (200, USER), (kind, name, got)


def test_mode_cors_credentials_include_and_bearer_together(pages: Any, stack: Stack) -> None:
    """Both credentials at once (the header wins), with _clerk_session_id and other parameters."""
    page = pages("a")
    page.enter(**signed_in(stack))
    token = stack.token(stack.origins["a"], "sess_a")
    for kind, target in targets(stack).items():
        got = page.run("fetch", url=url(target, "_clerk_session_id=sess_a&page=2")[0], mode="cors", credentials="include",
                       bearer=token)
        assert (got["status"], got["user"]) == (200, USER), (kind, got)
    # From the unauthorized origin, the same request never leaves the browser.
    foreign = pages("c")
    foreign.enter(**signed_in(stack))
    for kind, target in targets(stack).items():
        address, number = url(target, "_clerk_session_id=sess_a")
        got = foreign.run("fetch", url=address, mode="cors", credentials="include", bearer=token)
        assert got["status"] == "blocked" and not_sent(stack, number), (kind, got, served(stack, number))


# -- keepalive, beacons, forms: writes the page does not read --------------------------------------


def test_keepalive_requests(pages: Any, stack: Stack) -> None:
    """fetch(…, { keepalive: true }), as analytics and "save on unload" code sends it."""
    page = pages("a")
    page.enter(**signed_in(stack))
    address, number = url(f"{stack.api}/todos")
    got = page.run("fetch", url=address, method="POST", keepalive=True, bearer=stack.token(stack.origins["a"], "sess_a"),
                   headers={"Content-Type": "application/json"}, body={"title": "keepalive: JSON with Bearer"})
    assert got["status"] == 201 and served(stack, number) == ["OPTIONS preflight 204", "POST PowertoolsFunction (http) 201"], got
    got = page.run("fetch", url=url(f"{stack.api}/todos")[0], method="POST", keepalive=True, credentials="include",
                   headers={"Content-Type": "text/plain"}, body={"title": "keepalive: text/plain with the cookie"})
    assert got["status"] == 201, got
    assert {"keepalive: JSON with Bearer", "keepalive: text/plain with the cookie"} <= set(todos(stack))


def test_send_beacon(pages: Any, stack: Stack) -> None:
    """navigator.sendBeacon sends a text/plain POST with the cookie and no
    preflight. From an authorized origin it is a write like any other; from
    a foreign one the CSRF rule refuses it (403 origin-invalid) before the
    handler runs."""
    for name, title in (("a", "beacon from A"), ("c", "beacon from C")):
        page = pages(name)
        page.enter(**signed_in(stack))
        todo, todo_probe = url(f"{stack.api}/todos")
        fastapi, fastapi_probe = url(f"{stack.url}/api/whoami")
        assert page.run("beacon", url=todo, body=json.dumps({"title": title})) == {"queued": True}
        assert page.run("beacon", url=fastapi, body="{}") == {"queued": True}
        if name == "a":
            assert wait_served(stack, todo_probe) == ["POST PowertoolsFunction (http) 201"]
            # FastAPI has no POST route: the toolkit let the request through (405 from the app).
            assert wait_served(stack, fastapi_probe) == ["POST FastApiFunction 405"]
        else:
            assert wait_served(stack, todo_probe) == ["POST PowertoolsFunction (http) 403"]
            assert wait_served(stack, fastapi_probe) == ["POST FastApiFunction 403"]
    assert "beacon from A" in todos(stack)
    assert "beacon from C" not in todos(stack)


def test_html_forms_across_origins(pages: Any, stack: Stack) -> None:
    """<form method=POST> into a hidden frame: no CORS at all, the cookie goes along."""
    # text/plain forms can carry JSON: name '{"title": "…", "x": "' + '=' + value '"}'.
    def fields(title: str) -> list[list[str]]:
        return [['{"title": "' + title + '", "x": "', '"}']]

    foreign = pages("c")
    foreign.enter(**signed_in(stack))
    for target, who in ((f"{stack.api}/todos", "PowertoolsFunction (http)"), (f"{stack.url}/api/whoami", "FastApiFunction")):
        for enctype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
            address, number = url(target)
            foreign.run("formPost", url=address, enctype=enctype, fields=fields(f"form from C {enctype}"))
            assert wait_served(stack, number) == [f"POST {who} 403"], (target, enctype)
    page = pages("a")
    page.enter(**signed_in(stack))
    address, number = url(f"{stack.api}/todos")
    page.run("formPost", url=address, enctype="text/plain", fields=fields("form from A"))
    assert wait_served(stack, number) == ["POST PowertoolsFunction (http) 201"]
    assert "form from A" in todos(stack)
    assert not [t for t in todos(stack) if t.startswith("form from C")]


# -- GET loads without CORS, and Origin: null ---------------------------------------------------------


def test_img_and_script_loads_leak_nothing(pages: Any, stack: Stack) -> None:
    """A foreign page can make the browser GET an API with the cookie (<img>,
    <script>): the request is authenticated (GET is safe, so it is answered),
    but the page learns nothing from it."""
    page = pages("c")
    page.enter(**signed_in(stack))
    for kind, target in {**targets(stack), "todos": f"{stack.api}/todos"}.items():
        for tag in ("img", "script"):
            address, number = url(target)
            got = page.run("embed", tag=tag, url=address)
            assert got == {"result": "error", "errors": [], "newGlobals": []}, (kind, tag, got)
            assert wait_served(stack, number)[-1].endswith(" 200"), (kind, tag, served(stack, number))


def test_origin_null_sandboxed_frame(pages: Any, stack: Stack) -> None:
    """A sandboxed frame (Origin: null) on an authorized page reads nothing, and
    its cookie-carrying writes change nothing: the browser does not even send
    the cookie from an opaque origin (Lax, and None alike)."""
    page = pages("a")
    for attributes in ("SameSite=Lax", "SameSite=None; Secure"):
        page.enter(**signed_in(stack, cookieAttributes=attributes))
        for kind, target in {**targets(stack), "todos": f"{stack.api}/todos"}.items():
            address, number = url(target)
            got = page.run("sandboxed", url=address, init={"credentials": "include"})
            assert got == {"status": "blocked"}, (attributes, kind, got)
        for target in (f"{stack.api}/todos", f"{stack.url}/api/whoami"):
            address, number = url(target)
            got = page.run("sandboxed", url=address, init={"method": "POST", "credentials": "include", "mode": "no-cors",
                                                             "headers": {"Content-Type": "text/plain"},
                                                             "body": json.dumps({"title": "from a sandboxed frame"})})
            assert got == {"status": "opaque"}, got
            assert wait_served(stack, number)[-1].endswith(" 401"), served(stack, number)  # no cookie came along
        page.enter(cookie=None, clientUat=None, cookieAttributes=attributes)
    assert "from a sandboxed frame" not in todos(stack)


def test_event_source_with_credentials(pages: Any, stack: Stack) -> None:
    """EventSource({ withCredentials: true }) is authenticated by the cookie; the
    APIs stream nothing (JSON answers), so the browser closes it: no SSE here."""
    page = pages("a")
    page.enter(**signed_in(stack))
    address, number = url(f"{stack.api}/me")
    assert page.run("eventSource", url=address) == {"result": "error", "messages": []}
    assert wait_served(stack, number) == ["GET MeFunction (http) 200"]


# -- methods, redirects, paths and query strings --------------------------------------------------------


def test_head_requests(pages: Any, stack: Stack) -> None:
    """HEAD is safe: the toolkit authenticates it like a GET where a route takes it."""
    page = pages("a")
    page.enter(token=None, cookie=None, clientUat=None)
    # /todos (ANY) and the Function URL reach the toolkit whatever the method.
    got = page.run("fetch", url=url(f"{stack.api}/todos")[0], method="HEAD")
    assert (got["status"], got["reason"]) == (401, "session-token-missing"), got
    got = page.run("fetch", url=url(f"{stack.url}/api/whoami")[0], method="HEAD")
    assert (got["status"], got["reason"]) == (401, "session-token-missing"), got
    page.enter(**signed_in(stack))
    # Signed in, the apps answer: Powertools and FastAPI have no HEAD routes.
    assert page.run("fetch", url=url(f"{stack.api}/todos")[0], method="HEAD", credentials="include")["status"] == 404
    assert page.run("fetch", url=url(f"{stack.url}/api/whoami")[0], method="HEAD", credentials="include")["status"] == 405
    # The REST API has no HEAD method on /me: API Gateway's own 403, readable by A.
    assert page.run("fetch", url=url(f"{stack.api}/Prod/me")[0], method="HEAD", credentials="include")["status"] == 403


def test_trailing_slash_redirect_on_the_function_url(pages: Any, stack: Stack) -> None:
    """FastAPI redirects /api/whoami/ to /api/whoami (307, same origin): the
    browser follows it, preflighting again, with the Bearer header."""
    page = pages("a")
    page.enter(**signed_in(stack))
    got = page.run("fetch", url=f"{stack.url}/api/whoami/", bearer=stack.token(stack.origins["a"], "sess_a"))
    assert (got["status"], got["user"], got["redirected"]) == (200, USER, True), got
    assert got["finalUrl"] == f"{stack.url}/api/whoami", got
    got = page.run("fetch", url=f"{stack.url}/api/whoami/?_clerk_session_id=sess_a", credentials="include")
    assert (got["status"], got["user"]) == (200, USER), got


@pytest.mark.parametrize("kind", KINDS)
def test_query_strings_around_clerk_session_id(pages: Any, stack: Stack, kind: str) -> None:
    page = pages("a")
    page.enter(**signed_in(stack))
    target = targets(stack)[kind]
    refused = {"http-authorizer": (403, ""), "rest-authorizer": (401, "")}.get(kind, (401, "session-id-mismatch"))
    cases = {
        "first, then others": ("_clerk_session_id=sess_a&page=2&sort=-created", (200, "")),
        "others, then it": ("q=a%26b%3Dc&tags=x,y&_clerk_session_id=sess_a", (200, "")),
        "percent-encoded": ("_clerk_session_id=sess%5Fa", (200, "")),
        "with a +": ("q=a+b&_clerk_session_id=sess_a", (200, "")),
        "empty": ("_clerk_session_id=", (200, "")),
        "twice, the same (a URL builder appending it again)": ("_clerk_session_id=sess_a&_clerk_session_id=sess_a", (200, "")),
        "twice, another session second": ("_clerk_session_id=sess_a&_clerk_session_id=sess_other", refused),
        "twice, another session first": ("_clerk_session_id=sess_other&_clerk_session_id=sess_a", refused),
        "another session": ("_clerk_session_id=sess_other", refused),
    }
    wrong = []
    for label, (query, expected) in cases.items():
        got = page.run("fetch", url=url(target, query)[0], credentials="include")
        if (got["status"], got["reason"]) != expected:
            wrong.append(f"{label} (?{query}): expected {expected}, got {(got['status'], got['reason'])}")
    assert not wrong, f"{kind}:\n  " + "\n  ".join(wrong)


# -- tokens: size, refresh, concurrency ------------------------------------------------------------------


def test_large_tokens(pages: Any, stack: Stack) -> None:
    """Custom claims make tokens grow: up to the documented 8 KB they pass on
    every API, in the header and (up to the browser's 4 KB cookie) in __session;
    past 8 KB they are refused as token-invalid."""
    page = pages("a")
    azp = stack.origins["a"]
    big, huge = padded_token(stack, azp, 7_000), padded_token(stack, azp, 8_400)
    page.enter(token=None, cookie=None, clientUat=None)
    for kind, target in targets(stack).items():
        got = page.run("fetch", url=url(target)[0], bearer=big)
        assert (got["status"], got["user"]) == (200, USER), (kind, len(big), got)
        got = page.run("fetch", url=url(target)[0], bearer=huge)
        expected = {"http-authorizer": (403, ""), "rest-authorizer": (401, "")}.get(kind, (401, "token-invalid"))
        assert (got["status"], got["reason"]) == expected, (kind, len(huge), got)
    cookie = padded_token(stack, azp, 3_800)
    page.enter(cookie=cookie, clientUat=str(int(time.time()) - 300))
    for kind, target in targets(stack).items():
        got = page.run("fetch", url=url(target)[0], credentials="include")
        assert (got["status"], got["user"]) == (200, USER), (kind, len(cookie), got)


def _fresh_tokens(stack: Stack, count: int) -> list[str]:
    """``count`` distinct valid tokens, as a session refreshing between calls hands out."""
    return [stack.key.token(USER, sid="sess_a", azp=stack.origins["a"], lifetime=3600 - i) for i in range(count)]


@pytest.mark.parametrize("kind", KINDS)
def test_twenty_concurrent_requests_each_with_a_fresh_token(pages: Any, stack: Stack, kind: str) -> None:
    page = pages("a")
    page.enter(token=None, fresh=_fresh_tokens(stack, 20), cookie=None, clientUat=None)
    got = page.run("concurrent", url=url(targets(stack)[kind])[0], count=20)
    assert got["statuses"] == [200] * 20 and got["users"] == [USER], (kind, got)


def test_aborted_requests_leave_the_apis_serving(pages: Any, stack: Stack) -> None:
    """AbortController.abort() and AbortSignal.timeout(): the page sees its own
    abort; the gateway and the warm functions keep answering."""
    page = pages("a")
    token = stack.token(stack.origins["a"], "sess_a")
    for kind, target in targets(stack).items():
        assert page.run("fetch", url=url(target)[0], bearer=token, abortNow=True)["error"] == "AbortError", kind
        assert page.run("fetch", url=url(target)[0], bearer=token, abortAfterMs=1)["error"] == "TimeoutError", kind
        got = page.run("fetch", url=url(target)[0], bearer=token)
        assert (got["status"], got["user"]) == (200, USER), (kind, got)


def test_preflights_are_cached(pages: Any, stack: Stack) -> None:
    """Access-Control-Max-Age (600 s) on every API's preflight: three identical
    Bearer requests cost one preflight."""
    page = pages("a")
    token = stack.token(stack.origins["a"], "sess_a")
    for kind, target in targets(stack).items():
        address, number = url(target)
        for _ in range(3):
            assert page.run("fetch", url=address, bearer=token)["status"] == 200, kind
        methods = [line.split()[0] for line in served(stack, number)]
        assert methods == ["OPTIONS", "GET", "GET", "GET"], (kind, served(stack, number))


# -- libraries -------------------------------------------------------------------------------------------


def test_react_query_use_mutation(pages: Any, stack: Stack) -> None:
    page = pages("a")
    page.enter(token=stack.token(stack.origins["a"], "sess_a"), fresh=[], cookie=None, clientUat=None)
    got = page.run("useMutation", url=url(f"{stack.api}/todos")[0], title="useMutation v5")
    assert (got["outcome"], got["user"]) == ("data", USER) and "useMutation v5" in got["todos"], got
    page.enter(token=None, cookie=None, clientUat=None)
    address, number = url(f"{stack.api}/todos")
    got = page.run("useMutation", url=address, title="signed out")
    # Mutations are not retried: one request, a readable 401 with its reason.
    assert (got["outcome"], got["status"], got["reason"]) == ("error", 401, "session-token-missing"), got
    assert served(stack, number) == ["OPTIONS preflight 204", "POST PowertoolsFunction (http) 401"]


def test_swr_use_swr_mutation(pages: Any, stack: Stack) -> None:
    page = pages("a")
    page.enter(token=stack.token(stack.origins["a"], "sess_a"), fresh=[], cookie=None, clientUat=None)
    got = page.run("useSWRMutation", url=url(f"{stack.api}/todos")[0], title="useSWRMutation")
    assert (got["outcome"], got["user"]) == ("data", USER) and "useSWRMutation" in got["todos"], got
    page.enter(token=stack.token(stack.origins["a"], "sess_a", expired=True))
    got = page.run("useSWRMutation", url=url(f"{stack.api}/todos")[0], title="expired")
    assert (got["outcome"], got["status"], got["reason"]) == ("error", 401, "token-expired"), got


def _split(address: str) -> tuple[str, str]:
    found = re.match(r"(https?://[^/]+)(/.*)", address)
    assert found is not None
    return found.group(1), found.group(2)


@pytest.mark.parametrize("kind", KINDS)
def test_axios_interceptor_with_a_fresh_token_per_request(pages: Any, stack: Stack, kind: str) -> None:
    page = pages("a")
    page.enter(token=None, fresh=_fresh_tokens(stack, 3), cookie=None, clientUat=None)
    for _ in range(3):
        base, path = _split(url(targets(stack)[kind])[0])
        got = page.run("axios", base=base, path=path)
        assert (got["outcome"], got["status"], got["user"]) == ("data", 200, USER), (kind, got)


@pytest.mark.parametrize("kind", KINDS)
def test_axios_xsrf_defaults_cross_origin(pages: Any, stack: Stack, kind: str) -> None:
    """axios reads XSRF-TOKEN and sends X-XSRF-TOKEN only to its own origin by
    default (withCredentials does not change that since axios 1.6): a page that
    has the cookie calls the APIs as usual."""
    page = pages("a")
    page.enter(**signed_in(stack), xsrf="f00d")
    base, path = _split(url(targets(stack)[kind], "_clerk_session_id=sess_a")[0])
    got = page.run("axios", base=base, path=path)
    assert (got["outcome"], got["status"], got["user"], got["sentXsrf"]) == ("data", 200, USER, False), (kind, got)


@pytest.mark.parametrize("kind", KINDS)
def test_axios_with_xsrf_token_forced(pages: Any, stack: Stack, kind: str) -> None:
    """withXSRFToken: true sends X-XSRF-TOKEN cross-origin too: one more header to grant."""
    page = pages("a")
    page.enter(**signed_in(stack), xsrf="f00d")
    base, path = _split(url(targets(stack)[kind])[0])
    got = page.run("axios", base=base, path=path, axios={"withXSRFToken": True})
    assert (got["outcome"], got["status"], got.get("user"), got["sentXsrf"]) == ("data", 200, USER, True), (kind, got)


@pytest.mark.parametrize("kind", KINDS)
def test_ky(pages: Any, stack: Stack, kind: str) -> None:
    page = pages("a")
    page.enter(token=stack.token(stack.origins["a"], "sess_a"), fresh=[], cookie=None, clientUat=None)
    got = page.run("ky", url=url(targets(stack)[kind])[0])
    assert (got["outcome"], got["status"], got.get("user")) == ("data", 200, USER), (kind, got, page.console[-5:])
    page.enter(token=None)
    got = page.run("ky", url=url(targets(stack)[kind])[0])
    expected = {"http-authorizer": 403, "rest-authorizer": 401}.get(kind, 401)
    assert (got["outcome"], got["error"], got["status"]) == ("error", "HTTPError", expected), (kind, got)
    if kind in FN_KINDS:
        assert got["reason"] == "session-token-missing", got


def test_ky_honours_retry_after_on_our_outage(pages: Any, stack: Stack) -> None:
    """ky retries a 503 after its Retry-After (5 s, exposed to the page), never a 401."""
    page = pages("a")
    page.enter(token=stack.token(stack.origins["a"], "sess_a"), fresh=[], cookie=None, clientUat=None)
    address, number = url(f"{stack.api}/reports")
    got = page.run("ky", url=address, retry={"limit": 1}, timeout=20_000)
    assert (got["outcome"], got["status"]) == ("error", 503), got
    assert 4_500 <= got["ms"] < 15_000, got
    assert [line for line in served(stack, number) if line.startswith("GET")] == ["GET ReportsFunction (http) 503"] * 2
    page.enter(token=None)
    address, number = url(f"{stack.api}/me")
    got = page.run("ky", url=address, retry={"limit": 2})
    assert got["status"] == 401 and [line for line in served(stack, number) if line.startswith("GET")] == \
        ["GET MeFunction (http) 401"], got


@pytest.mark.parametrize("kind", KINDS)
def test_ofetch(pages: Any, stack: Stack, kind: str) -> None:
    page = pages("a")
    page.enter(token=stack.token(stack.origins["a"], "sess_a"), fresh=[], cookie=None, clientUat=None)
    got = page.run("ofetch", url=url(targets(stack)[kind])[0])
    assert (got["outcome"], got["status"], got["user"]) == ("data", 200, USER), (kind, got)
    page.enter(token=None)
    got = page.run("ofetch", url=url(targets(stack)[kind])[0], retry=1)  # ofetch never retries a 401
    expected = {"http-authorizer": 403, "rest-authorizer": 401}.get(kind, 401)
    assert (got["outcome"], got["error"], got["status"]) == ("error", "FetchError", expected), (kind, got)
    if kind in FN_KINDS:
        assert (got["reason"], got["data"]) == ("session-token-missing", "session-token-missing"), got


# -- origins: 127.0.0.1 and localhost ------------------------------------------------------------------


def test_unlisted_loopback_spelling_is_another_origin(pages: Any, stack: Stack) -> None:
    """A's page opened as http://127.0.0.1:<port> is another origin, not in
    ClerkAuthorizedParties: it reads nothing, whichever token it holds."""
    origin = stack.origins["a"].replace("localhost", "127.0.0.1")
    page = pages("a", origin)
    for token in (stack.token(origin, "sess_a"), stack.token(stack.origins["a"], "sess_a")):
        for kind, target in targets(stack).items():
            address, number = url(target)
            assert page.run("fetch", url=address, bearer=token)["status"] == "blocked", kind
            assert not_sent(stack, number), (kind, served(stack, number))


@pytest.fixture(scope="module")
def served_static(tmp_path_factory: pytest.TempPathFactory, more_bundle: Path) -> Iterator[tuple[LocalGateway, DevKey, list[str]]]:
    """`serve --static` as a developer starts it: the template's default origins,
    the gateway's own page origin authorized for the run."""
    static = tmp_path_factory.mktemp("static")
    publish([static], "page_requests", PAGE, more_bundle)
    lines: list[str] = []
    with static_gateway(static, lines.append) as (gateway, key):
        yield gateway, key, lines


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_serve_static_page_on_either_loopback_spelling(browser: Any, stack: Stack, served_static: Any, host: str) -> None:
    """The gateway binds 127.0.0.1 and prints http://localhost:<port>; a developer
    may open either. Same-origin, with Clerk's cookie (whose token's azp is the
    page's origin), reads and writes work on both."""
    gateway, key, _ = served_static
    origin = gateway.origin().replace("localhost", host)
    page = Page(browser, stack, origin)
    try:
        token = key.token(USER, sid="sess_s", azp=origin, lifetime=3600)
        page.enter(token=token, cookie=token, clientUat=str(int(time.time()) - 300))
        got = page.run("fetch", url="/me?_clerk_session_id=sess_s")
        assert (got["status"], got["reason"], got["user"]) == (200, "", USER), got
        got = page.run("fetch", url="/todos", method="POST", headers={"Content-Type": "application/json"},
                       body={"title": f"same-origin on {host}"})
        assert (got["status"], got["reason"]) == (201, ""), got
    finally:
        page.close()
