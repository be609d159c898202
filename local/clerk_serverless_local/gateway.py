"""A local API Gateway for a SAM template, without containers.

``python -m clerk_serverless_local serve`` routes real HTTP requests on
127.0.0.1 to the template's functions the way API Gateway would — what
``sam local start-api`` does, without Docker:

* HTTP API routes (``HttpApi`` events) at ``/path``, with payload 2.0 events;
* REST API routes (``Api`` events) under their stage, ``/Prod/path``, with
  payload 1.0 events;
* each Function URL on its own port (the next ones after ``--port``);
* Lambda authorizers in front of the routes they guard, with the answers
  API Gateway gives when they refuse or fail, and identity sources checked
  before they run;
* CORS as each API type does it: HTTP APIs and Function URLs answer
  preflights from their ``CorsConfiguration`` / ``FunctionUrlConfig.Cors``
  and put CORS headers on every answer to an allowed origin (the function's
  own CORS headers are replaced, authorizer refusals included); a preflight
  that an ``ANY`` route behind a Lambda authorizer matches meets that
  authorizer first, as on AWS; a REST API
  sends ``OPTIONS`` to the function routed for it (an explicit
  ``Method: OPTIONS`` event), else to the mock integration SAM builds from
  ``Cors``, and passes its functions' answers through untouched;
* a REST API's own answers (authorizer refusals, unknown paths, failed
  functions) shaped by its ``GatewayResponses``;
* functions run through the same runner as ``local invoke``, kept warm.

Only requests whose ``Host`` is a loopback name, an IP address or an allowed
name are answered (``hosts.py``: DNS rebinding); 403 otherwise.

One whole log line per request, whatever the concurrency. Requests are read
with a deadline and strict framing: ``Content-Length`` only (a
``Transfer-Encoding`` is refused), bounded in size.
"""

from __future__ import annotations

import errno
import io
import json
import mimetypes
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, unquote_plus

from .hosts import HostRule, name_of
from .origins import origins_parameter
from .payloads import (
    MAX_EVENT_BYTES,
    HttpRequest,
    HttpResponse,
    binary_media,
    from_proxy_response,
    http_api_v2,
    rest_api_v1,
    too_large_for_lambda,
)
from .runner import InitError, LocalFunction
from .runtime_api import QuietServer
from .template import Template, TemplateError

MAX_BODY = MAX_EVENT_BYTES  # no body over Lambda's request limit can make an event under it
REQUEST_TIMEOUT = 30.0  # seconds to receive a whole request (head and body), idle keep-alive included
_JSON = [("Content-Type", "application/json")]
# Methods whose requests must say their length. Browsers send `Content-Length: 0`
# on a bodyless POST or PUT, but none on a bodyless PATCH (Chromium), which
# then has no body (RFC 9112 §6.3), as on any other method.
_BODY_METHODS = ("POST", "PUT")


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
        """Whether ``origin`` is one of the configured origins."""
        if origin is None:
            return False
        # "*", or a scheme wildcard (http-api-cors.html): "https://*" allows any https origin.
        return any(allowed in (origin, "*") or (allowed.endswith("://*") and origin.startswith(allowed[:-1])
                                                and len(origin) > len(allowed) - 1)
                   for allowed in self.origins)

    def allow_origin(self, origin: str) -> str:
        """``Access-Control-Allow-Origin`` for an allowed ``origin``: ``*`` when
        ``*`` is configured without credentials, else the origin itself."""
        return origin if self.credentials or "*" not in self.origins else "*"

    def preflight_headers(self, origin: str | None) -> list[tuple[str, str]]:
        """What API Gateway answers a preflight from ``origin``."""
        if not self.allows(origin):
            return []
        assert origin is not None
        headers = [("Access-Control-Allow-Origin", self.allow_origin(origin)),
                   ("Access-Control-Allow-Methods", ",".join(self.methods) or "*"),
                   ("Access-Control-Allow-Headers", ",".join(self.headers) or "*"),
                   ("Vary", "Origin")]
        if self.credentials:
            headers.append(("Access-Control-Allow-Credentials", "true"))
        if self.max_age is not None:
            headers.append(("Access-Control-Max-Age", str(self.max_age)))
        return headers

    def response_headers(self, origin: str | None) -> list[tuple[str, str]]:
        """The CORS headers put on every other answer to ``origin``."""
        if not self.allows(origin):
            return []
        assert origin is not None
        headers = [("Access-Control-Allow-Origin", self.allow_origin(origin)),
                   ("Vary", "Origin")]
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
    """An HTTP API's ``CorsConfiguration`` or a Function URL's ``Cors``."""
    if not isinstance(config, dict):
        return None
    return Cors(_list(config.get("AllowOrigins")), bool(config.get("AllowCredentials")),
                _list(config.get("AllowHeaders")), _list(config.get("AllowMethods")),
                _list(config.get("ExposeHeaders")),
                int(config["MaxAge"]) if config.get("MaxAge") is not None else None, True)


def cors_from_rest_api(config: Any) -> Cors | None:
    """A REST API's SAM ``Cors`` (what its mock OPTIONS integration answers)."""
    if isinstance(config, str):
        config = {"AllowOrigin": config}
    if not isinstance(config, dict):
        return None
    max_age = _list(config.get("MaxAge"))
    return Cors(_list(config.get("AllowOrigin")), bool(config.get("AllowCredentials")),
                _list(config.get("AllowHeaders")), _list(config.get("AllowMethods")), (),
                int(max_age[0]) if max_age else None, False)


# -- gateway errors and a REST API's GatewayResponses ----------------------------------


@dataclass(frozen=True)
class GatewayError:
    """An answer API Gateway makes itself: its REST response type, status and
    ``$context.error.message`` (``None`` where API Gateway answers ``null``)."""

    kind: str
    status: int
    message: str | None


