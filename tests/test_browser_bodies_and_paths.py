"""Bodies, paths, redirects and the browser's no-CORS senders, in a real browser.

``tests/test_browser_page_requests.py`` and ``tests/test_browser_csrf.py`` run
what real pages do with JSON and text; this module adds what they send and
read besides, against a test-only function (``tests/browser/echo``) that tells
the page exactly what its handler got, routed behind every kind of API:

* ``http``: HTTP API ``ANY /echo`` and ``/echo/{proxy+}``, the toolkit's decorator;
* ``rest``: REST API ``ANY /Prod/echo`` and ``/Prod/echo/{proxy+}``, the
  sample's REST API given ``BinaryMediaTypes: ["*~1*"]`` (``/Plain/echo``:
  a REST API without it, where binary breaks as deployed);
* ``url``: its own Function URL;
* ``fastapi``: the same answers from a FastAPI app through Mangum, on a second Function URL.

Patterns: binary uploads (``Uint8Array``, ``ArrayBuffer``, ``DataView``,
``Blob`` of each type, ``FormData`` with a file, ``URLSearchParams``,
non-ASCII text) that must reach the handler byte for byte through the
gateway's ``isBase64Encoded``; binary downloads (``image/png``, octet
streams) read as bytes, as an image and through ``<img>``; non-ASCII and
percent-encoded paths and query strings; a handler answering a 302 that
fetch follows; Lambda's 6 MiB limits (a 4.8 MB upload once base64-encoded,
a 7 MB answer); ``Headers`` instances, ``Request`` objects and a lower-case
``bearer`` scheme; custom ``x-clerk-*`` request headers; large JSON answers;
``sendBeacon`` and ``fetch(…, { keepalive })`` with string, ``Blob``,
``Uint8Array``, ``FormData`` and ``URLSearchParams`` bodies from the
authorized origin, the gateway's own page (same origin) and a foreign one; a
plain ``<form method=post>`` navigation, same-origin and from a cross-*site*
page (``127.0.0.1`` against the ``localhost`` APIs: Chromium sends no
``SameSite=Lax`` cookie with it); ``EventSource`` with credentials reading a
server-sent event; the uploads and downloads again through axios, ky and
ofetch (from the npm registry, tests/browser/package-lock.json). The page is
bundled with esbuild (``tests/browser/bodies.jsx``), Clerk's hooks are the stub.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.browser import BrowserPage, page_bundle, page_opener, publish
from support.browser_recorder import EXPOSE
from support.browser_stack import ROOT, USER, Stack, make_stack, served, targets, url, wait_served

from clerk_serverless_local.template import Template

pytestmark = pytest.mark.browser
ECHO = Path(__file__).resolve().parent / "browser" / "echo"
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>bodies and paths</title></head>
<body><script src="bodies.js"></script></body></html>
"""
KINDS = ("http", "rest", "url", "fastapi")
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)


def _bytes(n: int) -> bytes:
    """The page's bytes(n) (bodies.jsx): every byte value, then a pattern."""
    return bytes(i if i < 256 else (i * 31 + 7) & 255 for i in range(n))


# -- the test-only functions -------------------------------------------------------------------


def echo_resources(log: Path) -> dict[str, Any]:
    """The echo function on every API; the sample's REST API with
    ``BinaryMediaTypes: ["*~1*"]`` (what binary on a REST API needs, README),
    and a plain REST API (stage ``Plain``) without it."""
    rest_api = copy.deepcopy(Template(ROOT / "template.yaml").resources["RestApi"])
    rest_api["Properties"]["BinaryMediaTypes"] = ["*~1*"]
    url_config = {"AuthType": "NONE", "Cors": {
        "AllowOrigins": {"Ref": "ClerkAuthorizedParties"}, "AllowCredentials": True,
        "AllowHeaders": {"Ref": "CorsAllowHeaders"}, "AllowMethods": ["GET", "POST", "PUT"], "ExposeHeaders": EXPOSE,
        "MaxAge": 600}}
    events: dict[str, Any] = {}
    for path, name in (("/echo", "Root"), ("/echo/{proxy+}", "Proxy")):
        events[f"Http{name}"] = {"Type": "HttpApi", "Properties": {"ApiId": {"Ref": "HttpApi"}, "Path": path, "Method": "ANY"}}
        events[f"Rest{name}"] = {"Type": "Api", "Properties": {"RestApiId": {"Ref": "RestApi"}, "Path": path, "Method": "ANY"}}

    def function(handler: str, function_events: dict[str, Any]) -> dict[str, Any]:
        return {"Type": "AWS::Serverless::Function", "Properties": {
            "CodeUri": str(ECHO), "Handler": handler, "Events": function_events, "FunctionUrlConfig": url_config,
            "Environment": {"Variables": {"ECHO_LOG": str(log)}}}}

    events["Plain"] = {"Type": "Api", "Properties": {"RestApiId": {"Ref": "PlainRestApi"}, "Path": "/echo",
                                                      "Method": "ANY"}}
    return {"RestApi": rest_api, "PlainRestApi": {"Type": "AWS::Serverless::Api", "Properties": {"StageName": "Plain"}},
            "EchoFunction": function("app.handler", events), "EchoFastApiFunction": function("app.fastapi_handler", {})}


