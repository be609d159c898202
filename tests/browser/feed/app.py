"""A test-only function as a Lambda GraphQL endpoint and a paginated list are commonly written.

tests/test_browser_round22.py routes it behind the HTTP API and the REST API
(``/graphql`` and ``/feed``) with the toolkit's ``require_session``:

- ``POST`` with ``application/json`` ``{"query", "variables", "operationName"}``
  (what Apollo Client, urql and graphql-request send) answers
  ``{"data": …}``: ``Me`` gives ``viewer { id }``, ``Save`` echoes
  ``save(title:)``, anything else ``{"errors": […]}`` (a GraphQL error, 200).
  No GraphQL library: the operation is picked by its name, as the test's
  pages only send these two.
- ``GET ?query=…&operationName=…&variables=…``: the same, GraphQL over GET
  (urql sends queries so by default, ``preferGetMethod: "within-url-limit"``);
  a mutation over GET is refused (405), as the GraphQL-over-HTTP spec has it:
  a cross-site GET carries the cookie, and only writes are refused for that.
- ``GET ?page=<n>`` gives one page of three items and the next page's
  number (``null`` after the third page), as useSWRInfinite and
  useInfiniteQuery read it.

Each call is appended to $RECORDER_LOG in the recorder's format
(tests/browser/recorder), tied to its request by ``?probe=<n>``: proof that a
request reached the handler. Nothing secret is recorded (no token, no cookie).
"""

import base64
import fcntl
import json
import os

from clerk_serverless import ClerkAuth

auth = ClerkAuth()
PAGES = 3


def _record(event, user, method, body):
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    query = event.get("queryStringParameters") or {}
    line = {"method": method, "probe": str(query.get("probe", "")), "user": user, "origin": headers.get("origin"),
            "content_type": headers.get("content-type", ""), "x_requested_with": headers.get("x-requested-with", ""),
            "body": body[:300]}
    with open(os.environ["RECORDER_LOG"], "a", encoding="utf-8") as log:
        fcntl.flock(log, fcntl.LOCK_EX)
        log.write(json.dumps(line) + "\n")


def _answer(status, body):
    return {"statusCode": status, "headers": {"Content-Type": "application/json", "Cache-Control": "no-store"},
            "body": json.dumps(body)}


def _graphql(request, user):
    name = request.get("operationName") if isinstance(request, dict) else None
    variables = (request.get("variables") if isinstance(request, dict) else None) or {}
    if name == "Me":
        return {"data": {"viewer": {"__typename": "User", "id": user}}}
    if name == "Save":
        return {"data": {"save": {"__typename": "SaveResult", "ok": True, "title": str(variables.get("title", "")),
                                  "by": user}}}
    return {"errors": [{"message": f"unknown operation {name!r}"}], "data": None}


@auth.require_session
def handler(event, context):
    """The session is verified by the decorator; the answer is GraphQL's or a page."""
    ctx = event.get("requestContext") or {}
    method = event.get("httpMethod") or (ctx.get("http") or {}).get("method")
    user = event["session"].user_id
    body = event.get("body") or ""
    if event.get("isBase64Encoded") and body:
        body = base64.b64decode(body).decode("utf-8", "replace")
    _record(event, user, method, body)
    if method == "POST":
        try:
            request = json.loads(body)
        except ValueError:
            return _answer(400, {"errors": [{"message": "the body is not JSON"}]})
        return _answer(200, _graphql(request, user))
    query = event.get("queryStringParameters") or {}
    if "query" in query:  # GraphQL over GET (urql sends queries so by default: preferGetMethod)
        if str(query["query"]).lstrip().startswith("mutation"):
            # Never a mutation from a GET (GraphQL over HTTP): a cross-site GET carries the cookie.
            return {**_answer(405, {"errors": [{"message": "mutations need POST"}]}), "headers": {
                "Content-Type": "application/json", "Allow": "POST"}}
        try:
            variables = json.loads(query.get("variables") or "{}")
        except ValueError:
            variables = {}
        return _answer(200, _graphql({"operationName": query.get("operationName"), "variables": variables}, user))
    page = int(query.get("page", "0")) if str(query.get("page", "0")).isdigit() else 0
    items = [{"id": page * 3 + i, "owner": user} for i in range(3)] if page < PAGES else []
    return _answer(200, {"user_id": user, "page": page, "items": items, "next": page + 1 if page + 1 < PAGES else None})