UNAUTHORIZED = GatewayError("UNAUTHORIZED", 401, "Unauthorized")
ACCESS_DENIED = GatewayError("ACCESS_DENIED", 403,
                             "User is not authorized to access this resource with an explicit deny")
AUTHORIZER_ERROR = GatewayError("AUTHORIZER_CONFIGURATION_ERROR", 500, None)
MISSING_TOKEN = GatewayError("MISSING_AUTHENTICATION_TOKEN", 403, "Missing Authentication Token")
FUNCTION_ERROR = GatewayError("DEFAULT_5XX", 502, "Internal server error")  # Lambda errors and malformed proxy answers
INTEGRATION_TIMEOUT = GatewayError("INTEGRATION_TIMEOUT", 504, "Endpoint request timed out")
REQUEST_TOO_LARGE = GatewayError("REQUEST_TOO_LARGE", 413, "Request Too Large")
REST_INTEGRATION_TIMEOUT = 29.0
HTTP_INTEGRATION_TIMEOUT = 30.0  # an HTTP API's longest (and default) integration timeout
# What an HTTP API answers in the same situations (it has no gateway responses).
_HTTP_API_ANSWERS = {"UNAUTHORIZED": (401, "Unauthorized"), "ACCESS_DENIED": (403, "Forbidden"),
                     "AUTHORIZER_CONFIGURATION_ERROR": (500, "Internal Server Error")}
_DEFAULT_TEMPLATE = '{"message":$context.error.messageString}'
_CONTEXT_VARIABLE = re.compile(r"\$(?:context\.[A-Za-z0-9_.]+|[A-Za-z_][A-Za-z0-9_.]*)")
_REQUEST_MAPPING = re.compile(r"method\.request\.(header|querystring|path)\.(.+)")


@dataclass(frozen=True)
class GatewayResponse:
    """One entry of a REST API's ``GatewayResponses``."""

    status: int | None
    headers: tuple[tuple[str, str], ...]  # name, mapping expression
    templates: tuple[tuple[str, str], ...]  # content type, template


class GatewayResponses:
    """A REST API's ``GatewayResponses``, applied to the answers API Gateway
    makes itself, as it does: the response type's own entry, else
    ``DEFAULT_4XX`` / ``DEFAULT_5XX``; header values are mapping expressions
    (``'literal'``, ``method.request.header.<name>``, ``.querystring.``,
    ``.path.``); templates may use ``$context.error.message``,
    ``$context.error.messageString`` and ``$context.error.responseType``."""

    def __init__(self, api: str, config: Any) -> None:
        self.entries: dict[str, GatewayResponse] = {}
        for kind, spec in (config or {}).items() if isinstance(config, dict) else ():
            spec = spec or {}
            parameters = spec.get("ResponseParameters") or {}
            unsupported = set(parameters) - {"Headers"}
            if unsupported:
                raise TemplateError(f"{api}.GatewayResponses.{kind}: "
                                    f"ResponseParameters {', '.join(sorted(unsupported))} "
                                    "are not supported by the local gateway (Headers only)")
            headers = tuple((str(name), str(value)) for name, value in (parameters.get("Headers") or {}).items())
            for name, value in headers:
                if not (_literal(value) is not None or _REQUEST_MAPPING.fullmatch(value)):
                    raise TemplateError(f"{api}.GatewayResponses.{kind}: header {name} maps {value!r}, "
                                        "which the local gateway does not support "
                                        "('literal' or method.request.header|querystring|path.<name>)")
            templates = tuple((str(k), str(v)) for k, v in (spec.get("ResponseTemplates") or {}).items())
            for _, text in templates:
                for variable in _CONTEXT_VARIABLE.findall(text):
                    if variable not in ("$context.error.message", "$context.error.messageString",
                                        "$context.error.responseType"):
                        raise TemplateError(f"{api}.GatewayResponses.{kind}: template variable {variable} "
                                            "is not supported by the local gateway")
            status = spec.get("StatusCode")
            self.entries[str(kind)] = GatewayResponse(int(status) if status is not None else None, headers, templates)

    def render(self, error: GatewayError, request: HttpRequest,
               path_parameters: dict[str, str] | None = None) -> HttpResponse:
        """The answer API Gateway sends for ``error`` to ``request``."""
        entry = self.entries.get(error.kind) or self.entries.get("DEFAULT_4XX" if error.status < 500 else "DEFAULT_5XX")
        template = _DEFAULT_TEMPLATE
        if entry is not None and entry.templates:
            template = dict(entry.templates).get("application/json", entry.templates[0][1])
        message = json.dumps(error.message)
        body = (template.replace("$context.error.messageString", message)
                .replace("$context.error.message", error.message or "")
                .replace("$context.error.responseType", error.kind))
        headers = list(_JSON)
        if entry is not None:
            for name, expression in entry.headers:
                value = _map_request(expression, request, path_parameters or {})
                if value is not None:
                    headers = [(k, v) for k, v in headers if k.lower() != name.lower()] + [(name, value)]
        status = entry.status if entry is not None and entry.status is not None else error.status
        return HttpResponse(status, headers, body.encode())


def _literal(expression: str) -> str | None:
    if len(expression) >= 2 and expression[0] == expression[-1] == "'":
        return expression[1:-1]
    return None


def _map_request(expression: str, request: HttpRequest, path_parameters: dict[str, str]) -> str | None:
    literal = _literal(expression)
    if literal is not None:
        return literal
    found = _REQUEST_MAPPING.fullmatch(expression)
    if found is None:
        return None
    where, name = found.groups()
    if where == "header":
        return request.header(name)
    if where == "path":
        return path_parameters.get(name)
    return next((v for k, v in parse_qsl(request.query, keep_blank_values=True) if k == name), None)