class World:
    """The stack, the echo function's addresses and its log."""

    def __init__(self, stack: Stack, log: Path, cross_site: str) -> None:
        self.stack, self.log, self.cross_site = stack, log, cross_site
        api = stack.api
        self.echo = {"http": f"{api}/echo", "rest": f"{api}/Prod/echo",
                     "url": f"{stack.gateway.origin('EchoFunction')}/echo",
                     "fastapi": f"{stack.gateway.origin('EchoFastApiFunction')}/echo"}

    def token(self, page: str = "a") -> str:
        return self.stack.token(self.stack.origins.get(page, page), f"sess_{page}")

    def signed_in(self, page: str = "a") -> dict[str, Any]:
        token = self.token(page)
        return {"token": token, "sid": f"sess_{page}", "cookie": token, "clientUat": str(int(time.time()) - 300)}

    def recorded(self, number: int, timeout: float = 8.0) -> list[dict[str, Any]]:
        """What the echo handler recorded for ``probe=<number>`` (beacons, forms)."""
        deadline = time.monotonic() + timeout
        while True:
            lines = [json.loads(line) for line in self.log.read_text().splitlines() if line]
            found = [line for line in lines if line["probe"] == str(number)]
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.05)


@pytest.fixture(scope="module")
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    bundle = page_bundle(request, tmp_path_factory, "bodies.jsx", "bodies.js", "bodies-bundle")
    work = tmp_path_factory.mktemp("browser-bodies")
    log = work / "echo.jsonl"
    log.touch()
    (work / "stack").mkdir()
    with make_stack(work / "stack", echo_resources(log)) as stack:
        publish(stack.dirs.values(), "bodies", PAGE, bundle)
        # C's directory on 127.0.0.1: another *site* than the localhost APIs.
        yield World(stack, log, stack.origins["c"].replace("localhost", "127.0.0.1"))


class Page(BrowserPage):
    """One page on one origin, running window.BODIES' patterns."""

    API = "BODIES"

    def __init__(self, browser: Any, origin: str) -> None:
        super().__init__(browser, f"{origin}/bodies.html")


@pytest.fixture
def pages(browser: Any, world: World) -> Iterator[Any]:
    with page_opener(lambda _, origin: Page(browser, world.stack.origins.get(origin, origin))) as open_page:
        yield open_page


def signed_in_page(pages: Any, world: World, name: str = "a") -> Page:
    page: Page = pages(name)
    page.enter(**world.signed_in(name))
    return page


# -- uploads: the handler sees the exact bytes ------------------------------------------------------

UPLOADS: dict[str, dict[str, Any]] = {
    "Uint8Array": {"bodyKind": "uint8array"},
    "ArrayBuffer": {"bodyKind": "arraybuffer"},
    "DataView": {"bodyKind": "dataview"},
    "Blob application/octet-stream": {"bodyKind": "blob", "blobType": "application/octet-stream"},
    "Blob image/png": {"bodyKind": "blob", "blobType": "image/png"},
    "Blob without a type": {"bodyKind": "blob"},
    "Blob, 1 MiB": {"bodyKind": "blob", "blobType": "application/octet-stream", "size": 1 << 20},
    "FormData with a file and fields": {"bodyKind": "formdata", "fields": [["name", "zoë ✓"], ["n", "1"]],
                                        "fileName": "café.png"},
    "URLSearchParams": {"bodyKind": "urlencoded", "fields": [["q", "café & crème"], ["emoji", "😀"]]},
    "non-ASCII text/plain": {"bodyKind": "text", "text": "héllo ✓ 😀 \u0000 \r\n end"},
    "non-ASCII JSON": {"bodyKind": "json", "json": {"title": "naïve café ☕", "n": 1},
                       "headers": {"Content-Type": "application/json"}},
}


