"""The sample events in ``events/``, the dev ``env.json``, and what each sample
function answers to them (the demo's table and the tests' expectations).

Regenerate with ``python -m clerk_serverless_local events``.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .devkeys import DEV_ORIGIN, DevKey
from .events import SHAPES, build_event

DEV_KEY_FILE = Path("dev") / "clerk-dev-key.pem"
ENV_FILE = Path("env.json")
EVENTS_DIR = Path("events")
USER = "user_dev_123"
EVIL_ORIGIN = "https://evil.example"

# The path each shape's generic events carry, by the function that serves it.
SHAPE_PATHS = {"rest_v1": "/me", "http_v2": "/me", "function_url": "/api/whoami", "alb": "/me", "alb_multi": "/me"}
CASES = ("bearer", "cookie", "no-token", "expired", "wrong-azp", "preflight")


@dataclass(frozen=True)
class Sample:
    """One row of the demo: a function, an event file, the expected answer.

    ``status`` is the HTTP status of a proxy response; for the authorizer it
    is ``allow`` / ``deny`` or the error it raises (``Unauthorized``)."""

    function: str
    event: str  # path under events/
    status: int | str
    reason: str = ""
    user: str = ""


def _generic(key: DevKey, shape: str, case: str) -> dict[str, Any]:
    path = SHAPE_PATHS[shape]
    token = key.token(USER, lifetime=None)
    headers: dict[str, str] = {"Origin": DEV_ORIGIN}
    cookies: list[str] = []
    method = "GET"
    if case == "bearer":
        headers["Authorization"] = f"Bearer {token}"
    elif case == "cookie":
        cookies = [f"__session={token}", "__client_uat=1700000000", "theme=dark"]
        del headers["Origin"]  # same-origin GETs carry no Origin
    elif case == "expired":
        headers["Authorization"] = f"Bearer {key.token(USER, expired=True)}"
    elif case == "wrong-azp":
        headers = {"Origin": EVIL_ORIGIN, "Authorization": f"Bearer {key.token(USER, azp=EVIL_ORIGIN, lifetime=None)}"}
    elif case == "preflight":
        method = "OPTIONS"
        headers.update({"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"})
    return build_event(shape, method, path, headers=headers, cookies=cookies)


def _bearer(key: DevKey, shape: str, method: str, path: str, body: str | None = None, **token: Any) -> dict[str, Any]:
    headers = {"Origin": DEV_ORIGIN}
    if token.pop("signed_in", True):
        headers["Authorization"] = f"Bearer {key.token(USER, lifetime=None, **token)}"
    if body is not None:
        headers["Content-Type"] = "application/json"
    return build_event(shape, method, path, headers=headers, body=body)


def specific_events(key: DevKey) -> dict[str, dict[str, Any]]:
    """Events for the functions that route or check permissions."""
    org = {"org": "org_acme", "org_role": "member"}
    return {
        "reports/with-permission.json": _bearer(key, "http_v2", "GET", "/reports",
                                                org_permissions=["org:reports:read"], **org),
        "reports/without-permission.json": _bearer(key, "http_v2", "GET", "/reports",
                                                   org_permissions=["org:invoices:read"], **org),
        "reports/no-organization.json": _bearer(key, "http_v2", "GET", "/reports"),
        "fastapi/item.json": _bearer(key, "function_url", "GET", "/api/items/42"),
        "powertools/list-todos.json": _bearer(key, "http_v2", "GET", "/todos"),
        "powertools/add-todo.json": _bearer(key, "http_v2", "POST", "/todos", body='{"title": "ship it"}'),
        "powertools/no-token.json": _bearer(key, "http_v2", "GET", "/todos", signed_in=False),
        **machine_events(key),
    }


def _machine_event(shape: str, token: str | None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return build_event(shape, "GET", "/machine", headers=headers)


def machine_events(key: DevKey) -> dict[str, dict[str, Any]]:
    """Browsers and machine clients calling the same API (MachineApiFunction)."""
    return {
        "machine/session.json": _bearer(key, "http_v2", "GET", "/machine"),
        "machine/m2m-jwt.json": _machine_event("http_v2", key.machine_token("m2m_token", lifetime=None)),
        "machine/oauth-jwt.json": _machine_event("rest_v1", key.machine_token("oauth_token", lifetime=None)),
        "machine/m2m-without-scope.json": _machine_event(
            "http_v2", key.machine_token("m2m_token", scopes=["mch_other"], lifetime=None)),
        "machine/api-key.json": _machine_event("http_v2", "ak_dev_" + "0" * 32),
        "machine/no-token.json": _machine_event("http_v2", None),
    }


ROUTE_ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123def4/$default/GET/secure"
METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123def4/Prod/GET/secure"


def authorizer_events(key: DevKey) -> dict[str, dict[str, Any]]:
    """What API Gateway sends the authorizer, and the guarded function afterwards."""
    from clerk_serverless.session import Session, SessionClaims
    from clerk_serverless.trusted import authorizer_context

    def v2(**parts: Any) -> dict[str, Any]:
        event = _bearer(key, "http_v2", "GET", "/secure", **parts) if parts.pop("bearer", True) else \
            build_event("http_v2", "GET", "/secure", headers={"Origin": DEV_ORIGIN}, cookies=parts.pop("cookies", []))
        event.update({"type": "REQUEST", "routeArn": ROUTE_ARN, "identitySource": []})
        return event

    def rest(**parts: Any) -> dict[str, Any]:
        event = _bearer(key, "rest_v1", "GET", "/secure", **parts) if parts.pop("bearer", True) else \
            build_event("rest_v1", "GET", "/secure", headers={"Origin": DEV_ORIGIN}, cookies=parts.pop("cookies", []))
        event.update({"type": "REQUEST", "methodArn": METHOD_ARN})
        return event

    def context_for(event: dict[str, Any]) -> dict[str, str]:
        """Our authorizer's context for the event's own token (it is bound to it)."""
        bearer = event["headers"].get("authorization") or event["headers"]["Authorization"]
        token = bearer.removeprefix("Bearer ")
        claims = json.loads(__import__("base64").urlsafe_b64decode(token.split(".")[1] + "==").decode())
        return authorizer_context(Session(SessionClaims(claims), token))

    token = key.token(USER, lifetime=None)
    secure_v2 = _bearer(key, "http_v2", "GET", "/secure")
    secure_v2["requestContext"]["authorizer"] = {"lambda": context_for(secure_v2)}
    secure_rest = _bearer(key, "rest_v1", "GET", "/secure")
    secure_rest["requestContext"]["authorizer"] = {
        "principalId": USER, "integrationLatency": 12, **context_for(secure_rest)}
    return {
        "authorizer/http_v2-bearer.json": v2(),
        "authorizer/http_v2-cookie.json": v2(bearer=False, cookies=[f"__session={token}"]),
        "authorizer/http_v2-no-token.json": v2(signed_in=False),
        "authorizer/http_v2-expired.json": v2(bearer=False, cookies=[f"__session={key.token(USER, expired=True)}"]),
        "authorizer/rest-bearer.json": rest(),
        "authorizer/rest-cookie.json": rest(bearer=False, cookies=[f"__session={token}"]),
        "authorizer/rest-no-token.json": rest(signed_in=False),
        "authorizer/rest-wrong-azp.json": rest(azp=EVIL_ORIGIN),
        "secure/http_v2-authorized.json": secure_v2,
        "secure/rest-authorized.json": secure_rest,
    }


def all_events(key: DevKey) -> dict[str, dict[str, Any]]:
    """``{relative path: event}`` for every sample event."""
    events = {f"{shape}/{case}.json": _generic(key, shape, case) for shape in SHAPES for case in CASES}
    events.update(specific_events(key))
    events.update(authorizer_events(key))
    return events


def _generic_rows(function: str, shape: str, preflight_status: int = 204, **signed_in: Any) -> list[Sample]:
    user = signed_in.get("user", USER)
    return [
        Sample(function, f"{shape}/bearer.json", 200, "", user),
        Sample(function, f"{shape}/cookie.json", 200, "", user),
        Sample(function, f"{shape}/no-token.json", 401, "session-token-missing"),
        Sample(function, f"{shape}/expired.json", 401, "token-expired"),
        Sample(function, f"{shape}/wrong-azp.json", 401, "token-invalid-authorized-parties"),
        Sample(function, f"{shape}/preflight.json", preflight_status),
    ]


def samples() -> list[Sample]:
    """Every (function, event) pair of the demo with its expected answer."""
    rows: list[Sample] = []
    for shape in ("http_v2", "rest_v1", "alb", "alb_multi"):
        rows += _generic_rows("MeFunction", shape)
    greet = "GreetFunction"
    rows += [
        Sample(greet, "rest_v1/bearer.json", 200, "", USER),
        Sample(greet, "rest_v1/cookie.json", 200, "", USER),
        Sample(greet, "rest_v1/no-token.json", 200),
        Sample(greet, "rest_v1/expired.json", 200),
        Sample(greet, "rest_v1/wrong-azp.json", 200),
    ]
    rows += [
        Sample("ReportsFunction", "reports/with-permission.json", 200, "", USER),
        Sample("ReportsFunction", "reports/without-permission.json", 403, "missing-permission"),
        Sample("ReportsFunction", "reports/no-organization.json", 403, "missing-permission"),
        Sample("ReportsFunction", "http_v2/expired.json", 401, "token-expired"),
    ]
    # require_session answers the preflight itself (on AWS the Function URL's
    # CORS configuration answers it before Lambda is called).
    rows += _generic_rows("FastApiFunction", "function_url")
    rows += [Sample("FastApiFunction", "fastapi/item.json", 200, "", USER)]
    rows += [
        Sample("MachineApiFunction", "machine/session.json", 200, "", USER),
        Sample("MachineApiFunction", "machine/m2m-jwt.json", 200, "", "mch_dev_worker"),
        Sample("MachineApiFunction", "machine/oauth-jwt.json", 200, "", USER),
        Sample("MachineApiFunction", "machine/m2m-without-scope.json", 403, "missing-scope"),
        # Opaque keys are Clerk's to verify; the demo has no Backend API: 503, never 401.
        Sample("MachineApiFunction", "machine/api-key.json", 503, "unexpected-error"),
        Sample("MachineApiFunction", "machine/no-token.json", 401, "session-token-missing"),
    ]
    rows += [
        Sample("ClerkAuthorizerFunction", "authorizer/http_v2-bearer.json", "allow", "", USER),
        Sample("ClerkAuthorizerFunction", "authorizer/http_v2-cookie.json", "allow", "", USER),
        Sample("ClerkAuthorizerFunction", "authorizer/http_v2-no-token.json", "deny"),
        Sample("ClerkAuthorizerFunction", "authorizer/http_v2-expired.json", "deny"),
        Sample("ClerkAuthorizerFunction", "authorizer/rest-bearer.json", "allow", "", USER),
        Sample("ClerkAuthorizerFunction", "authorizer/rest-cookie.json", "allow", "", USER),
        Sample("ClerkAuthorizerFunction", "authorizer/rest-no-token.json", "Unauthorized"),
        Sample("ClerkAuthorizerFunction", "authorizer/rest-wrong-azp.json", "Unauthorized"),
        Sample("SecureFunction", "secure/http_v2-authorized.json", 200, "", USER),
        Sample("SecureFunction", "secure/rest-authorized.json", 200, "", USER),
    ]
    rows += [
        Sample("PowertoolsFunction", "powertools/list-todos.json", 200, "", USER),
        Sample("PowertoolsFunction", "powertools/add-todo.json", 201, "", USER),
        Sample("PowertoolsFunction", "powertools/no-token.json", 401, "session-token-missing"),
    ]
    return rows


def env_json(key: DevKey) -> dict[str, Any]:
    """``env.json`` for ``sam local invoke --env-vars``: every function verifies
    with the dev key, networkless, whatever key source or issuer (``iss``
    pin: the dev key's tokens carry ``DEV_ISSUER``) the stack's parameters
    set. Never used by ``sam deploy``.

    It does not set ``CLERK_AUTHORIZED_PARTIES``: the template's
    ``ClerkAuthorizedParties`` parameter is the one place for origins, feeding
    both that variable (the ``azp`` check) and CORS; change it with
    ``--parameter-overrides ClerkAuthorizedParties=...``."""
    return {
        "Parameters": {
            "CLERK_JWT_KEY": key.public_pem,
            "CLERK_JWKS_URL": "",
            "CLERK_PUBLISHABLE_KEY": "",
            "CLERK_ISSUER": "",
            "CLERK_SECRET_KEY_PARAMETER": "",
            "CLERK_SECRET_KEY_SECRET_ID": "",
        },
        # Opaque machine tokens go to Clerk's Backend API. Locally there is none:
        # a placeholder key and a closed loopback port show what an outage
        # answers (503 + Retry-After), while JWT machine tokens verify offline.
        "MachineApiFunction": {
            "CLERK_SECRET_KEY": "sk_test_local_placeholder_not_a_real_key",
            "CLERK_API_URL": "http://127.0.0.1:9",
        },
    }


def merged_env(existing: Any, ours: dict[str, Any], functions: Collection[str] | None = None) -> dict[str, Any]:
    """``ours`` written over an existing ``env.json``: our variables replace
    theirs, every other entry and variable is kept; our function blocks only
    for the ``functions`` the template declares (None: all)."""
    merged: dict[str, Any] = dict(existing) if isinstance(existing, dict) else {}
    for scope, variables in ours.items():
        if scope != "Parameters" and functions is not None and scope not in functions:
            continue
        kept = merged.get(scope)
        merged[scope] = {**(kept if isinstance(kept, dict) else {}), **variables}
    return merged


def write_samples(root: Path, *, create_key: bool = True, functions: Collection[str] | None = None) -> list[Path]:
    """(Re)write env.json and every sample event under ``root``, signed with
    the dev key; create that key if it does not exist yet and ``create_key``
    (else ``FileNotFoundError``). An existing env.json keeps what is not ours
    (see :func:`merged_env`). Returns the files written, the key first when
    it was created."""
    path = root / DEV_KEY_FILE
    created = not path.exists()
    if created and not create_key:
        raise FileNotFoundError(path)
    key = DevKey.load_or_create(path)
    written = [path] if created else []
    env_path = root / ENV_FILE
    existing = None
    if env_path.exists():
        try:
            existing = json.loads(env_path.read_text())
        except ValueError:
            raise ValueError(f"{env_path} is not JSON: fix it or remove it (it is kept as it is)") from None
    env_path.write_text(json.dumps(merged_env(existing, env_json(key), functions), indent=2) + "\n")
    written.append(env_path)
    for relative, event in all_events(key).items():
        path = root / EVENTS_DIR / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(event, indent=2) + "\n")
        written.append(path)
    return written
