"""The demo: the decorators answering every kind of request, on every event
shape, with a dev key and no network."""

from __future__ import annotations

import json
from typing import Any, Callable

from ..auth import ClerkAuth
from .devkeys import DEV_ISSUER, DEV_ORIGIN, DevKey
from .events import SHAPES, build_event


def scenarios(key: DevKey) -> list[tuple[str, dict[str, Any]]]:
    """(name, request parts) for the cases every API meets."""
    token = key.token("user_demo_1")
    return [
        ("signed in (Bearer)", {"headers": {"Authorization": f"Bearer {token}", "Origin": DEV_ORIGIN}}),
        ("signed in (__session cookie)", {"cookies": [f"__session={token}", "theme=dark"]}),
        ("no token", {"headers": {"Origin": DEV_ORIGIN}}),
        ("expired token", {"headers": {"Authorization": f"Bearer {key.token('user_demo_1', expired=True)}", "Origin": DEV_ORIGIN}}),
        ("wrong azp (other origin)", {"headers": {"Authorization": f"Bearer {key.token('user_demo_1', azp='https://evil.example')}", "Origin": "https://evil.example"}}),
        ("CORS preflight", {"method": "OPTIONS", "headers": {"Origin": DEV_ORIGIN, "Access-Control-Request-Method": "GET"}}),
    ]


def _row(response: dict[str, Any]) -> tuple[int, str, str]:
    headers = response.get("headers") or {k: v[0] for k, v in (response.get("multiValueHeaders") or {}).items()}
    reason = next((v for k, v in headers.items() if k.lower() == "x-clerk-auth-reason"), "")
    try:
        user = json.loads(response.get("body") or "{}").get("user_id") or ""
    except ValueError:
        user = ""
    return response["statusCode"], reason, user


def run(print_: Callable[[str], None] = print) -> int:
    """Print a table of function × event → status, reason, user."""
    import tempfile
    from pathlib import Path

    key = DevKey.load_or_create(Path(tempfile.mkdtemp()) / "dev-key.pem")
    auth = ClerkAuth(jwt_key=key.public_pem, authorized_parties=[DEV_ORIGIN], issuer=DEV_ISSUER)

    @auth.require_session
    def me(event: dict[str, Any], context: Any) -> dict[str, Any]:
        session = event["session"]
        return {"statusCode": 200, "body": json.dumps({"user_id": session.user_id if session else None})}

    @auth.with_session
    def greet(event: dict[str, Any], context: Any) -> dict[str, Any]:
        session = event["session"]
        return {"statusCode": 200, "body": json.dumps({"user_id": session.user_id if session else None})}

    handlers = {"require_session": me, "with_session": greet}
    print_(f"{'handler':<16} {'event':<13} {'request':<30} {'status':>6}  {'reason':<34} user")
    for name, handler in handlers.items():
        for shape in SHAPES:
            for label, parts in scenarios(key):
                event = build_event(shape, parts.get("method", "GET"), "/me", headers=parts.get("headers"), cookies=parts.get("cookies"))
                status, reason, user = _row(handler(event, None))
                print_(f"{name:<16} {shape:<13} {label:<30} {status:>6}  {reason:<34} {user}")
    return 0
