"""The secret key from SSM Parameter Store and Secrets Manager, through boto3
against moto's server mode on loopback (a real HTTP server in its own process;
nothing of ours is patched)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from support.aws import use_aws_endpoint
from support.loopback import free_port
from support.tokens import SigningKey, mint

from clerk_serverless import ClerkAuth, ClerkConfigError

SECRET = "sk_test_fromaws0123456789"


class MotoServer:
    """``python -m moto.server`` on 127.0.0.1, in a subprocess."""

    def __init__(self, **env: str) -> None:
        import os

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.url}/moto-api/", timeout=1)
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("moto server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def _use(server: MotoServer, monkeypatch: pytest.MonkeyPatch, key_id: str = "testing", secret: str = "testing") -> None:
    use_aws_endpoint(monkeypatch, server.url, key_id, secret)


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    server = MotoServer()
    yield server
    server.stop()


@pytest.fixture
def aws(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    import boto3

    _use(moto, monkeypatch)
    return boto3


def test_secret_key_from_an_ssm_parameter(aws: Any, jwks: Any, key: SigningKey) -> None:
    aws.client("ssm").put_parameter(Name="/myapp/clerk/secret-key", Value=SECRET, Type="SecureString", Overwrite=True)
    auth = ClerkAuth(secret_key_parameter="/myapp/clerk/secret-key", api_url=jwks.base_url)
    assert auth.verify_token(mint(key)).user_id == "user_2abc"
    assert jwks.requests[-1]["authorization"] == f"Bearer {SECRET}"  # the Backend API JWKS, with the key read from SSM
    assert SECRET not in repr(auth)


@pytest.mark.parametrize("stored", [SECRET, json.dumps({"CLERK_SECRET_KEY": SECRET, "other": "x"})], ids=["plain", "json"])
def test_secret_key_from_secrets_manager(aws: Any, jwks: Any, key: SigningKey, stored: str) -> None:
    name = f"clerk-secret-{len(stored)}"
    arn = aws.client("secretsmanager").create_secret(Name=name, SecretString=stored)["ARN"]
    auth = ClerkAuth(secret_key_secret_id=arn, api_url=jwks.base_url)
    assert auth.verify_token(mint(key)).user_id == "user_2abc"
    assert auth.settings.secret_key == SECRET


def test_secret_key_parameter_from_the_environment(aws: Any, jwks: Any, key: SigningKey, monkeypatch: pytest.MonkeyPatch) -> None:
    aws.client("ssm").put_parameter(Name="/env/clerk/sk", Value=SECRET, Type="SecureString", Overwrite=True)
    monkeypatch.setenv("CLERK_SECRET_KEY_PARAMETER", "/env/clerk/sk")
    monkeypatch.setenv("CLERK_API_URL", jwks.base_url)
    assert ClerkAuth().settings.secret_key == SECRET


@pytest.mark.parametrize("kind", ["parameter", "secret"])
def test_boto3_path_reads_the_same_values(aws: Any, jwks: Any, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    """Without Powertools installed, boto3 reads the same values."""
    monkeypatch.setitem(sys.modules, "aws_lambda_powertools.utilities", None)  # import fails: no Powertools
    if kind == "parameter":
        aws.client("ssm").put_parameter(Name="/plain/boto3", Value=SECRET, Type="SecureString", Overwrite=True)
        auth = ClerkAuth(secret_key_parameter="/plain/boto3", api_url=jwks.base_url)
    else:
        arn = aws.client("secretsmanager").create_secret(Name="plain-boto3", SecretString=SECRET)["ARN"]
        auth = ClerkAuth(secret_key_secret_id=arn, api_url=jwks.base_url)
    assert auth.settings.secret_key == SECRET


@pytest.mark.parametrize(
    "kwargs,setting,code",
    [
        ({"secret_key_parameter": "/does/not/exist"}, "secret_key_parameter", "ParameterNotFound"),
        ({"secret_key_secret_id": "arn:aws:secretsmanager:us-east-1:123456789012:secret:nope-AbCdEf"}, "secret_key_secret_id", "ResourceNotFoundException"),
    ],
)
def test_missing_secret_is_a_config_error_naming_it(aws: Any, kwargs: dict[str, str], setting: str, code: str) -> None:
    with pytest.raises(ClerkConfigError) as info:
        ClerkAuth(**kwargs)
    assert info.value.setting == setting
    assert code in str(info.value) and next(iter(kwargs.values())) in str(info.value)


def test_the_secret_key_given_as_a_parameter_name_is_not_echoed(aws: Any) -> None:
    """The key pasted where its parameter's name belongs: the error names the
    setting, and keeps the key out of the logs it reaches."""
    with pytest.raises(ClerkConfigError) as info:
        ClerkAuth(secret_key_parameter=SECRET)
    assert info.value.setting == "secret_key_parameter"
    assert SECRET not in str(info.value) and SECRET[8:] not in str(info.value)


def test_a_parameter_that_is_not_a_secret_key(aws: Any) -> None:
    aws.client("ssm").put_parameter(Name="/wrong/value", Value="hunter2", Type="SecureString", Overwrite=True)
    with pytest.raises(ClerkConfigError, match="does not hold a Clerk secret key") as info:
        ClerkAuth(secret_key_parameter="/wrong/value")
    assert "hunter2" not in str(info.value)


def test_both_sources_at_once_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLERK_SECRET_KEY_PARAMETER", "/a")
    monkeypatch.setenv("CLERK_SECRET_KEY_SECRET_ID", "arn:aws:secretsmanager:us-east-1:1:secret:b")
    with pytest.raises(ClerkConfigError) as info:
        ClerkAuth()
    assert info.value.setting == "CLERK_SECRET_KEY_PARAMETER"


def test_denied_parameter_is_a_config_error_at_cold_start(monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3

    # This server enforces IAM after its first request (which stores the
    # parameter); our credentials are not an identity it knows: denied.
    server = MotoServer(INITIAL_NO_AUTH_ACTION_COUNT="1")
    try:
        _use(server, monkeypatch)
        boto3.client("ssm").put_parameter(Name="/locked/clerk", Value=SECRET, Type="SecureString")
        with pytest.raises(ClerkConfigError) as info:
            ClerkAuth(secret_key_parameter="/locked/clerk")
        assert info.value.setting == "secret_key_parameter"
        message = str(info.value)
        assert "cannot read SSM parameter '/locked/clerk'" in message
        assert any(code in message for code in ("AccessDenied", "InvalidClientTokenId", "403"))
        assert SECRET not in message
    finally:
        server.stop()
