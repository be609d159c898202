"""Clerk webhooks: ``verify_webhook`` and ``require_webhook`` on real-shaped events.

Signatures come from the PyPI ``standardwebhooks`` package (the Standard
Webhooks reference implementation, independent of ours); a body that is not
text is signed with ``hmac`` here, the way Svix signs raw bytes. The verdicts
are checked against @clerk/backend itself in ``test_webhooks_differential.py``;
the cases of @clerk/backend's own ``webhooks.test.ts`` are ported below.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import logging
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from standardwebhooks import Webhook
from support.events import SHAPES, make_event, response_headers

from clerk_serverless import ClerkConfigError, EventError
from clerk_serverless.webhooks import (
    WebhookEvent,
    WebhookHeadersMissingError,
    WebhookPayloadInvalidError,
    WebhookSignatureMismatchError,
    WebhookTimestampInvalidError,
    WebhookTimestampTooNewError,
    WebhookTimestampTooOldError,
    WebhookVerificationError,
    require_webhook,
    signing_key,
    verify_webhook,
    verify_webhook_payload,
)

NOW = 1_764_000_000
RAW_KEY = b"clerk-serverless webhook key, 32B"
SECRET = "whsec_" + base64.b64encode(RAW_KEY).decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"another endpoint's signing key!!!").decode()
MSG_ID = "msg_2vBWJgHnNkdfiAAVvhRnpmsdpvx"
PAYLOAD = {
    "type": "user.created",
    "object": "event",
    "instance_id": "ins_2vBWJgHnNkdfiAAVvhRnpms",
    "timestamp": NOW * 1000,
    "data": {"id": "user_2vBWJgHnNkdfi", "first_name": "Zoë", "email_addresses": [{"email_address": "zoe@example.com"}]},
    "event_attributes": {"http_request": {"client_ip": "203.0.113.9", "user_agent": "Mozilla/5.0 (Test)"}},
}
BODY = json.dumps(PAYLOAD, ensure_ascii=False).encode()


def clock() -> float:
    return NOW + 0.75


def sign(body: bytes, *, msg_id: str = MSG_ID, timestamp: int = NOW, secret: str = SECRET) -> str:
    """``v1,<base64>``: standardwebhooks' signature when the body is text,
    else the HMAC of the raw bytes (what Svix signs)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        key = base64.b64decode(secret.removeprefix("whsec_"))
        digest = hmac.new(key, b"%s.%d.%s" % (msg_id.encode(), timestamp, body), hashlib.sha256).digest()
        return "v1," + base64.b64encode(digest).decode()
    return Webhook(secret).sign(msg_id, datetime.fromtimestamp(timestamp, tz=UTC), text)


def svix_headers(body: bytes = BODY, **overrides: Any) -> dict[str, str | list[str]]:
    headers: dict[str, str | list[str]] = {
        "svix-id": MSG_ID, "svix-timestamp": str(NOW), "svix-signature": sign(body),
        "Content-Type": "application/json", "User-Agent": "Svix-Webhooks/1.63.1",
    }
    headers.update(overrides)
    return {k: v for k, v in headers.items() if v is not None}


def with_body(event: dict[str, Any], body: bytes, *, encode: bool) -> dict[str, Any]:
    """``event`` carrying ``body`` as its source does: base64 when ``encode``
    (API Gateway does so for binary media types, ALB and Function URLs for
    anything not text), else the text itself."""
    flag = "is_base64_encoded" if "is_base64_encoded" in event else "isBase64Encoded"
    event[flag] = encode
    event["body"] = base64.b64encode(body).decode() if encode else body.decode("utf-8")
    return event


def hook_event(shape: str, body: bytes = BODY, *, encode: bool = True, **headers: Any) -> dict[str, Any]:
    return with_body(make_event(shape, method="POST", headers=svix_headers(body, **headers)), body, encode=encode)


def recording_handler() -> tuple[list[dict[str, Any]], Any]:
    calls: list[dict[str, Any]] = []

    @require_webhook(signing_secret=SECRET, clock=clock)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        calls.append(event)
        return {"statusCode": 204, "body": ""}

    return calls, handler


# -- a genuine delivery, on every source ------------------------------------------------------


