"""A Powertools Event Handler app: /todos routes for the signed-in user."""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from clerk_serverless import require_session

logger = Logger()
app = APIGatewayHttpResolver()
TODOS: dict[str, list[str]] = {}


@app.get("/todos")
def list_todos():
    user_id = app.current_event.raw_event["session"].user_id
    return {"user_id": user_id, "todos": TODOS.get(user_id, [])}


@app.post("/todos")
def add_todo():
    user_id = app.current_event.raw_event["session"].user_id
    TODOS.setdefault(user_id, []).append((app.current_event.json_body or {}).get("title", "untitled"))
    return {"user_id": user_id, "todos": TODOS[user_id]}, 201


@require_session
@logger.inject_lambda_context
def handler(event, context):
    return app.resolve(event, context)
