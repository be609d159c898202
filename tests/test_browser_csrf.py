"""Cross-site writes through the cookie, and more authorized-origin patterns, in a real browser.

``tests/test_browser.py`` and ``tests/test_browser_page_requests.py`` run the docs'
and real pages' patterns against the sample functions; their writes are
observable on the HTTP API's ``/todos`` only. This module adds a test-only
function (``tests/browser/recorder``) that appends a line to a file each time
its handler runs, routed behind every kind of API the gateway serves:

* ``http``: HTTP API ``ANY /writes`` (the function verifies the token);
* ``rest``: REST API ``ANY /Prod/writes`` (its decorator answers preflights);
* ``url``: its own Function URL (CORS for GET, POST, PUT, PATCH, DELETE);
* ``http-authorizer`` / ``rest-authorizer``: ``/guarded`` behind the Clerk
  Lambda authorizer, the handler trusting its context.

From a page on an origin that is not an authorized party, holding a valid
``__session`` cookie (same site: the loopback origins share one cookie jar),
the classic CSRF vectors — HTML forms of every enctype into a frame and into
a new window, ``sendBeacon``, ``fetch`` with ``keepalive`` or ``no-cors``,
307/308 redirects through the attacker's origin (``Origin`` kept) and
through a third one (``Origin: null``) — must never reach the handler, while
the same vectors from the authorized page do (so the refusals are not an
accident of the setup). Top-level GET navigations are safe: they reach the
handler, the attacker page reads nothing.

Then, from the authorized page: ``cache: "no-store"``, ``Request`` objects,
AbortController timeouts, ``URLSearchParams`` / ``FormData`` bodies,
PUT/PATCH/DELETE with JSON and the cookie, ``X-Requested-With``, the headers
the README says a page can read on 401 and 503 (``WWW-Authenticate``,
``x-clerk-auth-status``, ``Retry-After``), EventSource, ``_clerk_session_id``
on writes, a Bearer token next to another user's cookie.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from support.browser import page_bundle, page_opener, publish
from support.browser_recorder import WRITES, Recorder, recorder_resources
from support.browser_stack import USER, Stack, StaticSite, make_stack, served, url, wait_served
from test_browser_page_requests import PAGE, Page

pytestmark = pytest.mark.browser
KINDS = ("http", "rest", "url", "http-authorizer", "rest-authorizer")
OTHER_USER = "user_other_456"


# -- an attacker's origin that also redirects ---------------------------------------------------


class _Redirecting(SimpleHTTPRequestHandler):
    """Static files, and ``/go?code=307&to=<url>``: a redirect, for any method."""

    def log_message(self, *args: Any) -> None:
        pass

    def _redirect(self) -> bool:
        parsed = urllib.parse.urlsplit(self.path)
        if parsed.path != "/go":
            return False
        query = urllib.parse.parse_qs(parsed.query)
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.send_response(int(query.get("code", ["307"])[0]))
        self.send_header("Location", query["to"][0])
        self.send_header("Content-Length", "0")
        self.end_headers()
        return True

    def do_GET(self) -> None:
        if not self._redirect():
            super().do_GET()

    def do_POST(self) -> None:
        if not self._redirect():
            self.send_error(405)


class AttackerSite(StaticSite):
    """An origin that is not an authorized party, serving the page and redirects."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory, _Redirecting)

    def go(self, target: str, code: int) -> str:
        return f"{self.origin}/go?{urllib.parse.urlencode({'code': code, 'to': target})}"


# -- fixtures ---------------------------------------------------------------------------------------


class World:
    def __init__(self, stack: Stack, recorder: Recorder, attacker: AttackerSite, third: AttackerSite) -> None:
        self.stack, self.recorder, self.attacker, self.third = stack, recorder, attacker, third
        api = stack.api
        self.writes = {"http": f"{api}/writes", "rest": f"{api}/Prod/writes",
                       "url": f"{stack.gateway.origin('WritesFunction')}/writes",
                       "http-authorizer": f"{api}/guarded", "rest-authorizer": f"{api}/Prod/guarded"}
        self.down = {"http": f"{api}/down", "rest": f"{api}/Prod/down", "url": f"{stack.gateway.origin('DownFunction')}/down"}

    def token(self, page: str = "a", user: str = USER, expired: bool = False) -> str:
        return self.stack.key.token(user, sid=f"sess_{page}", azp=self.stack.origins[page], lifetime=3600, expired=expired)

    def signed_in(self, page: str = "a", **extra: Any) -> dict[str, Any]:
        token = self.token(page)
        return {"token": token, "sid": f"sess_{page}", "cookie": token, "clientUat": str(int(time.time()) - 300), **extra}