# -- the template's routes ---------------------------------------------------------------


@dataclass(frozen=True)
class Authorizer:
    """A Lambda authorizer guarding a route: its function, payload and response
    format, and the identity sources API Gateway requires before calling it
    (``("header", "Authorization")``, ``("querystring", "x")``)."""

    function: str
    simple_responses: bool
    token: bool = False  # a REST TOKEN authorizer (else REQUEST)
    identity: tuple[tuple[str, str], ...] = ()
    validation: str | None = None  # a TOKEN authorizer's ValidationExpression


def _authorizer(template: Template, api: dict[str, Any], event_props: dict[str, Any], rest: bool) -> Authorizer | None:
    name = (event_props.get("Auth") or {}).get("Authorizer") or (api.get("Auth") or {}).get("DefaultAuthorizer")
    if not name or name == "NONE":
        return None
    config = ((api.get("Auth") or {}).get("Authorizers") or {}).get(name) or {}
    arn = config.get("FunctionArn")
    function = arn.get("Fn::GetAtt", [None])[0] if isinstance(arn, dict) else None
    if function is None:
        return None
    identity = template.resolve(config.get("Identity")) or {}
    token = rest and str(template.resolve(config.get("FunctionPayloadType")) or "TOKEN").upper() == "TOKEN"
    if token:
        sources: tuple[tuple[str, str], ...] = (("header", str(identity.get("Header") or "Authorization")),)
        validation = identity.get("ValidationExpression")
        return Authorizer(function, False, True, sources, str(validation) if validation else None)
    sources = tuple(("header", str(h)) for h in identity.get("Headers") or ()) + \
        tuple(("querystring", str(q)) for q in identity.get("QueryStrings") or ())
    return Authorizer(function, bool(template.resolve(config.get("EnableSimpleResponses"))), False, sources)


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
    api_id: str = ""  # logical ID of the API resource ("" for SAM's implicit one)

    @classmethod
    def make(cls, api: str, method: str, path: str, function: str, stage: str, cors: Cors | None,
             authorizer: Authorizer | None = None, api_id: str = "") -> Route:
        """A route, with the regular expression matching its path."""
        regex = ""
        for segment in path.strip("/").split("/") if path.strip("/") else []:
            if segment.startswith("{") and segment.endswith("+}"):
                regex += f"/(?P<{segment[1:-2]}>.+)"
            elif segment.startswith("{") and segment.endswith("}"):
                regex += f"/(?P<{segment[1:-1]}>[^/]+)"
            else:
                regex += "/" + re.escape(segment)
        return cls(api, method.upper(), path, function, stage, cors, re.compile(f"^{regex or '/'}/?$"),
                   authorizer, api_id)

    @property
    def specificity(self) -> tuple[bool, int, bool]:
        """Sort key: static paths before greedy ones, longer first, exact methods before ANY."""
        segments = [s for s in self.path.split("/") if s]
        return ("+}" in self.path, -sum(not s.startswith("{") for s in segments), self.method == "ANY")

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """Path parameters when ``method`` and ``path`` match this route."""
        if self.method not in ("ANY", method):
            return None
        found = self.pattern.match(path)
        return found.groupdict() if found else None

    @property
    def route_key(self) -> str:
        """The HTTP API route key, ``GET /items/{id}``."""
        return f"{self.method} {self.path}"


@dataclass
class RestApi:
    """A REST API of the template: its stage, SAM ``Cors``, ``GatewayResponses``
    and ``BinaryMediaTypes``."""

    api_id: str
    stage: str
    cors: Cors | None
    responses: GatewayResponses = field(default_factory=lambda: GatewayResponses("", None))
    binary_media_types: tuple[str, ...] = ()


def _ref(value: Any) -> str | None:
    return value.get("Ref") if isinstance(value, dict) else None


def collect_rest_apis(template: Template) -> dict[str, RestApi]:
    """The template's REST APIs by logical ID (``""`` for SAM's implicit one)."""
    apis: dict[str, RestApi] = {}
    for rid, resource in template.resources.items():
        if isinstance(resource, dict) and resource.get("Type") == "AWS::Serverless::Api":
            props = resource.get("Properties") or {}
            apis[rid] = RestApi(rid, str(template.resolve(props.get("StageName")) or "Prod"),
                                cors_from_rest_api(template.resolve(props.get("Cors"))),
                                GatewayResponses(rid, template.resolve(props.get("GatewayResponses"))),
                                binary_media_types(template, props))
    return apis


def binary_media_types(template: Template, props: dict[str, Any]) -> tuple[str, ...]:
    """A REST API's ``BinaryMediaTypes`` (else ``Globals.Api``'s), with SAM's
    ``~1`` read as ``/`` (``image~1png``, ``*~1*``)."""
    value = props.get("BinaryMediaTypes", ((template.document.get("Globals") or {}).get("Api") or {}).get(
        "BinaryMediaTypes"))
    return tuple(str(t).replace("~1", "/") for t in template.resolve(value) or ())


