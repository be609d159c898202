"""The guide's "Calling it from the frontend" snippets, run as written, in a real browser.

``tests/browser/patterns.jsx`` holds the test suite's own copy of the
recommended patterns; this module takes the code blocks of
``docs/guide/frontend.md`` (moved there from the README) themselves
(fetch, react-query v5, SWR, axios), pastes them into one module — verbatim,
but for the example API address — bundles it with esbuild and the real
libraries, and checks that each behaves as the page's text says: a throwing
fetcher with the refusal's status, reason and Retry-After; no header (and no
preflight) without a token; react-query and SWR not retrying a 401 and
retrying a 503 after Retry-After; axios sending the token per request.
"""

from __future__ import annotations

import copy
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.browser import SOURCES, build_bundle, launch_browser, node_modules, npm_cache, publish
from support.browser_recorder import Recorder, recorder_resources
from support.browser_stack import ROOT, USER, Stack, make_stack, served, url

pytestmark = pytest.mark.browser
EXAMPLE_API = "https://api.example.com"
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>README snippets</title></head>
<body><script src="readme.js"></script></body></html>
"""
# What the README's blocks leave to the reader's own imports.
PREAMBLE = """import { useMemo } from "react";
import { QueryClient, useQuery } from "@tanstack/react-query";
import useSWR from "swr";
import axios from "axios";
"""


def readme_snippets() -> dict[str, str]:
    """The code blocks of "Calling it from the frontend" (the README's guide
    page, docs/guide/frontend.md), by their bold title."""
    text = (ROOT / "docs" / "guide" / "frontend.md").read_text()
    assert text.startswith("# Calling it from the frontend\n")
    section = text.split("\n## ", 1)[0]
    blocks = re.findall(r"^\*\*(\w[\w .-]*?)\*\*[^\n]*\n\n```(?:js|jsx)\n(.*?)```", section, re.S | re.M)
    return {title: code for title, code in blocks}


def snippets_module(api: str) -> str:
    blocks = readme_snippets()
    assert list(blocks) == ["fetch", "react-query v5", "SWR", "axios"], list(blocks)
    # readme.jsx imports what the blocks export: useApiFetch, queryClient, useApi,
    # swrConfig, useApiSWR, useApiAxios.
    return PREAMBLE + "\n".join(code.replace(EXAMPLE_API, api) for code in blocks.values())


DOWN = {"fetch": "", "query": "-query", "swr": "-swr"}


def down_resources(log: Path) -> dict[str, Any]:
    """The recorder's functions, and one more DownFunction per test that needs its keys down."""
    resources = recorder_resources(log)
    for name, suffix in DOWN.items():
        if suffix:
            function = copy.deepcopy(resources["DownFunction"])
            for event in function["Properties"]["Events"].values():
                event["Properties"]["Path"] += suffix
            del function["Properties"]["FunctionUrlConfig"]
            resources[f"Down{name.title()}Function"] = function
    return resources


class World:
    def __init__(self, stack: Stack, recorder: Recorder) -> None:
        self.stack, self.recorder = stack, recorder
        self.writes = f"{stack.api}/writes"
        # One function per test whose keys are down: each starts a fresh backoff (Retry-After 5 s).
        self.down = {name: f"{stack.api}/down{suffix}" for name, suffix in DOWN.items()}

    def token(self, expired: bool = False) -> str:
        return self.stack.key.token(USER, sid="sess_a", azp=self.stack.origins["a"], lifetime=3600, expired=expired)


@pytest.fixture(scope="module")
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    modules = node_modules(npm_cache(request, tmp_path_factory))
    work = tmp_path_factory.mktemp("browser-readme")
    log = work / "recorder.jsonl"
    (work / "stack").mkdir()
    with make_stack(work / "stack", down_resources(log),
                    key_down=tuple(f"Down{n.title() if s else ''}Function" for n, s in DOWN.items())) as stack:
        sources = work / "sources"
        sources.mkdir()
        for module in ("readme.jsx", "render.jsx"):
            shutil.copy(SOURCES / module, sources / module)
        (sources / "readme-snippets.jsx").write_text(snippets_module(stack.api))
        bundle = build_bundle(modules, work, str(sources / "readme.jsx"), "readme.js")
        publish([stack.dirs["a"]], "readme", PAGE, bundle)
        yield World(stack, Recorder(log))


@pytest.fixture(scope="module")
def page(world: World) -> Iterator[Any]:
    with launch_browser() as context:
        tab = context.new_page()
        console: list[str] = []
        tab.on("pageerror", lambda error: console.append(str(error)))
        tab.goto(f"{world.stack.origins['a']}/readme.html")
        tab.wait_for_function("window.__ready === true", timeout=30_000)
        yield tab
        assert not console, console


def run(page: Any, pattern: str, **case: Any) -> dict[str, Any]:
    got: dict[str, Any] = page.evaluate("([p, c]) => window.README[p](c)", [pattern, case])
    return got


def enter(page: Any, **state: Any) -> None:
    page.evaluate("(c) => window.README.enter(c)", state)


def methods(world: World, number: int) -> list[str]:
    return [line.split()[0] for line in served(world.stack, number)]


# -- fetch ---------------------------------------------------------------------------------------------