@pytest.fixture(scope="module")
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    bundle = page_bundle(request, tmp_path_factory, "page_requests.jsx", "page_requests.js", "csrf-bundle")
    work = tmp_path_factory.mktemp("browser-csrf")
    log = work / "recorder.jsonl"
    (work / "stack").mkdir()
    with make_stack(work / "stack", recorder_resources(log), key_down=("DownFunction",)) as stack:
        attacker_dir, third_dir = work / "attacker", work / "third"
        attacker_dir.mkdir()
        third_dir.mkdir()
        publish((*stack.dirs.values(), attacker_dir), "page_requests", PAGE, bundle)
        attacker, third = AttackerSite(attacker_dir), AttackerSite(third_dir)
        try:
            yield World(stack, Recorder(log), attacker, third)
        finally:
            attacker.stop()
            third.stop()


@pytest.fixture
def pages(browser: Any, world: World) -> Iterator[Any]:
    with page_opener(lambda _, origin: Page(browser, world.stack, origin)) as open_page:
        yield open_page


# -- cross-site writes: none reaches a handler --------------------------------------------------------


def _title(label: str) -> list[list[str]]:
    """A text/plain form smuggling JSON: name '{"title": "…", "x": "' + '=' + value '"}'."""
    return [['{"title": "' + label + '", "x": "', '"}']]


def _vectors(world: World, page: Page, target: str, foreign: bool = True) -> dict[str, int]:
    """Every cookie-carrying cross-site write vector against ``target``, from
    ``page``: label -> probe number (what a ``foreign`` page could read is
    asserted here). Redirects only from the foreign page: from any page, a
    redirect through another origin taints the request (``Origin: null``)."""
    sent: dict[str, int] = {}
    for enctype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        for into in ("frame", "window"):
            address, number = url(target)
            got = page.run("formPost", url=address, enctype=enctype, fields=_title(f"form {enctype} {into}"),
                           window=into == "window", waitMs=3000)
            assert got["readable"] is False, (target, enctype, into, got)
            sent[f"form {enctype} into a {into}"] = number
    for kind, body in (("text", json.dumps({"title": "beacon"})),):
        address, number = url(target)
        assert page.run("beacon", url=address, body=body) == {"queued": True}
        sent[f"sendBeacon {kind}"] = number
    address, number = url(target)
    assert page.run("beacon", url=address, body="title=beacon", blobType="application/x-www-form-urlencoded") == {"queued": True}
    sent["sendBeacon urlencoded Blob"] = number
    address, number = url(target)
    got = page.run("fetch", url=address, method="POST", keepalive=True, credentials="include",
                   headers={"Content-Type": "text/plain"}, body={"title": "keepalive"})
    assert got["status"] == ("blocked" if foreign else 200), got  # sent, but CORS hides the answer from C
    sent["fetch keepalive text/plain"] = number
    address, number = url(target)
    got = page.run("fetch", url=address, method="POST", mode="no-cors", credentials="include",
                   headers={"Content-Type": "text/plain"}, body={"title": "no-cors"})
    assert (got["status"], got["type"]) == (0, "opaque"), got
    sent["fetch no-cors text/plain"] = number
    address, number = url(target)
    got = page.run("fetch", url=address, method="POST", mode="no-cors", credentials="include", bodyKind="formdata",
                   body={"title": "no-cors FormData"})
    assert (got["status"], got["type"]) == (0, "opaque"), got
    sent["fetch no-cors FormData"] = number
    for code in (307, 308) if foreign else ():
        for via in ("attacker", "third"):
            site = world.attacker if via == "attacker" else world.third
            address, number = url(target)
            got = page.run("formPost", url=site.go(address, code), enctype="text/plain", fields=_title(f"redirect {code}"),
                           waitMs=3000)
            assert got["readable"] is False, got
            sent[f"form through a {code} on the {via} origin"] = number
            address, number = url(target)
            got = page.run("fetch", url=site.go(address, code), method="POST", mode="no-cors", credentials="include",
                           headers={"Content-Type": "text/plain"}, body={"title": f"redirect {code}"})
            assert got["type"] == "opaque", got
            sent[f"fetch no-cors through a {code} on the {via} origin"] = number
            address, number = url(target)
            got = page.run("fetch", url=site.go(address, code), method="POST", credentials="include",
                           headers={"Content-Type": "text/plain"}, body={"title": f"redirect {code}"})
            assert got["status"] == "blocked", got
            # Through the third origin, its redirect carries no CORS grant: the
            # browser stops there (nothing reaches the API, see _arrived).
            sent[f"fetch cors through a {code} on the {via} origin"] = number
    return sent


