"""The container-free runner, the sample events and the local CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from support.serve import serving

from clerk_serverless import ClerkAuth
from clerk_serverless_local.devkeys import DEV_ISSUER, DevKey
from clerk_serverless_local.runner import InitError, LocalFunction, read_env_vars
from clerk_serverless_local.samples import DEV_KEY_FILE, all_events, samples
from clerk_serverless_local.template import Template, TemplateError

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str, cwd: Path = ROOT, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLERK_")}
    return subprocess.run([sys.executable, "-m", "clerk_serverless_local", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120, input=stdin)


@pytest.fixture(scope="module")
def template() -> Template:
    return Template(ROOT / "template.yaml")


@pytest.fixture(scope="module")
def env_vars() -> dict[str, Any]:
    return read_env_vars(ROOT / "env.json")


# -- the committed samples -----------------------------------------------------------


def test_committed_events_are_the_generated_set() -> None:
    key = DevKey.load_or_create(ROOT / DEV_KEY_FILE)
    expected = set(all_events(key))
    committed = {str(p.relative_to(ROOT / "events")) for p in (ROOT / "events").rglob("*.json")}
    assert committed == expected


def test_signed_in_sample_tokens_verify_against_env_json(env_vars: dict[str, Any]) -> None:
    auth = ClerkAuth(jwt_key=env_vars["Parameters"]["CLERK_JWT_KEY"], authorized_parties=["http://localhost:3000"], issuer=DEV_ISSUER)
    for relative in ("http_v2/bearer.json", "rest_v1/bearer.json", "alb_multi/bearer.json", "function_url/bearer.json",
                     "authorizer/http_v2-cookie.json", "authorizer/rest-bearer.json"):
        event = json.loads((ROOT / "events" / relative).read_text())
        assert auth.authenticate_request(event).user_id == "user_dev_123"


def test_template_never_references_the_dev_key() -> None:
    text = (ROOT / "template.yaml").read_text()
    assert "dev/" not in text and "env.json" not in text and "BEGIN PUBLIC KEY" not in text


@pytest.mark.parametrize("function", sorted({s.function for s in samples()}))
def test_every_sample_answers_as_expected(template: Template, env_vars: dict[str, Any], function: str) -> None:
    with LocalFunction(template, function, env_vars=env_vars, warn=lambda m: None) as local:
        for sample in (s for s in samples() if s.function == function):
            event = json.loads((ROOT / "events" / sample.event).read_text())
            result = local.invoke(event)
            if sample.status == "Unauthorized":  # a REST authorizer's 401, by contract an error
                assert result.error and result.error["errorMessage"] == "Unauthorized", sample
                continue
            assert result.ok, (sample, result.error, result.logs)
            payload = result.payload
            if sample.status in ("allow", "deny"):
                allowed = payload["isAuthorized"] if "isAuthorized" in payload else payload["policyDocument"]["Statement"][0]["Effect"] == "Allow"
                assert allowed == (sample.status == "allow"), sample
                if allowed:
                    assert payload["context"]["user_id"] == sample.user
                continue
            assert payload["statusCode"] == sample.status, sample
            headers = payload.get("headers") or {k: v[0] for k, v in (payload.get("multiValueHeaders") or {}).items()}
            assert headers.get("x-clerk-auth-reason", "") == sample.reason, sample
            if sample.event.startswith("alb_multi/"):
                assert "headers" not in payload or payload["statusCode"] < 300, "ALB multi-value answers need multiValueHeaders"


@pytest.mark.parametrize("parameter, value", [
    ("ClerkPublishableKey", "pk_live_Y2xlcmsuZXhhbXBsZS5jb20k"),
    ("ClerkIssuer", "https://clerk.example.com"),
])
def test_env_json_keeps_the_dev_key_working_whatever_the_stack_pins(
    template: Template, env_vars: dict[str, Any], parameter: str, value: str
) -> None:
    """A stack's production settings in the parameter overrides (a samconfig's
    global parameter_overrides) must not refuse the dev key's tokens locally:
    env.json blanks what would pin another instance's iss."""
    event = json.loads((ROOT / "events" / "http_v2" / "bearer.json").read_text())
    with LocalFunction(template.with_overrides({parameter: value}), "MeFunction", env_vars=env_vars,
                       warn=lambda m: None) as local:
        result = local.invoke(event)
    assert result.ok, (result.error, result.logs)
    assert result.payload["statusCode"] == 200, result.payload


