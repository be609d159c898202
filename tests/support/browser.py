"""The browser tests' tools: the frontend libraries from the npm registry
(``tests/browser/package-lock.json``, ``npm ci`` once per lock file), pages
bundled with esbuild, and a headless Chromium (Debian's) under Playwright.

Missing Chromium, Playwright, node or npm skip with a reason on a developer
machine and fail in CI (:func:`support.tools.unavailable`). The pages run a
bundle's ``window.<API>`` patterns; :class:`ShotPage` saves its table as
``artifacts/<prefix>-<test>.png`` when it closes."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest

from support.tools import npm_ci, unavailable

ROOT = Path(__file__).resolve().parent.parent.parent
SOURCES = ROOT / "tests" / "browser"
ARTIFACTS = ROOT / "artifacts"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-quic"]


def chromium() -> str:
    """Debian's Chromium, installed with apt-get when missing and allowed (root)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if shutil.which("apt-get") and os.geteuid() == 0:
        for command in (["apt-get", "install", "-y", "-q", "chromium"], ["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "chromium"]):
            subprocess.run(command, capture_output=True, timeout=600, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
            found = shutil.which("chromium")
            if found:
                return found
    unavailable("Chromium is not installed and cannot be installed here (needs root and apt-get)")


# -- the frontend libraries, from the npm registry ------------------------------------------


def npm_cache(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the npm packages are kept: pytest's cache (``clerk-browser``), or
    a fresh temporary directory when the cache plugin is off."""
    cache_plugin = getattr(request.config, "cache", None)
    cache = cache_plugin.mkdir("clerk-browser") if cache_plugin is not None else tmp_path_factory.mktemp("npm-cache")
    return Path(cache)


def node_modules(cache: Path) -> Path:
    """tests/browser/package-lock.json installed (:func:`support.tools.npm_ci`);
    esbuild's binary comes in its own npm package."""
    return npm_ci(SOURCES, cache, "npm", "the frontend libraries") / "node_modules"


def build_bundle(modules: Path, out: Path, entry: str = "harness.jsx", name: str = "app.js") -> Path:
    """tests/browser/``entry`` and everything it imports, as one script ``out/name``."""
    stub = str(SOURCES / "clerk-stub.js")
    target = out / name
    command = [str(modules / ".bin" / "esbuild"), str(SOURCES / entry), "--bundle", "--format=iife",
               "--jsx=automatic", "--target=es2020", "--log-level=warning", f"--outfile={target}",
               "--define:process.env.NODE_ENV=\"production\"",
               f"--alias:@clerk/clerk-react={stub}", f"--alias:@clerk/nextjs={stub}"]
    result = subprocess.run(command, cwd=SOURCES, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "NODE_PATH": str(modules)})
    assert result.returncode == 0, f"esbuild failed: {result.stderr[-2000:]}"
    return target


def page_bundle(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, entry: str, name: str,
                folder: str) -> Path:
    """tests/browser/``entry`` bundled as ``name`` in a fresh temporary ``folder``."""
    modules = node_modules(npm_cache(request, tmp_path_factory))
    return build_bundle(modules, tmp_path_factory.mktemp(folder), entry, name)


def publish(directories: Iterable[Path], stem: str, html: str, bundle: Path) -> None:
    """``<stem>.html`` (``html``) and ``<stem>.js`` (``bundle``) in each of ``directories``."""
    for directory in directories:
        (directory / f"{stem}.html").write_text(html)
        shutil.copy(bundle, directory / f"{stem}.js")


# -- Chromium and its pages -------------------------------------------------------------------


@contextmanager
def launch_browser() -> Iterator[Any]:
    """A headless Chromium (Debian's) under Playwright, with a fresh profile."""
    executable = chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright for Python is not installed (pip install -e '.[dev]')")

    with tempfile.TemporaryDirectory() as profile, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(profile, executable_path=executable, headless=True, args=CHROMIUM_FLAGS,
                                                               viewport={"width": 1500, "height": 900})
        yield context
        context.close()


class BrowserPage:
    """One tab at ``url`` running the bundle's ``window.<API>`` patterns, once
    the page sets ``window.__ready``; its console lines kept in ``console``."""

    API = ""

    def __init__(self, browser: Any, url: str) -> None:
        self.page = browser.new_page()
        self.console: list[str] = []
        self.page.on("console", lambda message: self.console.append(f"{message.type}: {message.text}"))
        self.page.on("pageerror", lambda error: self.console.append(f"pageerror: {error}"))
        self.page.goto(url)
        self.page.wait_for_function("window.__ready === true", timeout=30_000)

    def enter(self, **state: Any) -> None:
        """The page's state: getToken()'s token, the cookies, … (what its ``enter`` takes)."""
        self.page.evaluate(f"(c) => window.{self.API}.enter(c)", state)

    def run(self, pattern: str, **case: Any) -> dict[str, Any]:
        """What ``pattern`` saw, run with ``case``."""
        got: dict[str, Any] = self.page.evaluate(f"([p, c]) => window.{self.API}[p](c)", [pattern, case])
        return got

    def close(self) -> None:
        """Close the tab."""
        self.page.close()


class ShotPage(BrowserPage):
    """A :class:`BrowserPage` titled ``shot`` whose ``#page`` is saved as
    ``artifacts/<PREFIX>-<shot>.png`` when it closes, passed or failed."""

    PREFIX = ""

    def __init__(self, browser: Any, url: str, shot: str) -> None:
        super().__init__(browser, url)
        self.shot = shot
        self.page.evaluate("(name) => { document.getElementById('test').textContent = name; }", shot)

    def close(self) -> None:
        """Save the screenshot, then close the tab."""
        try:
            ARTIFACTS.mkdir(exist_ok=True)
            self.page.locator("#page").screenshot(path=str(ARTIFACTS / f"{self.PREFIX}-{self.shot}.png"))
        finally:
            self.page.close()


_Page = TypeVar("_Page", bound="BrowserPage")


@contextmanager
def page_opener(make: Callable[..., _Page]) -> Iterator[Callable[..., _Page]]:
    """A test's page opener: ``open_page(*args)`` is ``make(opened, *args)``
    (``opened``: how many pages the test opened before, for
    :func:`shot_name`); every page it opened is closed, its screenshot saved,
    when the ``with`` block ends (the fixture's teardown)."""
    opened: list[_Page] = []

    def open_page(*args: Any, **kwargs: Any) -> _Page:
        page = make(len(opened), *args, **kwargs)
        opened.append(page)
        return page

    yield open_page
    for page in opened:
        page.close()


def shot_name(request: pytest.FixtureRequest, opened: int) -> str:
    """The screenshot name of a test's page: the test's name without ``test_``,
    then ``-2``, ``-3``, … for the pages after its first (``opened`` so far)."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", request.node.name.removeprefix("test_")).strip("-")
    return name if not opened else f"{name}-{opened + 1}"