def _arrived(world: World, number: int) -> list[str]:
    """The non-preflight requests with ``probe=<number>`` that the gateway answered."""
    return [line for line in wait_served(world.stack, number) if not line.startswith("OPTIONS")]


@pytest.mark.parametrize("kind", KINDS)
def test_cross_site_writes_with_the_cookie_never_reach_a_handler(pages: Any, world: World, kind: str) -> None:
    """From an unauthorized origin every vector arrives with the cookie and is
    refused before the handler; from the authorized page the same vectors
    reach it (proof that the refusals are the origin rule at work)."""
    target = world.writes[kind]
    foreign = pages(f"{world.attacker.origin}")
    foreign.enter(**world.signed_in("a"))
    refused = _vectors(world, foreign, target)
    # The refusal, as each API answers it: the toolkit's 403 origin-invalid; the
    # HTTP API's 403 for an unauthorized authorizer verdict; the REST API's
    # Deny (403, not the 401 of a request without the cookie).
    wrong = []
    for label, number in refused.items():
        stopped_at_the_redirect = label.startswith("fetch cors") and "third" in label
        arrived = [line for line in served(world.stack, number) if not line.startswith("OPTIONS")] \
            if stopped_at_the_redirect else _arrived(world, number)
        if (not arrived and not stopped_at_the_redirect) or not all(line.endswith(" 403") for line in arrived) \
                or world.recorder.calls(number):
            wrong.append(f"{label}: gateway {served(world.stack, number)}, handler {world.recorder.calls(number)}")
    assert not wrong, f"{kind}: from {world.attacker.origin}:\n  " + "\n  ".join(wrong)

    own = pages(world.stack.origins["a"])
    own.enter(**world.signed_in("a"))
    allowed = _vectors(world, own, target, foreign=False)
    missing = []
    for label, number in allowed.items():
        calls = world.recorder.wait(number)
        if [(c["method"], c["user"]) for c in calls] != [("POST", USER)]:
            missing.append(f"{label}: gateway {served(world.stack, number)}, handler {calls}")
    assert not missing, f"{kind}: from the authorized page:\n  " + "\n  ".join(missing)


def test_redirect_through_a_third_origin_arrives_as_origin_null(pages: Any, world: World) -> None:
    """A cross-origin redirect taints the request: it arrives with ``Origin: null``
    even from the authorized page, and is refused like any foreign write."""
    page = pages(world.stack.origins["a"])
    page.enter(**world.signed_in("a"))
    for kind, target in world.writes.items():
        address, number = url(target)
        page.run("fetch", url=world.third.go(address, 307), method="POST", mode="no-cors", credentials="include",
                 headers={"Content-Type": "text/plain"}, body={"title": "via a third origin"})
        assert _arrived(world, number) and all(line.endswith(" 403") for line in _arrived(world, number)), \
            (kind, served(world.stack, number))
        assert world.recorder.calls(number) == [], kind


@pytest.mark.parametrize("kind", KINDS)
def test_top_level_navigation_get_is_safe_and_unreadable(pages: Any, world: World, kind: str) -> None:
    """A foreign page may navigate a window to the API (GET): the cookie goes
    along and the handler answers (GET is safe), but the page reads nothing."""
    foreign = pages(world.attacker.origin)
    foreign.enter(**world.signed_in("a"))
    address, number = url(world.writes[kind])
    got = foreign.run("navigate", url=address, waitMs=3000)
    assert got["readable"] is False, got
    assert [(c["method"], c["user"]) for c in world.recorder.wait(number)] == [("GET", USER)]
    # A form GET navigates too, and is no write either.
    address, number = url(world.writes[kind])
    got = foreign.run("formPost", url=address, method="GET", enctype="application/x-www-form-urlencoded",
                      fields=[["title", "x"], ["probe", str(number)]], waitMs=3000)  # a form GET replaces the query
    assert got["readable"] is False, got
    assert [c["method"] for c in world.recorder.wait(number)] == ["GET"]


