"""A loopback Clerk Backend API that answers as Clerk's published spec says.

A real HTTP server on 127.0.0.1 (one thread per connection, HTTP/1.1 with
keep-alive) serving the Backend API operations this project calls:

=========================  ==========================================================
operationId                path (``/v1`` prefix as in the spec's server URL)
=========================  ==========================================================
``GetJWKS``                ``GET  /v1/jwks``
``GetUser``                ``GET  /v1/users/{user_id}``
``verifyApiKey``           ``POST /v1/api_keys/verify``               ``{"secret"}``
``verifyM2MToken``         ``POST /v1/m2m_tokens/verify``             ``{"token"}``
``verifyOAuthAccessToken`` ``POST /v1/oauth_applications/access_tokens/verify``  ``{"access_token"}``
=========================  ==========================================================

The three verify operations are also served without ``/v1``, as
``@clerk/backend`` calls them (``skipApiVersionInUrl: true`` in
``packages/backend/src/api/factory.ts``); the log keeps the path as sent.

Every request and every answer is validated with openapi-core against the
vendored spec (``tests/fixtures/clerk-openapi/``, see its SOURCE.md). What does
not conform is recorded in :attr:`ClerkBackendApi.violations`; so are requests
with the wrong key and calls to paths Clerk does not serve here (answered 404 in
Clerk's error shape). The ``clerk_api`` fixture fails a test at teardown if any
violation is left; a test that provokes one on purpose takes it with
:meth:`ClerkBackendApi.take_violations`.

Semantics follow Clerk's SDKs (read, not copied): the secret key ``sk_…``
authenticates everything; the M2M verify also accepts a machine secret key
(``ak_…``, ``CLERK_MACHINE_SECRET_KEY``) whose machine is among the token's
``scopes``; a token that is unknown, revoked or expired is answered 404 (the
only error the spec lists besides 400, and what ``@clerk/backend`` maps to
``token-invalid``), unless :attr:`ClerkBackendApi.invalid_tokens` is
``"flagged"``: then 200 with ``revoked``/``expired`` set (and ``{"active":
false}`` for an expired OAuth token), which the spec's schemas also allow and
a careful client must refuse.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import secrets
import socket
import string
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from clerk_serverless_local.runtime_api import QuietServer

SPEC_FILE = Path(__file__).resolve().parents[1] / "fixtures" / "clerk-openapi" / "bapi-2026-05-12.yml"
SPEC_VERSION = "2026-05-12"  # what @clerk/backend sends as Clerk-API-Version for this spec
CLERK_HOST = "https://api.clerk.com"  # the spec's server is https://api.clerk.com/v1

# (method, path template under /v1, operationId, also served without /v1)
ROUTES: tuple[tuple[str, str, str, bool], ...] = (
    ("GET", "/v1/jwks", "GetJWKS", False),
    ("GET", "/v1/users/{user_id}", "GetUser", False),
    ("POST", "/v1/api_keys/verify", "verifyApiKey", True),
    ("POST", "/v1/m2m_tokens/verify", "verifyM2MToken", True),
    ("POST", "/v1/oauth_applications/access_tokens/verify", "verifyOAuthAccessToken", True),
)
OPERATIONS = {op: (method, template) for method, template, op, _ in ROUTES}

FAULT_MODES = ("status", "stall", "slow", "trickle", "garbage", "truncated", "refuse")

_ALNUM = string.ascii_letters + string.digits


# --------------------------------------------------------------------- the spec


@functools.lru_cache(maxsize=1)
def spec_dict() -> dict[str, Any]:
    """The vendored Backend API spec as a dict (parsed once per process)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with SPEC_FILE.open(encoding="utf-8") as f:
        document: dict[str, Any] = yaml.load(f, Loader=loader)  # noqa: S506 - a safe loader
    return document


@functools.lru_cache(maxsize=1)
def openapi() -> Any:
    """openapi-core's view of the spec. The spec document itself is Clerk's and
    not re-validated here (that costs seconds and is Clerk's CI's job)."""
    from openapi_core import Config, OpenAPI

    return OpenAPI.from_dict(spec_dict(), config=Config(spec_validator_cls=None))


