"""Integrations, each imported only when used:

* :mod:`clerk_serverless.integrations.asgi` — Starlette/ASGI middleware;
* :mod:`clerk_serverless.integrations.fastapi` — FastAPI dependencies;
* :mod:`clerk_serverless.integrations.powertools` — Powertools Event Handler middleware;
* :mod:`clerk_serverless.integrations.openapi` — the OpenAPI scheme names both declare.

``require_session(Mangum(app))`` needs no integration: the decorators take
any callable.
"""
