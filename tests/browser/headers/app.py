"""A test-only function answering with the headers a frontend reads.

tests/test_browser_round20.py routes it behind the HTTP API, the REST API and
a Function URL. A signed-in request gets 201 with ``Location``, ``ETag``,
``X-Total-Count`` and ``X-Request-Id`` (none CORS-safelisted: a page on
another origin reads them only when they are exposed); with ``?expose=1``
the handler also sets its own ``Access-Control-Expose-Headers`` naming them.
Nothing secret is answered (no token, no cookie).
"""

import json

from clerk_serverless import require_session

NAMES = "ETag, Location, X-Total-Count, X-Request-Id"


@require_session
def handler(event, context):
    """The toolkit's decorator in front: the answer carries the headers."""
    query = event.get("queryStringParameters") or {}
    headers = {"Content-Type": "application/json", "Cache-Control": "no-store", "ETag": '"v1"',
               "Location": "/items/1", "X-Total-Count": "42", "X-Request-Id": "req-1"}
    if query.get("expose") == "1":
        headers["Access-Control-Expose-Headers"] = NAMES
    return {"statusCode": 201, "headers": headers, "body": json.dumps({"user_id": event["session"].user_id})}
