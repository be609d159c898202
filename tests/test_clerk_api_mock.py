"""The loopback Backend API is faithful: it answers as Clerk's published spec
says, flags what Clerk would refuse, and its fault modes do what they say.

Answers are re-validated here with openapi-core, independently of the server's
own checks, so a server that stopped checking would still be caught.
"""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from support.clerk_api import (
    SPEC_VERSION,
    ClerkBackendApi,
    MachineToken,
    fail_on_violations,
    openapi,
    schema_errors,
    spec_dict,
)
from support.tokens import ISSUER, ORIGIN, SigningKey, mint

from clerk_serverless import ClerkAuth
from clerk_serverless.backend_api import BackendApi

VERIFY = {
    "verifyApiKey": ("/v1/api_keys/verify", "secret"),
    "verifyM2MToken": ("/v1/m2m_tokens/verify", "token"),
    "verifyOAuthAccessToken": ("/v1/oauth_applications/access_tokens/verify", "access_token"),
}


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


def send(
    api: ClerkBackendApi,
    method: str,
    path: str,
    body: Any = None,
    *,
    key: str | None = "secret",
    headers: dict[str, str] | None = None,
    timeout: float = 3.0,
    conn: http.client.HTTPConnection | None = None,
) -> Reply:
    """One request as @clerk/backend sends it (Bearer key, JSON body, Clerk-API-Version)."""
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", api.port, timeout=timeout)
    sent = {"Clerk-API-Version": SPEC_VERSION, "User-Agent": "clerk-serverless-tests"}
    if key is not None:
        sent["Authorization"] = f"Bearer {api.secret_key if key == 'secret' else key}"
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        sent["Content-Type"] = "application/json"
    sent.update(headers or {})
    try:
        conn.request(method, path, body=data, headers=sent)
        response = conn.getresponse()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        if own:
            conn.close()


def verify(api: ClerkBackendApi, op: str, token: str, *, key: str | None = "secret", bare: bool = False) -> Reply:
    path, field = VERIFY[op]
    return send(api, "POST", path.removeprefix("/v1") if bare else path, {field: token}, key=key)


def spec_errors(api: ClerkBackendApi, method: str, path: str, reply: Reply, request_body: Any = None) -> list[str]:
    """openapi-core's own verdict on an answer (independent of the server's checks)."""
    from openapi_core.testing import MockRequest, MockResponse

    data = json.dumps(request_body).encode() if request_body is not None else None
    request = MockRequest("https://api.clerk.com", method, path, headers={"Authorization": f"Bearer {api.secret_key}"}, data=data)
    response = MockResponse(reply.body, reply.status, reply.headers, reply.headers.get("content-type", ""))
    return [str(e) for e in openapi().iter_response_errors(request, response)]


def assert_clerk_error(reply: Reply, status: int, code: str) -> None:
    assert reply.status == status
    assert reply.headers["content-type"] == "application/json"
    assert schema_errors(reply.json, "ClerkErrors") == []
    assert reply.json["errors"][0]["code"] == code


def kinds(api: ClerkBackendApi) -> list[str]:
    return [v.kind for v in api.take_violations()]


# ---------------------------------------------------------------- the spec


def test_the_vendored_spec_is_clerks_current_backend_api() -> None:
    spec = spec_dict()
    assert spec["info"]["title"] == "Clerk Backend API"
    assert spec["info"]["version"] == SPEC_VERSION
    assert spec["servers"] == [{"url": "https://api.clerk.com/v1"}]
    for path in ("/jwks", "/users/{user_id}", "/api_keys/verify", "/m2m_tokens/verify", "/oauth_applications/access_tokens/verify"):
        assert path in spec["paths"]


def test_schema_errors_catches_a_malformed_error_body() -> None:
    assert schema_errors({"errors": [{"code": "x", "message": "m", "long_message": "l"}]}, "ClerkErrors") == []
    assert schema_errors({"errors": [{"code": "x"}]}, "ClerkErrors")
    assert schema_errors({"error": "x"}, "ClerkErrors")


# ------------------------------------------------ each operation, per spec


