"""A test-only function that records every request its handler gets.

The browser tests route it (tests/test_browser_csrf.py adds it to the
template they serve) behind the HTTP API, the REST API, a Function URL and
the Lambda authorizer. A line in $RECORDER_LOG is proof that a request
reached a handler: the side effect a cross-site write must never have.
Nothing secret is recorded (no token, no cookie).
"""

import base64
import fcntl
import json
import os

from clerk_serverless import ClerkAuth

own = ClerkAuth()
trusting = ClerkAuth(trust_authorizer=True)


def _record(event, session):
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    body = event.get("body") or ""
    if event.get("isBase64Encoded") and body:
        body = base64.b64decode(body).decode("utf-8", "replace")
    ctx = event.get("requestContext") or {}
    method = event.get("httpMethod") or (ctx.get("http") or {}).get("method")
    query = event.get("queryStringParameters") or {}
    line = {"method": method, "probe": str(query.get("probe", "")), "user": session.user_id,
            "origin": headers.get("origin"), "content_type": headers.get("content-type", ""),
            "x_requested_with": headers.get("x-requested-with", ""), "body": body[:300]}
    with open(os.environ["RECORDER_LOG"], "a", encoding="utf-8") as log:
        fcntl.flock(log, fcntl.LOCK_EX)
        log.write(json.dumps(line) + "\n")
    return {"statusCode": 200, "headers": {"Content-Type": "application/json", "Cache-Control": "no-store"},
            "body": json.dumps({"user_id": session.user_id, "method": method, "recorded": True})}


@own.require_session
def handler(event, context):
    """Verifies the token itself."""
    return _record(event, event["session"])


@trusting.require_session
def trusted_handler(event, context):
    """Behind the Clerk authorizer: trusts its context."""
    return _record(event, event["session"])