@pytest.mark.parametrize("kind", KINDS)
def test_uploads_reach_the_handler_byte_for_byte(pages: Any, world: World, kind: str) -> None:
    """Each body, POSTed with the Bearer token and PUT with the cookie: the
    handler reads the same bytes (length, SHA-256) and content type the page
    sent, whether the gateway passed the body as text or base64."""
    page = signed_in_page(pages, world)
    wrong = []
    for label, body in UPLOADS.items():
        for method, auth in (("POST", {"bearer": True}), ("PUT", {"credentials": "include"})):
            got = page.run("send", url=url(world.echo[kind])[0], method=method, **auth, **body)
            answer, sent = got.get("body") or {}, got.get("sent") or {}
            seen = (got["status"], answer.get("user_id"), answer.get("method"), answer.get("length"),
                    answer.get("sha256"), answer.get("content_type") or None)
            if seen != (200, USER, method, sent.get("length"), sent.get("sha256"), sent.get("contentType")):
                wrong.append(f"{label} {method}: sent {sent}, the handler saw {seen} ({got.get('message', '')})")
    assert not wrong, f"{kind}:\n  " + "\n  ".join(wrong)
    # 4.8 MB of bytes is under API Gateway's 10 MB, but base64 in the event
    # it is over Lambda's 6 MiB: refused (413, readable), as deployed.
    address, number = url(world.echo[kind])
    got = page.run("send", url=address, method="POST", bearer=True, bodyKind="blob", blobType="application/octet-stream",
                   size=4_800_000)
    assert got["status"] == 413, got
    assert served(world.stack, number)[-1].endswith(" 413"), served(world.stack, number)


# -- downloads: binary answers read as bytes, as an image, through <img> -------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_binary_downloads(pages: Any, world: World, kind: str) -> None:
    """A handler answering image/png (isBase64Encoded) or an octet stream: the
    page reads the exact bytes, decodes the image from a Blob, and an <img>
    loads it with the cookie; 1 MiB goes there and back unchanged."""
    page = signed_in_page(pages, world)
    target = world.echo[kind]
    got = page.run("send", url=url(target, "do=png")[0], bearer=True, read="bytes")
    assert (got["status"], got["contentType"], got["length"], got["sha256"]) == \
        (200, "image/png", len(PNG), hashlib.sha256(PNG).hexdigest()), got
    got = page.run("send", url=url(target, "do=png")[0], credentials="include", read="image")
    assert (got["status"], got["blobType"], got["decoded"], got["width"]) == (200, "image/png", True, 1), got
    assert page.run("image", url=url(target, "do=png")[0]) == {"result": "load", "width": 1}
    for size in (65_536, 1 << 20):
        got = page.run("send", url=url(target, "do=bytes")[0], method="POST", bearer=True, read="bytes",
                       bodyKind="uint8array", size=size)
        assert (got["status"], got["contentType"], got["length"], got["sha256"]) == \
            (200, "application/octet-stream", size, hashlib.sha256(_bytes(size)).hexdigest()), got
    # Signed out, the <img> meets the toolkit's 401: no image.
    page.enter(cookie=None, clientUat=None)
    assert page.run("image", url=url(target, "do=png")[0]) == {"result": "error", "width": 0}


def test_rest_api_without_binary_media_types(pages: Any, world: World) -> None:
    """A REST API without ``BinaryMediaTypes`` (the sample template's) passes
    bodies as text and answers as they are: an upload that is not UTF-8
    reaches the handler mangled, and an image/png answer reaches the page as
    its base64 text — as deployed, so it shows locally (README)."""
    page = signed_in_page(pages, world)
    plain = f"{world.stack.api}/Plain/echo"
    got = page.run("send", url=url(plain, "do=png")[0], bearer=True, read="bytes")
    assert (got["status"], got["length"]) == (200, len(base64.b64encode(PNG))), got
    got = page.run("send", url=url(plain)[0], method="POST", bearer=True, bodyKind="uint8array", size=1024)
    assert (got["status"], got["body"]["base64"]) == (200, False), got
    assert got["body"]["sha256"] != got["sent"]["sha256"], got
    got = page.run("send", url=url(plain)[0], method="POST", bearer=True, **UPLOADS["non-ASCII JSON"])
    assert (got["status"], got["body"]["sha256"]) == (200, got["sent"]["sha256"]), got  # UTF-8 text is fine