def schema_errors(instance: Any, ref: str) -> list[str]:
    """Messages for ``instance`` against ``#/components/schemas/<ref>`` (OpenAPI 3.0 rules)."""
    from openapi_schema_validator import OAS30Validator
    from referencing import Registry
    from referencing.jsonschema import DRAFT4

    root = "urn:clerk-bapi"
    registry: Registry[Any] = Registry().with_resource(root, DRAFT4.create_resource(spec_dict()))
    validator = OAS30Validator({"$ref": f"{root}#/components/schemas/{ref}"}, registry=registry)
    return [_one_line(e.message) for e in validator.iter_errors(instance)]


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _flatten(exc: BaseException) -> str:
    """An openapi-core error with the schema errors that caused it, on one line."""
    parts = [f"{type(exc).__name__}: {exc}"]
    cause: BaseException | None = exc.__cause__
    while cause is not None:
        nested = getattr(cause, "schema_errors", None)
        if nested:
            parts.extend(_one_line(getattr(e, "message", e)) for e in nested)
        else:
            parts.append(f"{type(cause).__name__}: {cause}")
        cause = cause.__cause__
    return _one_line("; ".join(parts), 1000)


# ------------------------------------------------------------ realistic values


def clerk_id(prefix: str) -> str:
    """An ID as Clerk mints them: ``user_``/``org_``/``mch_``/``client_`` + 27 base62 chars
    (the spec's patterns ``^user_\\w{27}$`` …)."""
    return prefix + "2" + "".join(secrets.choice(_ALNUM) for _ in range(26))


def hex_id(prefix: str) -> str:
    """A token record ID: ``ak_``/``mt_``/``oat_`` + 32 hex digits (``^ak_[0-9A-Fa-f]{32}$`` …)."""
    return prefix + secrets.token_hex(16)


def token_secret(prefix: str) -> str:
    """A bearer secret shaped like Clerk's (``ak_…``, ``mt_…``, ``oat_…``, ``sk_test_…``)."""
    return prefix + "".join(secrets.choice(_ALNUM) for _ in range(40))


def now_ms() -> int:
    """Clerk's timestamps: Unix milliseconds."""
    return int(time.time() * 1000)


def user_object(user_id: str, **overrides: Any) -> dict[str, Any]:
    """A complete ``User`` as GET /v1/users/{id} answers (spec 2026-05-12).

    Values after ``packages/backend/src/fixtures/user.json`` in clerk/javascript,
    reshaped to the current schema (e.g. ``verification.object``)."""
    created = 1700000000000
    email_id = "idn_" + user_id.removeprefix("user_") + "e"
    user: dict[str, Any] = {
        "id": user_id,
        "object": "user",
        "external_id": None,
        "primary_email_address_id": email_id,
        "primary_phone_number_id": None,
        "primary_web3_wallet_id": None,
        "username": None,
        "first_name": "John",
        "last_name": "Doe",
        "locale": None,
        "image_url": "https://img.clerk.com/eyJ0eXBlIjoiZGVmYXVsdCJ9",
        "has_image": False,
        "public_metadata": {},
        "private_metadata": {},
        "unsafe_metadata": {},
        "email_addresses": [
            {
                "id": email_id,
                "object": "email_address",
                "email_address": "john.doe@clerk.test",
                "reserved": False,
                "verification": {
                    "object": "verification_otp",
                    "status": "verified",
                    "strategy": "email_code",
                    "attempts": 1,
                    "expire_at": created + 600000,
                },
                "linked_to": [],
                "matches_sso_connection": False,
                "created_at": created,
                "updated_at": created,
            }
        ],
        "phone_numbers": [],
        "web3_wallets": [],
        "passkeys": [],
        "password_enabled": True,
        "two_factor_enabled": False,
        "totp_enabled": False,
        "backup_code_enabled": False,
        "mfa_enabled_at": None,
        "mfa_disabled_at": None,
        "password_last_updated_at": created,
        "external_accounts": [],
        "saml_accounts": [],
        "enterprise_accounts": [],
        "organization_memberships": [],
        "last_sign_in_at": created + 3600000,
        "banned": False,
        "locked": False,
        "deprovisioned": False,
        "lockout_expires_in_seconds": None,
        "verification_attempts_remaining": 100,
        "created_at": created,
        "updated_at": created,
        "delete_self_enabled": True,
        "create_organization_enabled": True,
        "create_organizations_limit": None,
        "last_active_at": created + 3600000,
        "legal_accepted_at": None,
        "bypass_client_trust": False,
    }
    user.update(overrides)
    return user


