"""Clerk's frontend request patterns, with the real libraries, in a real browser.

Headless Chromium (Debian's, driven by Playwright for Python) loads pages from
several loopback origins; each runs the patterns of Clerk's frontend docs —
``fetch`` same-origin and with ``Authorization: Bearer ${await getToken()}``,
``useSWR`` / ``useClerkSWR``, react-query v3's ``useQuery`` / ``useClerkQuery``,
``credentials: "include"``, axios ``withCredentials``, raw XHR,
``?_clerk_session_id=`` — and the README's recommended ones (a throwing
fetcher, react-query v5 and v3 and SWR without retries on 401/403 and with
Retry-After honoured on 503, axios with the token) against the sample functions behind the local gateway: HTTP API routes,
REST API routes (``/Prod/…``), the Function URL (FastAPI) and the
authorizer-guarded ``/secure`` on both APIs.

react, react-dom, swr, react-query v3, @tanstack/react-query v5, axios and
esbuild come from the npm registry at test time (``npm ci`` from
``tests/browser/package-lock.json``, cached under ``.pytest_cache``) and the
pages are bundled with esbuild; only Clerk's hooks are a stub
(``tests/browser/clerk-stub.js``) whose ``getToken()`` hands out tokens this
test mints with a per-run key the served functions trust.

The origins, all on ``localhost`` (one cookie jar, as sibling subdomains of
one site share cookies):

* A: an authorized party, the first one (the one the REST API's own refusals
  name);
* A2: an authorized party, not the first;
* B: the gateway's own origin, serving the page through ``static_dir``
  (``serve --static``), calling the APIs same-origin;
* C: not an authorized party, holding a token and cookie the APIs would
  otherwise accept: it can read nothing, and its cookie-carrying writes are
  refused (403 ``origin-invalid``) before the handler runs.

Each page's results are saved as ``artifacts/browser-*.png``.
"""

from __future__ import annotations

import json
import re
import shutil
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support.browser import ARTIFACTS, SOURCES, page_bundle
from support.browser_stack import USER, Stack, make_stack

pytestmark = pytest.mark.browser


