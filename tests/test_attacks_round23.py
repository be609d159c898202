"""Red-team probes, round 23: the code merged this session.

The awaitable-answer check of the decorators and ``require_webhook``, the
local gateway's function logs and ``--spa`` fallback, and ``token
--scope``. Tests named ``test_finding_*`` are attacks that succeeded on the
code as reviewed, kept with their fixes.

Real parts only: generated RS256 keys, real-shaped events, the local
gateway on 127.0.0.1 running a real function in a child process.
"""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest
from support.events import make_event
from support.tokens import SigningKey, mint

from clerk_serverless import ClerkAuth

# =========================================================================================
# 1. What counts as an awaitable answer
# =========================================================================================


class AttrDict(dict[str, Any]):
    """An attribute-access dict as addict's ``Dict`` is: every missing name
    answers (an empty one), so it "has" ``__await__`` per instance."""

    def __getattr__(self, name: str) -> Any:
        return self[name] if name in self else AttrDict()


class Exploding:
    """An answer whose attribute lookups raise something other than AttributeError."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError("lookup")


class Awaitable:
    """An awaitable that is not a coroutine: its ``close`` is its own code."""

    closed = False

    def __await__(self) -> Any:
        yield None

    def close(self) -> None:
        Awaitable.closed = True
        raise SystemExit("close ran")  # what a blocking or exiting close would do to the invocation


@pytest.mark.parametrize("shape", ["http_v2", "rest_v1", "alb_multi"])
def test_finding_an_attribute_dict_answer_was_refused_as_an_awaitable(key: SigningKey, shape: str) -> None:
    """The awaitable check asked the instance (``hasattr(response,
    "__await__")``): an attribute-access dict, which answers every name,
    turned a handler's good 200 into a 500 ``handler-async``; an answer whose
    ``__getattr__`` raised sent that exception out of the wrapper; and any
    awaitable's own ``close`` was run (an exiting or blocking one took the
    invocation with it). Now the type is asked, as ``await`` does, a dict is
    an answer, and only a coroutine is closed."""
    auth = ClerkAuth(jwt_key=key.public_pem)
    answers: list[Any] = [AttrDict(statusCode=200, body="ok"), Exploding(), Awaitable()]

    @auth.require_session
    def handler(event: Any, context: Any) -> Any:
        return answers.pop(0)

    def call() -> Any:
        return handler(make_event(shape, headers={"Authorization": f"Bearer {mint(key)}"}), None)

    first = call()
    assert isinstance(first, AttrDict) and first["statusCode"] == 200 and first["body"] == "ok"
    assert isinstance(call(), Exploding)  # not ours to judge: handed back as any other answer
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        third = call()
    assert third["statusCode"] == 500 and json.loads(third["body"])["reason"] == "handler-async"
    assert Awaitable.closed is False
