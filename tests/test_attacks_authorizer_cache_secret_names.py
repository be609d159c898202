"""Red-team probes, eighth pass: the Lambda authorizer and ``trust_authorizer``,
the verified-token and machine-token caches, the Backend API client,
``aws_secrets`` and the configuration.

Every test states the secure behaviour. Tests named ``test_finding_*`` are
attacks that succeeded on the code as reviewed, kept with their fixes; every
other test is a probe the library withstood, kept as a regression test.

Real parts only: generated RS256 keys, the loopback JWKS server and Clerk
Backend API, real-shaped events.
"""

from __future__ import annotations

from typing import Any

import pytest
from support.calls import NOT_CALLED, call
from support.events import authorizer_event, make_event
from support.tokens import SigningKey, mint

from clerk_serverless import ClerkAuth, ClerkConfigError
from clerk_serverless.authorizer import make_authorizer
from clerk_serverless.trusted import token_hash

#: A staging site's HTTP Basic credentials: every visitor's browser resends the same ones.
STAGING_BASIC = "Basic c3RhZ2luZzpzZWNyZXQ="


def seen(decorator: Any) -> Any:
    """A handler under ``decorator`` answering 200 and remembering ``event["auth"]``."""

    box: dict[str, Any] = {}

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        box["auth"] = event.get("auth")
        return {"statusCode": 200, "body": "ok"}

    wrapped = decorator(handler)
    wrapped.seen = box  # call() clears it before each call
    return wrapped


def behind(shape: str, context: dict[str, str], **request: Any) -> dict[str, Any]:
    """An event of ``shape`` reaching a route behind our authorizer, with ``context``
    (what API Gateway passes on, from a fresh or a cached authorizer answer)."""
    event = make_event(shape, **request)
    event["requestContext"]["authorizer"] = (
        {"lambda": dict(context)} if shape == "http_v2" else {"principalId": "p", "integrationLatency": 3, **context}
    )
    return event


def who(route: Any, shape: str, event: dict[str, Any]) -> tuple[int, str | None]:
    route.seen.clear()
    out = call(route, shape, event)
    auth = route.seen.get("auth", NOT_CALLED)
    return out.status, (None if auth in (None, NOT_CALLED) else getattr(auth, "user_id", None) or auth.subject)


# =========================================================================================
# 1. trust_authorizer: a context is for the one token it was verified from
# =========================================================================================


@pytest.mark.parametrize("shape", ["http_v2", "rest_v1"])
def test_finding_a_cached_context_is_handed_to_a_request_with_another_token(
    make_auth: Any, key: SigningKey, shape: str
) -> None:
    """HIGH (with authorizer caching on and identity sources that do not hold
    the token the authorizer read). API Gateway keys a cached authorizer answer
    on the identity sources alone. With ``$request.header.Authorization`` (what
    the README suggests for Bearer APIs) and a staging site behind HTTP Basic
    auth, every visitor sends the same ``Authorization: Basic …`` beside their
    own ``__session`` cookie: the authorizer skips the Basic value, verifies
    the victim's cookie and the answer is cached under the shared Basic value.
    The next visitor — no cookie, or their own — got the victim's identity from
    the trusting route (and a ``Session`` pairing the victim's claims with the
    attacker's token). The context now carries ``token_hash``, and a route
    takes it only for a request presenting that token; any other request has
    its own token verified."""
    victim = mint(key, sub="user_victim", sid="sess_victim")
    attacker = mint(key, sub="user_attacker", sid="sess_attacker")
    answer = make_authorizer(make_auth())(
        authorizer_event(headers={"Authorization": STAGING_BASIC}, cookies=[f"__session={victim}"]), None
    )
    context = answer["context"]
    assert (context["user_id"], context["token_carrier"]) == ("user_victim", "cookie")
    assert context["token_hash"] == token_hash(victim)
    route = seen(make_auth(trust_authorizer=True).require_session)
    basic = {"Authorization": STAGING_BASIC}
    assert who(route, shape, behind(shape, context, headers=basic, cookies=[f"__session={victim}"])) == (200, "user_victim")
    assert who(route, shape, behind(shape, context, headers=basic)) == (401, None)
    assert who(route, shape, behind(shape, context, headers=basic, cookies=[f"__session={attacker}"])) == (
        200, "user_attacker")
    assert route.seen["auth"].token == attacker
    # A header context reused for another bearer token (a cache keyed on the cookie, say).
    header_context = make_authorizer(make_auth())(authorizer_event(bearer=victim), None)["context"]
    assert who(route, shape, behind(shape, header_context, bearer=attacker)) == (200, "user_attacker")
    assert who(route, shape, behind(shape, header_context, bearer="a.b.c")) == (401, None)