# -- paths and query strings -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_non_ascii_and_percent_encoded_paths_and_queries(pages: Any, world: World, kind: str) -> None:
    """fetch percent-encodes the path (UTF-8) and keeps the query as given: the
    handler gets every query value decoded exactly (``+`` as a space, ``%2B``
    as ``+``, ``%26`` inside a value, an emoji) beside ``_clerk_session_id``,
    with the cookie; the path as each API hands it over — the HTTP API
    decoded, REST and Function URLs as sent, FastAPI's ``request.url.path``
    decoded by Mangum."""
    page = signed_in_page(pages, world)
    query = "_clerk_session_id=sess_a&q=caf%C3%A9&plus=a%2Bb&space=a+b&emoji=%F0%9F%98%80&amp=a%26b&empty="
    got = page.run("send", url=url(f"{world.echo[kind]}/café/a b/x+y", query)[0], credentials="include")
    body = got.get("body") or {}
    assert (got["status"], body.get("user_id")) == (200, USER), got
    expected = {"_clerk_session_id": "sess_a", "q": "café", "plus": "a+b", "space": "a b", "emoji": "😀", "amp": "a&b",
                "empty": ""}
    assert {k: v for k, v in body["query"].items() if k != "probe"} == expected, body
    encoded = "/echo/caf%C3%A9/a%20b/x+y"
    path = {"http": "/echo/café/a b/x+y", "rest": encoded, "url": encoded, "fastapi": "/echo/café/a b/x+y"}[kind]
    assert body["path"] == path, body
    if kind == "http":
        assert body["path_parameters"] == {"proxy": "café/a b/x+y"}, body
    # Signed out, the same address is a readable 401.
    page.enter(cookie=None, clientUat=None)
    got = page.run("send", url=url(f"{world.echo[kind]}/café/a b/x+y", query)[0], credentials="include")
    assert (got["status"], got["reason"]) == (401, "session-token-missing"), got


# -- a handler's redirect, followed by fetch ----------------------------------------------------------


def _to(target: str, query: str = "") -> tuple[str, int]:
    """``?do=redirect&to=<target with a fresh probe>``, and that probe's number."""
    address, number = url(target, query)
    return f"do=redirect&to={urllib.parse.quote(address, safe='')}", number


@pytest.mark.parametrize("kind", KINDS)
def test_handler_redirects_followed_by_fetch(pages: Any, world: World, kind: str) -> None:
    """A handler answering 302 + Location on the API's own origin: the 302
    carries the CORS grant, so fetch follows it — the Bearer header and the
    cookie go along — and reads the target. To another origin the browser
    drops the Authorization header and sends ``Origin: null``, which no API
    grants: "Failed to fetch" (the browser's rule; README)."""
    page = signed_in_page(pages, world)
    target = world.echo[kind]
    for auth in ({"bearer": True}, {"credentials": "include"}):
        query, number = _to(target)
        got = page.run("send", url=url(target, query)[0], **auth)
        assert (got["status"], got["redirected"], (got.get("body") or {}).get("user_id")) == (200, True, USER), (auth, got)
        assert served(world.stack, number)[-1].endswith(" 200"), served(world.stack, number)
    got = page.run("send", url=url(target, _to(target)[0])[0], bearer=True, redirect="manual")
    assert (got["status"], got["type"]) == (0, "opaqueredirect"), got
    other = "url" if kind in ("http", "rest") else "http"
    query, number = _to(world.echo[other])
    got = page.run("send", url=url(target, query)[0], bearer=True)
    assert got["status"] == "blocked", got
    # It arrived without the token (401), and the page could not read even that.
    arrived = [line for line in served(world.stack, number) if not line.startswith("OPTIONS")]
    assert arrived == [f"GET {'EchoFunction' if other == 'url' else 'EchoFunction (http)'} 401"], arrived


# -- how the token is written: Headers, Request, the scheme's case ----------------------------------


