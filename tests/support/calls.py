"""Invoke decorated handlers and read their answers, whatever the format."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .events import make_event, response_headers


@dataclass
class Outcome:
    status: int
    headers: dict[str, str]
    body: Any
    session: Any  # what the handler saw in event["session"]; "not-called" if it never ran
    response: dict[str, Any]

    @property
    def reason(self) -> str | None:
        return self.headers.get("x-clerk-auth-reason")


NOT_CALLED = "not-called"


def recording_handler(decorator: Callable[..., Any]) -> Any:
    """A handler wrapped by ``decorator`` that returns 200 and remembers its
    session (in its ``seen`` attribute, hence ``Any``)."""
    seen: dict[str, Any] = {}

    @decorator
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen["session"] = event["session"]
        session = event["session"]
        body = {"user_id": session.user_id if session else None}
        return {"statusCode": 200, "body": json.dumps(body)}

    handler.seen = seen
    return handler


def call(handler: Callable[..., Any], shape: str, event: dict[str, Any] | None = None, **request: Any) -> Outcome:
    """Invoke ``handler`` with an event of ``shape`` (built from ``request`` parts)."""
    seen = getattr(handler, "seen", {})
    seen.pop("session", None)
    if event is None:
        event = make_event(shape, **request)
    response = handler(event, None)
    assert isinstance(response["statusCode"], int)
    assert isinstance(response["body"], str)
    headers = response_headers(shape, response)
    try:
        body = json.loads(response["body"])
    except ValueError:
        body = response["body"]
    return Outcome(response["statusCode"], headers, body, seen.get("session", NOT_CALLED), response)


def send_token(handler: Callable[..., Any], shape: str, token: str, via: str = "bearer", **request: Any) -> Outcome:
    """Send ``token`` as a Bearer header or as the ``__session`` cookie."""
    if via == "bearer":
        return call(handler, shape, bearer=token, **request)
    cookies = [f"__session={token}"] + list(request.pop("cookies", []))
    return call(handler, shape, cookies=cookies, **request)


def run_async(awaitable: Any) -> Any:
    """Run ``awaitable`` to completion on a loop of its own, leaving the
    thread's event loop state as it was: ``asyncio.run`` ends by setting the
    current loop to None, after which Mangum 0.17's ``get_event_loop()`` (the
    lowest supported version) raises in every later test of the process."""
    import asyncio

    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(awaitable)
    finally:
        loop.close()


def victim_latency(app: Any, attacker_headers: dict[str, str]) -> tuple[int, float]:
    """Against an ASGI ``app`` with ``/me`` (authenticated) and ``/health``
    (not): the attacker's ``GET /me`` starts first, an unauthenticated
    ``/health`` 0.1 s later. Returns the attacker's status and how long after
    the start the health check was answered (a blocked event loop shows here)."""
    import asyncio
    import time

    import httpx

    async def main() -> tuple[int, float]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            started = time.monotonic()

            async def victim() -> float:
                await asyncio.sleep(0.1)
                assert (await client.get("/health")).status_code == 200
                return time.monotonic() - started

            attack, latency = await asyncio.gather(client.get("/me", headers=attacker_headers), victim())
            return attack.status_code, latency

    result: tuple[int, float] = run_async(main())
    return result
