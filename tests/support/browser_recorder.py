"""The recorder (``tests/browser/recorder``), a test-only function that
appends a line to a file each time its handler runs, routed behind every
kind of API the local gateway serves (:func:`recorder_resources`), and what
it recorded per ``probe=<n>`` (:class:`Recorder`)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

RECORDER = Path(__file__).resolve().parent.parent / "browser" / "recorder"
WRITES = ("POST", "PUT", "PATCH", "DELETE")
EXPOSE = ["www-authenticate", "retry-after", "x-clerk-auth-status", "x-clerk-auth-reason"]


def _http(path: str, method: str, authorizer: str | None = None) -> dict[str, Any]:
    props: dict[str, Any] = {"ApiId": {"Ref": "HttpApi"}, "Path": path, "Method": method}
    if authorizer:
        props["Auth"] = {"Authorizer": authorizer}
    return {"Type": "HttpApi", "Properties": props}


def _rest(path: str, method: str, authorizer: str | None = None) -> dict[str, Any]:
    props: dict[str, Any] = {"RestApiId": {"Ref": "RestApi"}, "Path": path, "Method": method}
    if authorizer:
        props["Auth"] = {"Authorizer": authorizer}
    return {"Type": "Api", "Properties": props}


def recorder_resources(log: Path) -> dict[str, Any]:
    """The recorder behind every API kind; ``DownFunction`` is the same code
    with its key source down (``make_stack(key_down=…)``)."""
    url_config = {"AuthType": "NONE", "Cors": {
        "AllowOrigins": {"Ref": "ClerkAuthorizedParties"}, "AllowCredentials": True,
        "AllowHeaders": {"Ref": "CorsAllowHeaders"}, "AllowMethods": ["GET", *WRITES], "ExposeHeaders": EXPOSE,
        "MaxAge": 600}}

    def function(handler: str, events: dict[str, Any], function_url: bool) -> dict[str, Any]:
        props: dict[str, Any] = {"CodeUri": str(RECORDER), "Handler": handler, "Events": events,
                                 "Environment": {"Variables": {"RECORDER_LOG": str(log)}}}
        if function_url:
            props["FunctionUrlConfig"] = url_config
        return {"Type": "AWS::Serverless::Function", "Properties": props}

    guarded: dict[str, Any] = {}
    for method in ("GET", *WRITES):
        guarded[f"Http{method}"] = _http("/guarded", method, "ClerkAuthorizer")
        guarded[f"Rest{method}"] = _rest("/guarded", method, "ClerkRequestAuthorizer")
    guarded["RestPreflight"] = _rest("/guarded", "OPTIONS")  # preflights carry no credentials
    return {
        "WritesFunction": function("app.handler", {"Http": _http("/writes", "ANY"), "Rest": _rest("/writes", "ANY")}, True),
        "GuardedWritesFunction": function("app.trusted_handler", guarded, False),
        "DownFunction": function("app.handler", {"Http": _http("/down", "ANY"), "Rest": _rest("/down", "ANY")}, True),
    }


class Recorder:
    """What the recorder's handlers were called with, per ``probe=<n>``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.touch()

    def calls(self, number: int) -> list[dict[str, Any]]:
        """The calls recorded so far for ``probe=<number>``."""
        lines = [json.loads(line) for line in self.path.read_text().splitlines() if line]
        return [line for line in lines if line["probe"] == str(number)]

    def wait(self, number: int, timeout: float = 8.0) -> list[dict[str, Any]]:
        """The calls for ``probe=<number>``, once there is one (or ``timeout`` seconds passed)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.calls(number):
                break
            time.sleep(0.05)
        return self.calls(number)