def test_api_key_verify_answers_the_spec_object(clerk_api: ClerkBackendApi) -> None:
    key = clerk_api.add_api_key(scopes=["read", "write"], claims={"foo": "bar"})
    reply = verify(clerk_api, "verifyApiKey", key.secret)
    assert reply.status == 200 and reply.headers["content-type"] == "application/json"
    assert spec_errors(clerk_api, "POST", "/v1/api_keys/verify", reply, {"secret": key.secret}) == []
    body = reply.json
    assert body["object"] == "api_key" and body["id"] == key.id and body["subject"] == key.object["subject"]
    assert body["scopes"] == ["read", "write"] and body["claims"] == {"foo": "bar"}
    assert body["revoked"] is False and body["expired"] is False and isinstance(body["last_used_at"], int)
    assert key.secret not in reply.body.decode()  # Clerk never echoes the secret


def test_m2m_verify_with_the_secret_key_and_with_a_machine_secret_key(clerk_api: ClerkBackendApi) -> None:
    token = clerk_api.add_m2m_token(claims={"important_metadata": "Some useful data"})
    for key in ("secret", clerk_api.machine_secret_key):
        reply = verify(clerk_api, "verifyM2MToken", token.secret, key=key)
        assert reply.status == 200
        assert spec_errors(clerk_api, "POST", "/v1/m2m_tokens/verify", reply, {"token": token.secret}) == []
        assert reply.json["object"] == "machine_to_machine_token" and reply.json["id"] == token.id
        assert reply.json["scopes"] == [clerk_api.machine_id]
    assert [c.bearer for c in clerk_api.calls] == [clerk_api.secret_key, clerk_api.machine_secret_key]


def test_m2m_token_not_granted_to_the_machine_is_not_found(clerk_api: ClerkBackendApi) -> None:
    other_machine, other_key = clerk_api.add_machine()
    token = clerk_api.add_m2m_token()  # grants only the default machine
    assert verify(clerk_api, "verifyM2MToken", token.secret, key=other_key).status == 404
    granted = clerk_api.add_m2m_token(scopes=[clerk_api.machine_id, other_machine])
    assert verify(clerk_api, "verifyM2MToken", granted.secret, key=other_key).status == 200


def test_oauth_access_token_verify_answers_the_spec_object(clerk_api: ClerkBackendApi) -> None:
    token = clerk_api.add_oauth_token(scopes=["profile", "email"])
    reply = verify(clerk_api, "verifyOAuthAccessToken", token.secret)
    assert reply.status == 200
    assert spec_errors(clerk_api, "POST", "/v1/oauth_applications/access_tokens/verify", reply, {"access_token": token.secret}) == []
    assert reply.json["object"] == "clerk_idp_oauth_access_token" and reply.json["id"] == token.id
    assert reply.json["client_id"].startswith("client_") and reply.json["scopes"] == ["profile", "email"]


def test_user_and_jwks_answer_the_spec_objects(clerk_api: ClerkBackendApi, key: SigningKey) -> None:
    user = clerk_api.add_user(first_name="Ada", public_metadata={"plan": "pro"})
    reply = send(clerk_api, "GET", f"/v1/users/{user['id']}")
    assert reply.status == 200 and reply.json == user
    assert spec_errors(clerk_api, "GET", f"/v1/users/{user['id']}", reply) == []
    jwks = send(clerk_api, "GET", "/v1/jwks")
    assert jwks.status == 200 and jwks.json == {"keys": [key.jwk]}
    assert spec_errors(clerk_api, "GET", "/v1/jwks", jwks) == []
    assert_clerk_error(send(clerk_api, "GET", "/v1/users/user_2nobodyNOBODYnobodyNOBODY0"), 404, "resource_not_found")


def test_our_own_clients_pass_the_spec(clerk_api: ClerkBackendApi, key: SigningKey) -> None:
    """The library's Backend API calls, as they are today, conform."""
    auth = ClerkAuth(secret_key=clerk_api.secret_key, api_url=clerk_api.url, authorized_parties=[ORIGIN], issuer=ISSUER)
    assert auth.verify_token(mint(key)).user_id == "user_2abc"
    user = clerk_api.add_user("user_2abc")
    assert BackendApi(clerk_api.url, clerk_api.secret_key).get_user("user_2abc") == user
    assert clerk_api.paths() == ["/v1/jwks", "/v1/users/user_2abc"]
    assert clerk_api.violations == []


