"""Property-based hostile input: events of every shape with fields missing,
None, of the wrong type, odd header casing, repeated and huge headers,
control and non-ASCII characters in cookies and tokens, base64-flagged
bodies.

Whatever comes in, the decorators never raise, always answer a well-formed
response in the event's own format, and no request without a valid token
gets a session.

A few thousand examples run in CI; ``make fuzz`` runs a long profile
(``CLERK_FUZZ_EXAMPLES``, default 50 000 per property there).
"""

from __future__ import annotations

import copy
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.events import SHAPES, base
from support.tokens import ORIGIN, SigningKey, mint

from clerk_serverless import ClerkAuth

pytestmark = pytest.mark.fuzz
EXAMPLES = int(os.environ.get("CLERK_FUZZ_EXAMPLES", "700"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# -- strategies -----------------------------------------------------------------------------

nasty_text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x1F), max_size=10),
    st.sampled_from(["", " ", "Bearer", "Bearer ", "bearer x", "Basic dXNlcg==", "\x00", "é", "😀", "a=b; c", '"', "=", ";", ",",
                     "__session=", "__session=;", "__client_uat=0", "Bearer eyJ.eyJ.sig", "Bearer " + "A" * 9000]),
    st.builds(lambda n: "x" * n, st.integers(0, 70_000)),
)
wrong_types = st.one_of(st.none(), st.integers(), st.floats(allow_nan=True), st.booleans(), st.lists(st.integers(), max_size=3),
                        st.dictionaries(st.text(max_size=5), st.integers(), max_size=3), st.text(max_size=10))
header_names = st.one_of(st.sampled_from(["Authorization", "authorization", "AUTHORIZATION", "Cookie", "cookie", "COOKIE",
                                          "Origin", "origin", "User-Agent", "X-Forwarded-For", "aUtHoRiZaTiOn"]), st.text(max_size=20))