@pytest.mark.parametrize("encode", [True, False], ids=["base64", "text"])
@pytest.mark.parametrize("shape", SHAPES)
def test_a_signed_delivery_verifies_on_every_source(shape: str, encode: bool) -> None:
    event = hook_event(shape, encode=encode)
    hook = verify_webhook(event, SECRET, clock=clock)
    assert isinstance(hook, WebhookEvent)
    assert hook.to_dict() == {
        "type": "user.created", "object": "event", "data": PAYLOAD["data"], "event_attributes": PAYLOAD["event_attributes"],
        "timestamp": NOW * 1000, "instance_id": PAYLOAD["instance_id"],
    }
    assert (hook.id, hook.timestamp, hook.payload) == (MSG_ID, NOW, PAYLOAD)
    assert hook.data["first_name"] == "Zoë"
    calls, handler = recording_handler()
    assert handler(event, None) == {"statusCode": 204, "body": ""}
    assert [c["webhook"].id for c in calls] == [MSG_ID]


def test_a_powertools_data_class_above_require_webhook() -> None:
    """``@event_source`` above ``@require_webhook``: verified on the dict the
    data class wraps, where ``event["webhook"]`` is read from."""
    from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2, event_source

    @event_source(data_class=APIGatewayProxyEventV2)
    @require_webhook(signing_secret=SECRET, clock=clock)
    def handler(event: APIGatewayProxyEventV2, context: Any) -> dict[str, Any]:
        return {"statusCode": 200, "body": event["webhook"].type}

    assert handler(hook_event("http_v2"), None) == {"statusCode": 200, "body": "user.created"}
    forged = handler(hook_event("http_v2", **{"svix-signature": sign(BODY, secret=OTHER_SECRET)}), None)
    assert forged["statusCode"] == 400


@pytest.mark.parametrize("shape", SHAPES)
def test_refusals_are_400s_in_the_sources_format_and_never_run_the_handler(shape: str) -> None:
    calls, handler = recording_handler()
    event = hook_event(shape, **{"svix-signature": sign(BODY, secret=OTHER_SECRET)})
    response = handler(event, None)
    assert calls == [] and "webhook" not in event
    assert response["statusCode"] == 400
    headers = response_headers(shape, response)
    assert headers["x-clerk-webhook-reason"] == "webhook-signature-mismatch"
    assert headers["content-type"] == "application/json"
    assert json.loads(response["body"]) == {
        "error": "bad_request", "reason": "webhook-signature-mismatch", "message": "No matching signature found",
    }
    if shape.startswith(("alb", "vpc_lattice")):
        assert response["statusDescription"] == "400 Bad Request"
    if shape == "alb_multi":
        assert "headers" not in response and response["multiValueHeaders"]["x-clerk-webhook-reason"] == [
            "webhook-signature-mismatch"
        ]


def test_binary_safe_bodies_are_verified_byte_for_byte() -> None:
    # Every non-ASCII range JSON text can carry, line and paragraph separators too.
    payload = {"type": "email.created", "data": {"body": "😀 \u2028\u2029 ü \u0000 中文 \ufeff"}}
    body = json.dumps(payload, ensure_ascii=False).encode()
    for shape in ("http_v2", "function_url", "rest_v1", "alb_multi"):
        hook = verify_webhook(hook_event(shape, body), SECRET, clock=clock)
        assert hook.data == payload["data"]
    # The same JSON with \\u escapes is another body: its signature does not carry over.
    escaped = json.dumps(payload).encode()
    event = with_body(make_event("http_v2", method="POST", headers=svix_headers(body)), escaped, encode=True)
    with pytest.raises(WebhookSignatureMismatchError):
        verify_webhook(event, SECRET, clock=clock)


def test_a_body_that_is_not_utf8_is_refused_even_when_signed() -> None:
    body = b'{"type": "user.created", "data": {"name": "\xff\xfe"}}'
    with pytest.raises(WebhookPayloadInvalidError):
        verify_webhook(hook_event("function_url", body), SECRET, clock=clock)
    tampered = hook_event("function_url", body)
    tampered["body"] = base64.b64encode(body.replace(b"\xff", b"\xfe")).decode()
    with pytest.raises(WebhookSignatureMismatchError):
        verify_webhook(tampered, SECRET, clock=clock)


def test_a_leading_bom_is_not_signed_content_as_fetch_text_drops_it() -> None:
    event = with_body(make_event("http_v2", method="POST", headers=svix_headers(BODY)), b"\xef\xbb\xbf" + BODY, encode=True)
    assert verify_webhook(event, SECRET, clock=clock).type == "user.created"