def test_verify_paths_are_also_served_without_v1_as_clerk_backend_calls_them(clerk_api: ClerkBackendApi) -> None:
    api_key, m2m, oauth = clerk_api.add_api_key(), clerk_api.add_m2m_token(), clerk_api.add_oauth_token()
    for op, token in (("verifyApiKey", api_key), ("verifyM2MToken", m2m), ("verifyOAuthAccessToken", oauth)):
        reply = verify(clerk_api, op, token.secret, bare=True)
        assert reply.status == 200 and reply.json["id"] == token.id
    assert clerk_api.paths() == ["/api_keys/verify", "/m2m_tokens/verify", "/oauth_applications/access_tokens/verify"]
    assert clerk_api.count("verifyApiKey") == clerk_api.count("/v1/api_keys/verify") == 1


# ------------------------------------------- unknown, revoked and expired


@pytest.mark.parametrize("op", list(VERIFY))
def test_unknown_revoked_and_expired_tokens_are_not_found(clerk_api: ClerkBackendApi, op: str) -> None:
    adders: dict[str, Callable[..., MachineToken]] = {
        "verifyApiKey": clerk_api.add_api_key,
        "verifyM2MToken": clerk_api.add_m2m_token,
        "verifyOAuthAccessToken": clerk_api.add_oauth_token,
    }
    add = adders[op]
    revoked, expired, live = add(revoked=True, revocation_reason="Key compromised"), add(expired=True), add()
    prefix = live.secret[: live.secret.index("_") + 1]
    for token in (prefix + "unknown0000000000000000000000000", revoked.secret, expired.secret):
        reply = verify(clerk_api, op, token)
        assert_clerk_error(reply, 404, "resource_not_found")
        assert spec_errors(clerk_api, "POST", VERIFY[op][0], reply, {VERIFY[op][1]: token}) == []
    assert verify(clerk_api, op, live.secret).status == 200
    clerk_api.revoke(live.secret)
    assert verify(clerk_api, op, live.secret).status == 404


def test_flagged_mode_answers_200_with_the_flags_the_spec_allows(clerk_api: ClerkBackendApi) -> None:
    clerk_api.invalid_tokens = "flagged"
    revoked = clerk_api.add_api_key(revoked=True, revocation_reason="Revoked by user")
    reply = verify(clerk_api, "verifyApiKey", revoked.secret)
    assert reply.status == 200 and reply.json["revoked"] is True and reply.json["revocation_reason"] == "Revoked by user"
    expired_m2m = clerk_api.add_m2m_token(expired=True)
    reply = verify(clerk_api, "verifyM2MToken", expired_m2m.secret)
    assert reply.status == 200 and reply.json["expired"] is True
    expired_oauth = clerk_api.add_oauth_token(expired=True)
    reply = verify(clerk_api, "verifyOAuthAccessToken", expired_oauth.secret)
    assert reply.status == 200 and reply.json == {"active": False}
    assert spec_errors(clerk_api, "POST", VERIFY["verifyOAuthAccessToken"][0], reply, {"access_token": expired_oauth.secret}) == []
    assert clerk_api.violations == []


# ---------------------------------------- wrong requests: answered and flagged


@pytest.mark.parametrize("op", list(VERIFY))
def test_missing_authorization_is_401_and_flagged(clerk_api: ClerkBackendApi, op: str) -> None:
    reply = verify(clerk_api, op, "ak_whatever", key=None)
    assert_clerk_error(reply, 401, "authentication_invalid")
    violations = clerk_api.take_violations()
    assert [v.kind for v in violations] == ["request"] and "Security" in violations[0].message


def test_wrong_keys_are_401_and_flagged(clerk_api: ClerkBackendApi) -> None:
    key = clerk_api.add_api_key()
    assert_clerk_error(verify(clerk_api, "verifyApiKey", key.secret, key="sk_test_notthisinstance"), 401, "authentication_invalid")
    # an API key verify does not take a machine secret key
    assert_clerk_error(verify(clerk_api, "verifyApiKey", key.secret, key=clerk_api.machine_secret_key), 401, "authentication_invalid")
    m2m = clerk_api.add_m2m_token()
    assert_clerk_error(verify(clerk_api, "verifyM2MToken", m2m.secret, key="ak_notregistered"), 401, "machine_secret_key_invalid")
    assert_clerk_error(send(clerk_api, "GET", "/v1/jwks", key="Basic abc"), 401, "authentication_invalid")
    violations = clerk_api.take_violations()
    assert [v.kind for v in violations] == ["auth", "auth", "auth", "auth"]
    assert all(key.secret not in str(v) for v in violations)


