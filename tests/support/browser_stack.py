"""What the browser tests' pages talk to: four loopback origins and the local
gateway serving template.yaml (:func:`make_stack`), ``serve --static`` as a
developer starts it (:func:`static_gateway`), and what the gateway's log says
about a request tagged ``probe=<n>`` (:func:`url`, :func:`served`)."""

from __future__ import annotations

import itertools
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from clerk_serverless_local.devkeys import DevKey
from clerk_serverless_local.gateway import LocalGateway
from clerk_serverless_local.runtime_api import QuietServer
from clerk_serverless_local.template import Template
from support.loopback import free_port

ROOT = Path(__file__).resolve().parent.parent.parent
USER = "user_dev_123"


def new_key() -> DevKey:
    """An RSA key for this run only."""
    return DevKey(rsa.generate_private_key(public_exponent=65537, key_size=2048))


class StaticSite:
    """A directory served on its own loopback origin, ``http://localhost:<port>``,
    by ``handler`` (plain static files unless given)."""

    def __init__(self, directory: Path, handler: type[SimpleHTTPRequestHandler] = SimpleHTTPRequestHandler) -> None:
        serve = partial(handler, directory=str(directory))
        serve.log_message = lambda *a: None  # type: ignore[attr-defined]
        self.server = QuietServer(("127.0.0.1", 0), serve)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.origin = f"http://localhost:{self.server.server_address[1]}"

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Stack:
    """Everything the pages talk to."""

    gateway: LocalGateway
    origins: dict[str, str]  # page name -> origin
    api: str  # the gateway's origin (B)
    url: str  # the Function URL's origin
    key: DevKey
    sites: dict[str, StaticSite]
    dirs: dict[str, Path]
    log: list[str]

    def token(self, azp: str, sid: str, expired: bool = False) -> str:
        """A session token of USER for ``azp``, signed with the key the functions trust."""
        return self.key.token(USER, sid=sid, azp=azp, lifetime=3600, expired=expired)


@contextmanager
def make_stack(work: Path, resources: dict[str, Any] | None = None,
               key_down: tuple[str, ...] = ()) -> Iterator[Stack]:
    """The pages' origins and the gateway serving the template's APIs, in ``work``;
    ``resources`` (test-only functions) are added to the template's, and the
    functions in ``key_down`` find their key source down, as ReportsFunction does."""
    # A key for this run only: the served functions trust its public half.
    key = new_key()
    dirs = {name: work / name for name in ("a", "a2", "b", "c")}
    for directory in dirs.values():
        directory.mkdir()
    sites = {name: StaticSite(dirs[name]) for name in ("a", "a2", "c")}
    port_b = free_port()
    api = f"http://localhost:{port_b}"
    # The one origins parameter: A first (REST gateway responses name it), then A2,
    # then the gateway's own origin, as `serve --static` appends it.
    parties = [sites["a"].origin, sites["a2"].origin, api]
    template = Template(ROOT / "template.yaml", {"ClerkAuthorizedParties": ",".join(parties)})
    template.resources.update(resources or {})
    dead = free_port()  # nothing listens: ReportsFunction's key source is down
    env_vars = {"Parameters": {"CLERK_JWT_KEY": key.public_pem},
                **{function: {"CLERK_JWT_KEY": "", "CLERK_JWKS_URL": f"http://127.0.0.1:{dead}/.well-known/jwks.json"}
                   for function in ("ReportsFunction", *key_down)}}
    lines: list[str] = []
    gateway = LocalGateway(template, env_vars=env_vars, port=port_b, ephemeral_url_ports=True, static_dir=dirs["b"],
                           log=lines.append, warn=lambda m: None).start()
    assert gateway.origin() == api
    origins = {"a": sites["a"].origin, "a2": sites["a2"].origin, "b": api, "c": sites["c"].origin}
    try:
        yield Stack(gateway, origins, api, gateway.origin("FastApiFunction"), key, sites, dirs, lines)
    finally:
        for site in sites.values():
            site.stop()
        gateway.stop()


@contextmanager
def static_gateway(static: Path, log: Callable[[str], None]) -> Iterator[tuple[LocalGateway, DevKey]]:
    """`serve --static` of ``static`` as a developer starts it: the template's
    default origins, the gateway's own page origin authorized for the run."""
    key = new_key()
    gateway = LocalGateway(Template(ROOT / "template.yaml"), env_vars={"Parameters": {"CLERK_JWT_KEY": key.public_pem}},
                           port=free_port(), ephemeral_url_ports=True, static_dir=static, authorize_static_origin=True,
                           log=log, warn=lambda m: None).start()
    try:
        yield gateway, key
    finally:
        gateway.stop()


# -- requests tagged probe=<n>, and what the gateway answered ----------------------------------------

_probes = itertools.count(1)


def url(base: str, query: str = "") -> tuple[str, int]:
    """``base`` with a fresh ``probe=<n>`` (ties the request to its log lines) and ``query``."""
    number = next(_probes)
    return f"{base}{'&' if '?' in base else '?'}probe={number}{'&' + query if query else ''}", number


def targets(stack: Stack) -> dict[str, str]:
    """The template's session-guarded GET per API kind (``http``, ``rest``, ``url``,
    ``http-authorizer``, ``rest-authorizer``)."""
    return {"http": f"{stack.api}/me", "rest": f"{stack.api}/Prod/me", "url": f"{stack.url}/api/whoami",
            "http-authorizer": f"{stack.api}/secure", "rest-authorizer": f"{stack.api}/Prod/secure"}


def served(stack: Stack, number: int) -> list[str]:
    """``"<METHOD> <who> <status>"`` for each request with ``probe=<number>`` the gateway answered."""
    found = []
    for line in stack.log:
        match = re.match(r"(\S+) (\S+) -> (.+?) (\d{3}) [\d.]+ ms$", line)
        if match and re.search(rf"[?&]probe={number}(&|$)", match.group(2)):
            found.append(f"{match.group(1)} {match.group(3)} {match.group(4)}")
    return found


def wait_served(stack: Stack, number: int, count: int = 1, timeout: float = 10.0) -> list[str]:
    """What the gateway answered for ``probe=<number>``, once ``count`` requests arrived (beacons, forms)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = [line for line in served(stack, number) if not line.startswith("OPTIONS")]
        if len(lines) >= count:
            return served(stack, number)
        time.sleep(0.05)
    return served(stack, number)
