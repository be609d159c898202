"""The local gateway: routing, payloads from real HTTP requests, responses
back to HTTP, CORS as the template configures it."""

from __future__ import annotations

import http.client
import json
import textwrap
from pathlib import Path
from typing import Any, Iterator

import pytest

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


def request(base: str, method: str, path: str, headers: list[tuple[str, str]] | None = None, body: bytes | None = None) -> tuple[int, list[tuple[str, str]], bytes]:
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.putrequest(method, path)
    for name, value in headers or []:
        conn.putheader(name, value)
    if body is not None:
        conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, response.getheaders(), data


def header(headers: list[tuple[str, str]], name: str) -> list[str]:
    return [v for k, v in headers if k.lower() == name.lower()]


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
