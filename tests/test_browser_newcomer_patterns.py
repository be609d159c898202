"""Frontend patterns a new user tries, beyond tests/test_browser.py and
tests/test_browser_page_requests.py, in a real browser against ``serve`` on every API
type of template.yaml:

* ky and ofetch with their **default** retries (what a 401, a 403 and our
  503 + ``Retry-After`` cost in requests), ky's documented "retry with a fresh
  token on a 401" hook (``getToken({ skipCache: true })``), JSON writes with
  both;
* @tanstack/react-query v5 mutations (POST/PUT/PATCH/DELETE with JSON bodies,
  so preflights with ``content-type``) with optimistic updates rolled back on
  a 401, and queries cancelled in flight through react-query's AbortSignal;
* ``getToken({ template })`` (a JWT-template token, with ``aud``) and
  session tokens carrying ``aud``; ``getToken({ skipCache: true })``;
* custom request headers (``x-request-id``, ``x-csrf-token``, an unlisted
  ``x-csrf``), fetch's ``cache`` modes, PATCH/DELETE/HEAD;
* what a page can read of every answer: 401, 403 and 503 + ``Retry-After``
  on each API, the README's ``ApiError`` built from them;
* the signed-out flow (``Bearer null``, with and without the cookie), cookie
  calls after the ``__session`` cookie rotated, aborts after the answer's head.

APIs: ``http`` (HTTP API ``/me``), ``rest`` (REST API ``/Prod/me``), ``url``
(the FastAPI Function URL), ``http-authorizer`` / ``rest-authorizer``
(``/secure`` behind the Lambda authorizer). Every library comes from the npm
registry at test time and is bundled with esbuild (tests/browser/newcomer.jsx);
only Clerk's hooks are the stub. Each page keeps a table of what it ran and
saw, saved as ``artifacts/browser-newcomer-<test>.png``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from support.browser import ShotPage, page_bundle, page_opener, publish, shot_name
from support.browser_stack import USER, Stack, make_stack, served, static_gateway, targets, url
from test_browser_page_requests import FN_KINDS, KINDS, signed_in

from clerk_serverless_local.devkeys import DEV_ISSUER, DEV_KID, DevKey
from clerk_serverless_local.gateway import LocalGateway

pytestmark = pytest.mark.browser
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>patterns, third round</title>
<style>
  body { font: 12px system-ui, sans-serif; margin: 12px; }
  #page { display: inline-block; }
  h1 { font-size: 16px; margin: 0 0 6px; }
  table { border-collapse: collapse; }
  td, th { border: 1px solid #bbb; padding: 2px 6px; text-align: left; white-space: nowrap; }
  th { background: #eee; }
</style></head>
<body><div id="page"><h1>Patterns from <code id="origin"></code>: <span id="test"></span></h1>
<table id="log"><thead><tr><th>#</th><th>pattern</th><th>request</th><th>what the page saw</th></tr></thead>
<tbody></tbody></table></div>
<script src="newcomer.js"></script></body></html>
"""
# The HTTP API's Lambda authorizer answers 403 for every refusal; the REST
# API's, 401 (its gateway responses). Neither carries x-clerk-auth-reason.
AUTHORIZER_REFUSAL = {"http-authorizer": 403, "rest-authorizer": 401}


# -- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def newcomer_bundle(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return page_bundle(request, tmp_path_factory, "newcomer.jsx", "newcomer.js", "newcomer-bundle")


def _publish(stack: Stack, bundle: Path) -> None:
    publish(stack.dirs.values(), "newcomer", PAGE, bundle)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, newcomer_bundle: Path) -> Iterator[Stack]:
    with make_stack(tmp_path_factory.mktemp("browser-p3")) as made:
        _publish(made, newcomer_bundle)
        yield made


@pytest.fixture(scope="module")
def down(tmp_path_factory: pytest.TempPathFactory, newcomer_bundle: Path) -> Iterator[Stack]:
    """The same stack with every function's key source down (as ReportsFunction's
    is in the other): our outage, on each API."""
    with make_stack(tmp_path_factory.mktemp("browser-p3-down"),
                    key_down=("MeFunction", "FastApiFunction", "ClerkAuthorizerFunction", "SecureFunction")) as made:
        _publish(made, newcomer_bundle)
        yield made


