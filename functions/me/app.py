"""GET /me — who is calling? 401 unless signed in."""

import json

from clerk_serverless import require_session


@require_session
def handler(event, context):
    session = event["session"]
    if session is None:  # an OPTIONS preflight: browsers send no credentials
        return {"statusCode": 204, "body": ""}
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"user_id": session.user_id, "session": session.to_dict()}),
    }