@pytest.fixture(scope="session")
def bundle(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return page_bundle(request, tmp_path_factory, "harness.jsx", "app.js", "bundle")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with make_stack(tmp_path_factory.mktemp("browser")) as made:
        yield made


# -- cases: pattern x API x state, with what the page must see ---------------------------------


@dataclass(frozen=True)
class Target:
    label: str
    url: str  # absolute, or a path for same-origin pages
    kind: str  # "fn": the toolkit answers; "http-authorizer" / "rest-authorizer": API Gateway refuses


@dataclass(frozen=True)
class State:
    verdict: str  # a key of TOOLKIT: what the toolkit makes of it
    label: str
    token: str | None = None  # what getToken() resolves to
    cookie: str | None = None  # __session
    client_uat: str | None = None  # __client_uat
    sid: str | None = None  # ?_clerk_session_id=


# What the toolkit answers (status, x-clerk-auth-reason) per state; the
# authorizer routes refuse through API Gateway instead (no reason header).
TOOLKIT = {
    "signed in": (200, ""),
    "signed out": (401, "session-token-missing"),
    "Bearer null": (401, "session-token-missing"),  # the literal "null" is no token
    "expired": (401, "token-expired"),
    "wrong _clerk_session_id": (401, "session-id-mismatch"),
    "__client_uat=0": (401, "session-token-but-no-client-uat"),
    "__client_uat after iat": (401, "session-token-iat-before-client-uat"),
    "keys down": (503, "jwk-remote-failed-to-load"),
}
GATEWAY_REFUSAL = {"http-authorizer": (403, ""), "rest-authorizer": (401, "")}
NAIVE = {"docs fetch", "docs useSWR", "docs useFetch", "docs useClerkSWR", "docs fetch include", "docs XHR"}
DOCS_QUERY = {"docs useQuery v3", "docs useClerkQuery v3"}
RECOMMENDED_HOOKS = {"useApiSWR", "useApiQuery v3", "useApiQuery v5"}
HOOKS = {"docs useSWR", "docs useClerkSWR"} | DOCS_QUERY | RECOMMENDED_HOOKS


def wire(target: Target, state: State) -> tuple[int, str]:
    """Status and reason the server answers."""
    status, reason = TOOLKIT[state.verdict]
    if status in (401, 403) and target.kind in GATEWAY_REFUSAL:
        return GATEWAY_REFUSAL[target.kind]
    return status, reason


def outcome(pattern: str, status: int | str) -> str:
    """What the pattern's code ends up with."""
    if status == "blocked":
        # Hooks retry a network error; plain calls reject.
        return "retrying" if pattern in HOOKS else "error"
    if status == "opaque" or 200 <= int(status) < 300:
        return "data"
    if pattern in NAIVE:
        return "data"  # res.json() of a refusal resolves: the page takes the error body for data
    if pattern in DOCS_QUERY:
        return "retrying"  # react-query's default: 3 retries, 401 or not
    if pattern in RECOMMENDED_HOOKS:
        return "error" if int(status) in (401, 403) else "retrying"
    return "error"  # axios, the throwing apiFetch


def _preflighted(pattern: str, state: State) -> bool:
    """Whether the browser preflights the pattern's request (an Authorization header, JSON)."""
    if pattern in ("docs useFetch", "docs useClerkSWR", "docs useClerkQuery v3", "apiFetch POST json"):
        return True  # the docs' patterns send "Bearer null" signed out
    return pattern in ("apiFetch", "useApiAxios", *RECOMMENDED_HOOKS) and state.token is not None


class Cases:
    """The cases of one page, numbered, with their expectations."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(self, pattern: str, target: Target, state: State, *, blocked: bool = False, title: str = "",
            expect: dict[str, Any] | None = None) -> None:
        number = len(self.items) + 1
        # probe=<n> ties the request to its case in Chromium's network log; the APIs ignore it.
        url = f"{target.url}?probe={number}"
        if state.sid is not None:
            url += f"&_clerk_session_id={state.sid}"
        base, path = (re.match(r"(https?://[^/]+)(/.*)", url) or re.match(r"()(.*)", url)).groups()  # type: ignore[union-attr]
        if expect is None:
            status: int | str
            status, reason = ("blocked", "") if blocked else wire(target, state)
            expect = {"status": status, "outcome": outcome(pattern, status), "calls": 1}
            if reason or status != "blocked":
                expect["reason"] = reason
            if status == 200:
                expect["user"] = USER
            if not blocked:
                expect["server"] = f"{status} {reason}".strip()
            elif _preflighted(pattern, state):
                expect["server"] = "not sent"  # its preflight got no CORS grant
            else:
                expect["server"] = " ".join(str(part) for part in wire(target, state) if part)  # answered, unreadable
        self.items.append({"id": number, "pattern": pattern, "target": target.label, "state": state.label,
                           "url": url, "base": base, "path": path, "token": state.token, "cookie": state.cookie,
                           "clientUat": state.client_uat, "sid": state.sid, "title": title, "expect": expect})


def _targets(stack: Stack, same_origin: bool = False) -> list[Target]:
    api = "" if same_origin else stack.api
    targets = [Target("HTTP API /me", f"{api}/me", "fn"), Target("REST API /Prod/me", f"{api}/Prod/me", "fn"),
               Target("Function URL /api/whoami", f"{stack.url}/api/whoami", "fn"),
               Target("HTTP API /secure (authorizer)", f"{api}/secure", "http-authorizer"),
               Target("REST API /Prod/secure (authorizer)", f"{api}/Prod/secure", "rest-authorizer")]
    return [t for t in targets if not (same_origin and t.label.startswith("Function URL"))]


def _states(stack: Stack, page: str) -> dict[str, State]:
    origin, sid = stack.origins[page if page != "c" else "a"], f"sess_{page}"
    if page == "c":
        sid = "sess_a"  # C holds A's token and cookie: valid, but not C's to use
    token, expired = stack.token(origin, sid), stack.token(origin, sid, expired=True)
    iat = int(time.time())  # the tokens' iat (the expired one's is earlier still)
    uat = str(iat - 300)  # the client's last sign-in, before any of them
    return {
        "bearer": State("signed in", "signed in (Bearer)", token=token),
        "bearer out": State("signed out", "signed out (no header)"),
        "bearer null": State("Bearer null", "signed out (Bearer null)"),
        "bearer expired": State("expired", "expired (Bearer)", token=expired),
        "cookie": State("signed in", "signed in (cookie)", cookie=token, client_uat=uat, sid=sid),
        "cookie both": State("signed in", "signed in (cookie + Bearer)", token=token, cookie=token, client_uat=uat, sid=sid),
        "cookie out": State("signed out", "signed out (no cookie)"),
        "cookie expired": State("expired", "expired (cookie)", cookie=expired, client_uat=uat),
        "wrong sid": State("wrong _clerk_session_id", "wrong _clerk_session_id", cookie=token, client_uat=uat, sid="sess_someone_else"),
        "uat0": State("__client_uat=0", "__client_uat=0", cookie=token, client_uat="0"),
        "uat later": State("__client_uat after iat", "__client_uat after iat", cookie=token, client_uat=str(iat + 120)),
        "keys down": State("keys down", "keys down (Bearer)", token=token),
    }


def cross_origin_cases(stack: Stack) -> Cases:
    """Page A: an authorized party, cross-origin to every API."""
    s, cases = _states(stack, "a"), Cases()
    targets = _targets(stack)
    for target in targets:
        for state in ("bearer", "bearer null", "bearer expired"):
            cases.add("docs useFetch", target, s[state])
    for target in targets:
        for state in ("bearer", "bearer out", "bearer expired"):
            cases.add("apiFetch", target, s[state])
    for target in targets:
        for state in ("cookie", "cookie out", "cookie expired", "wrong sid", "uat0", "uat later"):
            cases.add("docs fetch include", target, s[state])
    for pattern, states in (("docs useClerkSWR", ("bearer", "bearer null")), ("useApiSWR", ("bearer", "bearer out")),
                            ("docs useClerkQuery v3", ("bearer", "bearer null")), ("useApiQuery v3", ("bearer", "bearer out")),
                            ("useApiQuery v5", ("bearer", "bearer out")),
                            ("docs axios withCredentials", ("cookie", "wrong sid")), ("useApiAxios", ("bearer", "bearer out")),
                            ("docs XHR", ("cookie",))):
        for target in targets:
            for state in states:
                cases.add(pattern, target, s[state])
    # Our outage: 503 + Retry-After, never a sign-out; the recommended hooks retry after Retry-After.
    reports = Target("HTTP API /reports (keys down)", f"{stack.api}/reports", "fn")
    for pattern in ("apiFetch", "docs useClerkSWR", "docs useClerkQuery v3"):
        cases.add(pattern, reports, s["keys down"])
    for pattern in ("useApiSWR", "useApiQuery v3", "useApiQuery v5"):
        cases.add(pattern, reports, s["keys down"], expect={"status": 503, "reason": "jwk-remote-failed-to-load", "outcome": "retrying",
                                                            "retryHonoured": True, "calls": 1, "server": "503 jwk-remote-failed-to-load"})
    todos = Target("HTTP API /todos (Powertools)", f"{stack.api}/todos", "fn")
    cases.add("POST text/plain include", todos, s["cookie"], title="A: text/plain with the cookie",
              expect={"status": 201, "reason": "", "outcome": "data", "user": USER, "calls": 1, "server": "201"})
    cases.add("apiFetch POST json", todos, s["bearer"], title="A: JSON with Bearer",
              expect={"status": 201, "reason": "", "outcome": "data", "user": USER, "calls": 1, "server": "201"})
    # The FastAPI app has no POST route: signed in from an authorized origin, the request reaches it (405).
    whoami = Target("Function URL /api/whoami", f"{stack.url}/api/whoami", "fn")
    cases.add("POST text/plain include", whoami, s["cookie"], title="A: to FastAPI",
              expect={"status": 405, "reason": "", "outcome": "data", "calls": 1, "server": "405"})
    return cases


def second_party_cases(stack: Stack) -> Cases:
    """Page A2: authorized, but not the first origin: it reads every function's
    answer, but not the REST API's own refusals (they name the first origin)."""
    s, cases = _states(stack, "a2"), Cases()
    targets = {t.kind + t.label: t for t in _targets(stack)}
    for target in targets.values():
        cases.add("apiFetch", target, s["bearer"])
        if target.kind == "rest-authorizer":
            cases.add("apiFetch", target, s["bearer out"], blocked=True)  # a documented limit of REST gateway responses
        else:
            cases.add("apiFetch", target, s["bearer out"])
    return cases


def same_origin_cases(stack: Stack) -> Cases:
    """Page B: served by the gateway itself, calling its APIs same-origin."""
    s, cases = _states(stack, "b"), Cases()
    targets = _targets(stack, same_origin=True)
    for target in targets:
        for state in ("cookie", "cookie out", "cookie expired", "wrong sid", "uat0", "uat later"):
            cases.add("docs fetch", target, s[state])
    for pattern, states in (("docs useSWR", ("cookie", "cookie out")), ("docs useQuery v3", ("cookie", "cookie out")),
                            ("useApiQuery v5", ("cookie both", "cookie out")), ("docs axios.get", ("cookie", "wrong sid")),
                            ("docs XHR", ("cookie",))):
        for target in targets:
            for state in states:
                cases.add(pattern, target, s[state])
    whoami = Target("Function URL /api/whoami", f"{stack.url}/api/whoami", "fn")
    cases.add("docs fetch include", whoami, s["cookie"])
    cases.add("apiFetch", whoami, s["bearer"])
    todos = Target("HTTP API /todos (Powertools)", "/todos", "fn")
    cases.add("POST text/plain include", todos, s["cookie"], title="B: same-origin text/plain",
              expect={"status": 201, "reason": "", "outcome": "data", "user": USER, "calls": 1, "server": "201"})
    return cases


def foreign_cases(stack: Stack) -> Cases:
    """Page C: not an authorized party, with A's valid token and cookie."""
    s, cases = _states(stack, "c"), Cases()
    targets = _targets(stack)
    for pattern, states in (("docs useFetch", ("bearer",)), ("apiFetch", ("bearer",)),
                            ("docs fetch include", ("cookie", "cookie out")), ("docs axios withCredentials", ("cookie",)),
                            ("docs XHR", ("cookie",)), ("docs useClerkSWR", ("bearer",)), ("useApiQuery v5", ("bearer",))):
        for target in targets:
            for state in states:
                cases.add(pattern, target, s[state], blocked=True)
    cases.add("apiFetch", Target("HTTP API /reports (keys down)", f"{stack.api}/reports", "fn"), s["keys down"], blocked=True)
    todos = Target("HTTP API /todos (Powertools)", f"{stack.api}/todos", "fn")
    # Simple requests, sent with the cookie: refused before the handler runs.
    cases.add("POST text/plain include", todos, s["cookie"], title="C: text/plain with the cookie",
              expect={"status": "blocked", "outcome": "error", "calls": 1, "server": "403 origin-invalid"})
    cases.add("POST no-cors include", todos, s["cookie"], title="C: no-cors with the cookie",
              expect={"status": "opaque", "outcome": "data", "calls": 1, "server": "403 origin-invalid"})
    cases.add("apiFetch POST json", todos, s["bearer"], blocked=True, title="C: JSON with Bearer")
    whoami = Target("Function URL /api/whoami", f"{stack.url}/api/whoami", "fn")
    cases.add("POST text/plain include", whoami, s["cookie"], title="C: to FastAPI",
              expect={"status": "blocked", "outcome": "error", "calls": 1, "server": "403 origin-invalid"})
    return cases


# -- running a page ------------------------------------------------------------------------------


class NetworkLog:
    """What reached Chromium's network stack (DevTools protocol), whatever the
    page was allowed to read: per ``probe=<n>``, the preflight's status and the
    request's status and x-clerk-auth-reason, or that it was never sent."""

    def __init__(self, cdp: Any) -> None:
        self.requests: dict[str, tuple[str, str]] = {}  # request id -> method, url
        self.answers: dict[str, tuple[int, str]] = {}  # request id -> status, reason
        cdp.on("Network.requestWillBeSent", self._sent)
        cdp.on("Network.responseReceivedExtraInfo", self._answered)
        cdp.send("Network.enable")

    def _sent(self, params: dict[str, Any]) -> None:
        self.requests[params["requestId"]] = (params["request"]["method"], params["request"]["url"])

    def _answered(self, params: dict[str, Any]) -> None:
        headers = {str(k).lower(): str(v) for k, v in (params.get("headers") or {}).items()}
        self.answers[params["requestId"]] = (int(params.get("statusCode") or 0), headers.get("x-clerk-auth-reason", ""))

    def probe(self, number: int) -> tuple[str, str]:
        """``(preflight, request)`` for case ``number``: "204" / "" and "401 token-expired" / "not sent"."""
        preflight, request = "", ""
        for rid, (method, url) in self.requests.items():
            if not re.search(rf"[?&]probe={number}(&|$)", url):
                continue
            answer = self.answers.get(rid)
            text = " ".join(str(p) for p in answer if p) if answer else "not sent"
            if method == "OPTIONS":
                preflight = text
            else:
                request = text
        return preflight, request



def _publish(directory: Path, bundle: Path, config: dict[str, Any]) -> None:
    shutil.copy(SOURCES / "page.html", directory / "page.html")
    shutil.copy(bundle, directory / "app.js")
    (directory / "config.js").write_text(f"window.CONFIG = {json.dumps(config)};\n")


def _matches(expect: dict[str, Any], got: dict[str, Any]) -> bool:
    return all(str(got.get(key)) == str(value) for key, value in expect.items())


def run_page(browser: Any, stack: Stack, bundle: Path, page_name: str, role: str, cases: Cases,
             shot: str) -> list[dict[str, Any]]:
    """Run ``cases`` on page ``page_name``; returns what each saw (with ``expect``).
    Fails listing every case whose observation differs from its expectation."""
    _publish(stack.dirs[page_name], bundle, {"role": role, "cases": cases.items})
    page = browser.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
    network = NetworkLog(browser.new_cdp_session(page))
    try:
        page.goto(f"{stack.origins[page_name]}/page.html")
        page.wait_for_function("window.__done === true", timeout=240_000)
        error = page.evaluate("window.__error || null")
        results: list[dict[str, Any]] = page.evaluate("window.__results || []")
        rows = []
        for case, got in zip(cases.items, results, strict=True):
            got["preflight"], got["server"] = network.probe(got["id"])
            got["ok"] = _matches(case["expect"], got)
            rows.append([got["id"], f"OPTIONS {got['preflight']}, then {got['server']}" if got["preflight"] else got["server"], got["ok"]])
        page.evaluate("""(rows) => { for (const [id, text, ok] of rows) {
            const cell = document.querySelector(`td[data-server="${id}"]`);
            cell.textContent = text;
            cell.previousElementSibling.textContent = ok ? "✓" : "✗";
            cell.parentElement.className = ok ? "pass" : "fail"; } }""", rows)
        ARTIFACTS.mkdir(exist_ok=True)
        page.locator("#page").screenshot(path=str(ARTIFACTS / shot))
    finally:
        page.close()
    assert error is None, f"the page failed: {error}\nconsole: {console[-20:]}"
    assert len(results) == len(cases.items), f"the page ran {len(results)} of {len(cases.items)} cases; console: {console[-20:]}"
    failed = []
    for case, got in zip(cases.items, results, strict=True):
        got["expect"] = case["expect"]
        if not _matches(case["expect"], got):
            seen = {k: got.get(k) for k in ("status", "reason", "retryAfter", "outcome", "user", "errorStatus", "retryIn", "calls",
                                            "preflight", "server")}
            failed.append(f"#{case['id']} {case['pattern']} | {case['target']} | {case['state']}\n"
                          f"    expected {json.dumps(case['expect'])}\n    got      {json.dumps(seen)} {got.get('message') or ''}")
    assert not failed, f"{len(failed)} of {len(results)} cases differ (see artifacts/{shot}):\n" + "\n".join(failed)
    return results


def _todos(stack: Stack) -> list[str]:
    """The signed-in user's todos, asked directly (no Origin: not a browser)."""
    request = urllib.request.Request(f"{stack.api}/todos", headers={"Authorization": f"Bearer {stack.token(stack.origins['a'], 'sess_a')}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return list(json.loads(response.read())["todos"])


# -- the tests ------------------------------------------------------------------------------------


def test_cross_origin_authorized_page(browser: Any, stack: Stack, bundle: Path) -> None:
    """Page A reads every answer, 401s included, through every library."""
    run_page(browser, stack, bundle, "a", "authorized party, first in ClerkAuthorizedParties", cross_origin_cases(stack),
             "browser-cross-origin.png")
    # Bearer requests were preflighted, and the preflights answered by the gateway (HTTP API,
    # Function URL) or by the functions themselves (REST API).
    assert any(re.match(r"OPTIONS /me\?probe=\d+ -> preflight 204", line) for line in stack.log)
    assert any(re.match(r"OPTIONS /Prod/me\?probe=\d+ -> MeFunction \(rest\) 204", line) for line in stack.log)
    assert {"A: text/plain with the cookie", "A: JSON with Bearer"} <= set(_todos(stack))


def test_second_authorized_party(browser: Any, stack: Stack, bundle: Path) -> None:
    run_page(browser, stack, bundle, "a2", "authorized party, not the first", second_party_cases(stack), "browser-second-party.png")


def test_same_origin_page(browser: Any, stack: Stack, bundle: Path) -> None:
    """Page B, served by the gateway (`serve --static`): the docs' same-origin patterns on the cookie."""
    run_page(browser, stack, bundle, "b", "the gateway's own origin: same-origin", same_origin_cases(stack), "browser-same-origin.png")
    assert "B: same-origin text/plain" in _todos(stack)


def test_unauthorized_origin_reads_nothing_and_writes_nothing(browser: Any, stack: Stack, bundle: Path) -> None:
    """Page C holds a token and a cookie the APIs accept, yet reads no answer,
    and its cookie-carrying writes are refused before the handler runs."""
    before = len(stack.log)
    run_page(browser, stack, bundle, "c", "NOT an authorized party", foreign_cases(stack), "browser-unauthorized-origin.png")
    during = stack.log[before:]
    # The credentialed GETs reached the functions and were accepted (the token is
    # valid): only CORS kept the answers from the page.
    assert any(re.match(r"GET /me\?probe=\d+&_clerk_session_id=sess_a -> MeFunction \(http\) 200", line) for line in during), during
    # The simple POSTs (text/plain, no-cors) were sent with the cookie and refused:
    # 403 origin-invalid, before the handler, which added nothing.
    posts = [line for line in during if line.startswith("POST /todos")]
    assert len(posts) == 2 and all(" -> PowertoolsFunction (http) 403 " in line for line in posts), posts
    # The JSON POST never left the browser: its preflight got no CORS grant.
    assert any(re.match(r"OPTIONS /todos\?probe=\d+ -> preflight 204", line) for line in during), during
    todos = _todos(stack)
    assert not [title for title in todos if title.startswith("C:")], todos
