"""What the installed Powertools can do, for tests that need it."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from pydantic import BaseModel

from .events import routed


class ProbeBody(BaseModel):  # at module level: the annotations are strings, resolved from here
    """A one-field JSON body model."""

    title: str


def body_models_unsupported() -> str | None:
    """Why this Powertools cannot validate a JSON body model (3.0.0, the
    lowest-dependencies job's, reads a bare model parameter as a query field
    with the pydantic it is installed with), or None where it can."""
    app = APIGatewayHttpResolver(enable_validation=True)

    @app.post("/probe")
    def probe(todo: ProbeBody) -> dict[str, Any]:
        return {"title": todo.title}

    event = routed("http_v2", "/probe", method="POST", headers={"content-type": "application/json"})
    event.update(body=json.dumps({"title": "ok"}), isBase64Encoded=False)
    try:
        status = app.resolve(event, None)["statusCode"]  # type: ignore[arg-type]  # no LambdaContext needed
    except AssertionError as error:  # Powertools' own "use Body()" assertion
        return f"this Powertools cannot validate a body model: {error}"
    return None if status == 200 else f"this Powertools answers {status} to a valid body model"
