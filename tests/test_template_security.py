"""What template.yaml promises, read from the template itself.

* The optional ALB answers on HTTPS only: port 80 redirects, never forwards,
  and the stack refuses ALB subnets without a certificate.
* Only MachineApiFunction (the one calling the Backend API) can read the
  secret key, or is even told where it is.
* The secret-key parameters accept one full name or ARN, never a wildcard.
* REST preflights reach the functions; API Gateway's own refusals carry CORS
  for the first authorized party, never for an origin read from the request.
* One parameter, ClerkAuthorizedParties, holds the origins: it feeds the azp
  check and every CORS configuration; env.json does not override it.

``sam validate --lint`` and cfn-lint run in tests/test_sam.py.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from clerk_serverless_local.devkeys import DEV_ORIGIN
from clerk_serverless_local.gateway import collect_rest_apis, collect_routes
from clerk_serverless_local.template import Template, TemplateError, load_yaml

ROOT = Path(__file__).resolve().parent.parent
SECRET_VARIABLES = {"CLERK_SECRET_KEY_PARAMETER", "CLERK_SECRET_KEY_SECRET_ID", "CLERK_SECRET_KEY"}
GOOD_SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:myapp/clerk-secret-key-AbC123"
GOOD_CERT = "arn:aws:acm:us-east-1:123456789012:certificate/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return load_yaml(ROOT / "template.yaml")


@pytest.fixture(scope="module")
def resources(document: dict[str, Any]) -> dict[str, Any]:
    return document["Resources"]


def _of_type(resources: dict[str, Any], kind: str) -> dict[str, Any]:
    return {rid: r for rid, r in resources.items() if r.get("Type") == kind}


# -- the ALB: HTTPS only ------------------------------------------------------------------


def test_no_http_listener_forwards(resources: dict[str, Any]) -> None:
    listeners = _of_type(resources, "AWS::ElasticLoadBalancingV2::Listener")
    assert listeners
    for rid, listener in listeners.items():
        props = listener["Properties"]
        actions = props["DefaultActions"]
        if props["Protocol"] == "HTTP":
            assert props["Port"] == 80, rid
            assert [a["Type"] for a in actions] == ["redirect"], rid
            redirect = actions[0]["RedirectConfig"]
            assert (redirect["Protocol"], str(redirect["Port"]), redirect["StatusCode"]) == ("HTTPS", "443", "HTTP_301")
        else:
            assert props["Protocol"] == "HTTPS" and props["Port"] == 443, rid
            assert props["Certificates"] == [{"CertificateArn": {"Ref": "AlbCertificateArn"}}]
            assert props["SslPolicy"].startswith("ELBSecurityPolicy-TLS13-1-2"), "TLS 1.2 at least, with TLS 1.3"
    # No rule anywhere forwards plain HTTP either.
    assert not _of_type(resources, "AWS::ElasticLoadBalancingV2::ListenerRule")


def test_alb_security_group_opens_only_443_and_the_redirect(resources: dict[str, Any]) -> None:
    ingress = resources["AlbSecurityGroup"]["Properties"]["SecurityGroupIngress"]
    assert sorted((rule["FromPort"], rule["ToPort"]) for rule in ingress) == [(80, 80), (443, 443)]


def test_alb_drops_invalid_header_fields(resources: dict[str, Any]) -> None:
    attributes = {a["Key"]: a["Value"] for a in resources["Alb"]["Properties"]["LoadBalancerAttributes"]}
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"


@pytest.mark.parametrize(
    "overrides,refused",
    [
        ({}, False),  # no ALB at all
        ({"AlbSubnetIds": "subnet-0a,subnet-0b", "AlbVpcId": "vpc-01"}, True),  # no certificate: refused
        ({"AlbSubnetIds": "subnet-0a,subnet-0b", "AlbCertificateArn": GOOD_CERT}, True),  # no VPC: refused
        ({"AlbSubnetIds": "subnet-0a,subnet-0b", "AlbVpcId": "vpc-01", "AlbCertificateArn": GOOD_CERT}, False),
    ],
)
def test_the_stack_refuses_alb_subnets_without_a_certificate(overrides: dict[str, str], refused: bool) -> None:
    # The template's Rules, evaluated as CloudFormation does before creating anything.
    template = Template(ROOT / "template.yaml", {"ClerkPublishableKey": "pk_test_Y2xlcmsuZXhhbXBsZS5jb20k", **overrides})
    broken = [v for v in template.rule_violations() if v.startswith("AlbNeedsCertificateAndVpc")]
    assert bool(broken) == refused, broken
    assert template.conditions["HasAlb"] == ("AlbSubnetIds" in overrides)


def test_alb_parameters_say_https_is_required(document: dict[str, Any]) -> None:
    parameters = document["Parameters"]
    assert "AlbCertificateArn" in parameters["AlbSubnetIds"]["Description"]
    assert "refuse" in parameters["AlbCertificateArn"]["Description"]


def test_deploying_without_a_key_source_is_refused() -> None:
    refused = Template(ROOT / "template.yaml").rule_violations()
    assert any(v.startswith("KeySourceRequired") for v in refused)
    for setting in ({"ClerkPublishableKey": "pk_test_Y2xlcmsuZXhhbXBsZS5jb20k"}, {"ClerkJwksUrl": "https://x.example/.well-known/jwks.json"}):
        assert not Template(ROOT / "template.yaml", setting).rule_violations()



def test_clerk_issuer_parameter_reaches_every_function_as_clerk_issuer(document: dict[str, Any]) -> None:
    """The publishable key pins no issuer: ``ClerkIssuer`` is the one way to,
    a comma-separated list of https:// URLs (a proxy URL among them)."""
    assert document["Globals"]["Function"]["Environment"]["Variables"]["CLERK_ISSUER"] == {"Ref": "ClerkIssuer"}
    key = {"ClerkPublishableKey": "pk_test_Y2xlcmsuZXhhbXBsZS5jb20k"}
    Template(ROOT / "template.yaml", {**key, "ClerkIssuer": "https://clerk.example.com,https://example.com/__clerk"})
    for bad in ("http://clerk.example.com", "https://clerk.example.com,", "clerk.example.com"):
        with pytest.raises(TemplateError, match="ClerkIssuer"):
            Template(ROOT / "template.yaml", {**key, "ClerkIssuer": bad})