@pytest.mark.parametrize(
    "body",
    [b"", b"null", b"[1]", b'"user.created"', b"5", b"{}", b'{"type": 5}', b'{"type": "a", "n": NaN}',
     b'{"type": "a"', b"[" * 100_000 + b"]" * 100_000, b'{"type": "a"} x'],
)
def test_a_signed_body_that_is_not_a_json_event_object_is_refused(body: bytes) -> None:
    with pytest.raises(WebhookPayloadInvalidError):
        verify_webhook(hook_event("http_v2", body), SECRET, clock=clock)


# -- tampering, secrets, signatures -----------------------------------------------------------


@pytest.mark.parametrize("part", ["body", "svix-id", "svix-timestamp"])
def test_tampering_with_any_signed_part_is_refused(part: str) -> None:
    event = hook_event("rest_v1")
    if part == "body":
        event["body"] = base64.b64encode(BODY.replace(b"user.created", b"user.deleted")).decode()
    else:
        value = "msg_other" if part == "svix-id" else str(NOW + 1)
        event["headers"][part] = value
        event["multiValueHeaders"][part] = [value]
    with pytest.raises(WebhookSignatureMismatchError):
        verify_webhook(event, SECRET, clock=clock)


def test_one_valid_signature_among_several_is_enough() -> None:
    valid = sign(BODY)
    decoy = sign(BODY, secret=OTHER_SECRET)
    for header in (
        f"{decoy} {valid}", f"v1,invalid_signature {valid}", f"{valid} {decoy}", f"v2,{valid[3:]} {valid}",
        f"  {decoy}   {valid}  ", f"{valid},trailing-parts-ignored", f"v1a,x v1,{valid[3:]}",
    ):
        assert verify_webhook(hook_event("http_v2", **{"svix-signature": header}), SECRET, clock=clock)
    for header in (
        decoy, valid.upper(), valid.rstrip("="), valid.replace("+", "-").replace("/", "_"), "v2," + valid[3:],
        valid[3:], "V1," + valid[3:], "v1, " + valid[3:], "v1," + valid[3:] + "=",
    ):
        with pytest.raises(WebhookSignatureMismatchError):
            verify_webhook(hook_event("http_v2", **{"svix-signature": header}), SECRET, clock=clock)


@pytest.mark.parametrize("shape", ["rest_v1", "alb_multi"])
def test_repeated_signature_header_lines_are_joined_as_fetch_joins_them(shape: str) -> None:
    event = hook_event(shape, **{"svix-signature": [sign(BODY, secret=OTHER_SECRET), sign(BODY)]})
    assert verify_webhook(event, SECRET, clock=clock).id == MSG_ID


def test_header_names_in_any_case() -> None:
    event = hook_event("rest_v1")
    for name in ("svix-id", "svix-timestamp", "svix-signature"):
        value = event["headers"].pop(name)
        del event["multiValueHeaders"][name]
        event["headers"][name.upper()] = value
        event["multiValueHeaders"][name.title()] = [value]
    assert verify_webhook(event, SECRET, clock=clock).id == MSG_ID


def test_header_values_are_trimmed_of_javascripts_whitespace() -> None:
    event = hook_event("http_v2", **{"svix-id": f"\u00a0 {MSG_ID}\t", "svix-timestamp": f"\ufeff{NOW} ",
                                     "svix-signature": f"\u3000{sign(BODY)}\u2028"})
    assert verify_webhook(event, SECRET, clock=clock).id == MSG_ID


def test_the_wrong_secret_is_a_mismatch() -> None:
    with pytest.raises(WebhookSignatureMismatchError):
        verify_webhook(hook_event("function_url"), OTHER_SECRET, clock=clock)


# -- headers and timestamps -------------------------------------------------------------------


@pytest.mark.parametrize(
    "absent",
    [("svix-id",), ("svix-timestamp",), ("svix-signature",), ("svix-id", "svix-signature"),
     ("svix-id", "svix-timestamp", "svix-signature")],
)
def test_missing_headers_are_named_in_order(absent: tuple[str, ...]) -> None:
    for blank in (None, "", "  \t ", "\n"):
        event = hook_event("http_v2", **dict.fromkeys(absent, blank))
        with pytest.raises(WebhookHeadersMissingError) as info:
            verify_webhook(event, SECRET, clock=clock)
        assert info.value.missing == absent
        assert str(info.value) == f"Missing required webhook headers: {', '.join(absent)}"