def hostile_tokens(keys: dict[str, SigningKey]) -> st.SearchStrategy[str]:
    attacker, current = keys["attacker"], keys["current"]
    return st.one_of(
        nasty_text,
        st.just(mint(attacker, {"kid": current.kid})),
        st.just(mint(current, exp=1, iat=0)),
        st.just(mint(current, azp="https://evil.example")),
        st.just(mint(current, sub=None)),
        st.builds(lambda t, junk: t[: len(t) // 2] + junk + t[len(t) // 2:], st.just(mint(current)), st.text(min_size=1, max_size=5)),
    )


@st.composite
def mutated_events(draw: Any, keys: dict[str, SigningKey]) -> dict[str, Any]:
    shape = draw(st.sampled_from(SHAPES))
    event = base(shape)
    token = draw(hostile_tokens(keys))
    multi = "multiValueHeaders" in event and "headers" not in event
    placement = draw(st.sampled_from(["bearer", "cookie", "both", "none"]))
    headers: list[tuple[str, str]] = []
    if placement in ("bearer", "both"):
        headers.append((draw(st.sampled_from(["Authorization", "authorization", "AUTHORIZATION"])), f"{draw(st.sampled_from(['Bearer', 'bearer', 'BEARER', 'Token']))} {token}"))
    cookies = draw(st.lists(nasty_text, max_size=4))
    if placement in ("cookie", "both"):
        cookies.insert(draw(st.integers(0, len(cookies))), f"__session={token}")
    headers += draw(st.lists(st.tuples(header_names, nasty_text), max_size=6))
    if shape in ("http_v2", "function_url"):
        event["cookies"] = cookies
        event["headers"] = {k.lower(): v for k, v in headers}
    elif multi:
        for name, value in headers:
            event["multiValueHeaders"].setdefault(name.lower(), []).append(value)
        if cookies:
            event["multiValueHeaders"]["cookie"] = cookies
    else:
        for name, value in headers:
            event["headers"][name] = value
            if "multiValueHeaders" in event:
                event["multiValueHeaders"].setdefault(name, []).append(value)
        if cookies:
            event["headers"]["Cookie"] = "; ".join(cookies)
    if draw(st.booleans()):
        event["body"], event["isBase64Encoded"] = draw(nasty_text), True
    if draw(st.integers(0, 9)) == 0:  # a preflight now and then
        if shape in ("http_v2", "function_url"):
            event["requestContext"]["http"]["method"] = "OPTIONS"
        else:
            event["httpMethod"] = "OPTIONS"
    for _ in range(draw(st.integers(0, 3))):  # break some fields
        field = draw(st.sampled_from(sorted(event) + ["queryStringParameters", "multiValueQueryStringParameters", "cookies"]))
        action = draw(st.sampled_from(["delete", "none", "wrong-type", "query-junk"]))
        if action == "delete":
            event.pop(field, None)
        elif action == "none":
            event[field] = None
        elif action == "wrong-type":
            event[field] = draw(wrong_types)
        else:
            event["queryStringParameters"] = draw(st.dictionaries(st.sampled_from(["_clerk_session_id", "x"]), st.one_of(nasty_text, wrong_types), max_size=2))
    return event


# -- properties ---------------------------------------------------------------------------------


def _well_formed(event: Any, response: Any) -> None:
    assert isinstance(response, dict)
    assert type(response["statusCode"]) is int
    assert isinstance(response["body"], str)
    if response["statusCode"] in (400, 401, 403, 503):
        assert response["isBase64Encoded"] is False
        alb_multi = isinstance(event, dict) and isinstance(event.get("requestContext"), dict) and "elb" in event["requestContext"] \
            and "multiValueHeaders" in event and "headers" not in event and event.get("httpMethod") is not None
        if alb_multi:
            assert "headers" not in response
            assert all(isinstance(v, list) and all(isinstance(x, str) for x in v) for v in response["multiValueHeaders"].values())
        else:
            assert all(isinstance(k, str) and isinstance(v, str) for k, v in response["headers"].items())


@pytest.fixture(scope="module")
def module_keys() -> dict[str, SigningKey]:
    return {name: SigningKey.generate(f"ins_{name}") for name in ("current", "attacker")}


@pytest.fixture(scope="module")
def fuzz_auth(module_keys: dict[str, SigningKey]) -> ClerkAuth:
    return ClerkAuth(jwt_key=module_keys["current"].public_pem, authorized_parties=[ORIGIN])


def _through(decorator: Any, event: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
    """Run ``event`` through a handler wrapped by ``decorator``: the response
    (checked for form) and the sessions the handler saw."""
    seen: list[Any] = []

    @decorator
    def handler(ev: Any, context: Any) -> Any:
        seen.append(ev["session"])
        return {"statusCode": 299, "body": "handler"}

    original = copy.deepcopy(event)
    response = handler(event, None)
    _well_formed(original, response)
    assert seen in ([], [None])  # no valid token in these events: never a session
    return response, seen


def test_require_session_never_raises_and_never_admits_without_a_valid_token(fuzz_auth: ClerkAuth, module_keys: dict[str, SigningKey]) -> None:
    @FUZZ
    @given(event=mutated_events(module_keys))
    def run(event: dict[str, Any]) -> None:
        response, seen = _through(fuzz_auth.require_session, event)
        if seen:  # only preflights pass
            assert response == {"statusCode": 299, "body": "handler"}

    run()


def test_with_session_never_raises_and_never_makes_up_a_session(fuzz_auth: ClerkAuth, module_keys: dict[str, SigningKey]) -> None:
    @FUZZ
    @given(event=mutated_events(module_keys))
    def run(event: dict[str, Any]) -> None:
        response, seen = _through(fuzz_auth.with_session, event)
        assert seen or response["statusCode"] == 400  # only a broken event keeps the handler from running

    run()


def test_a_valid_token_survives_any_surrounding_noise(fuzz_auth: ClerkAuth, module_keys: dict[str, SigningKey]) -> None:
    token = mint(module_keys["current"])

    @FUZZ
    @given(
        shape=st.sampled_from(SHAPES),
        via=st.sampled_from(["bearer", "cookie"]),
        noise=st.lists(st.tuples(st.sampled_from(["X-Junk", "x-other", "Accept", "Referer"]), nasty_text), max_size=5),
        cookie_noise=st.lists(nasty_text.filter(lambda c: "__session" not in c and "__client_uat" not in c), max_size=5),
    )
    def run(shape: str, via: str, noise: list[tuple[str, str]], cookie_noise: list[str]) -> None:
        from support.events import make_event

        headers = dict(noise)
        cookies = list(cookie_noise)
        if via == "cookie":
            cookies.insert(len(cookies) // 2, f"__session={token}")
            event = make_event(shape, headers=headers, cookies=cookies)
        else:
            event = make_event(shape, headers=headers, cookies=cookies, bearer=token)
        seen: list[Any] = []

        @fuzz_auth.require_session
        def handler(ev: Any, context: Any) -> Any:
            seen.append(ev["session"])
            return {"statusCode": 200, "body": ""}

        assert handler(event, None)["statusCode"] == 200
        assert seen[0].user_id == "user_2abc"

    run()
