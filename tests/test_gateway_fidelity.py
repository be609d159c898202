"""`serve` against documented AWS behaviour, one behaviour per test.

Each test starts the real local gateway on a free loopback port and sends
real HTTP requests; the AWS page each expectation comes from is named in
the test's docstring.
"""

from __future__ import annotations

import base64
import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.rawhttp import header, request

from clerk_serverless_local.gateway import LocalGateway
from clerk_serverless_local.template import Template

CODE = '''
import base64, json, time

def echo(event, context):
    return {"statusCode": 200, "headers": {"Access-Control-Allow-Origin": "http://function.example",
                                           "X-Echo": "1"},
            "cookies": ["a=1; Path=/", "b=2; Path=/"], "body": json.dumps({"event": event})}

def rest_echo(event, context):
    return {"statusCode": 200, "body": json.dumps({"event": event})}

def crash(event, context):
    raise RuntimeError("boom")

def slow(event, context):
    time.sleep(5)

def malformed(event, context):
    return {"statusCode": "not a number", "body": "x"}

def merged(event, context):
    return {"statusCode": 200,
            "headers": {"Access-Control-Allow-Origin": "http://allowed.example", "X-One": "a"},
            "multiValueHeaders": {"Access-Control-Allow-Origin": ["http://allowed.example"],
                                  "X-One": ["a", "b"], "X-Two": ["c"]},
            "body": "{}"}

PNG = base64.b64encode(bytes([0x89, 80, 78, 71, 13, 10, 26, 10, 0, 255])).decode()

def png(event, context):
    return {"statusCode": 200, "headers": {"Content-Type": "image/png"}, "body": PNG, "isBase64Encoded": True}

def big(event, context):
    return {"statusCode": 200, "body": "x" * 6_291_556}

def allow(event, context):
    return {"isAuthorized": True, "context": {"who": "u1"}}
'''

TEMPLATE = '''
Transform: AWS::Serverless-2016-10-31
Globals:
  Function: {Runtime: python3.11, Timeout: 3, CodeUri: src/}
Resources:
  Http:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        Authorizers:
          Allow: {FunctionArn: !GetAtt Allower.Arn, AuthorizerPayloadFormatVersion: "2.0", EnableSimpleResponses: true,
                  Identity: {Headers: [Authorization]}}
      CorsConfiguration:
        AllowOrigins: [http://allowed.example]
        AllowCredentials: true
        AllowHeaders: [authorization]
        AllowMethods: [GET, POST]
        ExposeHeaders: [x-echo]
        MaxAge: 300
  Rest:
    Type: AWS::Serverless::Api
    Properties:
      StageName: Prod
  Echo:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.echo
      Events:
        Get: {Type: HttpApi, Properties: {ApiId: !Ref Http, Path: /echo, Method: GET}}
        Post: {Type: HttpApi, Properties: {ApiId: !Ref Http, Path: /echo, Method: POST}}
        Files: {Type: HttpApi, Properties: {ApiId: !Ref Http, Path: "/files/{name}", Method: GET}}
        Guarded: {Type: HttpApi, Properties: {ApiId: !Ref Http, Path: "/guarded/{proxy+}", Method: ANY,
                                              Auth: {Authorizer: Allow}}}
  RestEcho:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.rest_echo
      Events:
        Get: {Type: Api, Properties: {RestApiId: !Ref Rest, Path: /echo, Method: GET}}
        Files: {Type: Api, Properties: {RestApiId: !Ref Rest, Path: "/files/{name}", Method: GET}}
  BinaryRest:
    Type: AWS::Serverless::Api
    Properties:
      StageName: Bin
      BinaryMediaTypes: [image~1png, application~1octet-stream]
  Png:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.png
      Events:
        Rest: {Type: Api, Properties: {RestApiId: !Ref Rest, Path: /png, Method: GET}}
        Binary: {Type: Api, Properties: {RestApiId: !Ref BinaryRest, Path: /png, Method: GET}}
        Http: {Type: HttpApi, Properties: {ApiId: !Ref Http, Path: /png, Method: GET}}
  BinaryEcho:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.rest_echo
      Events:
        Rest: {Type: Api, Properties: {RestApiId: !Ref Rest, Path: /upload, Method: POST}}
        Binary: {Type: Api, Properties: {RestApiId: !Ref BinaryRest, Path: /upload, Method: POST}}
  Big:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.big
      Events:
        Http: {Type: HttpApi, Properties: {ApiId: !Ref Http, Path: /big, Method: GET}}
        Rest: {Type: Api, Properties: {RestApiId: !Ref Rest, Path: /big, Method: GET}}
  Crash:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.crash
      Events:
        Get: {Type: HttpApi, Properties: {ApiId: !Ref Http, Path: /crash, Method: GET}}
  Slow:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.slow
      Timeout: 1
      Events:
        Get: {Type: HttpApi, Properties: {ApiId: !Ref Http, Path: /slow, Method: GET}}
  Malformed:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.malformed
      Events:
        Get: {Type: HttpApi, Properties: {ApiId: !Ref Http, Path: /malformed, Method: GET}}
  Merged:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.merged
      Events:
        Get: {Type: Api, Properties: {RestApiId: !Ref Rest, Path: /merged, Method: GET}}
  Allower: {Type: AWS::Serverless::Function, Properties: {Handler: app.allow}}
'''
ALLOWED, EVIL = "http://allowed.example", "http://evil.example"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalGateway]:
    root = tmp_path_factory.mktemp("fidelity")
    (root / "src").mkdir()
    (root / "src" / "app.py").write_text(CODE)
    (root / "template.yaml").write_text(textwrap.dedent(TEMPLATE))
    with LocalGateway(Template(root / "template.yaml"), port=0, log=lambda line: None, warn=lambda m: None) as gw:
        yield gw


