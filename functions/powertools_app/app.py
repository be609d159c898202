"""A Powertools Event Handler app: /todos routes for the signed-in user.

ClerkMiddleware authenticates every route; the audit trail (who, from which
device) goes through the Powertools Logger and outcome counters through
Metrics (EMF).
"""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from clerk_serverless import ClerkAuth
from clerk_serverless.integrations.powertools import ClerkMiddleware

logger = Logger()
metrics = Metrics(namespace="ClerkServerlessSample")
auth = ClerkAuth(logger=logger, metrics=metrics)  # configured from CLERK_* at cold start
app = APIGatewayHttpResolver()
app.use(middlewares=[ClerkMiddleware(auth=auth)])
TODOS: dict[str, list[str]] = {}


@app.get("/todos")
def list_todos():
    user_id = app.context["session"].user_id
    logger.info("listing todos")  # carries user_id, session_id, org_id, source_ip, user_agent
    return {"user_id": user_id, "todos": TODOS.get(user_id, [])}


@app.post("/todos")
def add_todo():
    user_id = app.context["session"].user_id
    TODOS.setdefault(user_id, []).append((app.current_event.json_body or {}).get("title", "untitled"))
    return {"user_id": user_id, "todos": TODOS[user_id]}, 201


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event, context):
    return app.resolve(event, context)