@pytest.mark.parametrize("kind", KINDS)
def test_preflighted_writes_from_a_foreign_origin_are_never_sent(pages: Any, world: World, kind: str) -> None:
    """PUT/PATCH/DELETE and JSON need a preflight: no grant for the foreign origin, nothing sent."""
    foreign = pages(world.attacker.origin)
    foreign.enter(**world.signed_in("a"))
    for method in WRITES:
        address, number = url(world.writes[kind])
        got = foreign.run("fetch", url=address, method=method, credentials="include",
                          headers={"Content-Type": "application/json"}, body={"title": method})
        assert got["status"] == "blocked", got
        lines = served(world.stack, number)
        assert len(lines) == 1 and lines[0].startswith("OPTIONS "), (method, lines)
        assert world.recorder.calls(number) == []


# -- the authorized page ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_writes_with_json_and_the_cookie(pages: Any, world: World, kind: str) -> None:
    """PUT/PATCH/DELETE (and POST) with JSON and credentials: "include": preflighted, granted, written."""
    page = pages(world.stack.origins["a"])
    page.enter(**world.signed_in("a"))
    for method in WRITES:
        address, number = url(world.writes[kind], "_clerk_session_id=sess_a")
        got = page.run("fetch", url=address, method=method, credentials="include",
                       headers={"Content-Type": "application/json", "X-Requested-With": "XMLHttpRequest"},
                       body={"title": method})
        assert (got["status"], got["user"]) == (200, USER), (method, got, served(world.stack, number))
        calls = world.recorder.calls(number)
        assert [(c["method"], c["content_type"], c["x_requested_with"], c["body"]) for c in calls] == \
            [(method, "application/json", "XMLHttpRequest", json.dumps({"title": method}, separators=(",", ":")))], calls
        assert served(world.stack, number)[0].startswith("OPTIONS ")