@pytest.mark.parametrize("kind", ["http", "rest", "url", "http-authorizer", "rest-authorizer"])
def test_headers_instances_request_objects_and_scheme_case(pages: Any, world: World, kind: str) -> None:
    """A Headers instance, a Request object, and ``bearer`` / ``BEARER``: the
    scheme is case-insensitive (RFC 9110), in the toolkit and the authorizer."""
    page = pages("a")
    page.enter(token=world.token("a"), sid="sess_a", cookie=None, clientUat=None)
    target = targets(world.stack)[kind]
    for case in ({"headersKind": "headers"}, {"headersKind": "request"}, {"scheme": "bearer"}, {"scheme": "BEARER"},
                 {"headersKind": "headers", "scheme": "bearer"}):
        got = page.run("send", url=url(target)[0], bearer=True, **case)
        assert (got["status"], (got.get("body") or {}).get("user_id")) == (200, USER), (kind, case, got)


def test_custom_x_clerk_headers_need_the_grant(pages: Any, world: World) -> None:
    """A header of the app's own (``X-Clerk-Session-Id`` here: the name means
    nothing to the toolkit) is granted by the REST functions, which grant what
    a preflight asks; the HTTP API and the Function URLs grant what
    ``CorsAllowHeaders`` lists, so the browser never sends it (README)."""
    page = signed_in_page(pages, world)
    for kind, target in world.echo.items():
        address, number = url(target)
        got = page.run("send", url=address, bearer=True, headers={"X-Clerk-Session-Id": "sess_a"})
        if kind == "rest":
            assert got["status"] == 200, got
        else:
            assert got["status"] == "blocked" and [line.split()[0] for line in served(world.stack, number)] == ["OPTIONS"], \
                (kind, got, served(world.stack, number))


# -- large answers -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_large_json_answers(pages: Any, world: World, kind: str) -> None:
    """~2.8 MB of JSON reads whole; over Lambda's 6,291,556-byte response
    limit the function fails as it does deployed (HTTP API 500, REST API and
    Function URL 502), readable by the authorized page."""
    page = signed_in_page(pages, world)
    got = page.run("send", url=url(world.echo[kind], "do=big&n=10000")[0], bearer=True)
    assert (got["status"], len(got["body"]["items"]), got["body"]["items"][-1]["tags"]) == (200, 10_000, ["α", "β", "ç"])
    got = page.run("send", url=url(world.echo[kind], "do=big&n=25000")[0], bearer=True)
    assert got["status"] == (500 if kind == "http" else 502), got


# -- beacons and keepalive: cookie writes the page does not read ---------------------------------------

NO_CORS_BODIES: dict[str, dict[str, Any]] = {
    "string (text/plain)": {"bodyKind": "text", "text": '{"title": "héllo"}'},
    "Blob text/plain": {"bodyKind": "blob", "blobType": "text/plain", "size": 300},
    "Blob without a type": {"bodyKind": "blob", "size": 300},
    "Uint8Array": {"bodyKind": "uint8array", "size": 300},
    "URLSearchParams": {"bodyKind": "urlencoded", "fields": [["title", "é & ü"]]},
    "FormData": {"bodyKind": "formdata", "fields": [["title", "ü"]], "size": 50},
    # Not CORS-safelisted: Chromium preflights these (a beacon too).
    "Blob application/json": {"bodyKind": "blob", "blobType": "application/json", "size": 100},
    "Blob application/octet-stream": {"bodyKind": "blob", "blobType": "application/octet-stream", "size": 100},
}
PREFLIGHTED = ("Blob application/json", "Blob application/octet-stream")
LABELS = {"http": "EchoFunction (http)", "rest": "EchoFunction (rest)", "url": "EchoFunction", "fastapi": "EchoFastApiFunction"}


def _settled(world: World, sent: dict[str, tuple[int, bool]], timeout: float = 15.0) -> dict[str, list[str]]:
    """What the gateway answered for each ``label: (probe, stops at the
    preflight)``, once each reached its last step: an answered write, or the
    refused preflight that ends it."""
    deadline = time.monotonic() + timeout
    while True:
        seen = {label: served(world.stack, number) for label, (number, _) in sent.items()}
        done = all(any(not line.startswith("OPTIONS") for line in seen[label]) or (stops and seen[label])
                   for label, (_, stops) in sent.items())
        if done or time.monotonic() > deadline:
            return seen
        time.sleep(0.05)