def test_finding_a_cached_machine_context_is_handed_to_another_api_key(clerk_api: Any) -> None:
    """HIGH (same cache condition). A context for one API key reached a
    request presenting another key — or none on a route accepting sessions
    too — with the first key's subject and scopes."""
    build = lambda trust: ClerkAuth(secret_key=clerk_api.secret_key, api_url=clerk_api.url, trust_authorizer=trust)  # noqa: E731
    admin = clerk_api.add_api_key(subject="user_" + "a" * 27, scopes=["admin"])
    reader = clerk_api.add_api_key(subject="user_" + "b" * 27, scopes=["read"])
    authorize = make_authorizer(build(False), accepts_token="api_key")
    context = authorize(authorizer_event(bearer=admin.secret), None)["context"]
    route = seen(build(True).require_auth(accepts_token=["api_key", "session_token"], scopes=["admin"]))
    assert who(route, "http_v2", behind("http_v2", context, bearer=admin.secret)) == (200, "user_" + "a" * 27)
    assert who(route, "http_v2", behind("http_v2", context, bearer=reader.secret))[0] == 403  # its own scopes
    assert who(route, "http_v2", behind("http_v2", context)) == (401, None)
    assert who(route, "http_v2", behind("http_v2", context, headers={"Authorization": "Basic eDp5"})) == (401, None)


def test_a_context_without_its_binding_is_not_taken(make_auth: Any, key: SigningKey, signing_keys: Any) -> None:
    """Held. A context without ``token_hash`` (an older authorizer, or one not
    ours) or with another one is ignored: the request's own token is verified
    (the route keeps working, at the cost of a verification, and takes nothing
    from a context it cannot tie to the request)."""
    token = mint(key)
    context = make_authorizer(make_auth())(authorizer_event(bearer=token), None)["context"]
    route = seen(make_auth(trust_authorizer=True).require_session)
    claimed = dict(context, user_id="user_forged")
    for forged in ({k: v for k, v in claimed.items() if k != "token_hash"}, dict(claimed, token_hash=""),
                   dict(claimed, token_hash=token_hash(token + "x")), dict(claimed, token_hash=5),
                   dict(claimed, token_hash="\udcff"), dict(claimed, token_hash=token)):
        assert who(route, "http_v2", behind("http_v2", forged, bearer=token)) == (200, "user_2abc")
        assert who(route, "http_v2", behind("http_v2", forged, bearer=mint(signing_keys["attacker"]))) == (401, None)
    assert who(route, "http_v2", behind("http_v2", claimed, bearer=token)) == (200, "user_forged")  # bound: taken


# =========================================================================================
# 2. Claims nested deeper than the stack: a valid token is never an exception
# =========================================================================================


def _nested(depth: int) -> dict[str, Any]:
    root: dict[str, Any] = {}
    node = root
    for _ in range(depth):
        node["a"] = {}
        node = node["a"]
    node["leaf"] = [1, {"b": "c"}]
    return root


def test_finding_deeply_nested_claims_raised_out_of_the_authorizer(make_auth: Any, key: SigningKey) -> None:
    """MEDIUM (a user's own token; a 500 from API Gateway, an exception in a
    handler). Custom session claims can carry user-written data (a JWT
    template with ``{{user.unsafe_metadata}}``, which the frontend may write):
    JSON 900 levels deep still fits a token, and decodes, but the read-only
    copy of ``Session.claims`` recursed once or twice per level, so the
    authorizer (which reads the claims for its context) raised RecursionError
    out of its handler, as did any handler reading ``session.claims``. The
    copy now falls back to an iterative one."""
    deep = _nested(900)
    token = mint(key, metadata=deep)
    auth = make_auth()
    assert make_authorizer(auth)(authorizer_event(bearer=token), None)["isAuthorized"] is True
    seen_claims: list[Any] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen_claims.append(event["session"].claims["metadata"])
        return {"statusCode": 200, "body": "ok"}

    assert call(auth.require_session(handler), "http_v2", make_event("http_v2", bearer=token)).status == 200
    assert seen_claims == [deep]
    assert auth.verify_token(token).claims["metadata"] == deep