def call(gw: LocalGateway, method: str, path: str, headers: list[tuple[str, str]] | None = None,
         body: bytes | None = None) -> tuple[int, list[tuple[str, str]], bytes]:
    return request(gw.urls["api"], method, path, headers, body, accept_encoding=False)



def cors_names(headers: list[tuple[str, str]]) -> set[str]:
    return {k.lower() for k, _ in headers if k.lower().startswith("access-control-")}


PREFLIGHT = [("Origin", ALLOWED), ("Access-Control-Request-Method", "POST"),
             ("Access-Control-Request-Headers", "authorization")]


# -- HTTP API CORS (developerguide/http-api-cors.html) ----------------------------------------


def test_preflight_is_answered_without_an_options_route(gateway: LocalGateway) -> None:
    """"API Gateway automatically sends a response to preflight OPTIONS
    requests, even if there isn't an OPTIONS route"; the answer carries the
    configured Allow-* headers and Max-Age, not Expose-Headers."""
    status, headers, body = call(gateway, "OPTIONS", "/echo", PREFLIGHT)
    assert status == 204 and body == b""
    assert header(headers, "Access-Control-Allow-Origin") == [ALLOWED]
    assert header(headers, "Access-Control-Allow-Credentials") == ["true"]
    assert header(headers, "Access-Control-Max-Age") == ["300"]
    assert "access-control-expose-headers" not in cors_names(headers)
    assert "authorization" in header(headers, "Access-Control-Allow-Headers")[0].lower()


def test_preflight_from_an_origin_not_allowed_gets_no_cors_headers(gateway: LocalGateway) -> None:
    status, headers, _ = call(gateway, "OPTIONS", "/echo", [("Origin", EVIL), *PREFLIGHT[1:]])
    assert status == 204 and not cors_names(headers)


def test_cors_headers_need_an_origin_header(gateway: LocalGateway) -> None:
    """"To return CORS headers, your request must contain an origin header.""" ""
    status, headers, _ = call(gateway, "GET", "/echo")
    assert status == 200 and not cors_names(headers)