@pytest.mark.parametrize("origin", ["a", "b", "c", "cross-site"])
def test_beacons_and_keepalive_with_the_cookie(pages: Any, world: World, origin: str) -> None:
    """``navigator.sendBeacon`` and ``fetch(…, { keepalive: true, credentials:
    "include" })`` carry the cookie, never a header, and nobody reads the
    answer. From the authorized origin (a) and the gateway's own page (b,
    same origin for the HTTP and REST APIs) they are writes like any other:
    the handler gets the exact bytes. From a foreign origin of the same site
    (c) the cookie goes along and the CSRF rule refuses them (403) before the
    handler, or the browser stops at the refused preflight. From another
    site (127.0.0.1) Chromium sends no SameSite=Lax cookie: 401."""
    page = pages(world.cross_site if origin == "cross-site" else origin)
    # The APIs' cookie jar is localhost's: set it from A (the same jar B and C use).
    setter = pages("a") if origin == "cross-site" else page
    setter.enter(**world.signed_in("b" if origin == "b" else "a"))
    sent: dict[str, tuple[int, str]] = {}
    hashes: dict[str, dict[str, Any]] = {}
    for kind, target in world.echo.items():
        same_origin = origin == "b" and kind in ("http", "rest")
        for body_label, body in NO_CORS_BODIES.items():
            expected = {"a": "ok", "b": "ok", "c": "refused", "cross-site": "no cookie"}[origin]
            if expected != "ok" and body_label in PREFLIGHTED:
                expected = "refused"  # the preflight gets no grant: never sent
            for how in ("beacon", "keepalive"):
                address, number = url(target)
                label = f"{kind} {how} {body_label}"
                if how == "beacon":
                    got = page.run("beacon", url=address, **body)
                    assert got["queued"] is True, (label, got)
                else:
                    got = page.run("send", url=address, method="POST", keepalive=True, credentials="include", **body)
                    assert got["status"] == (200 if expected == "ok" else "blocked"), (label, got)
                sent[label] = (number, expected == "refused" and body_label in PREFLIGHTED and not same_origin)
                hashes[label] = {**got["sent"], "kind": kind, "expected": expected, "preflight":
                                 body_label in PREFLIGHTED and not same_origin}
    wrong = []
    for label, lines in _settled(world, sent).items():
        number, _ = sent[label]
        info = hashes[label]
        want = {"ok": "200", "refused": "403", "no cookie": "401"}[info["expected"]]
        writes = [line for line in lines if not line.startswith("OPTIONS")]
        if info["expected"] == "refused" and info["preflight"]:
            good = writes == []
        else:
            good = writes == [f"POST {LABELS[info['kind']]} {want}"]
        good = good and bool([line for line in lines if line.startswith("OPTIONS")]) == info["preflight"]
        recorded = world.recorded(number, timeout=0) if info["kind"] != "fastapi" else []
        if info["kind"] != "fastapi":
            if info["expected"] == "ok":
                same = recorded and recorded[0]["length"] == info["length"] and (
                    "FormData" in label or recorded[0]["sha256"] == info["sha256"])
                good = good and bool(same)
            else:
                good = good and not recorded
        if not good:
            wrong.append(f"{label}: gateway {lines}, handler {recorded}")
    assert not wrong, f"from {origin}:\n  " + "\n  ".join(wrong)


# -- plain HTML forms, navigating ------------------------------------------------------------------------


def test_form_posts_navigating_the_window(pages: Any, world: World) -> None:
    """A plain ``<form method=post>`` (no JavaScript fetch) opening its answer
    as a page: same-origin (``serve --static``) it works and shows the
    handler's JSON; from the authorized origin it works (the page cannot read
    the other origin's window); from a foreign origin of the same site it is
    refused (403); from another site Chromium sends no SameSite=Lax cookie
    with a POST (401), while its top-level GET navigation carries the cookie
    (a safe read the foreign page cannot see)."""
    for origin, expected, readable in (("b", 200, True), ("a", 200, False), ("c", 403, False),
                                       (world.cross_site, 401, False)):
        page = pages(origin)
        # The APIs' cookie jar is localhost's: the 127.0.0.1 page cannot set it, A does.
        (pages("a") if origin == world.cross_site else page).enter(**world.signed_in("b" if origin == "b" else "a"))
        for enctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            address, number = url(world.echo["http"])
            got = page.run("formNavigate", url=address, enctype=enctype, fields=[["title", "é ü"]])
            assert wait_served(world.stack, number) == [f"POST EchoFunction (http) {expected}"], (origin, enctype)
            assert got["readable"] is readable, (origin, got)
            if readable:
                shown = json.loads(got["text"])
                assert (shown["user_id"], shown["content_type"].split(";")[0]) == (USER, enctype), shown
            assert bool(world.recorded(number, timeout=0)) == (expected == 200), (origin, enctype)
    page = pages(world.cross_site)
    for kind, target in world.echo.items():
        address, number = url(target)
        got = page.run("formNavigate", url=address.split("?")[0], method="GET", fields=[["probe", str(number)]])
        assert wait_served(world.stack, number) == [f"GET {LABELS[kind]} 200"] and got["readable"] is False, (kind, got)