def collect_routes(template: Template) -> tuple[list[Route], dict[str, Cors | None]]:
    """The template's API routes (most specific first), and its Function URL
    functions with their CORS configuration."""
    resources = template.resources
    routes: list[Route] = []
    urls: dict[str, Cors | None] = {}
    implicit_http = [rid for rid, r in resources.items()
                     if isinstance(r, dict) and r.get("Type") == "AWS::Serverless::HttpApi"]
    for function in template.function_ids():
        props = resources[function].get("Properties") or {}
        for event in (props.get("Events") or {}).values():
            kind, eprops = event.get("Type"), event.get("Properties") or {}
            if kind == "HttpApi":
                api_id = _ref(eprops.get("ApiId")) or (implicit_http[0] if implicit_http else None)
                api = (resources.get(api_id) or {}).get("Properties") or {} if api_id else {}
                cors = cors_from_http_api(template.resolve(api.get("CorsConfiguration")))
                path, method = eprops.get("Path"), eprops.get("Method", "ANY")
                routes.append(Route.make("http", method if path else "ANY", path or "/{proxy+}", function, "$default",
                                         cors, _authorizer(template, api, eprops, rest=False), api_id or ""))
            elif kind == "Api":
                api_id = _ref(eprops.get("RestApiId"))
                api = (resources.get(api_id) or {}).get("Properties") or {} if api_id else {}
                stage = str(template.resolve(api.get("StageName")) or "Prod")
                cors = cors_from_rest_api(template.resolve(api.get("Cors")))
                routes.append(Route.make("rest", eprops.get("Method", "ANY"), eprops["Path"], function, stage, cors,
                                         _authorizer(template, api, eprops, rest=True), api_id or ""))
        if props.get("FunctionUrlConfig") is not None:
            urls[function] = cors_from_http_api(template.resolve((props["FunctionUrlConfig"] or {}).get("Cors")))
    routes.sort(key=lambda r: r.specificity)
    return routes, urls


# -- the gateway ---------------------------------------------------------------------------