def test_integration_cors_headers_are_ignored(gateway: LocalGateway) -> None:
    """"If you configure CORS for an API, API Gateway ignores CORS headers
    returned from your backend integration": the configured ones replace them
    (Expose-Headers on actual answers), and a foreign origin gets none."""
    status, headers, _ = call(gateway, "GET", "/echo", [("Origin", ALLOWED)])
    assert status == 200
    assert header(headers, "Access-Control-Allow-Origin") == [ALLOWED]
    assert header(headers, "Access-Control-Expose-Headers") == ["x-echo"]
    status, headers, _ = call(gateway, "GET", "/echo", [("Origin", EVIL)])
    assert status == 200 and not cors_names(headers)  # not even the function's own


def test_options_that_is_not_a_preflight_is_routed_like_any_method(gateway: LocalGateway) -> None:
    """An OPTIONS without Access-Control-Request-Method is no preflight: no
    route serves OPTIONS /echo, so the HTTP API's 404."""
    status, _, body = call(gateway, "OPTIONS", "/echo", [("Origin", ALLOWED)])
    assert status == 404 and json.loads(body) == {"message": "Not Found"}


def test_a_preflight_routed_to_an_any_route_meets_its_authorizer(gateway: LocalGateway) -> None:
    """"The $default route catches requests for all methods ... including
    OPTIONS requests. To support unauthorized OPTIONS requests, add an OPTIONS
    /{proxy+} route ... that doesn't require authorization": a preflight
    (which carries no credentials) to an ANY route behind an authorizer is
    refused by its identity-source check, so the browser's preflight fails."""
    status, headers, _ = call(gateway, "OPTIONS", "/guarded/x", PREFLIGHT)
    assert status == 401
    # With the identity source present the authorizer allows it, and API Gateway answers the preflight.
    status, headers, _ = call(gateway, "OPTIONS", "/guarded/x", [*PREFLIGHT, ("Authorization", "Bearer x")])
    assert status == 204 and header(headers, "Access-Control-Allow-Origin") == [ALLOWED]


# -- payload format 2.0 (developerguide/http-api-develop-integrations-lambda.html) ------------


def test_payload_2_event_from_a_real_request(gateway: LocalGateway) -> None:
    """Cookies in `cookies`, duplicate headers and query values joined with
    commas, lowercase header names, rawPath and rawQueryString as sent."""
    status, _, body = call(gateway, "GET", "/echo?a=1&a=2&b=%20x", [
        ("Cookie", "__session=t; theme=dark"), ("X-Dup", "one"), ("X-Dup", "two")])
    event = json.loads(body)["event"]
    assert status == 200 and event["version"] == "2.0"
    assert event["cookies"] == ["__session=t", "theme=dark"] and "cookie" not in event["headers"]
    assert event["headers"]["x-dup"] == "one,two"
    assert event["rawPath"] == "/echo" and event["rawQueryString"] == "a=1&a=2&b=%20x"
    assert event["queryStringParameters"] == {"a": "1,2", "b": " x"}
    assert event["routeKey"] == "GET /echo"


def test_binary_bodies_arrive_base64_encoded(gateway: LocalGateway) -> None:
    raw = b"\x00\xff\xfe"
    _, _, body = call(gateway, "POST", "/echo", [("Content-Type", "application/octet-stream")], raw)
    event = json.loads(body)["event"]
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == raw
    _, _, body = call(gateway, "POST", "/echo", [("Content-Type", "application/json")], b'{"a": 1}')
    event = json.loads(body)["event"]
    assert event["isBase64Encoded"] is False and event["body"] == '{"a": 1}'


def test_http_api_paths_arrive_percent_decoded(gateway: LocalGateway) -> None:
    """An HTTP API hands its integration the path percent-decoded (rawPath,
    requestContext.http.path and pathParameters: Powertools' routers match
    ``/files/café``); a REST API keeps ``path`` as sent. The query string
    stays raw in rawQueryString, decoded in queryStringParameters."""
    _, _, body = call(gateway, "GET", "/files/caf%C3%A9%20au%20lait?q=%C3%A9t%C3%A9")
    event = json.loads(body)["event"]
    assert event["rawPath"] == event["requestContext"]["http"]["path"] == "/files/café au lait"
    assert event["pathParameters"] == {"name": "café au lait"}
    assert event["rawQueryString"] == "q=%C3%A9t%C3%A9" and event["queryStringParameters"] == {"q": "été"}
    _, _, body = call(gateway, "GET", "/Prod/files/caf%C3%A9")
    assert json.loads(body)["event"]["path"] == "/files/caf%C3%A9"