# -- EventSource ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_event_source_with_credentials(pages: Any, world: World, kind: str) -> None:
    """``new EventSource(url, { withCredentials: true })`` from the authorized
    origin reads a handler's ``text/event-stream`` answer with the cookie;
    signed out it meets the 401 and a foreign origin is refused by CORS, so
    both get an error event, no message."""
    page = signed_in_page(pages, world)
    assert page.run("eventSource", url=url(world.echo[kind], "do=sse")[0]) == {"result": "message", "messages": [USER]}
    page.enter(cookie=None, clientUat=None)
    address, number = url(world.echo[kind], "do=sse")
    assert page.run("eventSource", url=address) == {"result": "error", "messages": []}
    assert wait_served(world.stack, number) == [f"GET {LABELS[kind]} 401"]
    foreign = signed_in_page(pages, world, "c")
    foreign.enter(**world.signed_in("a"))
    address, number = url(world.echo[kind], "do=sse")
    assert foreign.run("eventSource", url=address) == {"result": "error", "messages": []}
    assert wait_served(world.stack, number) == [f"GET {LABELS[kind]} 200"]  # a safe read: answered, not readable


# -- HEAD -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_head_on_a_handler_that_answers_a_body(pages: Any, world: World, kind: str) -> None:
    """The handler answers HEAD like GET, body included: the page gets the
    status and headers and no body, and the next request on the connection
    is read cleanly."""
    page = signed_in_page(pages, world)
    for _ in range(2):
        got = page.run("send", url=url(world.echo[kind])[0], method="HEAD", bearer=True)
        assert (got["status"], got["length"], got["contentType"].split(";")[0]) == (200, 0, "application/json"), got
        got = page.run("send", url=url(world.echo[kind])[0], credentials="include")
        assert (got["status"], got["body"]["user_id"]) == (200, USER), got
    page.enter(cookie=None, clientUat=None)
    got = page.run("send", url=url(world.echo[kind])[0], method="HEAD", credentials="include")
    assert (got["status"], got["reason"], got["length"]) == (401, "session-token-missing", 0), got


# -- the same through axios, ky and ofetch ---------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_binary_through_axios_ky_and_ofetch(pages: Any, world: World, kind: str) -> None:
    """Each library uploads a Uint8Array, an ArrayBuffer and a Blob unchanged
    and reads an image/png answer as an ArrayBuffer, byte for byte; FormData
    goes as multipart with its boundary."""
    page = pages("a")
    page.enter(token=world.token("a"), sid="sess_a", cookie=None, clientUat=None)
    target = world.echo[kind]
    wrong = []
    for lib in ("axios", "ky", "ofetch"):
        for body in ({"bodyKind": "uint8array"}, {"bodyKind": "arraybuffer"},
                     {"bodyKind": "blob", "blobType": "application/octet-stream"}):
            got = page.run("library", lib=lib, url=url(target)[0], **body)
            data = got.get("data") or {}
            if (got["status"], data.get("user_id"), data.get("sha256")) != (200, USER, got["sent"]):
                wrong.append(f"{lib} {body}: {got}")
        got = page.run("library", lib=lib, url=url(target)[0], bodyKind="formdata", fields=[["name", "zoë"]])
        data = got.get("data") or {}
        if (got["status"], data.get("user_id")) != (200, USER) or not data.get("content_type", "").startswith(
                "multipart/form-data; boundary="):
            wrong.append(f"{lib} FormData: {got}")
        got = page.run("library", lib=lib, url=url(target, "do=png")[0], read="bytes")
        if (got["status"], got.get("data")) != (200, {"length": len(PNG), "sha256": hashlib.sha256(PNG).hexdigest()}):
            wrong.append(f"{lib} png: {got}")
    assert not wrong, f"{kind}:\n  " + "\n  ".join(wrong)