def test_demo_prints_every_sample_and_succeeds() -> None:
    started = time.monotonic()
    out = cli("demo")
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"{len(samples())}/{len(samples())} answers as expected" in out.stdout
    assert time.monotonic() - started < 60


# -- the runner ---------------------------------------------------------------------


@pytest.fixture
def scratch_template(tmp_path: Path) -> Path:
    """A tiny template with functions that misbehave on purpose."""
    code = tmp_path / "src"
    code.mkdir()
    (code / "probe.py").write_text(textwrap.dedent('''
        import os, sys, time
        COUNT = {"n": 0}

        def handler(event, context):
            COUNT["n"] += 1
            if event.get("sleep"):
                time.sleep(event["sleep"])
            if event.get("raise"):
                raise ValueError("boom")
            if event.get("exit"):
                os._exit(3)
            print("log line from the handler")
            return {
                "env": {k: os.environ.get(k) for k in ("GREETING", "OVERRIDDEN", "UNDECLARED", "AWS_LAMBDA_FUNCTION_NAME", "AWS_SAM_LOCAL", "_HANDLER", "LAMBDA_TASK_ROOT")},
                "request_id": context.aws_request_id,
                "remaining": context.get_remaining_time_in_millis(),
                "function_name": context.function_name,
                "memory": context.memory_limit_in_mb,
                "invocations": COUNT["n"],
                "path0": sys.path[0],
            }

        def unserializable(event, context):
            return {"when": object()}
    '''))
    (code / "broken.py").write_text("import not_a_module_anywhere\n")
    (tmp_path / "template.yaml").write_text(textwrap.dedent('''
        Transform: AWS::Serverless-2016-10-31
        Parameters:
          Greeting: {Type: String, Default: hello}
        Globals:
          Function:
            Runtime: python3.11
            Timeout: 2
            MemorySize: 256
            Environment:
              Variables:
                GREETING: !Ref Greeting
                OVERRIDDEN: from-template
        Resources:
          Probe:
            Type: AWS::Serverless::Function
            Properties: {CodeUri: src/, Handler: probe.handler}
          Unserializable:
            Type: AWS::Serverless::Function
            Properties: {CodeUri: src/, Handler: probe.unserializable}
          Broken:
            Type: AWS::Serverless::Function
            Properties: {CodeUri: src/, Handler: broken.handler}
          MissingHandler:
            Type: AWS::Serverless::Function
            Properties: {CodeUri: src/, Handler: probe.nope}
    '''))
    return tmp_path / "template.yaml"


def test_runner_sets_up_the_lambda_environment(scratch_template: Path) -> None:
    before = dict(os.environ)
    overrides = {"Parameters": {"OVERRIDDEN": "from-env-json", "UNDECLARED": "ignored, as sam local does"}}
    with LocalFunction(Template(scratch_template), "Probe", env_vars=overrides) as probe:
        first, second = probe.invoke({}), probe.invoke({})
    assert os.environ == before  # nothing leaks into the caller
    payload = first.payload
    assert payload["env"] == {
        "GREETING": "hello",
        "OVERRIDDEN": "from-env-json",
        "UNDECLARED": None,
        "AWS_LAMBDA_FUNCTION_NAME": "Probe",
        "AWS_SAM_LOCAL": "true",  # as sam local says it: the published dev key is refused elsewhere on Lambda
        "_HANDLER": "probe.handler",
        "LAMBDA_TASK_ROOT": str(scratch_template.parent / "src"),
    }
    assert payload["function_name"] == "Probe" and payload["memory"] == "256"
    assert 0 < payload["remaining"] <= 2000
    assert payload["request_id"] != second.payload["request_id"]
    assert payload["path0"] != str(Path(sys.modules["clerk_serverless_local.runner"].__file__).parent)
    assert first.cold_start and not second.cold_start and second.payload["invocations"] == 2  # warm reuse
    assert "log line from the handler" in first.logs