class LocalGateway:
    """Serves a template's APIs and Function URLs on loopback ports.

    ``authorize_static_origin``: when serving ``static_dir`` and the
    template's authorized-origins parameter (the one feeding
    ``CLERK_AUTHORIZED_PARTIES``) was not set explicitly, add this gateway's
    own page origin (``http://localhost:<port>``, and its ``127.0.0.1``
    spelling) to it, so pages it serves are authorized parties under either
    loopback name. ``self.added_origins`` says which, if any.

    ``spa``: a single-page app's fallback — a GET or HEAD under
    ``static_dir`` that names no file and accepts ``text/html`` (a browser
    navigating to a client-side route) is answered ``static_dir/index.html``,
    unless a route serves that path under another method (then its 404).

    ``function_logs``: pass what the functions print to ``log`` (as ``sam
    local start-api`` shows it), one line at a time, prefixed with the
    function's logical ID.
    """

    def __init__(
        self,
        template: Template,
        *,
        env_vars: dict[str, Any] | None = None,
        host: str = "127.0.0.1",
        port: int = 3001,
        static_dir: str | Path | None = None,
        spa: bool = False,
        ephemeral_url_ports: bool = False,
        log: Callable[[str], None] = print,
        warn: Callable[[str], None] | None = None,
        authorize_static_origin: bool = False,
        request_timeout: float = REQUEST_TIMEOUT,
        max_body: int = MAX_BODY,
        allowed_hosts: Iterable[str] = (),
        function_logs: bool = False,
        **function_options: Any,
    ) -> None:
        self._log_lock = threading.Lock()
        self._log_sink = log
        self._warn_sink = warn
        self.static_dir = Path(static_dir).resolve() if static_dir else None
        project = template.root.resolve()
        if self.static_dir is not None and (project == self.static_dir or self.static_dir in project.parents):
            # Anyone who can reach the port (--host 0.0.0.0: the LAN) would read env.json's secret key,
            # the dev signing key and the code.
            raise ValueError(f"--static {static_dir} holds the SAM project itself ({project}): it would serve "
                             "env.json, the dev key and the functions' code; give the frontend's own directory")
        self.spa = spa
        self.request_timeout = request_timeout
        self.max_body = max_body
        # DNS rebinding: loopback names and IP addresses only, the bound name, and these (hosts.py).
        self.hosts = HostRule([*allowed_hosts, host])
        self._env_vars = env_vars or {}
        self._function_options = function_options
        self._function_logs = function_logs
        self._functions: dict[str, tuple[LocalFunction, threading.Lock]] = {}
        self._functions_lock = threading.Lock()
        self._servers: list[QuietServer] = []
        self._started = False
        self.urls: dict[str, str] = {}
        self.added_origin: str | None = None
        self.added_origins: list[str] = []
        try:
            self._bind(host, port, None)
            if authorize_static_origin and self.static_dir is not None:
                template = self._authorize_own_origin(template)
            self.template = template
            self.routes, self.url_functions = collect_routes(template)
            self.rest_apis = collect_rest_apis(template)
            # SAM's implicit API (Api events without RestApiId) takes Globals' settings.
            self._implicit_binary_types = binary_media_types(template, {})
            for offset, function in enumerate(self.url_functions, start=1):
                self._bind(host, 0 if port == 0 or ephemeral_url_ports else port + offset, function)
        except BaseException:
            for server in self._servers:
                server.server_close()
            raise

    # -- logging: one whole line per call, whatever the concurrency ---------------

    def log(self, line: str) -> None:
        """Hand one line to the log sink, never interleaved with another."""
        with self._log_lock:
            self._log_sink(line)

    def _warn(self, message: str) -> None:
        with self._log_lock:
            if self._warn_sink is not None:
                self._warn_sink(message)
            else:
                self._log_sink(f"warning: {message}")

    # -- lifecycle --------------------------------------------------------------------

    def _bind(self, host: str, port: int, url_function: str | None) -> None:
        try:
            server = QuietServer((host, port), self._handler(url_function))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            what = f"{url_function}'s Function URL" if url_function else "the API"
            raise OSError(exc.errno, f"port {port} on {host} is in use (another serve?), so {what} cannot listen "
                                     "there: stop that process or pass --port") from None
        self._servers.append(server)
        name = url_function or "api"
        self.urls[name] = f"http://{host}:{server.server_address[1]}"

    def origin(self, name: str = "api") -> str:
        """The origin to open in a browser: ``http://localhost:<port>`` when
        bound to loopback (what the banner prints), else the bound address."""
        url = self.urls[name]
        return url.replace("http://127.0.0.1:", "http://localhost:", 1)

    def _authorize_own_origin(self, template: Template) -> Template:
        own = self.origin()
        parameter = origins_parameter(template)
        if parameter is None or parameter in template.overrides or own in template.parameters[parameter]:
            return template  # explicit settings win; the banner says when the page is left out
        # The page may be opened under either loopback name (the banner prints
        # localhost; a browser's history or a copied address may say 127.0.0.1).
        spellings = [own, self.urls["api"]] if self.urls["api"] != own else [own]
        self.added_origin = own
        self.added_origins = [o for o in spellings if o not in template.parameters[parameter]]
        return template.with_overrides({parameter: ",".join([*template.parameters[parameter], *self.added_origins])})

    def start(self) -> LocalGateway:
        """Serve in background threads."""
        for server in self._servers:
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self._started = True
        return self

    def stop(self) -> None:
        """Stop serving and retire every warm function."""
        for server in self._servers:
            if self._started:  # shutdown() waits for serve_forever, which never ran otherwise
                server.shutdown()
            server.server_close()
        for function, _ in self._functions.values():
            function.close()

    def __enter__(self) -> LocalGateway:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- invoking functions ------------------------------------------------------------

    def _function(self, logical_id: str) -> tuple[LocalFunction, threading.Lock]:
        with self._functions_lock:
            if logical_id not in self._functions:
                sink = self._function_log_sink(logical_id) if self._function_logs else None
                function = LocalFunction(self.template, logical_id, env_vars=self._env_vars, warn=self._warn,
                                         log_sink=sink, **self._function_options)
                self._functions[logical_id] = (function, threading.Lock())
            return self._functions[logical_id]

    def _function_log_sink(self, logical_id: str) -> Callable[[str], None]:
        """Each line a function prints (its logs, a framework's traceback),
        as a whole log line naming the function; our bootstrap's END markers
        are left out."""
        def sink(text: str) -> None:
            line = text.rstrip("\r\n")
            if not line.startswith("END RequestId: "):
                # Escaped as request lines are: a function printing what a request
                # carried (a header, a body) must not rewrite the terminal (CR, ANSI).
                self.log(f"  {logical_id}| {_escaped(line, keep=chr(9))}")
        return sink

    def _invoke(self, logical_id: str, event: dict[str, Any], payload_v2: bool, rest: bool = False,
                function_url: bool = False, decode_base64: bool = True) -> HttpResponse | GatewayError:
        """The function's answer as HTTP, or the error API Gateway answers instead.

        A failed function (an exception, a crash, a timeout inside the
        integration's limit, a malformed answer): REST 502 through its gateway
        responses, HTTP API 500 ``{"message":"Internal Server Error"}``,
        Function URL 502. An event over Lambda's request limit is 413 before
        the function runs (REST: ``REQUEST_TOO_LARGE``). ``decode_base64``: as
        :func:`~.payloads.from_proxy_response`'s."""
        if too_large_for_lambda(event):  # Lambda refuses it before the function runs
            self.log(f"  {logical_id}: the event is over Lambda's 6 MiB request limit (base64 bodies grow by a third)")
            return REQUEST_TOO_LARGE if rest else HttpResponse(413, _JSON, b'{"message":"Request Entity Too Large"}')
        function, lock = self._function(logical_id)
        failed = HttpResponse(502 if function_url else 500, _JSON, b'{"message":"Internal Server Error"}')
        with lock:  # one request at a time per warm environment, as in Lambda
            try:
                result = function.invoke(event)
            except InitError as exc:
                self.log(f"  {logical_id} failed to start: {exc}")
                return FUNCTION_ERROR if rest else failed
        if result.error is not None:
            timed_out = result.error.get("errorType") == "Sandbox.Timedout"
            self.log(f"  {logical_id}: {result.error.get('errorType')}: {result.error.get('errorMessage')}")
            if rest:  # a function timing out before API Gateway's 29 s is a function error
                return (INTEGRATION_TIMEOUT if timed_out and function.spec.timeout >= REST_INTEGRATION_TIMEOUT
                        else FUNCTION_ERROR)
            if timed_out and not function_url and function.spec.timeout >= HTTP_INTEGRATION_TIMEOUT:
                return HttpResponse(504, _JSON, b'{"message":"Endpoint request timed out"}')
            return failed
        response = from_proxy_response(result.payload, payload_v2=payload_v2, decode_base64=decode_base64)
        if response.status == 502 and not (isinstance(result.payload, dict) and "statusCode" in result.payload
                                           and str(result.payload["statusCode"]).isdigit()):
            return FUNCTION_ERROR if rest else failed  # a malformed proxy answer
        return response

    # -- requests ------------------------------------------------------------------------

    def handle(self, request: HttpRequest, url_function: str | None) -> tuple[HttpResponse, str]:
        """The answer to ``request`` and a label for the log line."""
        origin = request.header("origin")
        preflight = (request.method == "OPTIONS" and origin is not None
                     and request.header("access-control-request-method") is not None)
        if url_function is not None:
            cors = self.url_functions[url_function]
            if preflight and cors is not None:
                return HttpResponse(204, cors.preflight_headers(origin), b""), f"{url_function} (preflight)"
            domain = f"{url_function.lower()}.lambda-url.us-east-1.on.aws"
            event = http_api_v2(request, domain=domain)
            answer = self._invoke(url_function, event, True, function_url=True)
            assert isinstance(answer, HttpResponse)
            return self._with_cors(answer, cors, origin), url_function
        route, params = self._route(request)
        nearby, _ = self._route(request, any_method=True)  # the path's API, whatever the method
        if preflight and (route is None or route.api == "http") and (nearby is None or nearby.api == "http"):
            # An HTTP API with a CORS configuration answers preflights itself,
            # before routes and authorizers.
            cors = (nearby.cors if nearby is not None
                    else next((r.cors for r in self.routes if r.api == "http" and r.cors), None))
            if cors is not None and route is not None and route.authorizer is not None:
                # A route that takes OPTIONS (ANY, $default) keeps its
                # authorizer for preflights too, which carry no credentials.
                event = _http_api_event(request, route, params)
                refused = self._authorize(route, event, request)
                if refused is not None:
                    return (self._gateway_answer(route, refused, request, params, origin),
                            f"{route.authorizer.function} (authorizer, preflight)")
            if cors is not None:
                return HttpResponse(204, cors.preflight_headers(origin), b""), "preflight"
        if (request.method == "OPTIONS" and nearby is not None and nearby.api == "rest" and nearby.cors is not None
                and (route is None or route.method != "OPTIONS")):
            # No OPTIONS method of its own on this REST path: SAM's mock
            # integration answers when the API has `Cors`, whatever the origin.
            return HttpResponse(200, _rest_preflight(nearby.cors), b""), "preflight (REST mock)"
        if route is None:
            api = self._rest_api_under(request.path)
            if api is not None:  # a path under a REST stage that no method serves
                return api.responses.render(MISSING_TOKEN, request), f"{api.api_id or 'RestApi'} (no route)"
            # A path an API serves under another method is that API's 404, never the app's page.
            return self._static(request, spa=self.spa and nearby is None), "static" if self.static_dir else "no route"
        api = self.rest_apis.get(route.api_id) if route.api == "rest" else None
        binary_types = api.binary_media_types if api is not None else self._implicit_binary_types
        if route.api == "http":
            event = _http_api_event(request, route, params)
        else:
            local = HttpRequest(request.method, request.path.removeprefix(f"/{route.stage}") or "/", request.query,
                                request.headers, request.body, request.source_ip)
            # Without a Content-Type, API Gateway takes the body for application/json.
            binary = binary_media(request.header("content-type") or "application/json", binary_types)
            event = rest_api_v1(local, resource=route.path, stage=route.stage, domain="localhost",
                                path_parameters=params, binary=binary)
        label = f"{route.function} ({route.api})"
        if route.authorizer is not None:
            refused = self._authorize(route, event, request)
            if refused is not None:
                return (self._gateway_answer(route, refused, request, params, origin),
                        f"{route.authorizer.function} (authorizer)")
        # A REST API sends an isBase64Encoded answer as bytes only when the
        # request's first Accept type is one of its binary media types.
        decode = route.api == "http" or binary_media(request.header("accept"), binary_types)
        answer = self._invoke(route.function, event, route.api == "http", rest=route.api == "rest",
                              decode_base64=decode)
        if isinstance(answer, GatewayError):
            return self._gateway_answer(route, answer, request, params, origin), label
        return self._with_cors(answer, route.cors, origin), label

    def _gateway_answer(self, route: Route, error: GatewayError, request: HttpRequest, params: dict[str, str] | None,
                        origin: str | None) -> HttpResponse:
        if route.api == "rest":
            api = self.rest_apis.get(route.api_id)
            responses = api.responses if api is not None else GatewayResponses("", None)
            return responses.render(error, request, params)
        status, message = _HTTP_API_ANSWERS.get(error.kind, (error.status, error.message or ""))
        # An HTTP API's CORS configuration covers its authorizers' refusals too.
        return self._with_cors(HttpResponse(status, _JSON, json.dumps({"message": message}).encode()),
                               route.cors, origin)

    def _authorize(self, route: Route, event: dict[str, Any], request: HttpRequest) -> GatewayError | None:
        """Run the route's Lambda authorizer as API Gateway does; None lets the
        request through (with the authorizer's context on the event)."""
        authorizer = route.authorizer
        assert authorizer is not None
        values = []
        for where, name in authorizer.identity:
            value = (request.header(name) if where == "header"
                     else _map_request(f"method.request.querystring.{name}", request, {}))
            if not value:  # API Gateway answers 401 without calling the authorizer
                return UNAUTHORIZED
            values.append(value)
        if authorizer.validation and not re.fullmatch(authorizer.validation, values[0]):
            return UNAUTHORIZED
        arn = (f"arn:aws:execute-api:us-east-1:123456789012:local/{route.stage}/"
               f"{event.get('httpMethod') or route.method}{route.path}")
        if authorizer.token:
            probe: dict[str, Any] = {"type": "TOKEN", "authorizationToken": values[0], "methodArn": arn}
        elif route.api == "http":
            probe = dict(event, type="REQUEST", routeArn=arn, identitySource=values)
        else:
            probe = dict(event, type="REQUEST", methodArn=arn)
        function, lock = self._function(authorizer.function)
        with lock:
            try:
                result = function.invoke(probe)
            except InitError:
                return AUTHORIZER_ERROR
        if result.error is not None:
            return UNAUTHORIZED if result.error.get("errorMessage") == "Unauthorized" else AUTHORIZER_ERROR
        answer = result.payload if isinstance(result.payload, dict) else {}
        if route.api == "http" and authorizer.simple_responses:
            allowed, context = answer.get("isAuthorized") is True, answer.get("context") or {}
        else:
            statements = (answer.get("policyDocument") or {}).get("Statement") or [{}]
            allowed, context = statements[0].get("Effect") == "Allow", answer.get("context") or {}
        if not allowed:
            return ACCESS_DENIED
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

    def _rest_api_under(self, path: str) -> RestApi | None:
        for api in self.rest_apis.values():
            if path == f"/{api.stage}" or path.startswith(f"/{api.stage}/"):
                return api
        return None

    @staticmethod
    def _with_cors(response: HttpResponse, cors: Cors | None, origin: str | None) -> HttpResponse:
        if cors is None or not cors.on_every_response:
            return response
        headers = [(k, v) for k, v in response.headers if not k.lower().startswith("access-control-")]
        return HttpResponse(response.status, headers + cors.response_headers(origin), response.body)

    def _static(self, request: HttpRequest, spa: bool) -> HttpResponse:
        not_found = HttpResponse(404, _JSON, b'{"message":"Not Found"}')
        if self.static_dir is None or request.method not in ("GET", "HEAD"):
            return not_found
        # Decoded once, here (routing saw the raw path): %20 is a space, and
        # %2e%2e or %2f only name what the containment check then judges.
        target = _static_file(self.static_dir, unquote(request.path))
        if target is None and spa and _accepts_html(request.header("accept")):
            target = _static_file(self.static_dir, "/")  # a page of the app's client-side router
        if target is None:
            return not_found
        kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        return HttpResponse(200, [("Content-Type", kind), ("Cache-Control", "no-store")], target.read_bytes())

    def _handler(self, url_function: str | None) -> type[BaseHTTPRequestHandler]:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            server: QuietServer  # _bind serves it with nothing else (typeshed says BaseServer)
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def setup(self) -> None:
                super().setup()
                self.rfile.close()
                self._reader = _DeadlineReader(self.connection, gateway.request_timeout)
                self.rfile = io.BufferedReader(self._reader)

            def handle_one_request(self) -> None:
                # One deadline for the whole request: waiting for it, its head, its body.
                self._reader.deadline = time.monotonic() + gateway.request_timeout
                super().handle_one_request()

            def log_message(self, *args: Any) -> None:
                pass

            def handle_expect_100(self) -> bool:
                refusal = self._framing()
                if isinstance(refusal, tuple):
                    self._refuse(*refusal)
                    return False
                return super().handle_expect_100()

            def _framing(self) -> int | tuple[int, str]:
                """The body's length, or the status and message refusing the request."""
                if self.headers.get_all("Transfer-Encoding"):
                    if self.headers.get_all("Content-Length"):
                        return 400, "Transfer-Encoding and Content-Length together"
                    return 501, "Transfer-Encoding is not supported by the local gateway: send a Content-Length"
                lengths = self.headers.get_all("Content-Length") or []
                if not lengths:
                    return (411, "a Content-Length is required") if self.command in _BODY_METHODS else 0
                if len(lengths) > 1:
                    return 400, "more than one Content-Length"
                value = lengths[0].strip()
                if not re.fullmatch(r"[0-9]+", value):
                    return 400, "Content-Length is not a number"
                if len(value) > 12 or int(value) > gateway.max_body:
                    return 413, f"the body is over the {gateway.max_body} bytes the local gateway accepts"
                return int(value)

            def _refuse(self, status: int, message: str, started: float | None = None) -> None:
                elapsed = f" {(time.monotonic() - started) * 1000:.1f} ms" if started is not None else ""
                gateway.log(f"{_loggable(self.command)} {_loggable(self.path)} -> refused {status}{elapsed}")
                self.close_connection = True
                self._send(HttpResponse(status, _JSON, json.dumps({"message": message}).encode()), close=True)

            def _send(self, response: HttpResponse, close: bool = False) -> None:
                self.connection.settimeout(gateway.request_timeout)
                self.send_response(response.status)
                for name, value in response.headers:
                    if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(response.body)))
                if close:
                    self.send_header("Connection", "close")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(response.body)

            def _serve(self) -> None:
                started = time.monotonic()
                length = self._framing()
                if isinstance(length, tuple):
                    return self._refuse(*length, started=started)
                host = self.headers.get("Host")
                if not gateway.hosts.allows(host):
                    shown = _loggable(str(name_of(host or "") or "?")[:100])
                    return self._refuse(403, f"Blocked request: the local gateway answers loopback names and IP "
                                        f"addresses only (DNS rebinding); to allow this host, serve with "
                                        f"--allowed-host {shown}", started)
                try:
                    body = self.rfile.read(length) if length else b""
                except TimeoutError:
                    return self._refuse(408, "the request body did not arrive in time", started)
                if len(body) < length:
                    return self._refuse(400, "the body is shorter than its Content-Length", started)
                path, _, query = self.path.partition("?")
                request = HttpRequest(self.command, path, query,
                                      _forwarded(list(self.headers.items()), self.client_address[0],
                                                 self.server.server_port),
                                      body, self.client_address[0])
                try:
                    response, label = gateway.handle(request, url_function)
                except TemplateError as exc:
                    response, label = HttpResponse(500, [("Content-Type", "text/plain")], str(exc).encode()), "error"
                # Logged before answering, so the line exists once the client has its answer.
                gateway.log(f"{_loggable(self.command)} {_loggable(self.path)} -> {label} {response.status} "
                            f"{(time.monotonic() - started) * 1000:.1f} ms")
                self._send(response)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _serve  # noqa: N815

        return Handler


