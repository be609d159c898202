"""A local API Gateway for a SAM template, without containers.

``python -m clerk_serverless_local serve`` routes real HTTP requests on
127.0.0.1 to the template's functions the way API Gateway would — what
``sam local start-api`` does, without Docker:

* HTTP API routes (``HttpApi`` events) at ``/path``, with payload 2.0 events;
* REST API routes (``Api`` events) under their stage, ``/Prod/path``, with
  payload 1.0 events;
* each Function URL on its own port (the next ones after ``--port``);
* CORS preflights answered from the template's ``CorsConfiguration`` /
  ``Cors`` / ``FunctionUrlConfig.Cors``, and, like HTTP APIs and Function
  URLs do, CORS headers on every answer to an allowed origin (the
  function's own CORS headers are replaced);
* functions run through the same runner as ``local invoke``, kept warm.

One log line per request.
"""

from __future__ import annotations

import mimetypes
import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Callable

from .payloads import HttpRequest, HttpResponse, from_proxy_response, http_api_v2, rest_api_v1
from .runner import InitError, LocalFunction
from .runtime_api import QuietServer
from .template import Template, TemplateError


@dataclass(frozen=True)
class Cors:
    """A CORS configuration, normalised from any of the template's three forms."""

    origins: tuple[str, ...]
    credentials: bool
    headers: tuple[str, ...]
    methods: tuple[str, ...]
    expose: tuple[str, ...]
    max_age: int | None
    on_every_response: bool  # HTTP APIs and Function URLs; REST only answers preflights

    def allows(self, origin: str | None) -> bool:
        return origin is not None and (origin in self.origins or "*" in self.origins)

    def preflight_headers(self, origin: str | None) -> list[tuple[str, str]]:
        if not self.allows(origin):
            return []
        headers = [("Access-Control-Allow-Origin", origin if self.credentials or "*" not in self.origins else "*"),
                   ("Access-Control-Allow-Methods", ",".join(self.methods) or "*"),
                   ("Access-Control-Allow-Headers", ",".join(self.headers) or "*"),
                   ("Vary", "Origin")]
        if self.credentials:
            headers.append(("Access-Control-Allow-Credentials", "true"))
        if self.max_age is not None:
            headers.append(("Access-Control-Max-Age", str(self.max_age)))
        return headers

    def response_headers(self, origin: str | None) -> list[tuple[str, str]]:
        if not self.allows(origin):
            return []
        headers = [("Access-Control-Allow-Origin", origin if self.credentials or "*" not in self.origins else "*"), ("Vary", "Origin")]
        if self.credentials:
            headers.append(("Access-Control-Allow-Credentials", "true"))
        if self.expose:
            headers.append(("Access-Control-Expose-Headers", ",".join(self.expose)))
        return headers