class Page(ShotPage):
    """One page on one origin running window.P3's patterns (``enter`` takes
    getToken()'s token, ``fresh``, ``templates``, and the cookies); its table
    is screenshot when the test ends, passed or failed."""

    API, PREFIX = "P3", "browser-newcomer"

    def __init__(self, browser: Any, origin: str, shot: str) -> None:
        super().__init__(browser, f"{origin}/newcomer.html", shot)


@pytest.fixture
def pages(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    def make(opened: int, stack: Stack | None, page: str = "a", origin: str | None = None) -> Page:
        if origin is None:
            assert stack is not None
            origin = stack.origins[page]
        return Page(browser, origin, shot_name(request, opened))

    with page_opener(make) as open_page:
        yield open_page


SIGNED_OUT: dict[str, Any] = {"token": None, "cookie": None, "clientUat": None}


def gets(stack: Stack, number: int, method: str = "GET") -> list[str]:
    """The gateway's answers to ``probe=<number>`` for ``method`` (not the preflight)."""
    return [line for line in served(stack, number) if line.startswith(f"{method} ")]


def template_token(stack: Stack, azp: str, **claims: Any) -> str:
    """What getToken({ template: "api" }) gives: a JWT-template token, signed by
    the instance's key with Clerk's template category, no ``sid``, an ``aud``."""
    now = int(time.time())
    body = {"azp": azp, "iss": DEV_ISSUER, "sub": USER, "aud": "https://api.example.com", "iat": now - 5, "nbf": now - 10,
            "exp": now + 3600, "jti": "3c1f7e2a", **claims}
    return jwt.encode(body, stack.key.private_key, algorithm="RS256",
                      headers={"kid": DEV_KID, "typ": "JWT", "cat": "cl_B7d4PD222AAA"})


def session_token_with(stack: Stack, azp: str, **claims: Any) -> str:
    """A session token whose claims were customized (Dashboard → Sessions)."""
    base = stack.token(azp, "sess_a")
    header = jwt.get_unverified_header(base)
    body = {**jwt.decode(base, options={"verify_signature": False}), **claims}
    return jwt.encode(body, stack.key.private_key, algorithm="RS256", headers=header)


# -- ky and ofetch with their defaults -----------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_ky_defaults_never_retry_a_verdict(pages: Any, stack: Stack, kind: str) -> None:
    """ky's default retry (2 retries) leaves 401 and 403 alone: one request each."""
    page = pages(stack)
    page.enter(token=stack.token(stack.origins["a"], "sess_a"), cookie=None, clientUat=None)
    got = page.run("ky", url=url(targets(stack)[kind])[0])
    assert (got["outcome"], got["status"], got["user"]) == ("data", 200, USER), (kind, got)
    page.enter(**SIGNED_OUT)
    address, number = url(targets(stack)[kind])
    got = page.run("ky", url=address)
    expected = AUTHORIZER_REFUSAL.get(kind, 401)
    assert (got["outcome"], got["error"], got["status"]) == ("error", "HTTPError", expected), (kind, got)
    assert got["reason"] == ("session-token-missing" if kind in FN_KINDS else ""), got
    assert len(gets(stack, number)) == 1, served(stack, number)


def test_ky_defaults_retry_our_outage_after_retry_after(pages: Any, stack: Stack) -> None:
    """Our 503 is retried twice by default, after the exposed Retry-After."""
    page = pages(stack)
    page.enter(token=stack.token(stack.origins["a"], "sess_a"), cookie=None, clientUat=None)
    address, number = url(f"{stack.api}/reports")
    got = page.run("ky", url=address)
    assert (got["outcome"], got["status"], got["reason"]) == ("error", 503, "jwk-remote-failed-to-load"), got
    # Retry-After grows while the keys stay down (5, 10, 20 s): ky waited each one out.
    assert int(got["retryAfter"]) >= 5, got
    assert gets(stack, number) == ["GET ReportsFunction (http) 503"] * 3


@pytest.mark.parametrize("kind", KINDS)
def test_ky_refresh_on_401_hook(pages: Any, stack: Stack, kind: str) -> None:
    """ky's README hook: on a 401, getToken({ skipCache: true }) and ky.retry once.
    An expired token is refreshed and the call passes; the HTTP API authorizer
    answers 403, which the hook (rightly) leaves alone."""
    page = pages(stack)
    expired = stack.token(stack.origins["a"], "sess_a", expired=True)
    page.enter(token=None, fresh=[expired, stack.token(stack.origins["a"], "sess_a")], cookie=None, clientUat=None)
    address, number = url(targets(stack)[kind])
    got = page.run("ky", url=address, refresh=True)
    if kind == "http-authorizer":
        assert (got["outcome"], got["status"]) == ("error", 403), got
        assert len(gets(stack, number)) == 1
        return
    assert (got["outcome"], got["status"], got["user"]) == ("data", 200, USER), (kind, got)
    assert {"skipCache": True} in got["tokenCalls"], got
    statuses = [line.rsplit(" ", 1)[1] for line in gets(stack, number)]
    assert statuses == ["401", "200"], served(stack, number)


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_ky_json_writes(pages: Any, stack: Stack, method: str) -> None:
    """ky's json option: a content-type preflight, then the write; signed out
    a readable 401 and no retry (PUT and DELETE are retryable methods for ky)."""
    page = pages(stack)
    target = f"{stack.api}/todos" if method == "post" else f"{stack.api}/todos/1"
    page.enter(token=stack.token(stack.origins["a"], "sess_a"), cookie=None, clientUat=None)
    address, number = url(target)
    got = page.run("ky", url=address, method=method, json={"title": f"ky {method}"})
    # The sample app has POST /todos only: other methods reach it and get its 404.
    assert got["status"] == (201 if method == "post" else 404), got
    assert served(stack, number)[0] == "OPTIONS preflight 204", served(stack, number)
    page.enter(**SIGNED_OUT)
    address, number = url(target)
    got = page.run("ky", url=address, method=method, json={"title": "signed out"})
    assert (got["status"], got["reason"]) == (401, "session-token-missing"), got
    assert len(gets(stack, number, method.upper())) == 1, served(stack, number)


@pytest.mark.parametrize("kind", KINDS)
def test_ofetch_defaults(pages: Any, stack: Stack, kind: str) -> None:
    """ofetch retries a GET once on 5xx, never on 401/403."""
    page = pages(stack)
    page.enter(token=stack.token(stack.origins["a"], "sess_a"), cookie=None, clientUat=None)
    got = page.run("ofetch", url=url(targets(stack)[kind])[0])
    assert (got["outcome"], got["status"], got["user"]) == ("data", 200, USER), (kind, got)
    page.enter(**SIGNED_OUT)
    address, number = url(targets(stack)[kind])
    got = page.run("ofetch", url=address)
    assert (got["outcome"], got["status"]) == ("error", AUTHORIZER_REFUSAL.get(kind, 401)), (kind, got)
    if kind in FN_KINDS:
        assert (got["reason"], got["data"]) == ("session-token-missing", "session-token-missing"), got
    assert len(gets(stack, number)) == 1, served(stack, number)


def test_ofetch_outage(pages: Any, stack: Stack) -> None:
    """ofetch retries our 503 once, at once by default (it ignores Retry-After);
    the README's retryDelay makes it wait."""
    page = pages(stack)
    page.enter(token=stack.token(stack.origins["a"], "sess_a"), cookie=None, clientUat=None)
    for honour in (False, True):
        address, number = url(f"{stack.api}/reports")
        got = page.run("ofetch", url=address, honourRetryAfter=honour)
        assert (got["status"], got["reason"]) == (503, "jwk-remote-failed-to-load"), got
        assert gets(stack, number) == ["GET ReportsFunction (http) 503"] * 2
        # With the README's retryDelay, ofetch was told to wait the exposed Retry-After.
        assert (len(got["delays"]) == 1 and got["delays"][0] >= 1000) if honour else got["delays"] == [], got


# -- @tanstack/react-query v5: optimistic mutations, cancellation --------------------------------------


def test_optimistic_mutation_kept_when_signed_in(pages: Any, stack: Stack) -> None:
    page = pages(stack)
    page.enter(token=stack.token(stack.origins["a"], "sess_a"), cookie=None, clientUat=None)
    address, number = url(f"{stack.api}/todos")
    got = page.run("optimistic", url=address, title="optimistic, kept")
    assert (got["outcome"], got["status"], got["optimistic"]) == ("data", 201, True), got
    assert "optimistic, kept" in got["cached"], got
    assert gets(stack, number, "POST") == ["POST PowertoolsFunction (http) 201"], served(stack, number)


@pytest.mark.parametrize("state", ["signed out", "expired"])
def test_optimistic_mutation_rolled_back_on_401(pages: Any, stack: Stack, state: str) -> None:
    """The list loads signed in; the mutation then meets a 401 (signed out
    meanwhile, or an expired token): one POST (mutations are not retried), the
    reason readable, the optimistic entry rolled back, nothing written."""
    page = pages(stack)
    page.enter(token=stack.token(stack.origins["a"], "sess_a"), cookie=None, clientUat=None)
    mutate_as = None if state == "signed out" else stack.token(stack.origins["a"], "sess_a", expired=True)
    address, number = url(f"{stack.api}/todos")
    got = page.run("optimistic", url=address, title=f"optimistic, {state}", mutateAs=mutate_as)
    reason = "session-token-missing" if state == "signed out" else "token-expired"
    assert (got["outcome"], got["status"], got["reason"], got["optimistic"]) == ("error", 401, reason, True), got
    assert f"optimistic, {state}" not in got["cached"], got
    assert gets(stack, number, "POST") == ["POST PowertoolsFunction (http) 401"], served(stack, number)


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_mutations_with_other_methods(pages: Any, stack: Stack, method: str) -> None:
    """PUT/PATCH/DELETE with JSON and an x-request-id: preflighted with
    content-type, authorization and x-request-id, granted, then let through
    (the sample app has no such route: its 404, rolled back) or refused (401)."""
    page = pages(stack)
    for mutate_as, expected in ((stack.token(stack.origins["a"], "sess_a"), 404), (None, 401)):
        page.enter(token=stack.token(stack.origins["a"], "sess_a"), cookie=None, clientUat=None)
        address, number = url(f"{stack.api}/todos")
        mutate, mutate_number = url(f"{stack.api}/todos/1")
        got = page.run("optimistic", url=address, mutateUrl=mutate, method=method, title=f"{method} optimistic",
                       mutateAs=mutate_as, headers={"X-Request-Id": "9b2e"})
        assert (got["outcome"], got["status"]) == ("error", expected), got
        assert f"{method} optimistic" not in got["cached"], got
        assert served(stack, mutate_number) == ["OPTIONS preflight 204", f"{method} PowertoolsFunction (http) {expected}"]


@pytest.mark.parametrize("kind", KINDS)
def test_query_cancelled_in_flight_then_refetched(pages: Any, stack: Stack, kind: str) -> None:
    page = pages(stack)
    page.enter(token=stack.token(stack.origins["a"], "sess_a"), cookie=None, clientUat=None)
    got = page.run("cancel", url=url(targets(stack)[kind])[0])
    assert (got["outcome"], got["user"]) == ("data", USER), (kind, got)


# -- getToken options ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_jwt_template_tokens_are_refused_readably(pages: Any, stack: Stack, kind: str) -> None:
    """getToken({ template: "api" }) gives a JWT-template token (Clerk's template
    category, no sid, an aud): a validly signed token that is no session. The
    APIs refuse it with a readable 401 token-type-mismatch (the authorizers with
    their own refusal); signed out, getToken({ template }) resolves null."""
    page = pages(stack)
    azp = stack.origins["a"]
    page.enter(token=stack.token(azp, "sess_a"), sid="sess_a", templates={"api": template_token(stack, azp)},
               cookie=None, clientUat=None)
    got = page.run("fetch", url=url(targets(stack)[kind])[0], auth="if-any", tokenOptions={"template": "api"})
    expected = (AUTHORIZER_REFUSAL[kind], "") if kind in AUTHORIZER_REFUSAL else (401, "token-type-mismatch")
    assert (got["status"], got["reason"]) == expected, (kind, got)
    page.enter(**SIGNED_OUT, templates={"api": template_token(stack, azp)})
    got = page.run("fetch", url=url(targets(stack)[kind])[0], auth="docs", tokenOptions={"template": "api"})
    expected = (AUTHORIZER_REFUSAL[kind], "") if kind in AUTHORIZER_REFUSAL else (401, "session-token-missing")
    assert (got["status"], got["reason"]) == expected, (kind, got)


@pytest.mark.parametrize("kind", KINDS)
def test_session_tokens_with_aud_and_skip_cache(pages: Any, stack: Stack, kind: str) -> None:
    """A session token customized with an aud passes (no audience configured:
    aud is not checked); getToken({ skipCache: true }) is a getToken() like any."""
    page = pages(stack)
    azp = stack.origins["a"]
    page.enter(token=session_token_with(stack, azp, aud="https://api.example.com"), cookie=None, clientUat=None)
    got = page.run("fetch", url=url(targets(stack)[kind])[0], auth="if-any")
    assert (got["status"], got["user"]) == (200, USER), (kind, got)
    page.enter(token=None, fresh=[stack.token(azp, "sess_a")], cookie=None, clientUat=None)
    got = page.run("fetch", url=url(targets(stack)[kind])[0], auth="if-any", tokenOptions={"skipCache": True})
    assert (got["status"], got["user"]) == (200, USER), (kind, got)


# -- request headers, methods, cache modes ----------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_custom_request_headers(pages: Any, stack: Stack, kind: str) -> None:
    """x-request-id and x-csrf-token are in CorsAllowHeaders; x-csrf is not. The
    HTTP API and the Function URL answer preflights from their CORS configuration
    (as AWS does): x-csrf is never sent. The REST functions grant what is asked."""
    page = pages(stack)
    token = stack.token(stack.origins["a"], "sess_a")
    page.enter(token=token, cookie=None, clientUat=None)
    for headers in ({"X-Request-Id": "4f1c2a"}, {"X-CSRF-Token": "t0k"}, {"x-request-id": "1", "x-csrf-token": "2"},
                    {"X-CSRF": "1"}):
        address, number = url(targets(stack)[kind])
        got = page.run("fetch", url=address, auth="if-any", headers=headers, label=f"headers {sorted(headers)}")
        granted = "X-CSRF" not in headers or kind.startswith("rest")
        if granted:
            assert (got["status"], got["user"]) == (200, USER), (kind, headers, got, served(stack, number))
        else:
            assert got["status"] == "blocked" and gets(stack, number) == [], (kind, headers, got, served(stack, number))


@pytest.mark.parametrize("cache", ["no-store", "no-cache", "reload", "force-cache", "default"])
def test_fetch_cache_modes(pages: Any, stack: Stack, cache: str) -> None:
    """fetch's cache option adds Cache-Control/Pragma itself, after CORS: no
    header to grant; every API answers, with the Bearer token and the cookie.
    What it costs: Chromium skips its preflight cache for no-store, no-cache
    and reload; force-cache answers from the HTTP cache."""
    page = pages(stack)
    page.enter(**signed_in(stack))
    for kind, target in targets(stack).items():
        got = page.run("fetch", url=url(target)[0], auth="if-any", cache=cache)
        assert (got["status"], got["user"]) == (200, USER), (kind, cache, got)
        got = page.run("fetch", url=url(target, "_clerk_session_id=sess_a")[0], credentials="include", cache=cache)
        assert (got["status"], got["user"]) == (200, USER), (kind, cache, got)
        # Access-Control-Max-Age: three identical Bearer requests cost one preflight,
        # except that Chromium bypasses its preflight cache for no-store, no-cache and
        # reload: each request is preflighted again. force-cache reuses the first
        # answer, whoever asks next (the README warns against it).
        address, number = url(target)
        for _ in range(3):
            assert page.run("fetch", url=address, auth="if-any", cache=cache)["status"] == 200
        expected = {"no-store": ["OPTIONS", "GET"] * 3, "no-cache": ["OPTIONS", "GET"] * 3, "reload": ["OPTIONS", "GET"] * 3,
                    "force-cache": ["OPTIONS", "GET"]}.get(cache, ["OPTIONS", "GET", "GET", "GET"])
        assert [line.split()[0] for line in served(stack, number)] == expected, (kind, cache, served(stack, number))
        if cache == "force-cache":
            page.enter(**SIGNED_OUT)
            got = page.run("fetch", url=address, auth="if-any", cache=cache, label="force-cache, signed out")
            assert (got["status"], got["user"]) == (200, USER), (kind, got)  # the earlier answer, from the cache
            page.enter(**signed_in(stack))


@pytest.mark.parametrize("method", ["PATCH", "DELETE", "HEAD"])
def test_other_methods_on_every_api(pages: Any, stack: Stack, method: str) -> None:
    """What each API answers a PATCH, DELETE or HEAD with the Bearer token: the
    preflight is granted where the CORS configuration lists the method, and the
    request then meets API Gateway's routing (these routes are GET-only)."""
    page = pages(stack)
    page.enter(token=stack.token(stack.origins["a"], "sess_a"), cookie=None, clientUat=None)
    for kind, target in targets(stack).items():
        address, number = url(target)
        got = page.run("fetch", url=address, auth="if-any", method=method, label=f"{method} {kind}")
        lines = served(stack, number)
        if kind == "url":
            # The Function URL's CORS allows every method the app may route: the
            # FastAPI app (GET routes only) answers 405, readably.
            assert (got["status"], lines) == (405, ["OPTIONS FastApiFunction (preflight) 204",
                                                    f"{method} FastApiFunction 405"]), (kind, got, lines)
        elif kind.startswith("rest"):
            # The function granted the preflight; API Gateway has no such method: its 403, readable by A.
            assert got["status"] == 403 and lines[1:] == [f"{method} RestApi (no route) 403"], (kind, got, lines)
        else:
            # Granted by the HTTP API's CORS configuration, then no route matches (404).
            assert lines[0] == "OPTIONS preflight 204" and re.fullmatch(rf"{method} (static|no route) 404", lines[1]), \
                (kind, got, lines)



@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_bodyless_writes(pages: Any, stack: Stack, method: str) -> None:
    """fetch(url, { method }) with no body, as "mark as read" or "archive"
    buttons send it: Chromium sends Content-Length: 0 on POST and PUT, nothing
    on PATCH. Each reaches the app behind /todos/{proxy+} (its 404: no such
    route in the sample), signed in by the Bearer token or, from the same
    origin, by the cookie; signed out, a readable 401."""
    page = pages(stack)
    page.enter(token=stack.token(stack.origins["a"], "sess_a"), cookie=None, clientUat=None)
    address, number = url(f"{stack.api}/todos/1")
    got = page.run("fetch", url=address, auth="if-any", method=method)
    assert got["status"] == 404 and gets(stack, number, method) == [f"{method} PowertoolsFunction (http) 404"], \
        (got, served(stack, number))
    page.enter(**SIGNED_OUT)
    address, number = url(f"{stack.api}/todos/1")
    got = page.run("fetch", url=address, auth="if-any", method=method, credentials="include")
    assert (got["status"], got["reason"]) == (401, "session-token-missing"), (got, served(stack, number))
    same = pages(stack, "b")
    same.enter(**signed_in(stack, "b"))
    address, number = url("/todos/1")
    got = same.run("fetch", url=address, method=method)
    assert got["status"] == 404 and gets(stack, number, method) == [f"{method} PowertoolsFunction (http) 404"], \
        (got, served(stack, number))

# -- what a page reads of refusals and of our outage ----------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_what_a_page_reads_of_a_401(pages: Any, stack: Stack, kind: str) -> None:
    """Signed out: the README's ApiError gets the status and reason; the exposed
    headers are readable (the authorizers answer from API Gateway)."""
    page = pages(stack)
    page.enter(**SIGNED_OUT)
    got = page.run("fetch", url=url(targets(stack)[kind])[0], auth="if-any")
    headers = got["headers"]
    if kind in FN_KINDS:
        assert (got["status"], got["reason"]) == (401, "session-token-missing"), got
        assert headers["www-authenticate"] == "Bearer" and headers["x-clerk-auth-status"] == "signed-out", got
    elif kind == "http-authorizer":
        assert (got["status"], headers["www-authenticate"], headers["x-clerk-auth-status"]) == (403, None, None), got
    else:
        assert (got["status"], headers["www-authenticate"], headers["x-clerk-auth-status"]) == \
            (401, "Bearer", "signed-out"), got
    got = page.run("apiFetch", url=url(targets(stack)[kind])[0])
    assert (got["outcome"], got["status"], got["retryAfter"]) == ("error", AUTHORIZER_REFUSAL.get(kind, 401), None), got
    assert got["reason"] == ("session-token-missing" if kind in FN_KINDS else ""), got


@pytest.mark.parametrize("kind", KINDS)
def test_what_a_page_reads_of_our_outage(pages: Any, down: Stack, kind: str) -> None:
    """Every function's key source down: the functions answer 503 with a
    readable Retry-After and reason (the README's ApiError.retryAfter is set);
    behind the authorizer, API Gateway answers 500 (HTTP API) or the REST API's
    DEFAULT_5XX, readable by A: retried, never a sign-out."""
    page = pages(down)
    page.enter(token=down.token(down.origins["a"], "sess_a"), cookie=None, clientUat=None)
    got = page.run("fetch", url=url(targets(down)[kind])[0], auth="if-any")
    if kind in FN_KINDS:
        assert (got["status"], got["reason"]) == (503, "jwk-remote-failed-to-load"), got
        assert int(got["headers"]["retry-after"]) >= 1 and got["headers"]["www-authenticate"] is None, got
        got = page.run("apiFetch", url=url(targets(down)[kind])[0])
        assert (got["status"], got["reason"]) == (503, "jwk-remote-failed-to-load") and got["retryAfter"] >= 1, got
    else:
        assert got["status"] == 500, got
        got = page.run("apiFetch", url=url(targets(down)[kind])[0])
        assert (got["status"], got["retryAfter"]) == (500, None), got


# -- signed out, and cookies rotated ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_bearer_null(pages: Any, stack: Stack, kind: str) -> None:
    """The docs' `Bearer ${await getToken()}` signed out sends "Bearer null":
    no token (401 session-token-missing, or the authorizer's refusal). With
    credentials: "include" and a valid __session cookie beside it, the cookie
    counts, as the README says."""
    page = pages(stack)
    page.enter(**SIGNED_OUT)
    got = page.run("fetch", url=url(targets(stack)[kind])[0], auth="docs")
    expected = (AUTHORIZER_REFUSAL[kind], "") if kind in AUTHORIZER_REFUSAL else (401, "session-token-missing")
    assert (got["status"], got["reason"]) == expected, (kind, got)
    state = signed_in(stack)
    page.enter(token=None, cookie=state["cookie"], clientUat=state["clientUat"])
    got = page.run("fetch", url=url(targets(stack)[kind])[0], auth="docs", credentials="include")
    assert (got["status"], got["user"]) == (200, USER), (kind, got)


def test_cookie_calls_after_the_session_cookie_rotated(pages: Any, stack: Stack) -> None:
    """Clerk refreshes __session about every minute: cookie-only calls before
    and after a rotation pass on every API (cross-origin, credentials: include);
    a rotation to an expired token is token-expired."""
    page = pages(stack)
    uat = str(int(time.time()) - 300)
    key, azp = stack.key, stack.origins["a"]
    first = key.token(USER, sid="sess_a", azp=azp, lifetime=3600, now=time.time() - 30)
    second = key.token(USER, sid="sess_a", azp=azp, lifetime=3600)
    for kind, target in targets(stack).items():
        for cookie in (first, second):
            page.enter(token=None, cookie=cookie, clientUat=uat)
            got = page.run("fetch", url=url(target, "_clerk_session_id=sess_a")[0], credentials="include",
                           label=f"cookie {'first' if cookie == first else 'rotated'}")
            assert (got["status"], got["user"]) == (200, USER), (kind, got)
        page.enter(token=None, cookie=stack.token(azp, "sess_a", expired=True), clientUat=uat)
        got = page.run("fetch", url=url(target)[0], credentials="include", label="cookie expired")
        expected = (AUTHORIZER_REFUSAL[kind], "") if kind in AUTHORIZER_REFUSAL else (401, "token-expired")
        assert (got["status"], got["reason"]) == expected, (kind, got)


@pytest.mark.parametrize("kind", KINDS)
def test_cookie_minted_at_sign_in(pages: Any, stack: Stack, kind: str) -> None:
    """Signing in writes __client_uat (now) and a __session minted at once:
    the token's iat is not before __client_uat (Clerk's iat is the minting
    time; the dev tokens backdated it 5 s, which read as "signed in again
    since": 401 session-token-iat-before-client-uat)."""
    page = pages(stack)
    uat = str(int(time.time()))  # signed in, then the token minted
    page.enter(token=None, cookie=stack.token(stack.origins["a"], "sess_a"), clientUat=uat)
    got = page.run("fetch", url=url(targets(stack)[kind], "_clerk_session_id=sess_a")[0], credentials="include")
    assert (got["status"], got["user"]) == (200, USER), (kind, got)

def test_same_origin_cookie_calls_after_rotation(pages: Any, stack: Stack) -> None:
    """The page served by the gateway (serve --static): plain fetch("/me") and a
    POST, before and after the cookie rotated."""
    page = pages(stack, "b")
    uat = str(int(time.time()) - 300)
    azp = stack.origins["b"]
    for cookie in (stack.key.token(USER, sid="sess_b", azp=azp, lifetime=3600, now=time.time() - 30),
                   stack.key.token(USER, sid="sess_b", azp=azp, lifetime=3600)):
        page.enter(token=None, cookie=cookie, clientUat=uat)
        for path in ("/me", "/Prod/me", "/secure", "/Prod/secure"):
            got = page.run("fetch", url=url(path)[0])
            assert (got["status"], got["user"]) == (200, USER), (path, got)
        got = page.run("fetch", url=url("/todos")[0], method="POST", headers={"Content-Type": "application/json"},
                       body={"title": "same-origin after rotation"})
        assert got["status"] == 201, got


# -- aborts ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_abort_after_the_head_then_call_again(pages: Any, stack: Stack, kind: str) -> None:
    """AbortController.abort() once the answer's head arrived: the body read
    fails with AbortError; the APIs keep answering."""
    page = pages(stack)
    page.enter(token=stack.token(stack.origins["a"], "sess_a"), cookie=None, clientUat=None)
    got = page.run("fetch", url=url(targets(stack)[kind])[0], auth="if-any", abortAfterHeaders=True)
    assert (got["status"], got["body"]) == (200, "AbortError"), got
    got = page.run("fetch", url=url(targets(stack)[kind])[0], auth="if-any")
    assert (got["status"], got["user"]) == (200, USER), got


def test_abort_while_a_cold_function_starts(pages: Any, stack: Stack) -> None:
    """The page gives up while the gateway is still starting the function
    (GreetFunction, not called before in this module): the page sees its
    AbortError; the gateway finishes, and the next call is answered."""
    page = pages(stack)
    page.enter(token=stack.token(stack.origins["a"], "sess_a"), cookie=None, clientUat=None)
    address, number = url(f"{stack.api}/greet")
    got = page.run("fetch", url=address, auth="if-any", abortAfterMs=20)
    assert got["error"] == "AbortError", got
    got = page.run("fetch", url=url(f"{stack.api}/greet")[0], auth="if-any")
    assert got["status"] == 200, got


# -- the page's host name: localhost or 127.0.0.1 ------------------------------------------------------


@pytest.fixture(scope="module")
def served_static(tmp_path_factory: pytest.TempPathFactory, newcomer_bundle: Path) -> Iterator[tuple[LocalGateway, DevKey]]:
    """`serve --static` as a developer starts it: the template's default
    origins, the gateway's own page origin authorized under both loopback names."""
    static = tmp_path_factory.mktemp("static3")
    publish([static], "newcomer", PAGE, newcomer_bundle)
    with static_gateway(static, lambda line: None) as made:
        yield made


def test_cookies_belong_to_the_host_name(pages: Any, served_static: Any) -> None:
    """A page opened at http://127.0.0.1:<port> (what `vite --host 127.0.0.1`
    or a bookmarked address gives) holds its __session cookie for 127.0.0.1:
    relative calls carry it; the same API called as http://localhost:<port>
    (the URL serve prints) gets no cookie: a readable 401
    session-token-missing. The Bearer token passes under either name."""
    gateway, key = served_static
    api = gateway.origin()
    page_origin = api.replace("localhost", "127.0.0.1")
    page = pages(None, origin=page_origin)
    token = key.token(USER, sid="sess_s", azp=page_origin, lifetime=3600)
    page.enter(token=token, cookie=token, clientUat=str(int(time.time()) - 300))
    got = page.run("fetch", url="/me")
    assert (got["status"], got["user"]) == (200, USER), got
    got = page.run("fetch", url=f"{api}/me", credentials="include")
    assert (got["status"], got["reason"]) == (401, "session-token-missing"), got
    got = page.run("fetch", url=f"{api}/me", auth="if-any")
    assert (got["status"], got["user"]) == (200, USER), got
