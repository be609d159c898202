"""The seed's frontend request patterns, end to end, in a real headless Chromium.

Three pages talk to the sample functions behind the local gateway:

* origin A (an authorized party): cross-origin ``fetch`` with a Bearer token,
  ``fetch(url, {credentials: "include"})``, axios ``withCredentials: true``,
  ``XMLHttpRequest``, multi-session ``?_clerk_session_id=…``, readable 401s;
* the gateway's own origin B: same-origin ``fetch('/me')`` carrying the
  ``__session`` cookie, axios and XHR;
* origin C (not an authorized party): its requests must be unreadable.

Chromium comes from Debian (installed by .ci/run, or here when missing),
Playwright for Python drives it, axios comes from the npm registry. The
result tables are saved as screenshots under ``artifacts/``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tarfile
import tempfile
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from typing import Any, Iterator

import pytest

from clerk_serverless_local.devkeys import DevKey
from clerk_serverless_local.gateway import LocalGateway
from clerk_serverless_local.runtime_api import QuietServer
from clerk_serverless_local.samples import DEV_KEY_FILE
from clerk_serverless_local.template import Template

ROOT = Path(__file__).resolve().parent.parent
PAGE = Path(__file__).resolve().parent / "browser" / "page.html"
ARTIFACTS = ROOT / "artifacts"
pytestmark = pytest.mark.browser
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-quic"]


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if shutil.which("apt-get") and os.geteuid() == 0:
        for command in (["apt-get", "install", "-y", "-q", "chromium"], ["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "chromium"]):
            subprocess.run(command, capture_output=True, timeout=600, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
            found = shutil.which("chromium")
            if found:
                return found
    if os.environ.get("CI"):
        pytest.fail("Chromium is required in CI: apt-get install chromium failed")
    pytest.skip("Chromium is not installed and cannot be installed here (needs root and apt-get)")


def _axios(directory: Path) -> Path:
    """axios's browser build, from the npm registry."""
    npm = shutil.which("npm")
    if npm is None:
        if os.environ.get("CI"):
            pytest.fail("npm is needed in CI to fetch axios from the npm registry")
        pytest.skip("npm is not installed: axios cannot be fetched from the npm registry")
    out = subprocess.run([npm, "pack", "axios@1", "--silent", "--pack-destination", str(directory)],
                         capture_output=True, text=True, timeout=300, cwd=directory)
    if out.returncode != 0:
        pytest.fail(f"npm pack axios failed: {out.stderr[-500:]}")
    tarball = directory / out.stdout.strip().splitlines()[-1]
    with tarfile.open(tarball) as archive:
        member = archive.getmember("package/dist/axios.min.js")
        target = directory / "axios.min.js"
        target.write_bytes(archive.extractfile(member).read())  # type: ignore[union-attr]
    return target


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StaticSite:
    """A directory served on its own loopback origin."""

    def __init__(self, directory: Path, port: int) -> None:
        handler = partial(SimpleHTTPRequestHandler, directory=str(directory))
        handler.log_message = lambda *a: None  # type: ignore[method-assign]
        self.server = QuietServer(("127.0.0.1", port), handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.origin = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _site(directory: Path, axios: Path, config: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(PAGE, directory / "page.html")
    shutil.copy(axios, directory / "axios.min.js")
    (directory / "config.js").write_text(f"window.CONFIG = {json.dumps(config)};\n")
    return directory


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    chromium = _chromium()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as profile, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(profile, executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
        yield context
        context.close()


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    work = tmp_path_factory.mktemp("browser")
    axios = _axios(work)
    key = DevKey.load_or_create(ROOT / DEV_KEY_FILE)
    port_a, port_b, port_c = _free_port(), _free_port(), _free_port()
    origin_a, origin_b, origin_c = (f"http://127.0.0.1:{port}" for port in (port_a, port_b, port_c))
    same_dir = work / "same"
    same_dir.mkdir()
    # Pages on A and on the gateway's own origin B are authorized parties (and
    # allowed by the HTTP API's CORS configuration); C is not.
    template = Template(ROOT / "template.yaml", {"ClerkAuthorizedParties": f"{origin_a},{origin_b}"})
    lines: list[str] = []
    gateway = LocalGateway(template, env_vars={"Parameters": {"CLERK_JWT_KEY": key.public_pem}}, port=port_b,
                           ephemeral_url_ports=True, static_dir=same_dir, log=lines.append, warn=lambda m: None).start()

    def config(mode: str, origin: str, sid: str) -> dict[str, Any]:
        return {"mode": mode, "api": origin_b, "sid": sid, "user": "user_dev_123",
                "token": key.token("user_dev_123", sid=sid, azp=origin, lifetime=3600),
                "expired": key.token("user_dev_123", sid=sid, azp=origin, expired=True)}

    _site(same_dir, axios, config("same", origin_b, "sess_same"))
    site_a = StaticSite(_site(work / "a", axios, config("cross", origin_a, "sess_cross")), port_a)
    site_c = StaticSite(_site(work / "c", axios, config("foreign", origin_c, "sess_foreign")), port_c)
    try:
        yield {"a": site_a.origin, "b": origin_b, "c": site_c.origin, "log": lines}
    finally:
        site_a.stop()
        site_c.stop()
        gateway.stop()


def _run_page(browser: Any, url: str, shot: str) -> list[dict[str, Any]]:
    page = browser.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.goto(url)
    page.wait_for_function("window.__done === true", timeout=60_000)
    results = page.evaluate("window.__results")
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#results").screenshot(path=str(ARTIFACTS / shot))
    page.close()
    assert results, f"the page ran no pattern; console: {console}"
    return results


def _assert_all(results: list[dict[str, Any]]) -> None:
    failed = [r for r in results if not r["ok"]]
    assert not failed, json.dumps(failed, indent=2)


def test_cross_origin_patterns(browser: Any, setup: dict[str, Any]) -> None:
    results = _run_page(browser, f"{setup['a']}/page.html", "browser-cross-origin.png")
    _assert_all(results)
    assert len(results) == 9
    assert any(line.startswith("OPTIONS /me -> preflight 204") for line in setup["log"])  # the Bearer call was preflighted


def test_same_origin_patterns(browser: Any, setup: dict[str, Any]) -> None:
    results = _run_page(browser, f"{setup['b']}/page.html", "browser-same-origin.png")
    _assert_all(results)
    assert len(results) == 7


def test_unauthorized_origin_cannot_read_responses(browser: Any, setup: dict[str, Any]) -> None:
    results = _run_page(browser, f"{setup['c']}/page.html", "browser-unauthorized-origin.png")
    _assert_all(results)
    assert {r["status"] for r in results} == {"blocked"}