def test_finding_an_api_key_with_deeply_nested_claims_was_refused(clerk_api: Any) -> None:
    """LOW (the key's owner's own requests). An API key's ``claims`` are the
    application's custom JSON: 600 levels of it made the cached, read-only
    ``MachineAuth.claims`` raise RecursionError, answered 401 token-invalid
    for a key Clerk calls valid — with no verdict remembered, so a Backend API
    call on every request. It is now admitted, through the authorizer and its
    trusting route too."""
    auth = ClerkAuth(secret_key=clerk_api.secret_key, api_url=clerk_api.url)
    deep = _nested(600)
    api_key = clerk_api.add_api_key(claims=deep)
    route = seen(auth.require_auth(accepts_token="api_key"))
    assert who(route, "http_v2", make_event("http_v2", bearer=api_key.secret))[0] == 200
    assert route.seen["auth"].claims == deep
    context = make_authorizer(auth, accepts_token="api_key")(authorizer_event(bearer=api_key.secret), None)["context"]
    trusting = seen(ClerkAuth(secret_key=clerk_api.secret_key, api_url=clerk_api.url, trust_authorizer=True)
                    .require_auth(accepts_token="api_key"))
    assert who(trusting, "http_v2", behind("http_v2", context, bearer=api_key.secret))[0] == 200
    assert trusting.seen["auth"].claims == deep
    assert clerk_api.count() == 1  # one verification: the answer was remembered


def test_read_only_copies_of_any_depth() -> None:
    """Held. ``frozen_json``/``plain_json`` copy any depth (past the interpreter's
    recursion limit too), read-only and writable respectively, node for node."""
    from clerk_serverless.readonly import ReadOnlyDict, ReadOnlyList, frozen_json, plain_json

    value = {"x": [_nested(5000), 1, "s", None, [[[]]]], "y": {}}
    frozen = frozen_json(value)
    plain = plain_json(frozen)
    for copy, as_dict, as_list in ((frozen, ReadOnlyDict, ReadOnlyList), (plain, dict, list)):
        assert type(copy) is as_dict and type(copy["x"]) is as_list and type(copy["x"][4][0][0]) is as_list
        assert copy["x"][1:4] == [1, "s", None] and copy["y"] == {}
        node, original, depth = copy["x"][0], value["x"][0], 0
        while "a" in original:
            assert type(node) is as_dict and node is not original and list(node) == ["a"]
            node, original, depth = node["a"], original["a"], depth + 1
        assert depth == 5000 and node == {"leaf": [1, {"b": "c"}]} and type(node["leaf"][1]) is as_dict
    with pytest.raises(TypeError):
        frozen["x"][0]["a"]["b"] = 1
    assert frozen_json(3) == 3 and plain_json("s") == "s"


def test_a_fastapi_route_behind_mangum_binds_the_context_to_the_cookie_it_reads(
    make_auth: Any, key: SigningKey
) -> None:
    """Held. Through Mangum the dependency reads the token from the ASGI scope
    (the v2 ``cookies[]`` as a Cookie header) and the context from
    ``scope["aws.event"]``: the context of the cookie the request carries is
    taken; another cookie's request is answered by verifying its own token."""
    from fastapi import Depends, FastAPI
    from mangum import Mangum

    from clerk_serverless.integrations.fastapi import require_clerk_session

    victim = mint(key, sub="user_victim", sid="sess_victim")
    attacker = mint(key, sub="user_attacker", sid="sess_attacker")
    context = make_authorizer(make_auth())(authorizer_event(cookies=[f"__session={victim}"]), None)["context"]
    context["org_id"] = "org_seen_by_the_authorizer"  # shows the context was taken, not the token verified
    app = FastAPI()
    trusting = make_auth(trust_authorizer=True)

    @app.get("/path/to/resource")
    def me(session: Any = Depends(require_clerk_session(auth=trusting))) -> dict[str, str]:
        return {"user": session.user_id, "org": str(session.org_id)}

    handler = Mangum(app, lifespan="off")
    for cookie, body in ((victim, '{"user":"user_victim","org":"org_seen_by_the_authorizer"}'),
                         (attacker, '{"user":"user_attacker","org":"None"}')):
        event = behind("http_v2", context, cookies=[f"__session={cookie}"])
        event["rawPath"] = event["requestContext"]["http"]["path"] = "/path/to/resource"
        answer = handler(event, None)
        assert (answer["statusCode"], answer["body"]) == (200, body)
    event = behind("http_v2", context)
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/path/to/resource"
    assert handler(event, None)["statusCode"] == 401