def _http_api_event(request: HttpRequest, route: Route, params: dict[str, str] | None) -> dict[str, Any]:
    """The payload 2.0 event an HTTP API hands ``route``'s integration and
    authorizer: the path percent-decoded (``rawPath``, ``requestContext.http.path``,
    ``pathParameters``: ``/files/café`` for ``/files/caf%C3%A9``), where REST APIs
    and Function URLs keep it encoded."""
    decoded = HttpRequest(request.method, unquote(request.path), request.query, request.headers, request.body,
                          request.source_ip)
    decoded_params = {name: unquote(value) for name, value in params.items()} if params else params
    return http_api_v2(decoded, domain="localhost", route_key=route.route_key, path_parameters=decoded_params)


_MAX_LOGGED = 200
# Query parameters whose value is never logged: by name, or by what the value looks like.
_SECRET_NAMES = ("token", "jwt", "__session", "key", "secret", "auth", "handshake", "password", "code", "sig")
_SECRET_VALUES = ("eyJ", "sk_", "ak_", "mt_", "oat_", "dvb_", "pk_")


def _loggable(target: str) -> str:
    """A request line's method or target for the log: query values that may
    be credentials (pages put tokens there when they cannot send a header:
    ``?token=``, ``__clerk_db_jwt``) shown as ``…``, judged after
    percent-decoding (``?to%6Ben=``, ``%65yJ…`` are the same to a server);
    path segments that look like a token or key shown as ``…`` too;
    unprintable characters escaped (no terminal escape sequences), at most
    ``_MAX_LOGGED`` characters."""
    path, sep, query = target.partition("?")
    path = "/".join("…" if _secret_like(unquote(segment)) else segment for segment in path.split("/"))
    if sep:
        pairs = []
        for pair in query.split("&"):
            name, eq, value = pair.partition("=")
            plain_name = unquote_plus(name).lower()
            hidden = eq and (any(word in plain_name for word in _SECRET_NAMES) or _secret_like(unquote_plus(value)))
            pairs.append(f"{name}=…" if hidden else pair)
        path = f"{path}?{'&'.join(pairs)}"
    text = _escaped(path[: _MAX_LOGGED + 1])
    return text[:_MAX_LOGGED] + "…" if len(text) > _MAX_LOGGED else text


