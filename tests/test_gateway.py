"""The local gateway: routing, payloads from real HTTP requests, responses
back to HTTP, CORS as the template configures it."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.rawhttp import header, request
from support.serve import serving

from clerk_serverless_local.gateway import LocalGateway
from clerk_serverless_local.template import Template

ECHO = '''
import base64, json

def handler(event, context):
    """Answer with the event itself, and a few response features."""
    body = {"event": event}
    if event.get("version") == "2.0":
        return {"statusCode": 201, "headers": {"X-Echo": "v2", "Access-Control-Allow-Origin": "*"},
                "cookies": ["a=1; Path=/", "b=2; Path=/"], "body": json.dumps(body)}
    return {"statusCode": 202, "multiValueHeaders": {"Set-Cookie": ["c=3", "d=4"], "X-Echo": ["v1"]}, "body": json.dumps(body)}

def bare(event, context):
    return {"just": "a dict"}

def binary(event, context):
    return {"statusCode": 200, "isBase64Encoded": True, "body": base64.b64encode(b"\\x00\\x01\\xff").decode(),
            "headers": {"Content-Type": "application/octet-stream"}}
'''

TEMPLATE = '''
Transform: AWS::Serverless-2016-10-31
Globals:
  Function: {Runtime: python3.11, Timeout: 5}
Resources:
  Http:
    Type: AWS::Serverless::HttpApi
    Properties:
      CorsConfiguration:
        AllowOrigins: [http://allowed.example]
        AllowCredentials: true
        AllowHeaders: [authorization]
        AllowMethods: [GET, POST]
        ExposeHeaders: [x-echo]
        MaxAge: 60
  Rest:
    Type: AWS::Serverless::Api
    Properties:
      StageName: Stage
      Cors: {AllowOrigin: "'http://allowed.example'", AllowHeaders: "'authorization'", AllowMethods: "'GET,OPTIONS'"}
  Echo:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: echo.handler
      Events:
        Item: {Type: HttpApi, Properties: {ApiId: !Ref Http, Path: "/items/{id}", Method: GET}}
        Any: {Type: HttpApi, Properties: {ApiId: !Ref Http, Path: "/any/{proxy+}", Method: ANY}}
        RestItem: {Type: Api, Properties: {RestApiId: !Ref Rest, Path: "/things/{id}", Method: GET}}
  Bare:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: echo.bare
      Events:
        Get: {Type: HttpApi, Properties: {ApiId: !Ref Http, Path: /bare, Method: GET}}
  Binary:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: echo.binary
      FunctionUrlConfig:
        AuthType: NONE
        Cors: {AllowOrigins: [http://allowed.example], AllowCredentials: true, AllowHeaders: [authorization]}
'''


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalGateway]:
    root = tmp_path_factory.mktemp("gateway")
    (root / "src").mkdir()
    (root / "src" / "echo.py").write_text(ECHO)
    (root / "template.yaml").write_text(textwrap.dedent(TEMPLATE))
    (root / "static").mkdir()
    (root / "static" / "index.html").write_text("<h1>hello</h1>")
    lines: list[str] = []
    with LocalGateway(Template(root / "template.yaml"), port=0, static_dir=root / "static", log=lines.append, warn=lambda m: None) as gw:
        gw.lines = lines  # type: ignore[attr-defined]
        yield gw




def test_http_api_v2_payload_from_a_real_request(gateway: LocalGateway) -> None:
    status, headers, body = request(gateway.urls["api"], "GET", "/items/42?x=1&x=2&y=%20z", [
        ("Authorization", "Bearer abc"), ("Cookie", "__session=tok; theme=dark"), ("Cookie", "other=1"),
        ("X-Multi", "one"), ("X-Multi", "two"), ("Origin", "http://allowed.example"),
    ])
    event = json.loads(body)["event"]
    assert status == 201
    assert event["version"] == "2.0" and event["routeKey"] == "GET /items/{id}"
    assert event["rawPath"] == "/items/42" and event["rawQueryString"] == "x=1&x=2&y=%20z"
    assert event["queryStringParameters"] == {"x": "1,2", "y": " z"}
    assert event["pathParameters"] == {"id": "42"}
    assert event["cookies"] == ["__session=tok", "theme=dark", "other=1"] and "cookie" not in event["headers"]
    assert event["headers"]["authorization"] == "Bearer abc" and event["headers"]["x-multi"] == "one,two"
    assert event["requestContext"]["http"]["method"] == "GET" and event["requestContext"]["http"]["sourceIp"] == "127.0.0.1"
    assert header(headers, "Set-Cookie") == ["a=1; Path=/", "b=2; Path=/"]
    # The HTTP API's CORS configuration replaces the function's own CORS headers.
    assert header(headers, "Access-Control-Allow-Origin") == ["http://allowed.example"]
    assert header(headers, "Access-Control-Allow-Credentials") == ["true"]
    assert header(headers, "Access-Control-Expose-Headers") == ["x-echo"]


def test_forwarded_headers_say_how_the_client_came(gateway: LocalGateway) -> None:
    """As API Gateway and Function URLs do: the client's address appended to
    X-Forwarded-For, and X-Forwarded-Proto/-Port replaced by how it reached the
    gateway (plain http here), so frameworks build absolute URLs that work
    (FastAPI's trailing-slash redirect; Mangum assumes https without them)."""
    port = gateway.urls["api"].rsplit(":", 1)[1]
    sent = [("X-Forwarded-For", "203.0.113.9"), ("X-Forwarded-Proto", "https"), ("X-Forwarded-Port", "443")]
    event = json.loads(request(gateway.urls["api"], "GET", "/items/1", sent)[2])["event"]
    assert {k: v for k, v in event["headers"].items() if k.startswith("x-forwarded-")} == {
        "x-forwarded-for": "203.0.113.9, 127.0.0.1", "x-forwarded-proto": "http", "x-forwarded-port": port}
    event = json.loads(request(gateway.urls["api"], "GET", "/Stage/things/7")[2])["event"]
    assert event["multiValueHeaders"]["X-Forwarded-Proto"] == ["http"] and event["headers"]["X-Forwarded-For"] == "127.0.0.1"


def test_rest_v1_payload_under_the_stage(gateway: LocalGateway) -> None:
    status, headers, body = request(gateway.urls["api"], "GET", "/Stage/things/7?q=a&q=b", [("X-Case", "Kept"), ("Cookie", "a=1")])
    event = json.loads(body)["event"]
    assert status == 202
    assert event["resource"] == "/things/{id}" and event["path"] == "/things/7" and event["httpMethod"] == "GET"
    assert event["headers"]["X-Case"] == "Kept" and event["multiValueHeaders"]["Cookie"] == ["a=1"]
    assert event["queryStringParameters"] == {"q": "b"} and event["multiValueQueryStringParameters"] == {"q": ["a", "b"]}
    assert event["requestContext"]["stage"] == "Stage"
    assert header(headers, "Set-Cookie") == ["c=3", "d=4"]


def test_bodies_and_greedy_routes(gateway: LocalGateway) -> None:
    _, _, body = request(gateway.urls["api"], "POST", "/any/a/b/c", [("Content-Type", "application/json")], b'{"k": 1}')
    event = json.loads(body)["event"]
    assert event["pathParameters"] == {"proxy": "a/b/c"} and event["body"] == '{"k": 1}' and event["isBase64Encoded"] is False
    _, _, body = request(gateway.urls["api"], "POST", "/any/x", [], b"\xff\x00")
    event = json.loads(body)["event"]
    assert event["isBase64Encoded"] is True and event["body"] == "/wA="


def test_payload_v2_infers_a_json_200(gateway: LocalGateway) -> None:
    status, headers, body = request(gateway.urls["api"], "GET", "/bare")
    assert status == 200 and json.loads(body) == {"just": "a dict"} and header(headers, "Content-Type") == ["application/json"]


def test_cors_preflights_as_configured(gateway: LocalGateway) -> None:
    ask = [("Origin", "http://allowed.example"), ("Access-Control-Request-Method", "GET"), ("Access-Control-Request-Headers", "authorization")]
    status, headers, _ = request(gateway.urls["api"], "OPTIONS", "/items/1", ask)
    assert status == 204
    assert header(headers, "Access-Control-Allow-Origin") == ["http://allowed.example"]
    assert header(headers, "Access-Control-Allow-Headers") == ["authorization"]
    assert header(headers, "Access-Control-Max-Age") == ["60"]
    status, headers, _ = request(gateway.urls["api"], "OPTIONS", "/items/1", [("Origin", "http://evil.example"), ("Access-Control-Request-Method", "GET")])
    assert status == 204 and not header(headers, "Access-Control-Allow-Origin")
    status, headers, _ = request(gateway.urls["api"], "OPTIONS", "/Stage/things/1", ask)  # REST: the mock OPTIONS integration
    assert status == 200 and header(headers, "Access-Control-Allow-Methods") == ["GET,OPTIONS"]


def test_function_url_on_its_own_port(gateway: LocalGateway) -> None:
    base = gateway.urls["Binary"]
    status, headers, body = request(base, "GET", "/anything", [("Origin", "http://allowed.example")])
    assert status == 200 and body == b"\x00\x01\xff"
    assert header(headers, "Access-Control-Allow-Origin") == ["http://allowed.example"]
    status, headers, _ = request(base, "OPTIONS", "/x", [("Origin", "http://allowed.example"), ("Access-Control-Request-Method", "GET")])
    assert status == 204 and header(headers, "Access-Control-Allow-Credentials") == ["true"]


def test_static_files_404s_and_one_log_line_per_request(gateway: LocalGateway) -> None:
    before = len(gateway.lines)  # type: ignore[attr-defined]
    assert request(gateway.urls["api"], "GET", "/")[2] == b"<h1>hello</h1>"
    assert request(gateway.urls["api"], "GET", "/../../etc/passwd")[0] == 404
    assert request(gateway.urls["api"], "DELETE", "/items/1")[0] == 404
    lines = gateway.lines[before:]  # type: ignore[attr-defined]
    assert len(lines) == 3 and lines[0].startswith("GET / -> static 200")


# -- --static: percent-decoded paths, the root's containment, the single-page-app fallback ------


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project whose --static root holds awkward names and symlinks out of
    it, next to a directory of secrets."""
    root = tmp_path_factory.mktemp("site")
    (root / "src").mkdir()
    (root / "src" / "echo.py").write_text(ECHO)
    (root / "template.yaml").write_text(textwrap.dedent(TEMPLATE))
    secrets = root / "secrets"
    secrets.mkdir()
    (secrets / "index.html").write_text("SECRET-INDEX")
    (secrets / "key.txt").write_text("SECRET-KEY")
    static = root / "static"
    for directory in ("docs", "sub dir", "linked"):
        (static / directory).mkdir(parents=True)
    (static / "index.html").write_text("<h1>app</h1>")
    (static / "a b.html").write_text("<p>spaced</p>")
    (static / "100%.txt").write_text("percent")
    (static / "a%2fb").write_text("literally a%2fb")
    (static / "docs" / "index.html").write_text("<h1>docs</h1>")
    (static / "sub dir" / "index.html").write_text("<h1>sub dir</h1>")
    (static / "out").symlink_to(secrets, target_is_directory=True)
    (static / "linked" / "index.html").symlink_to(secrets / "index.html")
    return root


def _site_gateway(site: Path, **options: Any) -> LocalGateway:
    return LocalGateway(Template(site / "template.yaml"), port=0, static_dir=site / "static", log=lambda line: None,
                        warn=lambda message: None, **options)


NAVIGATE = [("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")]

ESCAPES = ["/../secrets/key.txt", "/%2e%2e/secrets/key.txt", "/..%2fsecrets%2fkey.txt", "/%2e%2e%2fsecrets%2fkey.txt",
           "/%2E%2E/secrets/key.txt", "/%252e%252e/secrets/key.txt", "/..%252fsecrets%252fkey.txt",
           "/..%5csecrets%5ckey.txt", "/..\\secrets\\key.txt", "/out/key.txt", "/out/", "/out", "/%6fut/key.txt",
           "/linked/", "/linked", "/linked/index.html", "/docs/..%2f..%2fsecrets/key.txt", "/%00", "/index.html%00.txt",
           "/%2fetc%2fpasswd", "//etc/passwd", "/" + "%2e%2e/" * 20 + "etc/passwd", "/" + "x" * 5000]


def test_static_paths_are_percent_decoded_once(site: Path) -> None:
    """``/a%20b.html`` is the file ``a b.html`` (was a 404), as a browser's
    link to it is spelt; decoded once, so ``%252f`` is a literal ``%2f``; a
    directory answers its ``index.html``, with or without the slash."""
    with _site_gateway(site) as gw:
        base = gw.urls["api"]
        for path, body in [("/a%20b.html", b"<p>spaced</p>"), ("/100%25.txt", b"percent"),
                           ("/a%252fb", b"literally a%2fb"), ("/%69ndex.html", b"<h1>app</h1>"),
                           ("/", b"<h1>app</h1>"), ("/docs/", b"<h1>docs</h1>"), ("/docs", b"<h1>docs</h1>"),
                           ("/sub%20dir/", b"<h1>sub dir</h1>"), ("/d%6fcs/index.html", b"<h1>docs</h1>")]:
            status, headers, answer = request(base, "GET", path)
            assert (status, answer) == (200, body), path
        assert header(request(base, "GET", "/a%20b.html")[1], "Content-Type") == ["text/html"]
        assert request(base, "GET", "/a%2fb")[0] == 404  # that is a/b, which does not exist
        assert request(base, "GET", "/dashboard", NAVIGATE)[0] == 404  # no fallback unless asked for


@pytest.mark.parametrize("spa", [False, True])
def test_static_paths_never_leave_the_root(site: Path, spa: bool) -> None:
    """``..`` in any spelling (``%2e``, ``%2f``, ``%5c``, double-encoded),
    NUL bytes, over-long names, and symlinks out of the root — a directory's
    ``index.html`` included, which was served from outside the root — are
    404s; with ``--spa`` a browser navigating there gets the app's page,
    never the file."""
    with _site_gateway(site, spa=spa) as gw:
        for path in ESCAPES:
            for headers in ([], NAVIGATE):
                status, _, body = request(gw.urls["api"], "GET", path, headers)
                assert b"SECRET" not in body, path
                if spa and headers:
                    assert (status, body) == (200, b"<h1>app</h1>"), path
                else:
                    assert status == 404, (path, headers)


def test_spa_answers_index_html_to_a_browser_opening_a_client_side_route(site: Path) -> None:
    """``--spa``: a GET or HEAD naming no file, from a browser navigating
    (``Accept: text/html``), gets the root's ``index.html``; scripts, images
    and ``fetch`` (``*/*``), other methods, existing files, and the
    template's routes and REST stages answer as before."""
    page = b"<h1>app</h1>"
    with _site_gateway(site, spa=True) as gw:
        base = gw.urls["api"]
        status, headers, body = request(base, "GET", "/dashboard/settings?tab=2", NAVIGATE)
        assert (status, body) == (200, page) and header(headers, "Content-Type") == ["text/html"]
        assert request(base, "GET", "/dashboard", [("Accept", "TEXT/HTML; charset=utf-8")])[:3:2] == (200, page)
        status, headers, body = request(base, "HEAD", "/dashboard", NAVIGATE)
        assert (status, body) == (200, b"") and header(headers, "Content-Length") == [str(len(page))]
        for accept in [None, "*/*", "application/json", "text/html;q=0", "text/html;q=0.0", "text/plain, text/htmlx"]:
            headers_sent = [] if accept is None else [("Accept", accept)]
            assert request(base, "GET", "/app.js", headers_sent)[0] == 404, accept
        assert request(base, "POST", "/dashboard", NAVIGATE, b"{}")[0] == 404
        assert request(base, "GET", "/a%20b.html", NAVIGATE)[2] == b"<p>spaced</p>"
        assert request(base, "GET", "/docs/", NAVIGATE)[2] == b"<h1>docs</h1>"
        assert request(base, "GET", "/bare", NAVIGATE)[2] == b'{"just": "a dict"}'
        status, _, body = request(base, "GET", "/Stage/nothing", NAVIGATE)
        assert status == 403 and body != page  # under a REST stage: the API's own answer


def test_serve_spa_flag(site: Path) -> None:
    """``serve --static DIR --spa`` through the real command; ``--spa``
    alone is refused, saying why."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("CLERK_")}
    command = [sys.executable, "-m", "clerk_serverless_local", "serve", "--port", "0", "-t", str(site / "template.yaml")]
    refused = subprocess.run([*command, "--spa"], cwd=site, env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "--spa" in refused.stderr and "--static" in refused.stderr
    help_text = subprocess.run([*command[:4], "--help"], env=env, capture_output=True, text=True, timeout=60).stdout
    assert "--spa" in help_text
    with serving("-t", str(site / "template.yaml"), "--static", str(site / "static"), "--spa", cwd=site) as served:
        assert f"STATIC http://localhost:{served.port}/ -> " in served.text and "(--spa" in served.text, served.banner
        assert request(served.base, "GET", "/settings/profile", NAVIGATE)[:3:2] == (200, b"<h1>app</h1>")
        assert request(served.base, "GET", "/settings/profile")[0] == 404


def test_the_sample_template_routes(tmp_path: Path) -> None:
    from clerk_serverless_local.gateway import collect_routes

    root = Path(__file__).resolve().parent.parent
    routes, urls = collect_routes(Template(root / "template.yaml"))
    keys = {(r.api, r.method, r.path, r.function) for r in routes}
    assert ("http", "GET", "/me", "MeFunction") in keys and ("rest", "GET", "/me", "MeFunction") in keys
    assert ("http", "ANY", "/todos/{proxy+}", "PowertoolsFunction") in keys
    assert list(urls) == ["FastApiFunction"]
    assert [r.path for r in routes].index("/todos") < [r.path for r in routes].index("/todos/{proxy+}")


def test_routes_behind_the_clerk_authorizer() -> None:
    from clerk_serverless_local.devkeys import DevKey
    from clerk_serverless_local.samples import DEV_KEY_FILE

    root = Path(__file__).resolve().parent.parent
    key = DevKey.load_or_create(root / DEV_KEY_FILE)
    env = {"Parameters": {"CLERK_JWT_KEY": key.public_pem}}
    lines: list[str] = []
    with LocalGateway(Template(root / "template.yaml"), env_vars=env, port=0, ephemeral_url_ports=True, log=lines.append, warn=lambda m: None) as gw:
        base = gw.urls["api"]
        token = key.token("user_dev_123")
        for path in ("/secure", "/Prod/secure"):
            status, _, body = request(base, "GET", path, [("Authorization", f"Bearer {token}")])
            assert status == 200 and json.loads(body)["verified_by"] == "authorizer"
            status, _, _ = request(base, "GET", path, [("Cookie", f"__session={token}")])
            assert status == 200
        assert request(base, "GET", "/secure")[0] == 403  # HTTP API: isAuthorized false
        assert request(base, "GET", "/Prod/secure")[0] == 401  # REST: "Unauthorized"
    assert any("(authorizer) 401" in line for line in lines)


# -- REST OPTIONS, gateway responses, authorizer answers ------------------------------------

AUTH_CODE = '''
import json

def echo(event, context):
    return {"statusCode": 200, "headers": {"X-Method": event.get("httpMethod") or event["requestContext"]["http"]["method"]},
            "body": json.dumps({"authorizer": event["requestContext"].get("authorizer")})}

def crash(event, context):
    raise RuntimeError("boom")

def allow(event, context):
    if "routeArn" in event:
        return {"isAuthorized": True, "context": {"who": "u1"}}
    return {"principalId": "u1", "policyDocument": {"Version": "2012-10-17", "Statement": [
        {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": event["methodArn"]}]}, "context": {"who": "u1"}}

def deny(event, context):
    if "routeArn" in event:
        return {"isAuthorized": False}
    return {"principalId": "u1", "policyDocument": {"Version": "2012-10-17", "Statement": [
        {"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": event["methodArn"]}]}}

def unauthorized(event, context):
    raise Exception("Unauthorized")

def broken(event, context):
    raise RuntimeError("keys cannot be loaded")
'''

AUTH_TEMPLATE = '''
Transform: AWS::Serverless-2016-10-31
Parameters:
  Origins: {Type: CommaDelimitedList, Default: "http://first.example,http://second.example"}
Globals:
  Function: {Runtime: python3.11, Timeout: 5, CodeUri: src/}
Resources:
  Http:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        Authorizers:
          Deny: {FunctionArn: !GetAtt Denier.Arn, AuthorizerPayloadFormatVersion: "2.0", EnableSimpleResponses: true}
          Broken: {FunctionArn: !GetAtt Breaker.Arn, AuthorizerPayloadFormatVersion: "2.0", EnableSimpleResponses: true}
          NeedsKey:
            FunctionArn: !GetAtt Allower.Arn
            AuthorizerPayloadFormatVersion: "2.0"
            EnableSimpleResponses: true
            Identity: {Headers: [X-Key], ReauthorizeEvery: 60}
      CorsConfiguration: {AllowOrigins: !Ref Origins, AllowCredentials: true, AllowHeaders: [authorization], AllowMethods: [GET]}
  Rest:
    Type: AWS::Serverless::Api
    Properties:
      StageName: Prod
      Auth:
        Authorizers:
          Deny: {FunctionPayloadType: REQUEST, FunctionArn: !GetAtt Denier.Arn, Identity: {ReauthorizeEvery: 0}}
          Unauthorized: {FunctionPayloadType: REQUEST, FunctionArn: !GetAtt Refuser.Arn, Identity: {ReauthorizeEvery: 0}}
          Broken: {FunctionPayloadType: REQUEST, FunctionArn: !GetAtt Breaker.Arn, Identity: {ReauthorizeEvery: 0}}
          Token: {FunctionArn: !GetAtt Allower.Arn, Identity: {Header: X-Token, ValidationExpression: "tok_[a-z]+"}}
      GatewayResponses:
        UNAUTHORIZED:
          ResponseParameters:
            Headers:
              Access-Control-Allow-Origin: !Sub ["'${First}'", {First: !Select [0, !Ref Origins]}]
              Access-Control-Allow-Credentials: "'true'"
              Vary: "'Origin'"
              WWW-Authenticate: "'Bearer'"
        DEFAULT_4XX:
          ResponseParameters:
            Headers:
              Access-Control-Allow-Origin: !Sub ["'${First}'", {First: !Select [0, !Ref Origins]}]
              X-Asked: method.request.querystring.q
        DEFAULT_5XX:
          StatusCode: 503
          ResponseParameters:
            Headers: {Access-Control-Allow-Origin: !Sub ["'${First}'", {First: !Select [0, !Ref Origins]}]}
          ResponseTemplates:
            application/json: '{"error": $context.error.messageString, "type": "$context.error.responseType"}'
  Echo:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.echo
      Events:
        HttpDeny: {Type: HttpApi, Properties: {ApiId: !Ref Http, Path: /deny, Method: GET, Auth: {Authorizer: Deny}}}
        HttpBroken: {Type: HttpApi, Properties: {ApiId: !Ref Http, Path: /broken, Method: GET, Auth: {Authorizer: Broken}}}
        HttpKey: {Type: HttpApi, Properties: {ApiId: !Ref Http, Path: /key, Method: GET, Auth: {Authorizer: NeedsKey}}}
        RestGet: {Type: Api, Properties: {RestApiId: !Ref Rest, Path: "/things/{id}", Method: GET}}
        RestOptions: {Type: Api, Properties: {RestApiId: !Ref Rest, Path: "/things/{id}", Method: OPTIONS}}
        RestOnlyGet: {Type: Api, Properties: {RestApiId: !Ref Rest, Path: /only-get, Method: GET}}
        RestDeny: {Type: Api, Properties: {RestApiId: !Ref Rest, Path: /deny, Method: GET, Auth: {Authorizer: Deny}}}
        RestUnauthorized: {Type: Api, Properties: {RestApiId: !Ref Rest, Path: /unauthorized, Method: GET, Auth: {Authorizer: Unauthorized}}}
        RestBroken: {Type: Api, Properties: {RestApiId: !Ref Rest, Path: /broken, Method: GET, Auth: {Authorizer: Broken}}}
        RestToken: {Type: Api, Properties: {RestApiId: !Ref Rest, Path: /token, Method: GET, Auth: {Authorizer: Token}}}
  Crash:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.crash
      Events:
        RestCrash: {Type: Api, Properties: {RestApiId: !Ref Rest, Path: /crash, Method: GET}}
  Denier: {Type: AWS::Serverless::Function, Properties: {Handler: app.deny}}
  Allower: {Type: AWS::Serverless::Function, Properties: {Handler: app.allow}}
  Refuser: {Type: AWS::Serverless::Function, Properties: {Handler: app.unauthorized}}
  Breaker: {Type: AWS::Serverless::Function, Properties: {Handler: app.broken}}
'''
FIRST, SECOND, EVIL = "http://first.example", "http://second.example", "http://evil.example"


@pytest.fixture(scope="module")
def auth_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalGateway]:
    root = tmp_path_factory.mktemp("auth-gateway")
    (root / "src").mkdir()
    (root / "src" / "app.py").write_text(AUTH_CODE)
    (root / "template.yaml").write_text(textwrap.dedent(AUTH_TEMPLATE))
    lines: list[str] = []
    with LocalGateway(Template(root / "template.yaml"), port=0, log=lines.append, warn=lambda m: None) as gw:
        gw.lines = lines  # type: ignore[attr-defined]
        yield gw


def test_rest_options_go_to_the_function_routed_for_them(auth_gateway: LocalGateway) -> None:
    ask = [("Origin", SECOND), ("Access-Control-Request-Method", "GET")]
    status, headers, _ = request(auth_gateway.urls["api"], "OPTIONS", "/Prod/things/1", ask)
    assert status == 200 and header(headers, "X-Method") == ["OPTIONS"]  # the function answered, not a mock
    assert auth_gateway.lines[-1].startswith("OPTIONS /Prod/things/1 -> Echo (rest) 200")  # type: ignore[attr-defined]
    # A REST path without an OPTIONS method (and no SAM Cors): API Gateway's 403.
    status, headers, body = request(auth_gateway.urls["api"], "OPTIONS", "/Prod/only-get", ask)
    assert status == 403 and json.loads(body) == {"message": "Missing Authentication Token"}
    assert header(headers, "Access-Control-Allow-Origin") == [FIRST]  # DEFAULT_4XX


def test_rest_authorizer_refusals_use_the_gateway_responses(auth_gateway: LocalGateway) -> None:
    base = auth_gateway.urls["api"]
    for origin in (FIRST, SECOND, EVIL):
        status, headers, body = request(base, "GET", "/Prod/unauthorized", [("Origin", origin)])
        assert status == 401 and json.loads(body) == {"message": "Unauthorized"}
        # Never the request's origin: the first authorized party, whoever asks.
        assert header(headers, "Access-Control-Allow-Origin") == [FIRST]
        assert header(headers, "Access-Control-Allow-Credentials") == ["true"] and header(headers, "WWW-Authenticate") == ["Bearer"]
    status, headers, body = request(base, "GET", "/Prod/deny?q=why", [("Origin", FIRST)])
    assert status == 403 and "explicit deny" in json.loads(body)["message"]
    assert header(headers, "Access-Control-Allow-Origin") == [FIRST] and header(headers, "X-Asked") == ["why"]  # DEFAULT_4XX
    status, headers, body = request(base, "GET", "/Prod/broken", [("Origin", FIRST)])
    assert status == 503  # DEFAULT_5XX's StatusCode, over the authorizer error's 500
    assert json.loads(body) == {"error": None, "type": "AUTHORIZER_CONFIGURATION_ERROR"}
    assert header(headers, "Access-Control-Allow-Origin") == [FIRST]


def test_rest_function_failures_use_the_gateway_responses(auth_gateway: LocalGateway) -> None:
    status, headers, body = request(auth_gateway.urls["api"], "GET", "/Prod/crash")
    assert status == 503 and json.loads(body) == {"error": "Internal server error", "type": "DEFAULT_5XX"}
    assert header(headers, "Access-Control-Allow-Origin") == [FIRST]


def test_rest_token_authorizer_needs_its_header(auth_gateway: LocalGateway) -> None:
    base = auth_gateway.urls["api"]
    assert request(base, "GET", "/Prod/token")[0] == 401  # no X-Token: the authorizer is not called
    assert request(base, "GET", "/Prod/token", [("X-Token", "not valid!")])[0] == 401  # ValidationExpression
    status, _, body = request(base, "GET", "/Prod/token", [("X-Token", "tok_abc")])
    assert status == 200 and json.loads(body)["authorizer"] == {"principalId": "u1", "who": "u1"}


def test_http_api_authorizer_answers_and_their_cors(auth_gateway: LocalGateway) -> None:
    base = auth_gateway.urls["api"]
    status, headers, body = request(base, "GET", "/deny", [("Origin", SECOND)])
    assert status == 403 and json.loads(body) == {"message": "Forbidden"}
    # The HTTP API's CORS configuration covers its authorizers' refusals: any authorized origin reads them...
    assert header(headers, "Access-Control-Allow-Origin") == [SECOND]
    # ...and no other origin.
    assert not header(request(base, "GET", "/deny", [("Origin", EVIL)])[1], "Access-Control-Allow-Origin")
    status, headers, body = request(base, "GET", "/broken", [("Origin", FIRST)])
    assert status == 500 and json.loads(body) == {"message": "Internal Server Error"}
    assert header(headers, "Access-Control-Allow-Origin") == [FIRST]
    # A configured identity source missing: 401, the authorizer never called.
    status, _, body = request(base, "GET", "/key", [("Origin", FIRST)])
    assert status == 401 and json.loads(body) == {"message": "Unauthorized"}
    status, _, body = request(base, "GET", "/key", [("X-Key", "k")])
    assert status == 200 and json.loads(body)["authorizer"] == {"lambda": {"who": "u1"}}
    # Preflights never reach an authorizer.
    status, headers, _ = request(base, "OPTIONS", "/deny", [("Origin", SECOND), ("Access-Control-Request-Method", "GET")])
    assert status == 204 and header(headers, "Access-Control-Allow-Origin") == [SECOND]


def test_unsupported_gateway_response_mappings_are_refused(tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text(textwrap.dedent('''
        Resources:
          Rest:
            Type: AWS::Serverless::Api
            Properties:
              StageName: Prod
              GatewayResponses:
                UNAUTHORIZED:
                  ResponseParameters:
                    Headers: {X-Id: context.requestId}
    '''))
    from clerk_serverless_local.template import TemplateError

    with pytest.raises(TemplateError, match=r"Rest.GatewayResponses.UNAUTHORIZED: header X-Id maps 'context.requestId'"):
        LocalGateway(Template(tmp_path / "template.yaml"), port=0, log=lambda line: None)


# -- framing: Content-Length only, bounded, with a deadline --------------------------------


@pytest.fixture(scope="module")
def strict_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalGateway]:
    root = tmp_path_factory.mktemp("strict-gateway")
    (root / "src").mkdir()
    (root / "src" / "echo.py").write_text(ECHO)
    (root / "template.yaml").write_text(textwrap.dedent(TEMPLATE))
    lines: list[str] = []
    with LocalGateway(Template(root / "template.yaml"), port=0, log=lines.append, warn=lambda m: None,
                      request_timeout=1.0, max_body=4096) as gw:
        gw.lines = lines  # type: ignore[attr-defined]
        yield gw


def raw_exchange(base: str, data: bytes, *, half_close: bool = False) -> tuple[int, dict[str, str], bytes, bool]:
    """Send raw bytes; return the status, headers and body of the first answer,
    and whether the server then closed the connection."""
    import socket

    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(65536)
            assert chunk, f"connection closed before an answer: {received!r}"
            received += chunk
        head, _, rest = received.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            chunk = sock.recv(65536)
            assert chunk
            rest += chunk
        body, extra = rest[:length], rest[length:]
        closed = False
        if not extra:
            try:
                closed = sock.recv(1) == b""
            except TimeoutError:
                closed = False
        return status, headers, body, closed


@pytest.mark.parametrize(
    "head,status",
    [
        (b"POST /any/x HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 501),
        (b"POST /any/x HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello", 400),
        (b"POST /any/x HTTP/1.1\r\nHost: localhost\r\n\r\nhello", 411),
        (b"PUT /any/x HTTP/1.1\r\nHost: localhost\r\n\r\n", 411),
        (b"POST /any/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: -1\r\n\r\nhello", 400),
        (b"POST /any/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: five\r\n\r\nhello", 400),
        (b"POST /any/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: +5\r\n\r\nhello", 400),
        (b"POST /any/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5, 5\r\n\r\nhello", 400),
        (b"POST /any/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 400),
        (b"POST /any/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400),
        (b"POST /any/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4097\r\n\r\n", 413),
        (b"POST /any/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 99999999999999999999999999999999\r\n\r\n", 413),
        (b"POST /any/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4097\r\nExpect: 100-continue\r\n\r\n", 413),
    ],
)
def test_bad_framing_is_refused_and_the_connection_closed(strict_gateway: LocalGateway, head: bytes, status: int) -> None:
    answer, headers, body, closed = raw_exchange(strict_gateway.urls["api"], head)
    assert answer == status, body
    assert headers.get("connection") == "close" and closed
    assert "message" in json.loads(body)


def test_a_bodyless_patch_needs_no_content_length(strict_gateway: LocalGateway) -> None:
    """Chromium sends fetch(url, { method: "PATCH" }) without a Content-Length
    (it adds one of 0 to a bodyless POST or PUT only): a request with no body,
    routed like any other, and the connection kept for the next request."""
    import socket

    host, port = strict_gateway.urls["api"].removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(b"PATCH /any/x HTTP/1.1\r\nHost: localhost\r\n\r\nGET /bare HTTP/1.1\r\nHost: localhost\r\n\r\n")
        received = b""
        while received.count(b"HTTP/1.1 ") < 2 or not received.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            assert chunk, received
            received += chunk
    first = received.split(b"\r\n", 1)[0]
    assert first == b"HTTP/1.1 201 Created", received[:300]
    event = json.loads(received.split(b"\r\n\r\n", 1)[1].split(b"HTTP/1.1 ", 1)[0])["event"]
    assert event["requestContext"]["http"]["method"] == "PATCH" and not event.get("body")
    assert received.count(b"HTTP/1.1 ") == 2


def test_a_lying_client_gets_408_and_frees_its_thread(strict_gateway: LocalGateway) -> None:
    # Announces 4000 bytes, sends 10, then waits: the request deadline ends it.
    status, _, _, closed = raw_exchange(strict_gateway.urls["api"], b"POST /any/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4000\r\n\r\n0123456789")
    assert status == 408 and closed
    # Announces 4000 and hangs up after 10: never handed to a function.
    before = len(strict_gateway.lines)  # type: ignore[attr-defined]
    status, _, _, _ = raw_exchange(strict_gateway.urls["api"], b"POST /any/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4000\r\n\r\n0123456789",
                                   half_close=True)
    assert status == 400
    assert all("Echo" not in line for line in strict_gateway.lines[before:])  # type: ignore[attr-defined]
    # The gateway still answers.
    assert request(strict_gateway.urls["api"], "GET", "/bare")[0] == 200


def test_an_idle_connection_is_closed(strict_gateway: LocalGateway) -> None:
    import socket

    host, port = strict_gateway.urls["api"].removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(b"GET /bare HTTP/1.1\r\nHost: localhost\r\n")  # the head never ends
        assert sock.recv(65536) == b""  # closed by the gateway, not by this test's timeout


def test_well_framed_requests_still_work(strict_gateway: LocalGateway) -> None:
    status, headers, body, _ = raw_exchange(strict_gateway.urls["api"], b"POST /any/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello")
    assert status == 201 and json.loads(body)["event"]["body"] == "hello" and headers.get("connection") != "close"
    status, _, _, _ = raw_exchange(strict_gateway.urls["api"], b"DELETE /any/x HTTP/1.1\r\nHost: localhost\r\n\r\n")  # no body, no length: fine
    assert status == 201
    status, _, body, _ = raw_exchange(strict_gateway.urls["api"],
                                      b"POST /any/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\nok")
    assert status in (100, 201)


# -- the log: one whole line per request -------------------------------------------------------


def test_concurrent_requests_log_whole_lines(tmp_path: Path) -> None:
    """Through the real `serve` command: its stderr, many requests at once."""
    import re
    from concurrent.futures import ThreadPoolExecutor

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "echo.py").write_text(ECHO)
    (tmp_path / "template.yaml").write_text(textwrap.dedent(TEMPLATE))
    static = tmp_path / "static"
    static.mkdir()
    (static / "index.html").write_text("<h1>hello</h1>")
    with serving("-t", str(tmp_path / "template.yaml"), "--static", str(static), cwd=tmp_path) as served:
        assert f"STATIC http://localhost:{served.port}/ -> " in served.text, served.banner
        paths = [("GET", "/"), ("GET", "/nothing/here"), ("GET", "/bare"), ("POST", "/any/a/b")] * 40

        def fire(job: tuple[str, str]) -> int:
            return request(served.base, job[0], job[1], [], b"x" * 100 if job[0] == "POST" else None)[0]

        with ThreadPoolExecutor(max_workers=32) as pool:
            statuses = list(pool.map(fire, paths))
        assert (statuses.count(404), statuses.count(200), statuses.count(201)) == (40, 80, 40), statuses
    rest = served.rest
    requests = [line for line in rest.splitlines() if not line.startswith("warning: ")]
    whole = re.compile(r"(GET|POST) /\S* -> (static|no route|\w+ \(http\)) \d{3} \d+\.\d ms")
    assert len(requests) == len(paths), requests[:5]
    assert all(whole.fullmatch(line) for line in requests), [line for line in requests if not whole.fullmatch(line)][:5]


# -- the sample template's REST CORS and gateway responses ---------------------------------------


def test_sample_rest_preflights_and_refusals() -> None:
    from clerk_serverless_local.devkeys import DevKey
    from clerk_serverless_local.samples import DEV_KEY_FILE

    root = Path(__file__).resolve().parent.parent
    key = DevKey.load(root / DEV_KEY_FILE)
    env = json.loads((root / "env.json").read_text())  # MachineApiFunction's secret key placeholder included
    first, second, evil = "http://localhost:3000", "http://localhost:5173", "https://evil.example"
    template = Template(root / "template.yaml", {"ClerkAuthorizedParties": f"{first},{second}"})
    lines: list[str] = []
    with LocalGateway(template, env_vars=env, port=0, ephemeral_url_ports=True, log=lines.append, warn=lambda m: None) as gw:
        base = gw.urls["api"]
        # REST preflights go to the functions, as the template's OPTIONS events say (no authorizer on /secure's).
        for path, function in (("/Prod/me", "MeFunction"), ("/Prod/secure", "SecureFunction"), ("/Prod/machine", "MachineApiFunction")):
            status, _, _ = request(base, "OPTIONS", path, [("Origin", second), ("Access-Control-Request-Method", "GET")])
            assert status < 300 and lines[-1].startswith(f"OPTIONS {path} -> {function} (rest)"), lines[-1]
        # The authorizer's refusal is readable by the first authorized party only, whoever asks.
        for origin in (first, second, evil):
            status, headers, body = request(base, "GET", "/Prod/secure", [("Origin", origin)])
            assert status == 401 and json.loads(body) == {"message": "Unauthorized"}
            assert header(headers, "Access-Control-Allow-Origin") == [first] and header(headers, "Vary") == ["Origin"]
            assert header(headers, "x-clerk-auth-status") == ["signed-out"]
        # The HTTP API's refusal carries CORS for any authorized origin, none for others.
        assert header(request(base, "GET", "/secure", [("Origin", second)])[1], "Access-Control-Allow-Origin") == [second]
        assert not header(request(base, "GET", "/secure", [("Origin", evil)])[1], "Access-Control-Allow-Origin")
        token = key.token("user_dev_123", azp=second)
        status, _, body = request(base, "GET", "/Prod/machine", [("Authorization", f"Bearer {token}"), ("Origin", second)])
        assert status == 200 and json.loads(body)["user_id"] == "user_dev_123"