# =========================================================================================
# 3. aws_secrets: the key where its storage's name belongs
# =========================================================================================

SECRET_KEY = "sk_live_" + "Z9" * 20


@pytest.mark.parametrize("variable", ["CLERK_SECRET_KEY_PARAMETER", "CLERK_SECRET_KEY_SECRET_ID"])
@pytest.mark.parametrize("value", [SECRET_KEY, "ak_" + "Q7" * 20, f" {SECRET_KEY}\n", f"/myapp/{SECRET_KEY}"])
def test_finding_a_secret_key_given_as_its_parameter_name_was_echoed(
    monkeypatch: pytest.MonkeyPatch, jwks: Any, variable: str, value: str
) -> None:
    """MEDIUM (a plausible mix-up of two variables both named for the secret
    key). ``CLERK_SECRET_KEY_PARAMETER=sk_live_…`` sent the key to AWS as a
    parameter name (CloudTrail records it) and put it, whole, in the
    ClerkConfigError a cold start logs: ``cannot read SSM parameter
    'sk_live_…': ParameterNotFound``. It is now refused, unechoed, before any call."""
    for name, setting in (("AWS_ENDPOINT_URL", jwks.base_url), ("AWS_ACCESS_KEY_ID", "x"),
                          ("AWS_SECRET_ACCESS_KEY", "y"), ("AWS_DEFAULT_REGION", "us-east-1")):
        monkeypatch.setenv(name, setting)
    monkeypatch.setenv("CLERK_JWKS_URL", jwks.url)
    monkeypatch.setenv(variable, value)
    with pytest.raises(ClerkConfigError) as info:
        ClerkAuth()
    assert info.value.setting == variable and "holds a Clerk key" in str(info.value)
    assert "Z9Z9" not in str(info.value) and "Q7Q7" not in str(info.value)
    assert jwks.requests == []  # nothing was sent to AWS
    argument = "secret_key_parameter" if variable.endswith("PARAMETER") else "secret_key_secret_id"
    monkeypatch.delenv(variable)
    with pytest.raises(ClerkConfigError) as info:
        ClerkAuth(**{argument: value})
    assert info.value.setting == argument and "Z9Z9" not in str(info.value) and "Q7Q7" not in str(info.value)
    assert jwks.requests == []


def test_names_that_merely_contain_key_like_words_are_still_read(monkeypatch: pytest.MonkeyPatch, jwks: Any) -> None:
    """Held. Only a key-shaped value is refused: ``/risk_test_…`` or
    ``/app/ak_short`` are names, read (here: from a server that is no AWS,
    hence the read's own error, naming them)."""
    for name, setting in (("AWS_ENDPOINT_URL", jwks.base_url), ("AWS_ACCESS_KEY_ID", "x"),
                          ("AWS_SECRET_ACCESS_KEY", "y"), ("AWS_DEFAULT_REGION", "us-east-1")):
        monkeypatch.setenv(name, setting)
    for name in ("/app/risk_test_0123456789abcdefgh", "/app/ak_short", "clerk-sk_live"):
        with pytest.raises(ClerkConfigError) as info:
            ClerkAuth(jwks_url=jwks.url, secret_key_parameter=name)
        assert "cannot read SSM parameter" in str(info.value) and repr(name) in str(info.value)