def test_a_body_not_per_the_spec_is_400_and_flagged(clerk_api: ClerkBackendApi) -> None:
    m2m = clerk_api.add_m2m_token()
    # what clerk-sdk-python's verify_token sends to every verify endpoint: {"secret": …}
    assert_clerk_error(send(clerk_api, "POST", "/v1/m2m_tokens/verify", {"secret": m2m.secret}), 400, "form_param_missing")
    assert kinds(clerk_api) == ["request"]
    assert_clerk_error(send(clerk_api, "POST", "/v1/api_keys/verify", {}), 400, "form_param_missing")
    assert kinds(clerk_api) == ["request"]
    reply = send(clerk_api, "POST", "/v1/api_keys/verify", b"secret=ak_x", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert reply.status == 400
    assert "request" in kinds(clerk_api)


def test_the_deprecated_oauth_secret_field_works_but_is_flagged(clerk_api: ClerkBackendApi) -> None:
    token = clerk_api.add_oauth_token()
    reply = send(clerk_api, "POST", "/v1/oauth_applications/access_tokens/verify", {"secret": token.secret})
    assert reply.status == 200 and reply.json["id"] == token.id
    violations = clerk_api.take_violations()
    assert [v.kind for v in violations] == ["request"] and "deprecated" in violations[0].message


def test_unknown_paths_and_methods_are_404_and_unexpected(clerk_api: ClerkBackendApi) -> None:
    for method, path in (("GET", "/v1/sessions"), ("GET", "/v1/api_keys/verify"), ("GET", "/users/user_2abc"), ("DELETE", "/v1/jwks")):
        assert_clerk_error(send(clerk_api, method, path), 404, "resource_not_found")
    violations = clerk_api.take_violations()
    assert [v.kind for v in violations] == ["unexpected"] * 4
    assert [c.operation for c in clerk_api.calls] == [None] * 4


def test_an_unrealistic_registry_entry_is_caught_as_a_response_violation(clerk_api: ClerkBackendApi) -> None:
    key = clerk_api.add_api_key(subject="user_2abc")  # Clerk's subjects have 27 characters after the prefix
    assert verify(clerk_api, "verifyApiKey", key.secret).status == 200
    violations = clerk_api.take_violations()
    assert [v.kind for v in violations] == ["response"] and "user_2abc" in violations[0].message


def test_violations_fail_the_test_at_teardown(clerk_api: ClerkBackendApi) -> None:
    send(clerk_api, "GET", "/v1/nowhere")
    with pytest.raises(pytest.fail.Exception, match=r"(?s)1 violation.*unexpected.*/v1/nowhere"):
        fail_on_violations(clerk_api)
    clerk_api.take_violations()
    fail_on_violations(clerk_api)  # nothing left: passes


# ----------------------------------------------------------- fault modes


@pytest.mark.parametrize("status,headers", [(503, {"Retry-After": "3"}), (429, {"Retry-After": "7"}), (500, {})])
def test_status_faults_answer_clerks_error_with_headers(clerk_api: ClerkBackendApi, status: int, headers: dict[str, str]) -> None:
    key = clerk_api.add_api_key()
    clerk_api.fault("verifyApiKey", "status", status=status, headers=headers, times=1)
    reply = verify(clerk_api, "verifyApiKey", key.secret)
    assert reply.status == status and schema_errors(reply.json, "ClerkErrors") == []
    for name, value in headers.items():
        assert reply.headers[name.lower()] == value
    assert verify(clerk_api, "verifyApiKey", key.secret).status == 200  # times=1: normal again
    assert [c.fault for c in clerk_api.calls] == ["status", None]
    assert clerk_api.violations == []  # injected faults are not the client's fault


def test_faults_target_an_operation_a_path_or_everything(clerk_api: ClerkBackendApi) -> None:
    user = clerk_api.add_user()
    clerk_api.fault(f"/v1/users/{user['id']}", "status", status=502)
    assert send(clerk_api, "GET", "/v1/users/user_2other").status == 502  # the path names its operation
    assert send(clerk_api, "GET", "/v1/jwks").status == 200
    clerk_api.clear_faults()
    clerk_api.fault("*", "status", status=503)
    assert send(clerk_api, "GET", "/v1/jwks").status == 503
    assert send(clerk_api, "POST", "/api_keys/verify", {"secret": "ak_x"}).status == 503
    with pytest.raises(ValueError):
        clerk_api.fault("/v1/sessions", "status")
    with pytest.raises(ValueError):
        clerk_api.fault("GetJWKS", "explode")


def test_stall_never_answers_until_cleared(clerk_api: ClerkBackendApi) -> None:
    key = clerk_api.add_api_key()
    clerk_api.fault("verifyApiKey", "stall")
    with pytest.raises((socket.timeout, TimeoutError)):
        verify_with_timeout(clerk_api, key.secret, 0.3)
    assert clerk_api.calls[-1].fault == "stall" and clerk_api.calls[-1].status is None
    clerk_api.clear_faults()
    assert verify(clerk_api, "verifyApiKey", key.secret).status == 200


def verify_with_timeout(api: ClerkBackendApi, secret: str, timeout: float) -> Reply:
    return send(api, "POST", "/v1/api_keys/verify", {"secret": secret}, timeout=timeout)


def test_slow_and_trickle_still_answer_the_spec_object(clerk_api: ClerkBackendApi) -> None:
    key = clerk_api.add_api_key()
    clerk_api.fault("verifyApiKey", "slow", delay=0.05, times=1)
    assert verify(clerk_api, "verifyApiKey", key.secret).json["id"] == key.id
    clerk_api.fault("verifyApiKey", "trickle", delay=0.0005, times=1)
    reply = verify(clerk_api, "verifyApiKey", key.secret)
    assert reply.status == 200 and reply.json["id"] == key.id
    assert [c.fault for c in clerk_api.calls] == ["slow", "trickle"]


def test_trickle_holds_a_reader_with_a_short_deadline(clerk_api: ClerkBackendApi) -> None:
    key = clerk_api.add_api_key()
    clerk_api.fault("verifyApiKey", "trickle", delay=0.5)
    with pytest.raises((socket.timeout, TimeoutError)):
        verify_with_timeout(clerk_api, key.secret, 0.3)


def test_garbage_truncated_and_refuse(clerk_api: ClerkBackendApi) -> None:
    key = clerk_api.add_api_key()
    clerk_api.fault("verifyApiKey", "garbage", times=1)
    reply = verify(clerk_api, "verifyApiKey", key.secret)
    assert reply.status == 200 and reply.headers["content-type"] == "text/html"
    with pytest.raises(ValueError):
        reply.json  # noqa: B018
    clerk_api.fault("verifyApiKey", "truncated", times=1)
    with pytest.raises(http.client.IncompleteRead):
        verify(clerk_api, "verifyApiKey", key.secret)
    clerk_api.fault("verifyApiKey", "refuse", times=1)
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        verify(clerk_api, "verifyApiKey", key.secret)
    assert verify(clerk_api, "verifyApiKey", key.secret).status == 200


# ------------------------------------------------------------ log, counters


def test_the_log_keeps_each_request_and_the_counters_count(clerk_api: ClerkBackendApi) -> None:
    key = clerk_api.add_api_key()
    conn = http.client.HTTPConnection("127.0.0.1", clerk_api.port, timeout=3)
    try:  # keep-alive: several requests on one connection, as a pooled client sends them
        for _ in range(3):
            assert send(clerk_api, "POST", "/v1/api_keys/verify", {"secret": key.secret}, conn=conn).status == 200
        assert send(clerk_api, "GET", "/v1/jwks", conn=conn).status == 200
    finally:
        conn.close()
    assert clerk_api.count() == 4 and clerk_api.count("verifyApiKey") == 3 and clerk_api.count("/v1/jwks") == 1
    call = clerk_api.calls[0]
    assert (call.method, call.path, call.operation, call.status) == ("POST", "/v1/api_keys/verify", "verifyApiKey", 200)
    assert call.json == {"secret": key.secret} and call.bearer == clerk_api.secret_key
    assert call.headers["clerk-api-version"] == SPEC_VERSION and call.headers["content-type"] == "application/json"


def test_a_stopped_server_answers_nothing_even_on_a_kept_alive_connection(clerk_api: ClerkBackendApi) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", clerk_api.port, timeout=3)
    try:
        assert send(clerk_api, "GET", "/v1/jwks", conn=conn).status == 200
        clerk_api.stop()
        with pytest.raises(OSError):  # RemoteDisconnected, reset or refused
            send(clerk_api, "GET", "/v1/jwks", conn=conn)
    finally:
        conn.close()
    assert clerk_api.count() == 1