def test_standard_webhooks_header_names_are_not_read() -> None:
    # @clerk/backend reads the svix-* names only.
    event = hook_event("http_v2")
    for name in ("id", "timestamp", "signature"):
        event["headers"][f"webhook-{name}"] = event["headers"].pop(f"svix-{name}")
    with pytest.raises(WebhookHeadersMissingError):
        verify_webhook(event, SECRET, clock=clock)


@pytest.mark.parametrize("offset", [-300, -1, 0, 1, 300])
def test_timestamps_within_five_minutes_either_way_verify(offset: int) -> None:
    stamp = NOW + offset
    event = hook_event("http_v2", **{"svix-timestamp": str(stamp), "svix-signature": sign(BODY, timestamp=stamp)})
    assert verify_webhook(event, SECRET, clock=clock).timestamp == stamp


@pytest.mark.parametrize(
    ("offset", "error"), [(-301, WebhookTimestampTooOldError), (301, WebhookTimestampTooNewError),
                          (-86_400 * 365, WebhookTimestampTooOldError), (86_400, WebhookTimestampTooNewError)],
)
def test_stale_and_future_timestamps_are_refused_however_signed(offset: int, error: type[Exception]) -> None:
    stamp = NOW + offset
    event = hook_event("http_v2", **{"svix-timestamp": str(stamp), "svix-signature": sign(BODY, timestamp=stamp)})
    with pytest.raises(error):
        verify_webhook(event, SECRET, clock=clock)


@pytest.mark.parametrize(
    "header", [f"{NOW}.752", f"+{NOW}", f"000{NOW}", f"{NOW}abc", f"{NOW} 12", f"{NOW}e3", f"{NOW}_000"]
)
def test_timestamps_read_as_parseint_reads_them(header: str) -> None:
    # @clerk/backend's own tests send `(Date.now() / 1000).toString()`: a fraction.
    event = hook_event("http_v2", **{"svix-timestamp": header})  # signed with the integer
    assert verify_webhook(event, SECRET, clock=clock).timestamp == NOW


