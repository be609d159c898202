"""GET /greet — a public page that greets signed-in users by their ID."""

import json

from clerk_serverless import with_session


@with_session
def handler(event, context):
    session = event["session"]
    message = f"Welcome back, {session.user_id}!" if session else "Hello, stranger. Sign in to see your data."
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"message": message, "user_id": session.user_id if session else None}),
    }