@pytest.mark.parametrize("kind", KINDS)
def test_url_search_params_form_data_request_objects_no_store(pages: Any, world: World, kind: str) -> None:
    page = pages(world.stack.origins["a"])
    page.enter(**world.signed_in("a"))
    target = world.writes[kind]
    cases = {
        "URLSearchParams, cookie": ({"bodyKind": "urlencoded", "credentials": "include"}, "application/x-www-form-urlencoded"),
        "FormData, cookie": ({"bodyKind": "formdata", "credentials": "include"}, "multipart/form-data"),
        "URLSearchParams, Bearer": ({"bodyKind": "urlencoded", "bearer": world.token("a")}, "application/x-www-form-urlencoded"),
        "FormData, Bearer": ({"bodyKind": "formdata", "bearer": world.token("a")}, "multipart/form-data"),
        "Request object, cookie": ({"asRequest": True, "credentials": "include", "headers": {"X-Requested-With": "fetch"}},
                                   "text/plain"),
        "cache no-store, cookie": ({"cache": "no-store", "credentials": "include"}, "text/plain"),
    }
    wrong = []
    for label, (options, content_type) in cases.items():
        address, number = url(target)
        got = page.run("fetch", url=address, method="POST", body={"title": label}, **options)
        calls = world.recorder.calls(number)
        if (got["status"], got["user"]) != (200, USER) or len(calls) != 1 \
                or not calls[0]["content_type"].startswith(content_type) or "title" not in calls[0]["body"]:
            wrong.append(f"{label}: {got} / {calls}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("kind", KINDS)
def test_abort_controller_timeout(pages: Any, world: World, kind: str) -> None:
    """The AbortController + setTimeout idiom around a preflighted write: answered
    in time, the body is read and the write done once. (Aborts themselves:
    test_browser_page_requests.test_aborted_requests_leave_the_apis_serving.)"""
    page = pages(world.stack.origins["a"])
    address, number = url(world.writes[kind])
    got = page.run("fetch", url=address, method="PATCH", bearer=world.token("a"), controllerTimeoutMs=8000,
                   headers={"Content-Type": "application/json"}, body={"title": "in time"})
    assert (got["status"], got["user"]) == (200, USER), got
    assert [c["method"] for c in world.recorder.calls(number)] == ["PATCH"]


def test_the_page_reads_what_the_readme_promises_on_401(pages: Any, world: World) -> None:
    """README: a 401 carries x-clerk-auth-reason, x-clerk-auth-status: signed-out and
    WWW-Authenticate (error="invalid_token" when a token was sent), all readable."""
    page = pages(world.stack.origins["a"])
    page.enter(token=None, cookie=None, clientUat=None)
    for kind in ("http", "rest", "url"):
        got = page.run("fetch", url=url(world.writes[kind])[0])
        assert got["status"] == 401 and got["headers"]["www-authenticate"] == "Bearer" and \
            got["headers"]["x-clerk-auth-status"] == "signed-out" and got["reason"] == "session-token-missing", (kind, got)
        got = page.run("fetch", url=url(world.writes[kind])[0], bearer=world.token("a", expired=True))
        assert got["status"] == 401 and 'error="invalid_token"' in (got["headers"]["www-authenticate"] or "") and \
            got["reason"] == "token-expired", (kind, got)
    # The REST API's own refusal (the authorizer's 401), readable by the first authorized origin.
    got = page.run("fetch", url=url(world.writes["rest-authorizer"])[0])
    assert (got["status"], got["headers"]["www-authenticate"], got["headers"]["x-clerk-auth-status"]) == \
        (401, "Bearer", "signed-out"), got


@pytest.mark.parametrize("kind", ("http", "rest", "url"))
def test_503_with_retry_after_when_the_keys_are_down(pages: Any, world: World, kind: str) -> None:
    page = pages(world.stack.origins["a"])
    page.enter(**world.signed_in("a"))
    for options in ({"bearer": world.token("a")}, {"credentials": "include"}):
        address, number = url(world.down[kind])
        got = page.run("fetch", url=address, **options)
        assert got["status"] == 503 and got["reason"] == "jwk-remote-failed-to-load", (kind, got)
        assert got["headers"]["retry-after"] and int(got["headers"]["retry-after"]) > 0, (kind, got)
        assert got["headers"]["x-clerk-auth-status"] is None and got["headers"]["www-authenticate"] is None, got
        assert world.recorder.calls(number) == []


@pytest.mark.parametrize("kind", KINDS)
def test_event_source_with_credentials(pages: Any, world: World, kind: str) -> None:
    """EventSource sends the cookie; the recorder is no stream, so the browser
    closes it. From the foreign origin the GET arrives (safe) but no event is read."""
    for origin in (world.stack.origins["a"], world.attacker.origin):
        page = pages(origin)
        page.enter(**world.signed_in("a"))
        address, number = url(world.writes[kind], "_clerk_session_id=sess_a")
        assert page.run("eventSource", url=address) == {"result": "error", "messages": []}
        assert [(c["method"], c["user"]) for c in world.recorder.wait(number)] == [("GET", USER)], (origin, kind)


@pytest.mark.parametrize("kind", KINDS)
def test_bearer_wins_over_another_users_cookie(pages: Any, world: World, kind: str) -> None:
    """The header token is the only one considered: the cookie of another user
    (another tab, a shared machine) never changes who the request is for."""
    page = pages(world.stack.origins["a"])
    other = world.token("a", user=OTHER_USER)
    page.enter(cookie=other, clientUat=str(int(time.time()) - 300))
    for method in ("GET", "POST"):
        address, number = url(world.writes[kind])
        got = page.run("fetch", url=address, method=method, credentials="include", bearer=world.token("a"),
                       headers={"Content-Type": "application/json"}, **({"body": {"title": "x"}} if method == "POST" else {}))
        assert (got["status"], got["user"]) == (200, USER), (method, got)
        assert [c["user"] for c in world.recorder.calls(number)] == [USER]
    # An expired header token is refused even with a valid cookie next to it.
    address, number = url(world.writes[kind])
    got = page.run("fetch", url=address, credentials="include", bearer=world.token("a", expired=True))
    assert got["status"] in (401, 403) and world.recorder.calls(number) == [], got
    # "Bearer null" (signed out in this tab) is no token: the cookie counts.
    address, number = url(world.writes[kind])
    got = page.run("fetch", url=address, credentials="include", headers={"Authorization": "Bearer null"})
    assert (got["status"], got["user"]) == (200, OTHER_USER), got


@pytest.mark.parametrize("kind", KINDS)
def test_clerk_session_id_on_cookie_writes(pages: Any, world: World, kind: str) -> None:
    page = pages(world.stack.origins["a"])
    page.enter(**world.signed_in("a"))
    address, number = url(world.writes[kind], "_clerk_session_id=sess_a")
    got = page.run("fetch", url=address, method="POST", credentials="include", body={"title": "mine"})
    assert (got["status"], len(world.recorder.calls(number))) == (200, 1), got
    address, number = url(world.writes[kind], "_clerk_session_id=sess_other")
    got = page.run("fetch", url=address, method="POST", credentials="include", body={"title": "another session's"})
    expected = {"http-authorizer": 403, "rest-authorizer": 401}.get(kind, 401)
    assert got["status"] == expected and world.recorder.calls(number) == [], got
    if kind in ("http", "rest", "url"):
        assert got["reason"] == "session-id-mismatch", got