# ------------------------------------------------------------- records, log


def _lifecycle(
    created: int, revoked: bool, revocation_reason: str | None, expiration: int | None, expired: bool
) -> dict[str, Any]:
    """The fields every registered machine token's object shares: revocation
    (a reason only when revoked), expiry (``expired=True``: a minute ago, in
    Unix ms; the ``expired`` flag is worked out at each verify) and the
    creation times."""
    return {
        "revoked": revoked,
        "revocation_reason": revocation_reason if revoked else None,
        "expired": False,
        "expiration": now_ms() - 60_000 if expired else expiration,
        "created_at": created,
        "updated_at": created,
    }


@dataclass
class MachineToken:
    """A registered machine credential: the bearer ``secret`` a client presents
    and ``object``, the JSON Clerk answers for it (live: revoking or verifying
    updates it)."""

    secret: str
    object: dict[str, Any]

    @property
    def id(self) -> str:
        """The record's ID (``ak_…``/``mt_…``/``oat_…`` + 32 hex)."""
        return str(self.object["id"])


@dataclass
class Call:
    """One request as the server received it, and what it did."""

    method: str
    path: str  # as sent, query string excluded
    query: dict[str, str]
    operation: str | None  # operationId, None for an unknown path
    headers: dict[str, str]  # lower-cased names
    body: bytes
    status: int | None = None  # None: no answer (stall, refuse)
    fault: str | None = None

    @property
    def json(self) -> Any:
        """The body parsed as JSON, ``None`` if it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    @property
    def bearer(self) -> str | None:
        """The key after ``Bearer`` in Authorization, if any."""
        scheme, _, key = self.headers.get("authorization", "").partition(" ")
        return key.strip() if scheme.lower() == "bearer" else None


@dataclass
class Violation:
    """Something Clerk's spec or Clerk itself would not accept, seen by the server.

    ``kind``: ``request`` (not per the spec), ``auth`` (wrong or missing key),
    ``response`` (the mock's own answer is not per the spec: a bug here, or a
    registry entry with unrealistic values), ``unexpected`` (a path or method
    Clerk does not serve here)."""

    kind: str
    method: str
    path: str
    operation: str | None
    message: str

    def __str__(self) -> str:
        return f"[{self.kind}] {self.method} {self.path} ({self.operation or 'no operation'}): {self.message}"


@dataclass
class Fault:
    """How the next requests of an operation are answered instead of normally."""

    mode: str
    status: int = 503
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    delay: float = 0.05
    times: int | None = None  # None: until cleared


class _Answer(Exception):
    """Raised inside an operation to answer with an error."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


def clerk_error(code: str, message: str, long_message: str, **meta: Any) -> dict[str, Any]:
    """Clerk's error body: ``{"errors":[{message,long_message,code[,meta]}],"clerk_trace_id"}``."""
    error: dict[str, Any] = {"message": message, "long_message": long_message, "code": code}
    if meta:
        error["meta"] = meta
    return {"errors": [error], "clerk_trace_id": secrets.token_hex(16)}


def _not_found(what: str) -> _Answer:
    return _Answer(404, clerk_error("resource_not_found", "not found", f"{what} not found"))


# ------------------------------------------------------------------ the server