@pytest.mark.parametrize(
    ("header", "error"),
    [("abc", WebhookTimestampInvalidError), ("-", WebhookTimestampInvalidError), ("0x1", WebhookTimestampTooOldError),
     ("٣٣٣", WebhookTimestampInvalidError), ("1_764_000_000", WebhookTimestampTooOldError),
     ("-0", WebhookTimestampTooOldError), ("9" * 5000, WebhookTimestampTooNewError),
     ("-" + "9" * 5000, WebhookTimestampTooOldError), ("++1", WebhookTimestampInvalidError)],
)
def test_timestamps_that_are_not_recent_numbers(header: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        verify_webhook(hook_event("http_v2", **{"svix-timestamp": header}), SECRET, clock=clock)


def test_huge_headers_are_answered_not_raised() -> None:
    calls, handler = recording_handler()
    junk = " ".join(f"v1,{base64.b64encode(bytes([n % 256]) * 32).decode()}" for n in range(2_000))
    assert handler(hook_event("alb", **{"svix-signature": f"{junk} {sign(BODY)}"}), None)["statusCode"] == 204
    for headers in ({"svix-signature": junk}, {"svix-id": "m" * 70_000}, {"svix-timestamp": "1" * 70_000},
                    {"svix-signature": "," * 70_000}, {"svix-signature": " " * 70_000}):
        response = handler(hook_event("alb", **headers), None)
        assert response["statusCode"] == 400
    assert len(calls) == 1


# -- broken events, config --------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["http_v2", "rest_v1", "alb_multi"])
def test_a_broken_body_is_a_400_event_malformed(shape: str) -> None:
    calls, handler = recording_handler()
    for field, value in (("body", "%%%not base64"), ("body", 5), ("isBase64Encoded", "yes"), ("body", "QQ")):
        event = hook_event(shape)
        event[field] = value
        response = handler(event, None)
        assert response["statusCode"] == 400
        assert response_headers(shape, response)["x-clerk-auth-reason"] == "event-malformed"
        with pytest.raises(EventError):
            verify_webhook(event, SECRET, clock=clock)
    assert calls == []


@pytest.mark.parametrize("event", [{}, [], {"Records": [{"eventSource": "aws:sqs"}]}, None])
def test_not_an_http_event_is_a_400(event: Any) -> None:
    calls, handler = recording_handler()
    response = handler(event, None)
    assert response["statusCode"] == 400 and json.loads(response["body"])["reason"] == "event-unsupported"
    assert calls == []


def test_a_missing_body_is_an_empty_one() -> None:
    event = hook_event("http_v2", b"")
    del event["body"]
    with pytest.raises(WebhookPayloadInvalidError):  # signed over "", then not JSON
        verify_webhook(event, SECRET, clock=clock)


def test_secrets_with_and_without_prefix_padding_or_surrounding_whitespace() -> None:
    bare = SECRET.removeprefix("whsec_")
    unpadded = "whsec_" + base64.b64encode(b"k" * 16).decode().rstrip("=")
    assert signing_key(unpadded) == b"k" * 16
    for secret in (SECRET, bare, f"  {SECRET}\n"):
        assert signing_key(secret) == RAW_KEY
        assert verify_webhook(hook_event("http_v2"), secret, clock=clock).id == MSG_ID


@pytest.mark.parametrize(
    "bad",
    ["", "   ", "whsec_", "whsec_QQ", "whsec_abc def ghi jkl", "whsec_a%bcdefg", "whsec_QUJDRA===",
     "whsec_QUJDR", "whsec_QUJD=", "sk_live_" + "a" * 40, "whsec_" + "A" * 31 + "é", "whsec_abcd\r\nX-Evil: 1"],
)
def test_a_malformed_explicit_secret_fails_at_decoration_naming_the_argument(bad: str) -> None:
    with pytest.raises(ClerkConfigError) as info:
        require_webhook(signing_secret=bad)
    assert info.value.setting == "signing_secret"
    with pytest.raises(ClerkConfigError):
        verify_webhook(hook_event("http_v2"), bad, clock=clock)
    secret = bad.strip().removeprefix("whsec_")
    if len(secret) >= 4:
        assert secret not in str(info.value)


@pytest.mark.parametrize(
    "bad,fix",
    [("sk_live_" + "a" * 40, "it belongs in CLERK_SECRET_KEY"), ('"' + SECRET + '"', "remove the quotes")],
)
def test_a_secret_of_another_kind_or_quoted_says_the_fix(monkeypatch: pytest.MonkeyPatch, bad: str, fix: str) -> None:
    # The hint config's keys give (config.misplaced), for the signing secret too.
    monkeypatch.setenv("CLERK_WEBHOOK_SIGNING_SECRET", bad)
    from_env = require_webhook(lambda event, context: {"statusCode": 200})
    for call in (lambda: require_webhook(signing_secret=bad), lambda: from_env(hook_event("http_v2"), None)):
        with pytest.raises(ClerkConfigError) as info:
            call()
        assert fix in str(info.value) and "a" * 12 not in str(info.value)
        assert SECRET.removeprefix("whsec_") not in str(info.value)


def test_the_environment_secret_is_read_on_requests_and_an_argument_beats_it(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Any] = []

    @require_webhook(clock=clock)  # decorating never fails on the environment
    def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
        calls.append(event["webhook"])
        return {"statusCode": 200}

    with pytest.raises(ClerkConfigError) as info:
        handler(hook_event("http_v2"), None)
    assert info.value.setting == "CLERK_WEBHOOK_SIGNING_SECRET" and "is not set" in str(info.value)
    monkeypatch.setenv("CLERK_WEBHOOK_SIGNING_SECRET", "  ")  # blank counts as unset
    with pytest.raises(ClerkConfigError, match="is not set"):
        handler(hook_event("http_v2"), None)
    monkeypatch.setenv("CLERK_WEBHOOK_SIGNING_SECRET", "whsec_not base64!")
    with pytest.raises(ClerkConfigError) as info:
        handler(hook_event("http_v2"), None)
    assert info.value.setting == "CLERK_WEBHOOK_SIGNING_SECRET" and "not base64" not in str(info.value)
    monkeypatch.setenv("CLERK_WEBHOOK_SIGNING_SECRET", SECRET)  # fixed: the next request verifies
    assert handler(hook_event("http_v2"), None) == {"statusCode": 200}
    assert verify_webhook(hook_event("http_v2"), clock=clock).id == MSG_ID
    monkeypatch.setenv("CLERK_WEBHOOK_SIGNING_SECRET", OTHER_SECRET)  # rotated: read again
    assert handler(hook_event("http_v2"), None)["statusCode"] == 400
    explicit = require_webhook(signing_secret=SECRET, clock=clock)(lambda event, context: {"statusCode": 202})
    assert explicit(hook_event("http_v2"), None) == {"statusCode": 202}
    with pytest.raises(WebhookSignatureMismatchError):
        verify_webhook_payload(BODY, svix_headers(), clock=clock)
    assert len(calls) == 1


def test_no_secret_signature_or_body_in_answers_exceptions_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    calls, handler = recording_handler()
    signature = sign(BODY)
    secrets = {SECRET, SECRET.removeprefix("whsec_"), signature[3:], OTHER_SECRET.removeprefix("whsec_"), "zoe@example.com"}
    seen: list[str] = []
    for overrides in ({"svix-signature": sign(BODY, secret=OTHER_SECRET)}, {"svix-id": None},
                      {"svix-timestamp": "0"}, {"svix-timestamp": str(NOW + 999)}, {"svix-timestamp": "x"}):
        event = hook_event("function_url", **overrides)
        seen.append(json.dumps(handler(event, None)))
        try:
            verify_webhook(event, SECRET, clock=clock)
        except WebhookVerificationError as exc:
            seen += [str(exc), repr(exc)]
    seen.append(repr(verify_webhook(hook_event("function_url"), SECRET, clock=clock)))
    seen += [r.getMessage() for r in caplog.records]
    assert len(seen) > 10 and calls == []
    assert [s for s in seen for secret in secrets if secret in s] == []


def test_verify_webhook_payload_takes_raw_bytes_or_text_and_any_header_mapping() -> None:
    headers = {"SVIX-ID": [MSG_ID], "Svix-Timestamp": str(NOW), "svix-signature": ("v1,x", sign(BODY))}
    assert verify_webhook_payload(BODY, headers, SECRET, clock=clock).id == MSG_ID
    assert verify_webhook_payload(BODY.decode(), headers, SECRET, clock=clock).type == "user.created"
    with pytest.raises(WebhookHeadersMissingError):
        verify_webhook_payload(BODY, {"svix-id": MSG_ID}, SECRET, clock=clock)


def test_the_decorator_keeps_the_handler_and_works_bare(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLERK_WEBHOOK_SIGNING_SECRET", SECRET)

    @require_webhook
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        """Sync users."""
        return {"statusCode": 200}

    assert handler.__name__ == "handler" and handler.__doc__ == "Sync users." and handler.__wrapped__
    assert handler(hook_event("http_v2"), None)["statusCode"] == 400  # the real clock: a stale timestamp
    with pytest.raises(TypeError):
        require_webhook("not a handler")  # type: ignore[call-overload]


def test_importing_clerk_serverless_does_not_load_webhooks_nor_webhooks_anything_heavy() -> None:
    code = (
        "import sys, clerk_serverless\n"
        "print('clerk_serverless.webhooks' in sys.modules)\n"
        "import clerk_serverless.webhooks\n"
        "print(','.join(m for m in ('cryptography', 'logging', 'ssl', 'http.client') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == ["False", ""]


# -- @clerk/backend's own cases (packages/backend/src/__tests__/webhooks.test.ts) ------------------

CLERK_SECRET = "whsec_" + base64.b64encode(b"test_signing_secret_32_chars_long").decode()
CLERK_BODY = json.dumps({"type": "user.created", "data": {"id": "user_123"}}, separators=(",", ":")).encode()


def clerk_case(headers: dict[str, str], body: bytes = CLERK_BODY) -> dict[str, Any]:
    event = make_event("function_url", method="POST", headers=headers)
    return with_body(event, body, encode=False)


def clerk_signature(msg_id: str, timestamp: str, body: bytes) -> str:
    return Webhook(CLERK_SECRET).sign(msg_id, datetime.fromtimestamp(int(float(timestamp)), tz=UTC), body.decode())


def test_clerk_cases_missing_and_blank_headers() -> None:
    for headers in ({}, {"svix-id": "", "svix-timestamp": "   ", "svix-signature": "v1,signature"},
                    {"svix-id": "  \t  ", "svix-timestamp": "\n", "svix-signature": ""}):
        with pytest.raises(WebhookHeadersMissingError, match="Missing required webhook headers"):
            verify_webhook(clerk_case(headers), CLERK_SECRET, clock=clock)
    with pytest.raises(WebhookHeadersMissingError, match="svix-id, svix-timestamp, svix-signature"):
        verify_webhook(clerk_case({}), CLERK_SECRET, clock=clock)


def test_clerk_cases_signatures_and_event_attributes() -> None:
    stamp = f"{NOW}.75"  # (Date.now() / 1000).toString()
    valid = clerk_signature("msg_123", stamp, CLERK_BODY)
    for signature in (valid, f"v1,invalid_signature {valid}"):
        hook = verify_webhook(clerk_case({"svix-id": "msg_123", "svix-timestamp": stamp, "svix-signature": signature}),
                              CLERK_SECRET, clock=clock)
        assert (hook.type, hook.data["id"]) == ("user.created", "user_123")
    with pytest.raises(WebhookSignatureMismatchError, match="No matching signature found"):
        verify_webhook(clerk_case({"svix-id": "msg_123", "svix-timestamp": stamp,
                                   "svix-signature": "v1,invalid_signature_here"}), CLERK_SECRET, clock=clock)
    body = json.dumps({"type": "user.created", "data": {"id": "user_123", "email": "test@example.com"},
                       "event_attributes": {"http_request": {"client_ip": "127.0.0.1",
                                                             "user_agent": "Mozilla/5.0 (Test)"}}}).encode()
    hook = verify_webhook(clerk_case({"svix-id": "msg_123", "svix-timestamp": stamp,
                                      "svix-signature": clerk_signature("msg_123", stamp, body)}, body),
                          CLERK_SECRET, clock=clock)
    assert hook.event_attributes["http_request"] == {"client_ip": "127.0.0.1", "user_agent": "Mozilla/5.0 (Test)"}


# -- hostile input ----------------------------------------------------------------------------

NASTY = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", " ", "v1,", "v1", ",", "v1,,", "\x00", "é", "😀", "\ufeff", "-", "+", "1e9", "NaN", "Infinity"]),
    st.builds(lambda n: "9" * n, st.integers(0, 6_000)),
)
WRONG = st.one_of(st.none(), st.integers(), st.booleans(), st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


@st.composite
def hostile_hook_events(draw: Any) -> dict[str, Any]:
    shape = draw(st.sampled_from(SHAPES))
    event = hook_event(shape, encode=draw(st.booleans()))
    multi = "multiValueHeaders" in event and "headers" not in event
    for _ in range(draw(st.integers(0, 3))):
        name = draw(st.sampled_from(["svix-id", "SVIX-TIMESTAMP", "Svix-Signature", "svix-signature"]))
        value = draw(st.one_of(NASTY, WRONG)) if draw(st.integers(0, 4)) == 0 else draw(NASTY)
        if multi:
            event["multiValueHeaders"][name] = [value] if draw(st.booleans()) else value
        else:
            event["headers"][name] = value
    for _ in range(draw(st.integers(0, 2))):
        field = draw(st.sampled_from(["body", "isBase64Encoded", "headers", "multiValueHeaders", "requestContext"]))
        event[field] = draw(st.one_of(WRONG, NASTY)) if draw(st.booleans()) else None
    return event


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(event=hostile_hook_events())
def test_require_webhook_never_raises_and_runs_the_handler_only_for_a_valid_signature(event: dict[str, Any]) -> None:
    original = copy.deepcopy(event)
    calls, handler = recording_handler()
    response = handler(event, None)
    assert isinstance(response, dict) and type(response["statusCode"]) is int and isinstance(response["body"], str)
    if calls:
        assert response == {"statusCode": 204, "body": ""}
        assert verify_webhook(original, SECRET, clock=clock).id == MSG_ID
    else:
        assert response["statusCode"] == 400 and response["isBase64Encoded"] is False
        headers = response.get("headers") or {k: v[0] for k, v in response["multiValueHeaders"].items()}
        assert headers.get("x-clerk-webhook-reason") or headers.get("x-clerk-auth-reason")


def test_an_environment_secret_that_is_not_text_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLERK_WEBHOOK_SIGNING_SECRET", "whsec_\udcff\udcfe")  # undecodable bytes, surrogate-escaped
    with pytest.raises(ClerkConfigError) as info:
        verify_webhook(hook_event("http_v2"), clock=clock)
    assert info.value.setting == "CLERK_WEBHOOK_SIGNING_SECRET"