def _escaped(text: str, keep: str = "") -> str:
    """``text`` with its unprintable characters (CR, ESC, other controls,
    bidi overrides) written as ``\\xNN``, so no line can move the cursor,
    erase or recolour the terminal; those in ``keep`` stay."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c in keep else f"\\x{ord(c):02x}" for c in text)


def _secret_like(value: str) -> bool:
    """Whether a decoded query value or path segment looks like a token or a
    key (Clerk's prefixes, a JWT, anything long)."""
    return value.lstrip().startswith(_SECRET_VALUES) or len(value) > 64


def _accepts_html(accept: str | None) -> bool:
    """A browser navigating (``Accept`` names ``text/html``, q above 0), not a
    script, image or ``fetch`` (``*/*``), which keep their 404."""
    for item in (accept or "").split(","):
        kind, *params = item.split(";")
        if kind.strip().lower() != "text/html":
            continue
        q = next((p.split("=", 1)[1] for p in params if p.strip().lower().startswith("q=")), "1")
        try:
            if float(q) > 0:
                return True
        except ValueError:
            continue
    return False


def _static_file(root: Path, path: str) -> Path | None:
    """The file under ``root`` (resolved) that ``path`` names, a directory's
    ``index.html``; None when there is none, or when it resolves outside
    ``root`` (``..``, a symlink out), the final name included."""
    try:
        target = (root / path.lstrip("/")).resolve()
        if target.is_dir():
            target = (target / "index.html").resolve()  # itself a symlink, perhaps
        if root not in target.parents or not target.is_file() or _private(target.name) or _private(Path(path).name):
            return None
    except (OSError, ValueError):  # a name too long for the file system, a NUL byte
        return None
    return target


def _private(name: str) -> bool:
    """A file ``--static`` never serves, as Vite's ``server.fs.deny``: ``.env``,
    ``.env.*`` and keys or certificates (``*.pem``, ``*.crt``, ``*.key``)."""
    lower = name.lower()
    return lower == ".env" or lower.startswith(".env.") or lower.endswith((".pem", ".crt", ".key"))


def _forwarded(headers: list[tuple[str, str]], client: str, port: int) -> list[tuple[str, str]]:
    """The request headers as API Gateway and Function URLs hand them to a
    function: ``X-Forwarded-For`` with the client's address appended, and
    ``X-Forwarded-Proto`` / ``X-Forwarded-Port`` saying how the client reached
    the gateway (here plain http on the local port), replacing any the client
    sent. Frameworks build absolute URLs from them (FastAPI's trailing-slash
    redirect, ``url_for``); without them Mangum assumes https."""
    kept, chain = [], []
    for name, value in headers:
        lower = name.lower()
        if lower == "x-forwarded-for":
            chain.append(value.strip())
        elif lower not in ("x-forwarded-proto", "x-forwarded-port"):
            kept.append((name, value))
    chain.append(client)
    return kept + [("X-Forwarded-For", ", ".join(v for v in chain if v)), ("X-Forwarded-Port", str(port)),
                   ("X-Forwarded-Proto", "http")]


class _DeadlineReader(io.RawIOBase):
    """A socket's reading side that gives up at a deadline, so a client that
    announces more than it sends (or trickles) cannot hold a thread."""

    def __init__(self, sock: socket.socket, write_timeout: float) -> None:
        self.sock = sock
        self.deadline = time.monotonic() + write_timeout
        self.write_timeout = write_timeout

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("request deadline passed")
        self.sock.settimeout(remaining)
        try:
            return self.sock.recv_into(buffer)
        finally:
            self.sock.settimeout(self.write_timeout)


def _rest_preflight(cors: Cors) -> list[tuple[str, str]]:
    """The OPTIONS mock integration SAM creates for a REST API's ``Cors``:
    the configured values, whatever the request's origin."""
    headers = [("Access-Control-Allow-Origin", ",".join(cors.origins)),
               ("Access-Control-Allow-Methods", ",".join(cors.methods)),
               ("Access-Control-Allow-Headers", ",".join(cors.headers))]
    if cors.credentials:
        headers.append(("Access-Control-Allow-Credentials", "true"))
    if cors.max_age is not None:
        headers.append(("Access-Control-Max-Age", str(cors.max_age)))
    return headers