def test_clerk_proxy_url_parameter_reaches_every_function_as_clerk_proxy_url(document: dict[str, Any]) -> None:
    """A proxied Frontend API's keys: ``ClerkProxyUrl`` becomes CLERK_PROXY_URL,
    an absolute https:// URL (a relative /__clerk, http, a query refused
    before deploy, as ClerkAuth refuses them at cold start)."""
    assert document["Globals"]["Function"]["Environment"]["Variables"]["CLERK_PROXY_URL"] == {"Ref": "ClerkProxyUrl"}
    key = {"ClerkPublishableKey": "pk_live_Y2xlcmsuZXhhbXBsZS5jb20k"}
    Template(ROOT / "template.yaml", {**key, "ClerkProxyUrl": "https://app.example.com/__clerk"})
    for bad in ("/__clerk", "http://app.example.com/__clerk", "https://app.example.com/__clerk?x=1", "app.example.com"):
        with pytest.raises(TemplateError, match="ClerkProxyUrl"):
            Template(ROOT / "template.yaml", {**key, "ClerkProxyUrl": bad})



# -- the secret key: MachineApiFunction only ------------------------------------------------


def test_only_the_machine_function_is_told_where_the_secret_is(document: dict[str, Any], resources: dict[str, Any]) -> None:
    globals_env = document["Globals"]["Function"]["Environment"]["Variables"]
    assert not SECRET_VARIABLES & set(globals_env)
    for rid, function in _of_type(resources, "AWS::Serverless::Function").items():
        variables = set((function["Properties"].get("Environment") or {}).get("Variables") or {})
        if rid == "MachineApiFunction":
            assert {"CLERK_SECRET_KEY_PARAMETER", "CLERK_SECRET_KEY_SECRET_ID"} <= variables
        else:
            assert not SECRET_VARIABLES & variables, rid
    # And so, locally as on AWS, only its environment names the secret.
    template = Template(ROOT / "template.yaml", {"ClerkSecretKeyParameter": "/myapp/clerk/secret-key"})
    for rid in template.function_ids():
        named = template.function(rid).environment.get("CLERK_SECRET_KEY_PARAMETER")
        assert named == ("/myapp/clerk/secret-key" if rid == "MachineApiFunction" else None), rid