def test_runner_reports_errors_timeouts_and_crashes(scratch_template: Path) -> None:
    template = Template(scratch_template)
    with LocalFunction(template, "Probe") as probe:
        error = probe.invoke({"raise": True})
        assert error.error["errorType"] == "ValueError" and error.error["errorMessage"] == "boom"
        timed_out = probe.invoke({"sleep": 5})
        assert timed_out.error["errorType"] == "Sandbox.Timedout"
        assert probe.invoke({}).cold_start  # a fresh environment after the timeout
        crashed = probe.invoke({"exit": True})
        assert crashed.error["errorType"] == "Runtime.ExitError"
    with LocalFunction(template, "Unserializable") as function:
        assert function.invoke({}).error["errorType"] == "Runtime.MarshalError"
    for logical_id, error_type in (("Broken", "Runtime.ImportModuleError"), ("MissingHandler", "Runtime.HandlerNotFound")):
        with LocalFunction(template, logical_id) as function, pytest.raises(InitError) as info:
            function.invoke({})
        assert info.value.error["errorType"] == error_type


def test_a_missing_clerk_serverless_says_where_functions_get_it() -> None:
    error = InitError({"errorType": "Runtime.ImportModuleError",
                       "errorMessage": "Unable to import module 'app': No module named 'clerk_serverless'"})
    assert "requirements.txt or a layer" in str(error) and "sam build" in str(error)
    other = InitError({"errorType": "Runtime.ImportModuleError", "errorMessage": "No module named 'yaml'"})
    assert "requirements.txt" not in str(other)


def test_awslambdaric_runtime_client_drives_the_same_api(scratch_template: Path) -> None:
    pytest.importorskip("awslambdaric")
    with LocalFunction(Template(scratch_template), "Probe", runtime_client="awslambdaric") as probe:
        result = probe.invoke({})
        again = probe.invoke({"raise": True})
    assert result.ok and result.payload["function_name"] == "Probe" and result.payload["remaining"] > 0
    assert again.error["errorType"] == "ValueError"


def test_unknown_function_is_a_template_error(template: Template) -> None:
    with pytest.raises(TemplateError, match="no function 'Nope'.*MeFunction"):
        template.function("Nope")


# -- the CLI ------------------------------------------------------------------------


def test_cli_invoke_prints_the_response() -> None:
    out = cli("invoke", "MeFunction", "-e", "events/http_v2/bearer.json", "--env-vars", "env.json")
    assert out.returncode == 0, out.stderr
    response = json.loads(out.stdout)
    assert response["statusCode"] == 200 and json.loads(response["body"])["user_id"] == "user_dev_123"


@pytest.mark.parametrize(
    "args,message",
    [
        (("invoke", "NoSuchFunction", "-e", "events/http_v2/bearer.json"), "no function 'NoSuchFunction'"),
        (("invoke", "MeFunction", "-e", "events/does-not-exist.json"), "cannot read event file"),
        (("invoke", "MeFunction", "-e", "README.md"), "is not JSON"),
        (("invoke", "MeFunction", "-e", "events/http_v2/bearer.json", "--env-vars", "README.md"), "not JSON"),
        (("invoke", "MeFunction", "-e", "events/http_v2/bearer.json", "--parameter-overrides", "Nope=1"), "unknown parameter"),
    ],
)
def test_cli_usage_errors_are_one_line_and_exit_2(args: tuple[str, ...], message: str) -> None:
    out = cli(*args)
    assert out.returncode == 2
    assert message in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert out.stdout == ""


def test_cli_missing_handler_is_one_line_and_exit_2(scratch_template: Path) -> None:
    event = scratch_template.parent / "event.json"
    event.write_text("{}")
    out = cli("invoke", "MissingHandler", "-e", str(event), "-t", str(scratch_template))
    assert out.returncode == 2 and "Runtime.HandlerNotFound" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_cli_token_mints_verifiable_dev_tokens(env_vars: dict[str, Any]) -> None:
    auth = ClerkAuth(jwt_key=env_vars["Parameters"]["CLERK_JWT_KEY"], issuer=DEV_ISSUER)
    out = cli("token", "--sub", "user_123", "--org", "org_9", "--permission", "org:reports:read")
    session = auth.verify_token(out.stdout.strip())
    assert (session.user_id, session.org_id, session.org_role) == ("user_123", "org_9", "org:admin")
    assert session.has(permission="org:reports:read")
    expired = cli("token", "--expired").stdout.strip()
    with pytest.raises(Exception, match="expired"):
        auth.verify_token(expired)