def test_response_cookies_become_set_cookie_headers(gateway: LocalGateway) -> None:
    """"In the response to the client, each cookie becomes a set-cookie header.\""""
    _, headers, _ = call(gateway, "GET", "/echo")
    assert header(headers, "Set-Cookie") == ["a=1; Path=/", "b=2; Path=/"]


def test_http_api_function_error_is_a_500(gateway: LocalGateway) -> None:
    """An HTTP API answers a function error with 500 {"message":"Internal
    Server Error"} (REST APIs answer 502)."""
    status, headers, body = call(gateway, "GET", "/crash", [("Origin", ALLOWED)])
    assert status == 500 and json.loads(body) == {"message": "Internal Server Error"}
    assert header(headers, "Access-Control-Allow-Origin") == [ALLOWED]  # the CORS configuration covers it


def test_http_api_function_timeout_is_a_500(gateway: LocalGateway) -> None:
    """A function timing out before the HTTP API's 30 s integration timeout
    is a function error: 500, as any other."""
    status, _, body = call(gateway, "GET", "/slow")
    assert status == 500 and json.loads(body) == {"message": "Internal Server Error"}


def test_http_api_malformed_function_answer_is_a_500(gateway: LocalGateway) -> None:
    status, _, body = call(gateway, "GET", "/malformed")
    assert status == 500 and json.loads(body) == {"message": "Internal Server Error"}


def test_a_response_over_lambdas_payload_limit_fails(gateway: LocalGateway) -> None:
    """A function answer over 6,291,556 bytes fails the invocation
    (Function.ResponseSizeTooLarge): the HTTP API's 500, the REST API's 502,
    as deployed, not the 200 a developer would otherwise see only locally."""
    status, _, body = call(gateway, "GET", "/big")
    assert status == 500 and json.loads(body) == {"message": "Internal Server Error"}
    status, _, body = call(gateway, "GET", "/Prod/big")
    assert status == 502 and json.loads(body) == {"message": "Internal server error"}


def test_an_event_over_lambdas_request_limit_is_refused(gateway: LocalGateway) -> None:
    """Lambda takes events up to 6 MiB: a 4.8 MiB binary upload, base64-encoded
    into the event, is over it (413, the function never runs), while 4.8 MiB
    of text is not."""
    size = 4_800_000
    status, _, body = call(gateway, "POST", "/echo", [("Content-Type", "application/octet-stream")], b"\xff" * size)
    assert status == 413 and json.loads(body) == {"message": "Request Entity Too Large"}
    status, _, body = call(gateway, "POST", "/echo", [("Content-Type", "text/plain")], b"x" * size)
    assert status == 200 and len(json.loads(body)["event"]["body"]) == size
    status, _, body = call(gateway, "POST", "/Bin/upload", [("Content-Type", "image/png")], b"x" * size)
    assert status == 413 and json.loads(body) == {"message": "Request Too Large"}


# -- REST proxy integration (developerguide/set-up-lambda-proxy-integrations.html) ------------


def test_rest_headers_and_multi_value_headers_merge(gateway: LocalGateway) -> None:
    """"If you specify values for both headers and multiValueHeaders, API
    Gateway merges them into a single list. If the same key-value pair is
    specified in both, only the values from multiValueHeaders will appear in
    the merged list." A browser refuses an answer with two
    Access-Control-Allow-Origin values."""
    status, headers, _ = call(gateway, "GET", "/Prod/merged", [("Origin", ALLOWED)])
    assert status == 200
    assert header(headers, "Access-Control-Allow-Origin") == [ALLOWED]
    assert header(headers, "X-One") == ["a", "b"] and header(headers, "X-Two") == ["c"]


