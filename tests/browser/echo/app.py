"""A test-only function that tells the page exactly what its handler got.

tests/test_browser_bodies_and_paths.py routes it behind the HTTP API, the REST
API and a Function URL (``handler``, the toolkit's decorator), and behind a
second Function URL as a FastAPI app through Mangum (``fastapi_handler``).
What the page sent must be what the handler sees, byte for byte: the body's
length and SHA-256, its content type, the path and the query as the event
carries them. ``?do=`` picks another answer: ``png`` (a binary image),
``bytes`` (the body sent back as application/octet-stream), ``redirect``
(302 to ``?to=``), ``big`` (a large JSON answer of ``?n=`` items), ``sse``
(one server-sent event). With $ECHO_LOG set, each description is also
appended there (beacons and forms: the page cannot read their answers).
Nothing secret is echoed or recorded (no token, no cookie).
"""

import base64
import hashlib
import json
import os

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from mangum import Mangum

from clerk_serverless import ClerkAuth, require_session

auth = ClerkAuth()
# A 1x1 PNG (a red pixel).
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)


def _body(event):
    raw = event.get("body") or ""
    return base64.b64decode(raw) if event.get("isBase64Encoded") else raw.encode("utf-8")


def _described(body, content_type, user, **extra):
    return {"user_id": user, "length": len(body), "sha256": hashlib.sha256(body).hexdigest(),
            "content_type": content_type, **extra}


def _big(n):
    return {"items": [{"id": i, "name": f"item {i}", "tags": ["α", "β", "ç"], "text": "x" * 200} for i in range(n)]}


@auth.require_session
def handler(event, context):
    """The toolkit's decorator in front: the answer describes the request."""
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    query = event.get("queryStringParameters") or {}
    do = query.get("do", "echo")
    user = event["session"].user_id
    if do == "png":
        return {"statusCode": 200, "headers": {"Content-Type": "image/png", "Cache-Control": "no-store"},
                "body": base64.b64encode(PNG).decode(), "isBase64Encoded": True}
    if do == "bytes":
        return {"statusCode": 200, "headers": {"Content-Type": "application/octet-stream"},
                "body": base64.b64encode(_body(event)).decode(), "isBase64Encoded": True}
    if do == "redirect":
        return {"statusCode": 302, "headers": {"Location": query.get("to", "/")}, "body": ""}
    if do == "big":
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
                "body": json.dumps(_big(int(query.get("n", "1000"))))}
    if do == "sse":
        return {"statusCode": 200, "headers": {"Content-Type": "text/event-stream", "Cache-Control": "no-store"},
                "body": f"retry: 60000\ndata: {user}\n\n"}
    ctx = event.get("requestContext") or {}
    described = _described(
        _body(event), headers.get("content-type", ""), user,
        method=event.get("httpMethod") or (ctx.get("http") or {}).get("method"),
        path=event.get("rawPath") or event.get("path"), path_parameters=event.get("pathParameters"),
        query=query, raw_query=event.get("rawQueryString"),
        multi_query=event.get("multiValueQueryStringParameters"), base64=bool(event.get("isBase64Encoded")),
    )
    if os.environ.get("ECHO_LOG"):
        with open(os.environ["ECHO_LOG"], "a", encoding="utf-8") as log:
            log.write(json.dumps({"probe": query.get("probe", ""), **described}) + "\n")
    return {"statusCode": 200, "headers": {"Content-Type": "application/json; charset=utf-8"},
            "body": json.dumps(described, ensure_ascii=False)}


app = FastAPI()


@app.api_route("/{rest:path}", methods=["GET", "HEAD", "POST", "PUT"])
async def echo(rest: str, request: Request):
    """The same answers from a FastAPI app, through Mangum."""
    user = request.scope["aws.event"]["session"].user_id
    do = request.query_params.get("do", "echo")
    if do == "png":
        return Response(PNG, media_type="image/png")
    body = await request.body()
    if do == "bytes":
        return Response(body, media_type="application/octet-stream")
    if do == "redirect":
        return RedirectResponse(request.query_params.get("to", "/"), status_code=302)
    if do == "big":
        return JSONResponse(_big(int(request.query_params.get("n", "1000"))))
    if do == "sse":
        return Response(f"retry: 60000\ndata: {user}\n\n", media_type="text/event-stream")
    return JSONResponse(_described(body, request.headers.get("content-type", ""), user, method=request.method,
                                   path=request.url.path, path_parameters={"rest": rest},
                                   query=dict(request.query_params), raw_query=request.url.query))


fastapi_handler = require_session(Mangum(app, lifespan="off"))