def test_only_the_machine_function_can_read_the_secret(resources: dict[str, Any]) -> None:
    policy = resources["ClerkSecretKeyReadPolicy"]
    assert policy["Type"] == "AWS::IAM::ManagedPolicy" and "Roles" not in policy["Properties"] and "Users" not in policy["Properties"]
    text = json.dumps(resources)
    assert text.count('"Ref": "ClerkSecretKeyReadPolicy"') == 1
    assert "ClerkSecretKeyReadPolicy" in json.dumps(resources["MachineApiFunction"]["Properties"]["Policies"])
    for rid, function in _of_type(resources, "AWS::Serverless::Function").items():
        if rid != "MachineApiFunction":
            assert "Policies" not in function["Properties"], rid
    statements = json.dumps(policy["Properties"]["PolicyDocument"])
    assert "*" not in statements  # one parameter, one secret: no wildcard resource or action


def test_the_deployed_roles_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    """What SAM makes of it: every role but MachineApiFunction's lacks the policy."""
    transform = pytest.importorskip("samtranslator.translator.transform").transform
    from samtranslator.yaml_helper import yaml_parse

    monkeypatch.setenv("AWS_DEFAULT_REGION", os.environ.get("AWS_DEFAULT_REGION") or "us-east-1")
    source = yaml_parse((ROOT / "template.yaml").read_text())
    for resource in source["Resources"].values():
        for key in ("CodeUri", "ContentUri"):
            if key in (resource.get("Properties") or {}):
                resource["Properties"][key] = "s3://bucket/code.zip"  # what sam package would put there

    class NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    output = transform(source, {}, NoManagedPolicies())["Resources"]
    roles = _of_type(output, "AWS::IAM::Role")
    readers = {rid for rid, role in roles.items() if "ClerkSecretKeyReadPolicy" in json.dumps(role)}
    assert readers == {"MachineApiFunctionRole"}
    for rid, function in _of_type(output, "AWS::Lambda::Function").items():
        variables = set(function["Properties"]["Environment"]["Variables"])
        assert bool(SECRET_VARIABLES & variables) == (rid == "MachineApiFunction"), rid


# -- the secret-key parameters refuse wildcards -------------------------------------------------


def _pattern(document: dict[str, Any], name: str) -> str:
    return str(document["Parameters"][name]["AllowedPattern"])


@pytest.mark.parametrize(
    "value",
    [
        "*",
        "arn:aws:secretsmanager:*:*:secret:*",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:*",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:myapp/*",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:clerk-??????",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:myapp/clerk-secret-key",  # partial: IAM would never match it
        "arn:aws:secretsmanager:us-east-1:12345:secret:name-AbC123",
        "arn:aws:ssm:us-east-1:123456789012:parameter/x",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:name-AbC123\n",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:name-AbC123,arn:aws:s3:::bucket",
        f" {GOOD_SECRET_ARN}",
    ],
)
def test_secret_arn_pattern_refuses(document: dict[str, Any], value: str) -> None:
    assert re.fullmatch(_pattern(document, "ClerkSecretKeySecretArn"), value) is None
    with pytest.raises(TemplateError, match="ClerkSecretKeySecretArn"):
        Template(ROOT / "template.yaml", {"ClerkSecretKeySecretArn": value})


@pytest.mark.parametrize("value", ["", GOOD_SECRET_ARN, "arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:a_b+c=d.e@f-ZZZZZZ",
                                   "arn:aws-eusc:secretsmanager:eusc-de-east-1:123456789012:secret:clerk-AbC123"])
def test_secret_arn_pattern_accepts_full_arns(document: dict[str, Any], value: str) -> None:
    assert re.fullmatch(_pattern(document, "ClerkSecretKeySecretArn"), value)


@pytest.mark.parametrize("value", ["*", "/myapp/*", "/", "//x", "/x/", "myapp/clerk", "/x y", "/x\n", "/x,/y", "/a/b?"])
def test_ssm_parameter_pattern_refuses(document: dict[str, Any], value: str) -> None:
    assert re.fullmatch(_pattern(document, "ClerkSecretKeyParameter"), value) is None
    with pytest.raises(TemplateError, match="ClerkSecretKeyParameter"):
        Template(ROOT / "template.yaml", {"ClerkSecretKeyParameter": value})