def test_rest_binary_needs_binary_media_types(gateway: LocalGateway) -> None:
    """REST APIs handle binary only through ``binaryMediaTypes``
    (developerguide/api-gateway-payload-encodings.html): a request body is
    base64-encoded when its Content-Type is one of them, else passed as text
    (bytes that are not UTF-8 mangled); an isBase64Encoded answer goes out
    as bytes only when the request's first Accept type is one of them, else
    as its base64 text. HTTP APIs need no setting."""
    raw, encoded = b"\x89PNG\r\n\x1a\n\x00\xff", base64.b64encode(b"\x89PNG\r\n\x1a\n\x00\xff")
    for accept, bytes_out in (("image/png", True), ("*/*", False), ("image/avif,image/png,*/*;q=0.8", False)):
        _, _, body = call(gateway, "GET", "/Bin/png", [("Accept", accept)])
        assert body == (raw if bytes_out else encoded), accept
        _, _, body = call(gateway, "GET", "/Prod/png", [("Accept", accept)])
        assert body == encoded, accept  # no binary media types at all
        _, _, body = call(gateway, "GET", "/png", [("Accept", accept)])
        assert body == raw, accept  # the HTTP API decodes whatever the Accept
    _, _, body = call(gateway, "POST", "/Bin/upload", [("Content-Type", "image/png")], raw)
    event = json.loads(body)["event"]
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == raw
    _, _, body = call(gateway, "POST", "/Bin/upload", [("Content-Type", "application/json")], b'{"a": "\xc3\xa9"}')
    event = json.loads(body)["event"]
    assert event["isBase64Encoded"] is False and event["body"] == '{"a": "é"}'
    _, _, body = call(gateway, "POST", "/Prod/upload", [("Content-Type", "image/png")], raw)
    event = json.loads(body)["event"]
    assert event["isBase64Encoded"] is False and event["body"] == raw.decode("utf-8", "replace")


def test_rest_event_has_multi_value_headers(gateway: LocalGateway) -> None:
    _, _, body = call(gateway, "GET", "/Prod/echo?a=1&a=2", [("X-Dup", "one"), ("X-Dup", "two")])
    event = json.loads(body)["event"]
    assert event["multiValueHeaders"]["X-Dup"] == ["one", "two"] and event["headers"]["X-Dup"] == "two"
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"]} and event["queryStringParameters"] == {"a": "2"}
    assert event["path"] == "/echo" and event["requestContext"]["path"] == "/Prod/echo"


def test_scheme_wildcard_origins(tmp_path: Path) -> None:
    """allowOrigins accepts "https://*" (any origin starting with https://)
    and "http://*" (http-api-cors.html); the answer names the request's origin."""
    root = tmp_path
    (root / "src").mkdir()
    (root / "src" / "app.py").write_text(CODE)
    (root / "template.yaml").write_text(textwrap.dedent('''
        Transform: AWS::Serverless-2016-10-31
        Resources:
          Http:
            Type: AWS::Serverless::HttpApi
            Properties:
              CorsConfiguration: {AllowOrigins: ["https://*"], AllowMethods: [GET], AllowHeaders: [authorization]}
          Echo:
            Type: AWS::Serverless::Function
            Properties:
              Runtime: python3.11
              CodeUri: src/
              Handler: app.rest_echo
              Events:
                Get: {Type: HttpApi, Properties: {ApiId: !Ref Http, Path: /echo, Method: GET}}
    '''))
    with LocalGateway(Template(root / "template.yaml"), port=0, log=lambda line: None, warn=lambda m: None) as gw:
        ask = [("Access-Control-Request-Method", "GET")]
        _, headers, _ = call(gw, "OPTIONS", "/echo", [("Origin", "https://app.example"), *ask])
        assert header(headers, "Access-Control-Allow-Origin") == ["https://app.example"]
        _, headers, _ = call(gw, "OPTIONS", "/echo", [("Origin", "http://app.example"), *ask])
        assert not cors_names(headers)
        _, headers, _ = call(gw, "GET", "/echo", [("Origin", "https://app.example")])
        assert header(headers, "Access-Control-Allow-Origin") == ["https://app.example"]