class ClerkBackendApi:
    """A loopback Backend API with a registry, fault modes, a log and spec checks.

    ``url`` is the ``api_url`` to give a client (``http://127.0.0.1:<port>``);
    ``jwks_url`` is ``{url}/v1/jwks``.
    """

    def __init__(self, secret_key: str | None = None, machine_secret_key: str | None = None) -> None:
        #: the instance's secret key; any request must carry it as ``Authorization: Bearer``
        self.secret_key = secret_key or token_secret("sk_test_")
        #: machine secret keys (``ak_…``) → their machine ID; they authenticate M2M verifies
        self.machines: dict[str, str] = {}
        #: the default machine: its key and ID (tokens from add_m2m_token grant it by default)
        self.machine_id = clerk_id("mch_")
        self.machine_secret_key = machine_secret_key or token_secret("ak_")
        self.machines[self.machine_secret_key] = self.machine_id
        #: the JWKs GET /v1/jwks serves
        self.keys: list[dict[str, Any]] = []
        #: user ID → user object for GET /v1/users/{user_id}
        self.users: dict[str, dict[str, Any]] = {}
        self.api_keys: dict[str, MachineToken] = {}
        self.m2m_tokens: dict[str, MachineToken] = {}
        self.oauth_tokens: dict[str, MachineToken] = {}
        #: ``"not-found"`` (default): revoked or expired tokens are answered 404;
        #: ``"flagged"``: 200 with ``revoked``/``expired`` true (OAuth expired: ``{"active": false}``)
        self.invalid_tokens = "not-found"
        self.calls: list[Call] = []
        self.violations: list[Violation] = []
        self.faults: dict[str, Fault] = {}
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._connections: set[socket.socket] = set()
        self._httpd = QuietServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self._stopped = False

    # ------------------------------------------------------------ lifecycle

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """The ``api_url`` (no ``/v1``: clients add it)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def jwks_url(self) -> str:
        return f"{self.url}/v1/jwks"

    def start(self) -> ClerkBackendApi:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (idempotent); stalled answers are released and closed."""
        if self._stopped:
            return
        self._stopped = True
        self._released.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        with self._lock:  # kept-alive connections too: a stopped server answers nothing
            connections, self._connections = self._connections, set()
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> ClerkBackendApi:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ------------------------------------------------------------- registry

    def add_user(self, user_id: str | None = None, **fields: Any) -> dict[str, Any]:
        """Register a user; returns the complete object GET /v1/users/{id} will answer."""
        user = user_object(user_id or clerk_id("user_"), **fields)
        self.users[user["id"]] = user
        return user

    def add_machine(self, machine_id: str | None = None, secret: str | None = None) -> tuple[str, str]:
        """Register another machine; returns ``(machine_id, machine_secret_key)``."""
        machine_id = machine_id or clerk_id("mch_")
        secret = secret or token_secret("ak_")
        self.machines[secret] = machine_id
        return machine_id, secret

    def add_api_key(
        self,
        secret: str | None = None,
        *,
        subject: str | None = None,
        scopes: Iterable[str] = (),
        claims: dict[str, Any] | None = None,
        name: str = "MY_SERVICE_API_KEY",
        description: str | None = None,
        created_by: str | None = None,
        revoked: bool = False,
        revocation_reason: str | None = None,
        expiration: int | None = None,
        expired: bool = False,
    ) -> MachineToken:
        """Register an API key (``ak_…``) for POST /api_keys/verify.

        ``subject``: ``user_…``/``org_…`` (27 chars after the prefix; a fresh
        user ID by default). ``expiration``: Unix ms; ``expired=True`` sets it a
        minute in the past."""
        secret = secret or token_secret("ak_")
        created = now_ms() - 86_400_000
        obj = {
            "object": "api_key",
            "id": hex_id("ak_"),
            "type": "api_key",
            "subject": subject or clerk_id("user_"),
            "name": name,
            "description": description,
            "claims": claims,
            "scopes": list(scopes),
            "created_by": created_by,
            "last_used_at": None,
            **_lifecycle(created, revoked, revocation_reason, expiration, expired),
        }
        token = MachineToken(secret, obj)
        self.api_keys[secret] = token
        return token

    def add_m2m_token(
        self,
        token: str | None = None,
        *,
        subject: str | None = None,
        scopes: Iterable[str] | None = None,
        claims: dict[str, Any] | None = None,
        revoked: bool = False,
        revocation_reason: str | None = None,
        expiration: int | None = None,
        expired: bool = False,
    ) -> MachineToken:
        """Register an opaque M2M token (``mt_…``) for POST /m2m_tokens/verify.

        ``subject``: the machine that created it (``mch_…``, fresh by default).
        ``scopes``: the machines allowed to verify it with their machine secret
        key (default: this server's :attr:`machine_id`)."""
        token = token or token_secret("mt_")
        created = now_ms() - 60_000
        obj = {
            "object": "machine_to_machine_token",
            "id": hex_id("mt_"),
            "subject": subject or clerk_id("mch_"),
            "claims": claims,
            "scopes": list(scopes) if scopes is not None else [self.machine_id],
            "last_used_at": None,
            **_lifecycle(created, revoked, revocation_reason, expiration, expired),
        }
        record = MachineToken(token, obj)
        self.m2m_tokens[token] = record
        return record

    def add_oauth_token(
        self,
        token: str | None = None,
        *,
        subject: str | None = None,
        client_id: str | None = None,
        scopes: Iterable[str] = ("profile", "email"),
        revoked: bool = False,
        revocation_reason: str | None = None,
        expiration: int | None = None,
        expired: bool = False,
    ) -> MachineToken:
        """Register an opaque OAuth access token (``oat_…``) issued by Clerk as an
        identity provider, for POST /oauth_applications/access_tokens/verify."""
        token = token or token_secret("oat_")
        created = now_ms() - 60_000
        obj = {
            "object": "clerk_idp_oauth_access_token",
            "id": hex_id("oat_"),
            "client_id": client_id or clerk_id("client_"),
            "subject": subject or clerk_id("user_"),
            "scopes": list(scopes),
            **_lifecycle(created, revoked, revocation_reason, expiration, expired),
        }
        record = MachineToken(token, obj)
        self.oauth_tokens[token] = record
        return record

    def revoke(self, secret: str, reason: str | None = "Revoked by user") -> None:
        """Revoke a registered API key, M2M or OAuth token, as Clerk's revoke endpoints do."""
        for table in (self.api_keys, self.m2m_tokens, self.oauth_tokens):
            if secret in table:
                obj = table[secret].object
                obj.update(revoked=True, revocation_reason=reason, updated_at=now_ms())
                return
        raise KeyError("no such token registered")

    # --------------------------------------------------------------- faults

    def fault(
        self,
        target: str,
        mode: str,
        *,
        status: int = 503,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
        delay: float = 0.05,
        times: int | None = None,
    ) -> None:
        """Answer requests for ``target`` (an operationId, a path such as
        ``/v1/api_keys/verify`` or ``/v1/users/user_x``, or ``"*"``) by ``mode``:

        ``status``    ``status`` with Clerk's error body (or ``body``) and ``headers``
                      (e.g. ``fault("verifyApiKey", "status", status=429, headers={"Retry-After": "7"})``)
        ``stall``     read the request and never answer (until :meth:`clear_faults` or stop)
        ``slow``      wait ``delay`` seconds, then answer normally
        ``trickle``   the normal answer, its body one byte every ``delay`` seconds
        ``garbage``   200 ``text/html`` that is not JSON
        ``truncated`` the normal status and headers, half the body, then close
        ``refuse``    close the connection without answering

        ``times``: only the next N requests, then normal again."""
        if mode not in FAULT_MODES:
            raise ValueError(f"unknown fault mode {mode!r}; one of {FAULT_MODES}")
        key = target if target == "*" else self._operation_of(target)
        with self._lock:
            self.faults[key] = Fault(mode, status, dict(headers or {}), body, delay, times)

    def clear_faults(self) -> None:
        """Answer normally again; stalled requests are released (their connections closed)."""
        with self._lock:
            self.faults.clear()
            released, self._released = self._released, threading.Event()
        released.set()

    # ------------------------------------------------------- observations

    def count(self, target: str = "*") -> int:
        """Requests received for ``target`` (operationId, path or ``"*"``)."""
        if target == "*":
            return len(self.calls)
        op = self._operation_of(target)
        return sum(1 for c in self.calls if c.operation == op)

    def paths(self) -> list[str]:
        """The paths of all requests, in order."""
        return [c.path for c in self.calls]

    def take_violations(self) -> list[Violation]:
        """Return and forget the violations so far (for tests that provoke them)."""
        with self._lock:
            taken, self.violations = self.violations, []
        return taken

    def report(self) -> str:
        """The violations so far, one a line."""
        lines = "".join(f"\n  {v}" for v in self.violations)
        return f"the Clerk Backend API mock saw {len(self.violations)} violation(s):{lines}"

    def check(self) -> None:
        """Raise ``AssertionError`` listing the violations, if any."""
        if self.violations:
            raise AssertionError(self.report())

    # ------------------------------------------------------------ routing

    @staticmethod
    def _match(method: str | None, path: str) -> tuple[str, dict[str, str], str] | None:
        """``(operationId, path parameters, /v1 path)`` for ``path``, or None."""
        for route_method, template, op, bare in ROUTES:
            if method is not None and method != route_method:
                continue
            pattern = "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$"
            candidates = [path] + (["/v1" + path] if bare and not path.startswith("/v1/") else [])
            for candidate in candidates:
                m = re.match(pattern, candidate)
                if m:
                    return op, {k: unquote(v) for k, v in m.groupdict().items()}, candidate
        return None

    def _operation_of(self, target: str) -> str:
        if target in OPERATIONS:
            return target
        matched = self._match(None, target)
        if matched is None:
            raise ValueError(f"{target!r} is neither an operationId nor a path this server serves")
        return matched[0]

    def _take_fault(self, op: str) -> Fault | None:
        with self._lock:
            key = op if op in self.faults else "*" if "*" in self.faults else None
            if key is None:
                return None
            fault = self.faults[key]
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    del self.faults[key]
            return fault

    def _violate(self, kind: str, call: Call, message: str) -> None:
        with self._lock:
            self.violations.append(Violation(kind, call.method, call.path, call.operation, message))

    # ------------------------------------------------------ spec checking

    def _spec_request(self, call: Call, v1_path: str) -> Any:
        from openapi_core.testing import MockRequest

        return MockRequest(
            CLERK_HOST,
            call.method,
            v1_path,
            args=call.query,
            headers=call.headers,
            data=call.body or None,
            content_type=call.headers.get("content-type", ""),
        )

    def _check_request(self, call: Call, v1_path: str) -> None:
        try:
            for error in openapi().iter_request_errors(self._spec_request(call, v1_path)):
                self._violate("request", call, _flatten(error))
        except Exception as exc:  # noqa: BLE001 - a validator crash must not pass silently
            self._violate("request", call, f"the validator failed: {_flatten(exc)}")

    def _check_response(self, call: Call, v1_path: str, status: int, body: bytes) -> None:
        try:
            self._validate_response(call, v1_path, status, body)
        except Exception as exc:  # noqa: BLE001 - a validator crash must not pass silently
            self._violate("response", call, f"the validator failed: {_flatten(exc)}")

    def _validate_response(self, call: Call, v1_path: str, status: int, body: bytes) -> None:
        from openapi_core.testing import MockResponse

        method, template = OPERATIONS[call.operation or ""]
        documented = spec_dict()["paths"][template.removeprefix("/v1")][method.lower()]["responses"]
        if str(status) in documented:
            response = MockResponse(body, status, {"Content-Type": "application/json"}, "application/json")
            for error in openapi().iter_response_errors(self._spec_request(call, v1_path), response):
                self._violate("response", call, _flatten(error))
        else:
            # e.g. 401 on the verify operations, which list only 200/400/404: still
            # Clerk's documented error object (components.responses.AuthenticationInvalid)
            for message in schema_errors(json.loads(body), "ClerkErrors"):
                self._violate("response", call, f"HTTP {status}: {message}")

    # ---------------------------------------------------------- operations

    def _authenticate(self, call: Call, machine_ok: bool = False) -> str | None:
        """``None`` for the secret key, the machine ID for an accepted machine key;
        otherwise a 401 as Clerk answers it."""
        key = call.bearer
        if key is not None and secrets.compare_digest(key.encode(), self.secret_key.encode()):
            return None
        if machine_ok and key is not None and key in self.machines:
            return self.machines[key]
        if key is None:
            pass  # openapi-core reports the missing bearer credential as a request violation
        elif machine_ok and key.startswith("ak_"):
            self._violate("auth", call, "a machine secret key that is not registered")
            raise _Answer(401, clerk_error(
                "machine_secret_key_invalid",
                "The provided Machine Secret Key is invalid. Make sure that your Machine Secret Key is correct.",
                "The provided Machine Secret Key is invalid. Make sure that your Machine Secret Key is correct.",
            ))
        else:
            which = "a machine secret key, which this operation does not accept" if key in self.machines else "not this instance's secret key"
            self._violate("auth", call, f"Authorization: Bearer {key[:8]}… is {which}")
        raise _Answer(401, clerk_error(
            "authentication_invalid",
            "Invalid authentication",
            "Unable to authenticate the request, you need to supply an active API key",
        ))

    @staticmethod
    def _field(call: Call, name: str, *, required: bool = True) -> str | None:
        body = call.json
        value = body.get(name) if isinstance(body, dict) else None
        if isinstance(value, str) and value:
            return value
        if not required:
            return None
        raise _Answer(400, clerk_error("form_param_missing", "is missing", f"{name} must be included.", param_name=name))

    def _verified(self, record: MachineToken | None, what: str, oauth: bool = False) -> dict[str, Any]:
        if record is None:
            raise _not_found(what)
        obj = record.object
        expired = obj["expiration"] is not None and obj["expiration"] <= now_ms()
        obj["expired"] = expired
        if obj["revoked"] or expired:
            if self.invalid_tokens != "flagged":
                raise _not_found(what)
            if oauth and expired:
                return {"active": False}
            return dict(obj)
        if "last_used_at" in obj:
            obj["last_used_at"] = now_ms()
        return dict(obj)

    def _operate(self, call: Call, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        op = call.operation
        if op == "GetJWKS":
            self._authenticate(call)
            return 200, {"keys": list(self.keys)}
        if op == "GetUser":
            self._authenticate(call)
            user = self.users.get(params["user_id"])
            if user is None:
                raise _not_found("User")
            return 200, user
        if op == "verifyApiKey":
            self._authenticate(call)
            secret = self._field(call, "secret") or ""
            return 200, self._verified(self.api_keys.get(secret), "API key")
        if op == "verifyM2MToken":
            machine = self._authenticate(call, machine_ok=True)
            token = self._field(call, "token") or ""
            record = self.m2m_tokens.get(token)
            if record is not None and machine is not None and machine not in record.object["scopes"]:
                record = None  # not granted to this machine: as if it did not exist
            return 200, self._verified(record, "Machine token")
        if op == "verifyOAuthAccessToken":
            self._authenticate(call)
            access_token = self._field(call, "access_token", required=False)
            if access_token is None:
                access_token = self._field(call, "secret", required=False)
                if access_token is None:
                    raise _Answer(400, clerk_error(
                        "form_param_missing", "is missing", "access_token must be included.", param_name="access_token"
                    ))
                self._violate("request", call, "uses the deprecated `secret` field; send `access_token`")
            return 200, self._verified(self.oauth_tokens.get(access_token), "OAuth access token", oauth=True)
        raise AssertionError(op)

    # ------------------------------------------------------------ HTTP side

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # small writes must not wait for delayed ACKs
            server_version = "clerk-bapi-mock"
            sys_version = ""

            def log_message(self, *args: Any) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                with server._lock:
                    server._connections.add(self.connection)

            def finish(self) -> None:
                with server._lock:
                    server._connections.discard(self.connection)
                with contextlib.suppress(OSError):
                    super().finish()

            def do_GET(self) -> None:  # noqa: N802
                self._serve()

            def do_POST(self) -> None:  # noqa: N802
                self._serve()

            def do_PUT(self) -> None:  # noqa: N802
                self._serve()

            def do_PATCH(self) -> None:  # noqa: N802
                self._serve()

            def do_DELETE(self) -> None:  # noqa: N802
                self._serve()

            def _read_body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    body = bytearray()
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return bytes(body)
                        body += self.rfile.read(size)
                        self.rfile.readline()
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length > 0 else b""

            def _send(self, status: int, body: bytes, content_type: str = "application/json", headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                call = Call(
                    method=self.command,
                    path=parts.path,
                    query=dict(parse_qsl(parts.query, keep_blank_values=True)),
                    operation=None,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self._read_body(),
                )
                matched = server._match(self.command, parts.path)
                with server._lock:
                    server.calls.append(call)
                if matched is None:
                    known = server._match(None, parts.path)
                    what = f"{self.command} is not served on this path" if known else "Clerk serves no such path here"
                    server._violate("unexpected", call, what)
                    call.status = 404
                    self._send(404, json.dumps(clerk_error("resource_not_found", "not found", "The requested resource was not found")).encode())
                    return
                op, params, v1_path = matched
                call.operation = op
                # Record the fault before validating: the first validation loads
                # the OpenAPI spec, which can outlast a client's short timeout.
                fault = server._take_fault(op)
                if fault is not None:
                    call.fault = fault.mode
                server._check_request(call, v1_path)
                if fault is not None and fault.mode != "slow":
                    self._fault(call, fault, v1_path, lambda: self._answer(call, params))
                    return
                if fault is not None:
                    server._released.wait(fault.delay)  # cut short by clear_faults() or stop()
                status, body = self._answer(call, params)
                server._check_response(call, v1_path, status, body)
                call.status = status
                self._send(status, body)

            def _answer(self, call: Call, params: dict[str, str]) -> tuple[int, bytes]:
                try:
                    status, obj = server._operate(call, params)
                except _Answer as answer:
                    status, obj = answer.status, answer.body
                return status, json.dumps(obj).encode()

            def _fault(self, call: Call, fault: Fault, v1_path: str, normal: Any) -> None:
                mode = fault.mode
                if mode == "status":
                    body = fault.body
                    if body is None:
                        body = json.dumps(_fault_error(fault.status)).encode()
                    call.status = fault.status
                    self._send(fault.status, body, headers=fault.headers)
                elif mode == "garbage":
                    call.status = 200
                    self._send(200, b"<html><body>upstream error</body></html>", "text/html")
                elif mode == "stall":
                    server._released.wait(60)
                    self.close_connection = True
                elif mode == "refuse":
                    self.close_connection = True
                elif mode in ("trickle", "truncated"):
                    status, body = normal()
                    server._check_response(call, v1_path, status, body)
                    call.status = status
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.close_connection = True
                    try:
                        if mode == "truncated":
                            self.wfile.write(body[: len(body) // 2])
                            return
                        for byte in body:
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            if server._released.wait(fault.delay) and server._stopped:
                                return
                    except OSError:
                        pass

        return Handler


def _fault_error(status: int) -> dict[str, Any]:
    """The error body Clerk sends with an outage or rate-limit status."""
    if status == 429:
        return clerk_error("too_many_requests", "Too many requests", "Too many requests, please try again later.")
    if status >= 500:
        return clerk_error("internal_clerk_error", "Oops, an unexpected error occurred",
                           "There was an internal error on our servers. We've been notified and are working on fixing it.")
    return clerk_error("request_failed", "Request failed", f"HTTP {status}")


def fail_on_violations(server: ClerkBackendApi) -> None:
    """``pytest.fail`` listing the server's violations, if any: the ``clerk_api``
    fixture's teardown."""
    import pytest

    if server.violations:
        pytest.fail(server.report(), pytrace=False)
