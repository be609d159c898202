"""A FastAPI app behind Mangum, served by a Function URL.

`require_session` wraps the Mangum handler: every request is authenticated
before FastAPI sees it, and routes read the session from the Lambda event.
"""

from fastapi import FastAPI, Request
from mangum import Mangum

from clerk_serverless import require_session

app = FastAPI(title="clerk-serverless FastAPI sample")


def current_session(request: Request):
    return request.scope["aws.event"]["session"]


@app.get("/api/whoami")
def whoami(request: Request):
    session = current_session(request)
    return {"user_id": session.user_id, "session_id": session.session_id, "org_id": session.org_id}


@app.get("/api/items/{item_id}")
def item(item_id: str, request: Request):
    return {"item_id": item_id, "owner": current_session(request).user_id}


handler = require_session(Mangum(app, lifespan="off"))