@pytest.mark.parametrize("value", ["", "/myapp/clerk/secret-key", "/prod/clerk_sk.v2"])
def test_ssm_parameter_pattern_accepts_names(document: dict[str, Any], value: str) -> None:
    assert re.fullmatch(_pattern(document, "ClerkSecretKeyParameter"), value)


def test_certificate_pattern_refuses_anything_but_an_acm_arn(document: dict[str, Any]) -> None:
    pattern = _pattern(document, "AlbCertificateArn")
    assert re.fullmatch(pattern, GOOD_CERT)
    for value in ("*", "arn:aws:acm:*:*:certificate/*", "arn:aws:iam::123456789012:server-certificate/x"):
        assert re.fullmatch(pattern, value) is None


# -- CORS on the REST API, and its gateway responses ---------------------------------------------


def test_rest_preflights_reach_the_functions() -> None:
    template = Template(ROOT / "template.yaml")
    assert "Cors" not in template.resources["RestApi"]["Properties"]  # no one-origin mock integration
    routes, _ = collect_routes(template)
    rest = [r for r in routes if r.api == "rest"]
    for route in rest:
        if route.method == "OPTIONS":
            assert route.authorizer is None, route.path  # preflights carry no credentials
        else:
            assert any(o.method == "OPTIONS" and o.path == route.path and o.function == route.function for o in rest), route.path
    secure = next(r for r in rest if r.path == "/secure" and r.method == "GET")
    assert secure.authorizer is not None and secure.authorizer.function == "ClerkAuthorizerFunction"


@pytest.mark.parametrize("kind", ["UNAUTHORIZED", "ACCESS_DENIED", "DEFAULT_4XX", "DEFAULT_5XX"])
def test_gateway_responses_are_readable_by_the_first_authorized_party_only(document: dict[str, Any], kind: str) -> None:
    raw = document["Resources"]["RestApi"]["Properties"]["GatewayResponses"][kind]["ResponseParameters"]["Headers"]
    assert "method.request" not in json.dumps(raw)  # never reflects the request's Origin (or anything else)
    origins = "https://app.example.com,https://admin.example.com"
    template = Template(ROOT / "template.yaml", {"ClerkAuthorizedParties": origins})
    headers = template.resolve(raw)
    assert headers["Access-Control-Allow-Origin"] == "'https://app.example.com'"
    assert headers["Access-Control-Allow-Credentials"] == "'true'"
    assert headers["Vary"] == "'Origin'"
    exposed = set(headers["Access-Control-Expose-Headers"].strip("'").split(","))
    assert {"www-authenticate", "retry-after", "x-clerk-auth-status", "x-clerk-auth-reason"} <= exposed
    # ...and the local gateway can apply them.
    assert kind in collect_rest_apis(template)["RestApi"].responses.entries


# -- one place for origins ----------------------------------------------------------------------


def test_one_parameter_feeds_the_azp_check_and_every_cors_configuration(document: dict[str, Any], resources: dict[str, Any]) -> None:
    template = Template(ROOT / "template.yaml")
    assert template.parameters_feeding("CLERK_AUTHORIZED_PARTIES") == ["ClerkAuthorizedParties"]
    assert resources["HttpApi"]["Properties"]["CorsConfiguration"]["AllowOrigins"] == {"Ref": "ClerkAuthorizedParties"}
    assert resources["FastApiFunction"]["Properties"]["FunctionUrlConfig"]["Cors"]["AllowOrigins"] == {"Ref": "ClerkAuthorizedParties"}
    env = json.loads((ROOT / "env.json").read_text())
    assert all("CLERK_AUTHORIZED_PARTIES" not in scope for scope in env.values())  # env.json does not fork the setting
    assert DEV_ORIGIN in template.parameters["ClerkAuthorizedParties"]  # dev tokens' default azp is authorized
    wider = Template(ROOT / "template.yaml", {"ClerkAuthorizedParties": "http://localhost:3000,http://localhost:5173"})
    assert wider.function("MeFunction").environment["CLERK_AUTHORIZED_PARTIES"] == "http://localhost:3000,http://localhost:5173"
    routes, urls = collect_routes(wider)
    http = next(r for r in routes if r.api == "http" and r.path == "/me")
    assert http.cors is not None and http.cors.origins == ("http://localhost:3000", "http://localhost:5173")
    assert urls["FastApiFunction"] is not None and urls["FastApiFunction"].origins == http.cors.origins