def test_cli_events_regenerates_into_a_fresh_directory(tmp_path: Path) -> None:
    out = cli("events", "--root", str(tmp_path))
    assert out.returncode == 0
    assert (tmp_path / "dev" / "clerk-dev-key.pem").exists() and (tmp_path / "env.json").exists()
    assert len(list((tmp_path / "events").rglob("*.json"))) == len(all_events(DevKey.load_or_create(tmp_path / DEV_KEY_FILE)))


# -- the project from anywhere; the dev key never replaced silently ---------------------------


def _one_line_error(out: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert out.returncode == 2 and out.stdout == "", out.stdout + out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr, out.stderr
    for needle in needles:
        assert needle in out.stderr, out.stderr


def test_token_works_from_inside_the_project(env_vars: dict[str, Any]) -> None:
    auth = ClerkAuth(jwt_key=env_vars["Parameters"]["CLERK_JWT_KEY"], issuer=DEV_ISSUER, authorized_parties=["http://localhost:3000"])
    out = cli("token", cwd=ROOT / "functions" / "me")
    assert out.returncode == 0, out.stderr
    assert auth.verify_token(out.stdout.strip()).user_id == "user_dev_123"


def test_token_outside_a_project_refuses_and_creates_nothing(tmp_path: Path) -> None:
    _one_line_error(cli("token", cwd=tmp_path), "no template.yaml in", "--root")
    _one_line_error(cli("token", "--root", str(tmp_path), cwd=tmp_path), "no dev key at", "python -m clerk_serverless_local events")
    _one_line_error(cli("events", cwd=tmp_path), "no template.yaml in")
    _one_line_error(cli("serve", "--port", "0", cwd=tmp_path), "no template.yaml in")
    _one_line_error(cli("demo", cwd=tmp_path), "no template.yaml in")
    (tmp_path / "event.json").write_text("{}")
    _one_line_error(cli("invoke", "MeFunction", "-e", "event.json", cwd=tmp_path), "no template.yaml in")
    (tmp_path / "event.json").unlink()
    assert list(tmp_path.iterdir()) == []


def test_token_refuses_a_key_env_json_does_not_trust(tmp_path: Path) -> None:
    assert cli("events", "--root", str(tmp_path)).returncode == 0
    (tmp_path / "template.yaml").write_text((ROOT / "template.yaml").read_text())
    assert cli("token", cwd=tmp_path / "events").returncode == 0
    other = DevKey.load_or_create(tmp_path / "other.pem")
    (tmp_path / "env.json").write_text(json.dumps({"Parameters": {"CLERK_JWT_KEY": other.public_pem}}))
    _one_line_error(cli("token", cwd=tmp_path), "trusts another key", "events")


def test_events_creates_a_key_only_when_asked_and_says_so(tmp_path: Path) -> None:
    out = cli("events", "--root", str(tmp_path))
    assert out.returncode == 0 and "created a new dev key" in out.stdout
    again = cli("events", "--root", str(tmp_path))
    assert again.returncode == 0 and "created" not in again.stdout


def test_demo_without_a_dev_key_refuses(tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text((ROOT / "template.yaml").read_text())
    _one_line_error(cli("demo", cwd=tmp_path), "no dev key at")
    assert not (tmp_path / "dev").exists() and not (tmp_path / "events").exists()


def test_invoke_from_a_subdirectory_finds_the_template() -> None:
    out = cli("invoke", "MeFunction", "-e", "../events/http_v2/bearer.json", "--env-vars", "../env.json", cwd=ROOT / "functions")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["statusCode"] == 200


# -- one place for origins; serve's banner ------------------------------------------------------


def _serve_banner(*args: str, cwd: Path = ROOT) -> list[str]:
    """Start `serve`, return its banner (up to "serving"), stop it."""
    with serving(*args, cwd=cwd) as served:
        return served.banner


def test_serve_banner_prints_localhost_urls_and_the_authorized_origins(tmp_path: Path) -> None:
    lines = _serve_banner("--env-vars", "env.json", "--static", str(tmp_path))
    text = "\n".join(lines)
    import re

    port = re.search(r"STATIC http://localhost:(\d+)/", text)
    assert port, text
    own = f"http://localhost:{port.group(1)}"
    loopback = f"http://127.0.0.1:{port.group(1)}"
    # every URL printed to open is an authorized origin; the page's 127.0.0.1 spelling is authorized too
    assert not re.search(r"[A-Z] http://127\.0\.0\.1", text)  # the METHOD, URL and STATIC lines
    assert (f"authorized origins (ClerkAuthorizedParties: the token's azp and CORS): http://localhost:3000, {own}, "
            f"{loopback}") in text
    assert f"{own}, {loopback} added for this run" in text
    assert "python -m clerk_serverless_local token   (azp http://localhost:3000)" in text
    assert "warning" not in text
    assert lines[-1].startswith("serving on 127.0.0.1 (loopback only)")


def test_serve_respects_explicit_origins_and_warns_about_what_fails(tmp_path: Path) -> None:
    conflicting = tmp_path / "env.json"
    conflicting.write_text(json.dumps({"Parameters": {"CLERK_AUTHORIZED_PARTIES": "http://localhost:8080"}}))
    lines = _serve_banner("--env-vars", str(conflicting), "--static", str(tmp_path),
                          "--parameter-overrides", "ClerkAuthorizedParties=http://localhost:5173")
    text = "\n".join(lines)
    assert "the token's azp and CORS): http://localhost:5173\n" in text + "\n"
    assert "added for this run" not in text  # explicit settings win
    assert "token --azp http://localhost:5173" in text  # a dev token that passes
    assert f"warning: {conflicting} (Parameters) sets CLERK_AUTHORIZED_PARTIES=http://localhost:8080" in text
    assert "--parameter-overrides ClerkAuthorizedParties=http://localhost:8080" in text
    assert "(--static) are not an authorized origin" in text


def test_pages_served_by_the_gateway_are_authorized_parties(tmp_path: Path) -> None:
    from test_gateway import header, request

    from clerk_serverless_local.gateway import LocalGateway

    key = DevKey.load(ROOT / DEV_KEY_FILE)
    (tmp_path / "index.html").write_text("<h1>page</h1>")
    with LocalGateway(Template(ROOT / "template.yaml"), env_vars={"Parameters": {"CLERK_JWT_KEY": key.public_pem}}, port=0,
                      ephemeral_url_ports=True, static_dir=tmp_path, authorize_static_origin=True, log=lambda line: None,
                      warn=lambda m: None) as gateway:
        own = gateway.origin()
        assert own.startswith("http://localhost:") and gateway.added_origin == own
        token = key.token("user_dev_123", azp=own)  # what Clerk's frontend mints on that page
        status, headers, body = request(gateway.urls["api"], "GET", "/me", [("Authorization", f"Bearer {token}"), ("Origin", own)])
        assert status == 200 and json.loads(body)["user_id"] == "user_dev_123"
        assert header(headers, "Access-Control-Allow-Origin") == [own]


def test_events_keeps_what_env_json_holds_besides_ours(tmp_path: Path) -> None:
    """A project's own env.json: our variables are written over it, the rest
    is kept; a function block only for functions its template declares."""
    (tmp_path / "template.yaml").write_text(
        "AWSTemplateFormatVersion: '2010-09-09'\nTransform: AWS::Serverless-2016-10-31\nResources:\n"
        "  Api:\n    Type: AWS::Serverless::Function\n    Properties:\n      Handler: app.handler\n"
        "      Runtime: python3.13\n      CodeUri: src/\n")
    theirs = {"Parameters": {"TABLE": "todos", "CLERK_JWT_KEY": "old"}, "Api": {"DEBUG": "1"}}
    (tmp_path / "env.json").write_text(json.dumps(theirs))
    assert cli("events", "--root", str(tmp_path)).returncode == 0
    env = json.loads((tmp_path / "env.json").read_text())
    assert env["Parameters"]["TABLE"] == "todos" and env["Parameters"]["CLERK_JWT_KEY"].startswith("-----BEGIN")
    assert env["Api"] == {"DEBUG": "1"} and "MachineApiFunction" not in env
    (tmp_path / "env.json").write_text("{not json")
    _one_line_error(cli("events", "--root", str(tmp_path)), "env.json is not JSON")
    assert (tmp_path / "env.json").read_text() == "{not json"


# -- what a newcomer's own project meets (adopter walkthrough) --------------------------------

OWN_PROJECT = '''\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.11
    Timeout: 5
    Environment:
      Variables:
        CLERK_PUBLISHABLE_KEY: ""
Resources:
  Api:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Events:
        Get: {Type: HttpApi, Properties: {Path: /boom, Method: GET}}
  Other:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Environment:
        Variables:
          CLERK_SECRET_KEY: ""
'''


def _own_project(tmp_path: Path, code: str = "def handler(event, context):\n    return {'statusCode': 204}\n") -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text(code)
    (tmp_path / "template.yaml").write_text(OWN_PROJECT)
    return tmp_path


def test_env_vars_the_template_does_not_declare_are_named_in_a_warning(tmp_path: Path) -> None:
    # `events` writes CLERK_JWT_KEY into env.json's Parameters; a template
    # that never declares it ran every request into "no key source
    # configured" with no word about the env file being ignored.
    root = _own_project(tmp_path)
    env = {"Parameters": {"CLERK_JWT_KEY": "-----BEGIN PUBLIC KEY-----…", "CLERK_SECRET_KEY": "sk_test_x",
                          "CLERK_ISSUER": "", "TABLE": "todos"},
           "Api": {"CLERK_API_URL": "http://127.0.0.1:9"}}
    warnings: list[str] = []
    LocalFunction(Template(root / "template.yaml"), "Api", env_vars=env, warn=warnings.append).close()
    ignored = [w for w in warnings if "does not declare" in w]
    # Unset (empty) values, variables of our own name space that another
    # function declares (Parameters serve them all) and the rest are quiet.
    assert len(ignored) == 1 and "CLERK_API_URL, CLERK_JWT_KEY" in ignored[0], warnings
    assert "Environment Variables" in ignored[0] and "BEGIN" not in ignored[0]
    warnings.clear()
    LocalFunction(Template(root / "template.yaml"), "Other", env_vars=env, warn=warnings.append).close()
    assert [w for w in warnings if "does not declare" in w and "CLERK_JWT_KEY" in w], warnings
    assert not [w for w in warnings if "CLERK_SECRET_KEY" in w and "does not declare" in w]


def test_serve_shows_what_a_failing_function_printed(tmp_path: Path) -> None:
    # A framework that catches the exception (Mangum, FastAPI) answers 500 on
    # its own: serve's log then showed only "500", the traceback nowhere.
    root = _own_project(tmp_path, "def handler(event, context):\n    print('about to fail: boom-marker')\n"
                                  "    raise RuntimeError('boom')\n")
    with serving(cwd=root) as served:
        assert "/boom -> Api" in served.text, served.banner
        import urllib.error
        import urllib.request
        with pytest.raises(urllib.error.HTTPError) as failed:
            urllib.request.urlopen(f"{served.base}/boom", timeout=30)
        assert failed.value.code == 500
        failed.value.close()  # its socket, else a ResourceWarning in whichever test collects it
    rest = served.rest
    assert "  Api| about to fail: boom-marker" in rest, rest
    assert "RuntimeError" in rest and "END RequestId" not in rest, rest


def test_serve_on_a_busy_port_names_it_and_the_fix(tmp_path: Path) -> None:
    import socket

    root = _own_project(tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = subprocess.run([sys.executable, "-m", "clerk_serverless_local", "serve", "--port", str(port)], cwd=root,
                             capture_output=True, text=True, timeout=60)
    _one_line_error(out, f"port {port}", "--port")


def test_token_mints_machine_tokens_with_the_scopes_a_route_requires(env_vars: dict[str, Any]) -> None:
    auth = ClerkAuth(jwt_key=env_vars["Parameters"]["CLERK_JWT_KEY"], secret_key="sk_test_local_placeholder",
                     authorized_parties=["http://localhost:3000"])
    out = cli("token", "--type", "m2m_token", "--scope", "jobs:write", "--scope", "jobs:read")
    assert out.returncode == 0, out.stderr
    caller = auth.verify_token(out.stdout.strip(), accepts_token="m2m_token")
    assert caller.scopes == ["jobs:write", "jobs:read"]
    _one_line_error(cli("token", "--scope", "jobs:write"), "--type m2m_token")