def _list(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = value.strip("'").split(",")
    return tuple(str(v).strip() for v in value if str(v).strip())


def cors_from_http_api(config: Any) -> Cors | None:
    if not isinstance(config, dict):
        return None
    return Cors(_list(config.get("AllowOrigins")), bool(config.get("AllowCredentials")), _list(config.get("AllowHeaders")),
                _list(config.get("AllowMethods")), _list(config.get("ExposeHeaders")),
                int(config["MaxAge"]) if config.get("MaxAge") is not None else None, True)


def cors_from_rest_api(config: Any) -> Cors | None:
    if isinstance(config, str):
        config = {"AllowOrigin": config}
    if not isinstance(config, dict):
        return None
    max_age = _list(config.get("MaxAge"))
    return Cors(_list(config.get("AllowOrigin")), bool(config.get("AllowCredentials")), _list(config.get("AllowHeaders")),
                _list(config.get("AllowMethods")), (), int(max_age[0]) if max_age else None, False)


@dataclass(frozen=True)
class Authorizer:
    """A Lambda authorizer guarding a route: its function and response format."""

    function: str
    simple_responses: bool


def _authorizer(template: Template, api: dict[str, Any], event_props: dict[str, Any]) -> Authorizer | None:
    name = (event_props.get("Auth") or {}).get("Authorizer") or (api.get("Auth") or {}).get("DefaultAuthorizer")
    if not name or name == "NONE":
        return None
    config = ((api.get("Auth") or {}).get("Authorizers") or {}).get(name) or {}
    arn = config.get("FunctionArn")
    function = arn.get("Fn::GetAtt", [None])[0] if isinstance(arn, dict) else None
    if function is None:
        return None
    return Authorizer(function, bool(template.resolve(config.get("EnableSimpleResponses"))))


@dataclass
class Route:
    """One API route of the template."""

    api: str  # "http" or "rest"
    method: str  # an HTTP method, or "ANY"
    path: str  # as in the template: /todos/{proxy+}
    function: str
    stage: str
    cors: Cors | None
    pattern: re.Pattern[str]
    authorizer: Authorizer | None = None

    @classmethod
    def make(cls, api: str, method: str, path: str, function: str, stage: str, cors: Cors | None,
             authorizer: Authorizer | None = None) -> "Route":
        regex = ""
        for segment in path.strip("/").split("/") if path.strip("/") else []:
            if segment.startswith("{") and segment.endswith("+}"):
                regex += f"/(?P<{segment[1:-2]}>.+)"
            elif segment.startswith("{") and segment.endswith("}"):
                regex += f"/(?P<{segment[1:-1]}>[^/]+)"
            else:
                regex += "/" + re.escape(segment)
        return cls(api, method.upper(), path, function, stage, cors, re.compile(f"^{regex or '/'}/?$"), authorizer)

    @property
    def specificity(self) -> tuple[int, int]:
        segments = [s for s in self.path.split("/") if s]
        return ("+}" in self.path, -sum(not s.startswith("{") for s in segments))  # type: ignore[return-value]

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if self.method not in ("ANY", method):
            return None
        found = self.pattern.match(path)
        return found.groupdict() if found else None

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"


def _ref(value: Any) -> str | None:
    return value.get("Ref") if isinstance(value, dict) else None


def collect_routes(template: Template) -> tuple[list[Route], dict[str, Cors | None]]:
    """The template's API routes (most specific first), and its Function URL
    functions with their CORS configuration."""
    resources = template.resources
    routes: list[Route] = []
    urls: dict[str, Cors | None] = {}
    implicit_http = [rid for rid, r in resources.items() if isinstance(r, dict) and r.get("Type") == "AWS::Serverless::HttpApi"]
    for function in template.function_ids():
        props = resources[function].get("Properties") or {}
        for event in (props.get("Events") or {}).values():
            kind, eprops = event.get("Type"), event.get("Properties") or {}
            if kind == "HttpApi":
                api_id = _ref(eprops.get("ApiId")) or (implicit_http[0] if implicit_http else None)
                api = (resources.get(api_id) or {}).get("Properties") or {} if api_id else {}
                cors = cors_from_http_api(template.resolve(api.get("CorsConfiguration")))
                path, method = eprops.get("Path"), eprops.get("Method", "ANY")
                routes.append(Route.make("http", method if path else "ANY", path or "/{proxy+}", function, "$default", cors,
                                         _authorizer(template, api, eprops)))
            elif kind == "Api":
                api_id = _ref(eprops.get("RestApiId"))
                api = (resources.get(api_id) or {}).get("Properties") or {} if api_id else {}
                stage = str(template.resolve(api.get("StageName")) or "Prod")
                cors = cors_from_rest_api(template.resolve(api.get("Cors")))
                routes.append(Route.make("rest", eprops.get("Method", "ANY"), eprops["Path"], function, stage, cors,
                                         _authorizer(template, api, eprops)))
        if props.get("FunctionUrlConfig") is not None:
            urls[function] = cors_from_http_api(template.resolve((props["FunctionUrlConfig"] or {}).get("Cors")))
    routes.sort(key=lambda r: r.specificity)
    return routes, urls


class LocalGateway:
    """Serves a template's APIs and Function URLs on loopback ports."""

    def __init__(
        self,
        template: Template,
        *,
        env_vars: dict[str, Any] | None = None,
        host: str = "127.0.0.1",
        port: int = 3001,
        static_dir: str | Path | None = None,
        ephemeral_url_ports: bool = False,
        log: Callable[[str], None] = print,
        warn: Callable[[str], None] | None = None,
        **function_options: Any,
    ) -> None:
        self.template = template
        self.routes, self.url_functions = collect_routes(template)
        self.static_dir = Path(static_dir).resolve() if static_dir else None
        self.log = log
        self._env_vars = env_vars or {}
        self._warn = warn
        self._function_options = function_options
        self._functions: dict[str, tuple[LocalFunction, threading.Lock]] = {}
        self._functions_lock = threading.Lock()
        self._servers: list[QuietServer] = []
        self._started = False
        self.urls: dict[str, str] = {}
        self._bind(host, port, None)
        for offset, function in enumerate(self.url_functions, start=1):
            self._bind(host, 0 if port == 0 or ephemeral_url_ports else port + offset, function)

    # -- lifecycle --------------------------------------------------------------------

    def _bind(self, host: str, port: int, url_function: str | None) -> None:
        server = QuietServer((host, port), self._handler(url_function))
        self._servers.append(server)
        name = url_function or "api"
        self.urls[name] = f"http://{host}:{server.server_address[1]}"

    def start(self) -> "LocalGateway":
        for server in self._servers:
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self._started = True
        return self

    def stop(self) -> None:
        for server in self._servers:
            if self._started:  # shutdown() waits for serve_forever, which never ran otherwise
                server.shutdown()
            server.server_close()
        for function, _ in self._functions.values():
            function.close()

    def __enter__(self) -> "LocalGateway":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- requests ----------------------------------------------------------------------

    def _function(self, logical_id: str) -> tuple[LocalFunction, threading.Lock]:
        with self._functions_lock:
            if logical_id not in self._functions:
                function = LocalFunction(self.template, logical_id, env_vars=self._env_vars, warn=self._warn, **self._function_options)
                self._functions[logical_id] = (function, threading.Lock())
            return self._functions[logical_id]

    def _invoke(self, logical_id: str, event: dict[str, Any], payload_v2: bool) -> HttpResponse:
        function, lock = self._function(logical_id)
        with lock:  # one request at a time per warm environment, as in Lambda
            try:
                result = function.invoke(event)
            except InitError as exc:
                self.log(f"  {logical_id} failed to start: {exc}")
                return HttpResponse(502, [("Content-Type", "application/json")], b'{"message":"Internal Server Error"}')
        if result.error is not None:
            timed_out = result.error.get("errorType") == "Sandbox.Timedout"
            self.log(f"  {logical_id}: {result.error.get('errorType')}: {result.error.get('errorMessage')}")
            status, message = (504, "Endpoint request timed out") if timed_out else (502, "Internal Server Error")
            return HttpResponse(status, [("Content-Type", "application/json")], f'{{"message":"{message}"}}'.encode())
        return from_proxy_response(result.payload, payload_v2=payload_v2)

    def handle(self, request: HttpRequest, url_function: str | None) -> tuple[HttpResponse, str]:
        """The answer to ``request`` and a label for the log line."""
        origin = request.header("origin")
        preflight = request.method == "OPTIONS" and origin is not None and request.header("access-control-request-method") is not None
        if url_function is not None:
            cors = self.url_functions[url_function]
            if preflight and cors is not None:
                return HttpResponse(204, cors.preflight_headers(origin), b""), f"{url_function} (preflight)"
            domain = f"{url_function.lower()}.lambda-url.us-east-1.on.aws"
            event = http_api_v2(request, domain=domain)
            return self._with_cors(self._invoke(url_function, event, True), cors, origin), url_function
        route, params = self._route(request, any_method=preflight)
        if preflight:
            cors = route.cors if route is not None else next((r.cors for r in self.routes if r.api == "http" and r.cors), None)
            if cors is not None:
                status = 204 if cors.on_every_response else 200
                return HttpResponse(status, cors.preflight_headers(origin) if cors.on_every_response else _rest_preflight(cors), b""), "preflight"
        if route is None:
            return self._static(request), "static" if self.static_dir else "no route"
        if route.api == "http":
            event = http_api_v2(request, domain="localhost", route_key=route.route_key, path_parameters=params)
        else:
            local = HttpRequest(request.method, request.path.removeprefix(f"/{route.stage}") or "/", request.query,
                                request.headers, request.body, request.source_ip)
            event = rest_api_v1(local, resource=route.path, stage=route.stage, domain="localhost", path_parameters=params)
        label = f"{route.function} ({route.api})"
        if route.authorizer is not None:
            refused = self._authorize(route, event)
            if refused is not None:
                return self._with_cors(refused, route.cors, origin), f"{route.authorizer.function} (authorizer)"
        response = self._invoke(route.function, event, route.api == "http")
        return self._with_cors(response, route.cors, origin), label

    def _authorize(self, route: Route, event: dict[str, Any]) -> HttpResponse | None:
        """Run the route's Lambda authorizer as API Gateway does; None lets the
        request through (with the authorizer's context on the event)."""
        assert route.authorizer is not None
        arn = f"arn:aws:execute-api:us-east-1:123456789012:local/{route.stage}/{event.get('httpMethod') or route.method}{route.path}"
        probe = dict(event, type="REQUEST", **({"routeArn": arn, "identitySource": []} if route.api == "http" else {"methodArn": arn}))
        function, lock = self._function(route.authorizer.function)
        json_type = [("Content-Type", "application/json")]
        with lock:
            try:
                result = function.invoke(probe)
            except InitError:
                return HttpResponse(500, json_type, b'{"message":"Internal Server Error"}')
        if result.error is not None:
            if result.error.get("errorMessage") == "Unauthorized":
                return HttpResponse(401, json_type, b'{"message":"Unauthorized"}')
            return HttpResponse(500, json_type, b'{"message":"Internal Server Error"}')
        answer = result.payload if isinstance(result.payload, dict) else {}
        if route.api == "http" and route.authorizer.simple_responses:
            allowed, context = answer.get("isAuthorized") is True, answer.get("context") or {}
        else:
            statements = (answer.get("policyDocument") or {}).get("Statement") or [{}]
            allowed, context = statements[0].get("Effect") == "Allow", answer.get("context") or {}
        if not allowed:
            return HttpResponse(403, json_type, b'{"message":"Forbidden"}')
        if route.api == "http":
            event["requestContext"]["authorizer"] = {"lambda": context}
        else:
            event["requestContext"]["authorizer"] = {"principalId": answer.get("principalId"), **context}
        return None

    def _route(self, request: HttpRequest, any_method: bool = False) -> tuple[Route | None, dict[str, str] | None]:
        for route in self.routes:
            path = request.path
            if route.api == "rest":
                prefix = f"/{route.stage}"
                if not (path == prefix or path.startswith(prefix + "/")):
                    continue
                path = path[len(prefix):] or "/"
            params = route.match(route.method if any_method else request.method, path)
            if params is not None:
                return route, params
        return None, None

    @staticmethod
    def _with_cors(response: HttpResponse, cors: Cors | None, origin: str | None) -> HttpResponse:
        if cors is None or not cors.on_every_response:
            return response
        headers = [(k, v) for k, v in response.headers if not k.lower().startswith("access-control-")]
        return HttpResponse(response.status, headers + cors.response_headers(origin), response.body)

    def _static(self, request: HttpRequest) -> HttpResponse:
        not_found = HttpResponse(404, [("Content-Type", "application/json")], b'{"message":"Not Found"}')
        if self.static_dir is None or request.method not in ("GET", "HEAD"):
            return not_found
        target = (self.static_dir / request.path.lstrip("/")).resolve()
        if target.is_dir():
            target = target / "index.html"
        if self.static_dir not in target.parents or not target.is_file():
            return not_found
        kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        return HttpResponse(200, [("Content-Type", kind), ("Cache-Control", "no-store")], target.read_bytes())

    def _handler(self, url_function: str | None) -> type[BaseHTTPRequestHandler]:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                started = time.monotonic()
                path, _, query = self.path.partition("?")
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = HttpRequest(self.command, path, query, list(self.headers.items()), body, self.client_address[0])
                try:
                    response, label = gateway.handle(request, url_function)
                except TemplateError as exc:
                    response, label = HttpResponse(500, [("Content-Type", "text/plain")], str(exc).encode()), "error"
                # Logged before answering, so the line exists once the client has its answer.
                gateway.log(f"{self.command} {self.path} -> {label} {response.status} {(time.monotonic() - started) * 1000:.1f} ms")
                self.send_response(response.status)
                for name, value in response.headers:
                    if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(response.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(response.body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _serve  # noqa: N815

        return Handler


def _rest_preflight(cors: Cors) -> list[tuple[str, str]]:
    """The OPTIONS mock integration SAM creates for a REST API's ``Cors``:
    the configured values, whatever the request's origin."""
    headers = [("Access-Control-Allow-Origin", ",".join(cors.origins)), ("Access-Control-Allow-Methods", ",".join(cors.methods)),
               ("Access-Control-Allow-Headers", ",".join(cors.headers))]
    if cors.credentials:
        headers.append(("Access-Control-Allow-Credentials", "true"))
    if cors.max_age is not None:
        headers.append(("Access-Control-Max-Age", str(cors.max_age)))
    return headers