def test_api_fetch_throws_on_non_2xx_with_status_reason_and_retry_after(page: Any, world: World) -> None:
    enter(page, token=world.token(), cookie=None, clientUat=None)
    address, number = url(world.writes)
    assert run(page, "fetch", url=address) == {"outcome": "data", "user": USER, "method": "GET"}
    assert methods(world, number) == ["OPTIONS", "GET"]
    enter(page, token=world.token(expired=True))
    got = run(page, "fetch", url=url(world.writes)[0])
    assert (got["outcome"], got["name"], got["status"], got["reason"]) == ("error", "Error", 401, "token-expired"), got
    enter(page, token=world.token())
    got = run(page, "fetch", url=url(world.down["fetch"])[0])
    assert (got["outcome"], got["status"], got["reason"]) == ("error", 503, "jwk-remote-failed-to-load"), got
    assert isinstance(got["retryAfter"], int) and got["retryAfter"] > 0, got


def test_api_fetch_sends_no_header_without_a_token(page: Any, world: World) -> None:
    """Signed out: no "Bearer null", so no preflight; a readable 401 session-token-missing."""
    enter(page, token=None, cookie=None, clientUat=None)
    address, number = url(world.writes)
    got = run(page, "fetch", url=address)
    assert (got["status"], got["reason"]) == (401, "session-token-missing"), got
    assert methods(world, number) == ["GET"]


def test_api_fetch_with_credentials_include(page: Any, world: World) -> None:
    """The snippet's comment: ``credentials: "include"`` instead of the token (same site)."""
    token = world.token()
    enter(page, token=None, cookie=token, clientUat=str(int(time.time()) - 300))
    address, number = url(world.writes)
    got = run(page, "fetch", url=address, init={"method": "POST", "credentials": "include", "body": {"title": "x"}})
    assert (got["outcome"], got["user"], got["method"]) == ("data", USER, "POST"), got
    assert [c["user"] for c in world.recorder.calls(number)] == [USER]
    enter(page, cookie=None, clientUat=None)


@pytest.mark.parametrize("how", ["object", "Headers", "Request"])
def test_api_fetch_keeps_the_callers_headers(page: Any, world: World, how: str) -> None:
    """apiFetch(url, init) adds the token to the caller's headers, whichever way
    they come: a plain object, a ``Headers`` instance (what ky, ofetch and many
    wrappers hand around), or a ``Request`` built by the caller."""
    enter(page, token=world.token(), cookie=None, clientUat=None)
    address, number = url(world.writes)
    headers = {"Content-Type": "application/json", "X-Requested-With": "XMLHttpRequest"}
    init: dict[str, Any] = {"method": "PUT", "body": {"title": how}}
    if how == "object":
        got = run(page, "fetch", url=address, init={**init, "headers": headers})
    elif how == "Headers":
        got = run(page, "fetch", url=address, init=init, headersObject=headers)
    else:
        got = run(page, "fetch", url=address, init={**init, "headers": headers}, asRequest=True)
    assert (got["outcome"], got["user"], got["method"]) == ("data", USER, "PUT"), got
    calls = world.recorder.calls(number)
    assert [(c["method"], c["content_type"], c["x_requested_with"]) for c in calls] == \
        [("PUT", "application/json", "XMLHttpRequest")], calls


# -- react-query v5, SWR, axios ------------------------------------------------------------------------------


def test_react_query_never_retries_a_401(page: Any, world: World) -> None:
    enter(page, token=None, cookie=None, clientUat=None)
    address, number = url(world.writes)
    got = run(page, "query", url=address)
    assert (got["outcome"], got["status"], got["reason"], got["failureCount"]) == ("error", 401, "session-token-missing", 1), got
    assert methods(world, number) == ["GET"]
    enter(page, token=world.token())
    assert run(page, "query", url=url(world.writes)[0]) == {"outcome": "data", "user": USER, "method": "GET"}


def test_react_query_retries_a_503_after_retry_after(page: Any, world: World) -> None:
    enter(page, token=world.token(), cookie=None, clientUat=None)
    address, number = url(world.down["query"])
    started = time.monotonic()
    got = run(page, "query", url=address, untilRetry=True)
    elapsed = time.monotonic() - started
    assert got == {"outcome": "retrying", "failureCount": 2}, got
    gets = [m for m in methods(world, number) if m == "GET"]
    assert len(gets) == 2 and 4.0 <= elapsed < 12, (gets, elapsed)  # Retry-After: 5


def test_swr_never_retries_a_401(page: Any, world: World) -> None:
    enter(page, token=None, cookie=None, clientUat=None)
    address, number = url(world.writes)
    got = run(page, "swr", url=address, settleMs=2500)  # SWR's default would retry within ~1-5 s
    assert (got["outcome"], got["status"], got["reason"]) == ("error", 401, "session-token-missing"), got
    assert methods(world, number) == ["GET"]
    enter(page, token=world.token())
    assert run(page, "swr", url=url(world.writes)[0]) == {"outcome": "data", "user": USER, "method": "GET"}


def test_swr_retries_a_503_after_retry_after(page: Any, world: World) -> None:
    enter(page, token=world.token(), cookie=None, clientUat=None)
    address, number = url(world.down["swr"])
    got = run(page, "swr", url=address, settleMs=7000)
    assert (got["outcome"], got["status"], got["retryAfter"]) == ("error", 503, 5), got
    gets = [m for m in methods(world, number) if m == "GET"]
    assert len(gets) == 2, served(world.stack, number)  # the first, and one retry ~5 s later


def test_axios_sends_the_token_per_request(page: Any, world: World) -> None:
    enter(page, token=world.token(), cookie=None, clientUat=None)
    address, number = url("/writes")
    assert run(page, "axios", path=address) == {"outcome": "data", "user": USER, "method": "GET"}
    enter(page, token=None)
    got = run(page, "axios", path=url("/writes")[0])
    assert (got["outcome"], got["status"], got["reason"]) == ("error", 401, "session-token-missing"), got
