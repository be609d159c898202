"""Configuration: arguments, environment, and errors that name the setting."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import pytest
from support.calls import call, recording_handler
from support.tokens import ISSUER, ORIGIN, SigningKey, mint

from clerk_serverless import ClerkAuth, ClerkConfigError, require_session, with_session
from clerk_serverless.errors import TokenInvalidIssuerError, TokenVerificationFailedError
from clerk_serverless.webhooks import require_webhook

PK = "pk_test_Y2xlcmsudGVzdC1pbnN0YW5jZS5leGFtcGxlJA"


def test_no_key_source_names_the_variables() -> None:
    with pytest.raises(ClerkConfigError) as info:
        ClerkAuth()
    message = str(info.value)
    for name in ("CLERK_JWT_KEY", "CLERK_JWKS_URL", "CLERK_PUBLISHABLE_KEY", "CLERK_SECRET_KEY"):
        assert name in message


def test_no_key_source_points_at_a_frontend_name_for_the_publishable_key(monkeypatch: pytest.MonkeyPatch) -> None:
    # The frontend's .env, read by a local backend: the key is there under its framework's name, which is
    # never used (keys come from our own settings only), but the message says which one to set.
    monkeypatch.setenv("NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY", PK)
    with pytest.raises(ClerkConfigError) as info:
        ClerkAuth()
    assert "NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY is set, which is a frontend's name: set CLERK_PUBLISHABLE_KEY" in str(info.value)
    assert PK not in str(info.value)


@pytest.mark.parametrize(
    "kwargs,setting",
    [
        ({"jwt_key": "not a pem"}, "jwt_key"),
        ({"jwt_key": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"}, "jwt_key"),
        ({"jwks_url": "http://clerk.example.com/jwks"}, "jwks_url"),
        ({"jwks_url": "ftp://x/jwks"}, "jwks_url"),
        ({"secret_key": "sk_nope"}, "secret_key"),
        ({"publishable_key": "pk_test_!!!"}, "publishable_key"),
        ({"publishable_key": "pk_prod_abc"}, "publishable_key"),
        ({"jwks_url": "https://x.example/jwks", "authorized_parties": ["app.example.com"]}, "authorized_parties"),
        ({"jwks_url": "https://x.example/jwks", "authorized_parties": ["https://app.example.com/"]}, "authorized_parties"),
        ({"jwks_url": "https://x.example/jwks", "authorized_parties": ["https://app.example.com/path"]}, "authorized_parties"),
        ({"jwks_url": "https://x.example/jwks", "authorized_parties": "*"}, "authorized_parties"),
        ({"jwks_url": "https://x.example/jwks", "authorized_parties": 42}, "authorized_parties"),
        ({"jwks_url": "https://x.example/jwks", "clock_skew": -1}, "clock_skew"),
        ({"jwks_url": "https://x.example/jwks", "clock_skew": "5"}, "clock_skew"),
        ({"jwks_url": "https://x.example/jwks", "jwks_cache_ttl": 0}, "jwks_cache_ttl"),
        ({"jwks_url": "https://x.example/jwks", "jwks_stale_ttl": 60}, "jwks_stale_ttl"),
        ({"jwks_url": "https://x.example/jwks", "fetch_timeout": 10}, "fetch_timeout"),
        ({"jwks_url": "https://x.example/jwks", "issuer": "http://clerk.example.com"}, "issuer"),
        ({"jwks_url": "https://x.example/jwks", "issuer": ["https://clerk.example.com", "http://app.example.com/__clerk"]}, "issuer"),
        ({"jwks_url": "https://x.example/jwks", "issuer": ["https://clerk.example.com", 7]}, "issuer"),
        ({"jwks_url": "https://x.example/jwks", "issuer": {"https://clerk.example.com", 7}}, "issuer"),
        ({"jwks_url": "https://x.example/jwks", "issuer": []}, "issuer"),
        ({"jwks_url": "https://x.example/jwks", "issuer": " , "}, "issuer"),
        ({"jwks_url": "https://x.example/jwks", "issuer": "https://"}, "issuer"),
        ({"jwks_url": "https://x.example/jwks", "issuer": 42}, "issuer"),
        ({"jwks_url": "https://x.example/jwks", "issuer": {"https://clerk.example.com": 1}}, "issuer"),
        ({"jwks_url": "https://x.example/jwks", "proxy_url": "/__clerk"}, "proxy_url"),
        ({"jwks_url": "https://x.example/jwks", "proxy_url": "http://app.example.com/__clerk"}, "proxy_url"),
        ({"jwks_url": "https://x.example/jwks", "proxy_url": "app.example.com/__clerk"}, "proxy_url"),
        ({"jwks_url": "https://x.example/jwks", "proxy_url": "https://app.example.com/__clerk?x=1"}, "proxy_url"),
        ({"jwks_url": "https://x.example/jwks", "proxy_url": "https://"}, "proxy_url"),
        ({"jwks_url": "https://x.example/jwks", "proxy_url": 42}, "proxy_url"),
        ({"jwks_url": "https://x.example/jwks", "token_cache_size": -1}, "token_cache_size"),
        ({"jwks_url": "https://x.example/jwks", "clock": 1764300000.0}, "clock"),
        ({"jwks_url": "https://x.example/jwks", "logger": "audit"}, "logger"),
        ({"jwks_url": "https://x.example/jwks", "metrics": object()}, "metrics"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs: dict[str, Any], setting: str) -> None:
    with pytest.raises(ClerkConfigError) as info:
        ClerkAuth(**kwargs)
    assert info.value.setting == setting
    assert str(info.value).startswith(f"{setting}: ")


@pytest.mark.parametrize(
    "env,setting",
    [
        ({"CLERK_JWT_KEY": "garbage"}, "CLERK_JWT_KEY"),
        ({"CLERK_JWKS_URL": "http://clerk.example.com/jwks"}, "CLERK_JWKS_URL"),
        ({"CLERK_SECRET_KEY": "nope"}, "CLERK_SECRET_KEY"),
        ({"CLERK_PUBLISHABLE_KEY": "pk_live_%%%"}, "CLERK_PUBLISHABLE_KEY"),
        ({"CLERK_JWKS_URL": "https://x.example/jwks", "CLERK_AUTHORIZED_PARTIES": "https://a.example,b.example"}, "CLERK_AUTHORIZED_PARTIES"),
        ({"CLERK_SECRET_KEY": "sk_test_x", "CLERK_API_URL": "http://api.clerk.com"}, "CLERK_API_URL"),
        ({"CLERK_JWKS_URL": "https://x.example/jwks", "CLERK_ISSUER": "https://clerk.example.com,clerk.example.com"}, "CLERK_ISSUER"),
        ({"CLERK_JWKS_URL": "https://x.example/jwks", "CLERK_ISSUER": ","}, "CLERK_ISSUER"),
        ({"CLERK_PUBLISHABLE_KEY": "pk_live_Y2xlcmsuZXhhbXBsZS5jb20k", "CLERK_PROXY_URL": "/__clerk"}, "CLERK_PROXY_URL"),
        ({"CLERK_PUBLISHABLE_KEY": "pk_live_Y2xlcmsuZXhhbXBsZS5jb20k", "CLERK_PROXY_URL": "http://app.example.com/__clerk"}, "CLERK_PROXY_URL"),
    ],
)
def test_bad_environment_names_the_variable(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], setting: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ClerkConfigError) as info:
        ClerkAuth()
    assert info.value.setting == setting


SECRET_BODY = "Zq7secretBODY0123456789abcdef"
PK_LIVE = "pk_live_Y2xlcmsuZXhhbXBsZS5jb20k"


@pytest.mark.parametrize(
    "env,setting",
    [
        # URLs the parser refuses for another reason than http: named for what they are.
        ({"CLERK_JWKS_URL": "https://user:pass@x.example/jwks"}, "CLERK_JWKS_URL"),
        ({"CLERK_JWKS_URL": "https://x.example/jwks#keys"}, "CLERK_JWKS_URL"),
        ({"CLERK_JWKS_URL": "x.example/jwks"}, "CLERK_JWKS_URL"),
        # Keys cut short at their prefix (a template placeholder, a bad paste).
        ({"CLERK_SECRET_KEY": "sk_test_"}, "CLERK_SECRET_KEY"),
        ({"CLERK_SECRET_KEY": " sk_live_ "}, "CLERK_SECRET_KEY"),
        ({"CLERK_JWKS_URL": "https://x.example/jwks", "CLERK_MACHINE_SECRET_KEY": "ak_"}, "CLERK_MACHINE_SECRET_KEY"),
        # A test secret key with a live publishable key, and the reverse: two instances.
        ({"CLERK_PUBLISHABLE_KEY": PK_LIVE, "CLERK_SECRET_KEY": "sk_test_" + SECRET_BODY}, "CLERK_SECRET_KEY"),
        ({"CLERK_PUBLISHABLE_KEY": PK, "CLERK_SECRET_KEY": "sk_live_" + SECRET_BODY}, "CLERK_SECRET_KEY"),
    ],
)
def test_wrong_values_are_one_config_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], setting: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ClerkConfigError) as info:
        ClerkAuth()
    assert info.value.setting == setting
    message = str(info.value)
    assert message.startswith(f"{setting}: ")
    assert SECRET_BODY not in message and "pass@" not in message


@pytest.mark.parametrize(
    "env,setting,fix",
    [
        # The five mistakes a newcomer makes first: each message says the fix, not only what is wrong.
        ({"CLERK_PUBLISHABLE_KEY": "sk_test_" + SECRET_BODY}, "CLERK_PUBLISHABLE_KEY", "it belongs in CLERK_SECRET_KEY"),
        ({"CLERK_PUBLISHABLE_KEY": '"' + PK + '"'}, "CLERK_PUBLISHABLE_KEY", "remove the quotes"),
        ({"CLERK_PUBLISHABLE_KEY": "pk_test_" + SECRET_BODY[:12]}, "CLERK_PUBLISHABLE_KEY", "Clerk Dashboard's API keys page"),
        ({"CLERK_JWT_KEY": PK}, "CLERK_JWT_KEY", "it belongs in CLERK_PUBLISHABLE_KEY"),
        ({"CLERK_JWT_KEY": "not a key"}, "CLERK_JWT_KEY", "Show JWT public key"),
        ({"CLERK_SECRET_KEY": PK}, "CLERK_SECRET_KEY", "it belongs in CLERK_PUBLISHABLE_KEY"),
        ({"CLERK_JWKS_URL": "https://x.example/jwks", "CLERK_MACHINE_SECRET_KEY": "sk_live_" + SECRET_BODY},
         "CLERK_MACHINE_SECRET_KEY", "it belongs in CLERK_SECRET_KEY"),
        ({"CLERK_JWKS_URL": "https://x.example/jwks", "CLERK_AUTHORIZED_PARTIES": "localhost:3000"},
         "CLERK_AUTHORIZED_PARTIES", "write it as http://localhost:3000"),
        ({"CLERK_JWKS_URL": "https://x.example/jwks", "CLERK_AUTHORIZED_PARTIES": "https://a.example.com,app.example.com"},
         "CLERK_AUTHORIZED_PARTIES", "write it as https://app.example.com,"),
        ({"CLERK_JWKS_URL": "https://x.example/jwks", "CLERK_AUTHORIZED_PARTIES": "https://app.example.com/"},
         "CLERK_AUTHORIZED_PARTIES", "write it as https://app.example.com,"),
    ],
)
def test_a_misconfigured_key_or_origin_says_the_fix(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], setting: str, fix: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ClerkConfigError) as info:
        ClerkAuth()
    message = str(info.value)
    assert info.value.setting == setting and message.startswith(f"{setting}: ")
    assert fix in message
    assert SECRET_BODY[:12] not in message and PK not in message  # named by its prefix, never echoed


def test_mismatched_keys_are_refused_whichever_side_is_an_argument(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLERK_PUBLISHABLE_KEY", PK_LIVE)
    with pytest.raises(ClerkConfigError) as info:
        ClerkAuth(secret_key="sk_test_" + SECRET_BODY)
    assert info.value.setting == "secret_key" and "CLERK_PUBLISHABLE_KEY" in str(info.value)
    assert SECRET_BODY not in str(info.value)
    ClerkAuth(publishable_key=PK_LIVE, secret_key="sk_live_" + SECRET_BODY)  # one instance: fine


def test_secrets_never_appear_in_errors_or_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLERK_SECRET_KEY", "sk_test_topsecret")
    auth = ClerkAuth(authorized_parties="https://app.example.com")
    assert "topsecret" not in repr(auth)
    monkeypatch.setenv("CLERK_API_URL", "http://evil.example")
    with pytest.raises(ClerkConfigError) as info:
        ClerkAuth()
    assert "topsecret" not in str(info.value)


def test_environment_configures_everything(monkeypatch: pytest.MonkeyPatch, jwks: Any, key: SigningKey) -> None:
    monkeypatch.setenv("CLERK_JWKS_URL", jwks.url)
    monkeypatch.setenv("CLERK_AUTHORIZED_PARTIES", f" {ORIGIN} , https://admin.example.com ")
    monkeypatch.setenv("CLERK_ISSUER", ISSUER)
    auth = ClerkAuth()
    assert auth.settings.authorized_parties == {ORIGIN, "https://admin.example.com"}
    assert auth.verify_token(mint(key)).user_id == "user_2abc"


def test_key_source_precedence(monkeypatch: pytest.MonkeyPatch, key: SigningKey) -> None:
    auth = ClerkAuth(jwt_key=key.public_pem, jwks_url="https://x.example/jwks", publishable_key=PK, secret_key="sk_test_1")
    assert auth.settings.key_source.kind == "pem"
    auth = ClerkAuth(jwks_url="https://x.example/jwks", publishable_key=PK, secret_key="sk_test_1")
    assert auth.settings.key_source.url == "https://x.example/jwks"
    auth = ClerkAuth(publishable_key=PK, secret_key="sk_test_1")
    assert auth.settings.key_source.url == "https://clerk.test-instance.example/.well-known/jwks.json"
    assert auth.settings.issuer is None  # iss is pinned by `issuer` only, as @clerk/backend
    auth = ClerkAuth(secret_key="sk_test_1")
    assert auth.settings.key_source.url == "https://api.clerk.com/v1/jwks"
    assert auth.settings.issuer is None


def test_proxy_url_moves_the_frontend_api_jwks_only() -> None:
    """With the publishable key as key source, ``proxy_url`` replaces the
    key's host, as @clerk/shared's parsePublishableKey does with proxyUrl
    (read without its trailing slash, as Clerk's docs write it for Next.js);
    a key source above it (jwt_key, jwks_url) or the secret key alone is not
    moved."""
    proxy = "https://app.example.com/__clerk"
    auth = ClerkAuth(publishable_key=PK_LIVE, secret_key="sk_live_" + SECRET_BODY, proxy_url=proxy + "/")
    assert auth.settings.key_source.url == proxy + "/.well-known/jwks.json"
    assert auth.settings.key_source.headers == ()  # the secret key never goes to the proxy
    assert auth.settings.key_source.label == "publishable_key via proxy_url"
    assert auth.settings.issuer is None  # iss is pinned by `issuer` only
    auth = ClerkAuth(jwks_url="https://x.example/jwks", publishable_key=PK_LIVE, proxy_url=proxy)
    assert auth.settings.key_source.url == "https://x.example/jwks"
    auth = ClerkAuth(secret_key="sk_live_" + SECRET_BODY, proxy_url=proxy)
    assert auth.settings.key_source.url == "https://api.clerk.com/v1/jwks"


def test_clerk_proxy_url_with_the_other_clerk_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """The variables Clerk's docs give a proxied backend (publishable key,
    secret key, CLERK_PROXY_URL): keys through the proxy."""
    monkeypatch.setenv("CLERK_PUBLISHABLE_KEY", PK_LIVE)
    monkeypatch.setenv("CLERK_SECRET_KEY", "sk_live_" + SECRET_BODY)
    monkeypatch.setenv("CLERK_PROXY_URL", "https://app.example.com/__clerk")
    source = ClerkAuth().settings.key_source
    assert (source.url, source.label) == ("https://app.example.com/__clerk/.well-known/jwks.json",
                                          "CLERK_PUBLISHABLE_KEY via CLERK_PROXY_URL")
    # An explicit publishable key still goes through the environment's proxy.
    assert ClerkAuth(publishable_key=PK_LIVE).settings.key_source.url == source.url


def test_proxy_url_argument_beats_clerk_proxy_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLERK_PROXY_URL", "/__clerk")  # refused on its own: see below
    auth = ClerkAuth(publishable_key=PK_LIVE, proxy_url="https://proxy.example.com")
    assert auth.settings.key_source.url == "https://proxy.example.com/.well-known/jwks.json"


def test_a_relative_proxy_url_is_refused_with_the_reason() -> None:
    """Clerk's SDKs accept ``/__clerk`` and complete it with each request's
    origin; a key source built from a request's Host would let a caller pick
    where keys come from, so the absolute URL is asked for."""
    with pytest.raises(ClerkConfigError) as info:
        ClerkAuth(publishable_key=PK_LIVE, proxy_url="/__clerk")
    assert info.value.setting == "proxy_url"
    assert "write the absolute URL, e.g. https://app.example.com/__clerk" in str(info.value)


@pytest.mark.parametrize("form", ["multiline", "one-line", "escaped-newlines"])
def test_pem_in_the_forms_env_vars_carry_it(key: SigningKey, form: str) -> None:
    pem = key.public_pem
    if form == "one-line":
        pem = pem.replace("\n", "")
    elif form == "escaped-newlines":
        pem = pem.replace("\n", "\\n")
    assert ClerkAuth(jwt_key=pem).verify_token(mint(key)).user_id == "user_2abc"


def test_non_rsa_pem_is_refused() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    with pytest.raises(ClerkConfigError, match="RSA"):
        ClerkAuth(jwt_key=pem)


# Behind a Frontend API proxy (Clerk docs, "Proxying the Clerk Frontend API"),
# session tokens carry the proxy URL as iss, not the publishable key's Frontend
# API (@clerk/backend 4's interstitialRule and clerk-sdk-go's isValidIssuer
# compare iss with proxyUrl); on a satellite domain Clerk's SDKs did not check
# iss at all. docs/guide/configure.md: "Which `iss` your tokens carry".
PROXY_ISS = "https://app.test-instance.example/__clerk"


def test_publishable_key_does_not_pin_iss(key: SigningKey) -> None:
    """A proxied deployment's tokens pass on the publishable key alone, as
    with @clerk/backend, which checks iss only when given ``issuer``."""
    auth = ClerkAuth(jwt_key=key.public_pem, publishable_key=PK)
    assert auth.settings.issuer is None
    for iss in (ISSUER, PROXY_ISS):
        assert auth.verify_token(mint(key, iss=iss)).user_id == "user_2abc"
    with pytest.raises(TokenVerificationFailedError, match="iss missing or not https"):
        auth.verify_token(mint(key, iss="http://app.test-instance.example/__clerk"))


def test_issuer_list_accepts_any_of_them_exactly(key: SigningKey) -> None:
    auth = ClerkAuth(jwt_key=key.public_pem, publishable_key=PK, issuer=[ISSUER + "/", PROXY_ISS, ISSUER])
    assert auth.settings.issuer == (ISSUER, PROXY_ISS)  # read without the trailing slash, once each
    for iss in (ISSUER, PROXY_ISS):
        assert auth.verify_token(mint(key, iss=iss)).user_id == "user_2abc"
    for iss in ("https://clerk.someone-else.example", PROXY_ISS + "/", "https://app.test-instance.example"):
        with pytest.raises(TokenInvalidIssuerError) as info:
            auth.verify_token(mint(key, iss=iss))
        assert info.value.reason == "token-invalid-issuer"
        # The log line names the expected issuers (configuration), never the token's.
        assert str(info.value) == (
            f"The token's issuer (iss) is not this instance's. (iss is not the configured issuer: "
            f"expected {ISSUER} or {PROXY_ISS})"
        )


def test_issuer_set_is_read_in_a_stable_order() -> None:
    auth = ClerkAuth(jwks_url="https://x.example/jwks", issuer={PROXY_ISS, ISSUER})
    assert auth.settings.issuer == tuple(sorted((PROXY_ISS, ISSUER)))


def test_issuer_list_on_a_route(make_auth: Any, key: SigningKey) -> None:
    """Through a decorated handler: any listed issuer passes, another is 401
    token-invalid-issuer, the body holding the fixed message only."""
    handler = recording_handler(make_auth(issuer=[ISSUER, PROXY_ISS]).require_session)
    assert call(handler, "http_v2", bearer=mint(key, iss=PROXY_ISS)).status == 200
    token = mint(key, iss="https://clerk.someone-else.example")
    out = call(handler, "http_v2", bearer=token)
    assert (out.status, out.reason) == (401, "token-invalid-issuer")
    assert out.body["message"] == "The token's issuer (iss) is not this instance's."
    assert token not in out.response["body"]


def test_clerk_issuer_comma_list(monkeypatch: pytest.MonkeyPatch, key: SigningKey) -> None:
    monkeypatch.setenv("CLERK_ISSUER", f" {ISSUER}/ , {PROXY_ISS} ,")
    auth = ClerkAuth(jwt_key=key.public_pem)
    assert auth.settings.issuer == (ISSUER, PROXY_ISS)
    assert auth.verify_token(mint(key, iss=PROXY_ISS)).user_id == "user_2abc"
    with pytest.raises(TokenInvalidIssuerError):
        auth.verify_token(mint(key, iss="https://clerk.someone-else.example"))


def test_issuer_argument_beats_clerk_issuer(monkeypatch: pytest.MonkeyPatch, key: SigningKey) -> None:
    monkeypatch.setenv("CLERK_ISSUER", "not a url")
    auth = ClerkAuth(jwt_key=key.public_pem, issuer=PROXY_ISS)
    assert auth.settings.issuer == (PROXY_ISS,)
    with pytest.raises(TokenInvalidIssuerError):
        auth.verify_token(mint(key, iss=ISSUER))


def test_bad_clerk_issuer_entry_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLERK_ISSUER", f"{ISSUER},http://app.test-instance.example/__clerk")
    with pytest.raises(ClerkConfigError) as info:
        ClerkAuth(jwks_url="https://x.example/jwks")
    assert info.value.setting == "CLERK_ISSUER"
    assert "'http://app.test-instance.example/__clerk' is not an https:// URL" in str(info.value)


def test_clock_skew_zero_means_zero(key: SigningKey) -> None:
    now = int(time.time())
    strict = ClerkAuth(jwt_key=key.public_pem, clock_skew=0)
    lenient = ClerkAuth(jwt_key=key.public_pem)
    token = mint(key, iat=now + 3, nbf=now - 10)
    with pytest.raises(Exception, match="future"):
        strict.verify_token(token)
    assert lenient.verify_token(token).user_id


def test_module_decorators_import_without_configuration_and_fail_loudly_on_use() -> None:
    # Importing and decorating never fails; the first request raises the
    # configuration error (it is never disguised as a 401).
    @require_session
    def handler(event: Any, context: Any) -> Any:
        return {"statusCode": 200, "body": ""}

    with pytest.raises(ClerkConfigError):
        handler({"version": "2.0", "headers": {}, "requestContext": {"http": {"method": "GET"}}}, None)


@pytest.mark.parametrize("decorator", [require_session, with_session(cors=False), require_webhook])
def test_an_async_handler_is_refused_when_decorated(decorator: Any) -> None:
    # Lambda's Python runtime never awaits: the admitted requests would answer
    # an unawaited coroutine (502), the refused ones a dict.
    async def handler(event: Any, context: Any) -> Any:
        return {"statusCode": 200}

    with pytest.raises(TypeError, match="does not await `async def handler`; define it with `def`"):
        decorator(handler)


def test_module_decorators_use_the_environment(monkeypatch: pytest.MonkeyPatch, jwks: Any, key: SigningKey) -> None:
    monkeypatch.setenv("CLERK_JWKS_URL", jwks.url)
    handler = recording_handler(require_session(authorized_parties=[ORIGIN]))
    assert call(handler, "http_v2", bearer=mint(key)).status == 200
    assert call(handler, "http_v2", bearer=mint(key, azp="https://evil.example")).status == 401
    maybe = recording_handler(with_session)
    assert call(maybe, "http_v2").session is None


def test_decorator_options_are_validated_at_decoration_time() -> None:
    with pytest.raises(ClerkConfigError) as info:
        require_session(authorized_parties=["not-an-origin"])
    assert info.value.setting == "authorized_parties"
    with pytest.raises(ClerkConfigError):
        require_session(permissions=[""])
    with pytest.raises(ClerkConfigError):
        with_session(permissions=["org:x:y"])
    with pytest.raises(TypeError):
        require_session("not callable")  # type: ignore[arg-type]


def test_a_misspelt_option_is_named_with_the_one_meant(jwks: Any) -> None:
    auth = ClerkAuth(jwks_url=jwks.url)
    with pytest.raises(ClerkConfigError) as info:
        auth.require_session(permisions=["org:reports:read"])  # type: ignore[call-overload]
    assert info.value.setting == "permisions"
    assert str(info.value) == "permisions: is not an option of require_session; did you mean 'permissions'?"
    with pytest.raises(ClerkConfigError) as info:
        auth.require_auth(accept_token="any")  # type: ignore[call-overload]
    assert str(info.value).endswith("did you mean 'accepts_token'?")
    with pytest.raises(ClerkConfigError) as info:
        auth.require_session(zzz=1)  # type: ignore[call-overload]
    assert str(info.value) == "zzz: is not an option of require_session"


def test_import_is_light() -> None:
    code = (
        "import sys, clerk_serverless\n"
        "heavy = ['boto3', 'botocore', 'aws_lambda_powertools', 'mangum', 'fastapi', 'starlette', 'httpx',"
        " 'cryptography', 'jwt', 'http.client', 'ssl', 'clerk_serverless_local']\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


@pytest.mark.parametrize("bad", ["sk_live_abc\n", "sk_live_a b", "sk_live_abc\r\nX-Evil: 1", "sk_live_é"])
def test_secret_keys_with_whitespace_inside_are_refused_without_echo(jwks: Any, bad: str) -> None:
    if bad.strip() != bad and " " not in bad.strip() and "\n" not in bad.strip():
        # only surrounding whitespace: stripped, as the environment's is
        assert ClerkAuth(jwks_url=jwks.url, secret_key=bad).settings.secret_key == bad.strip()
        return
    with pytest.raises(ClerkConfigError) as info:
        ClerkAuth(jwks_url=jwks.url, secret_key=bad)
    assert info.value.setting == "secret_key" and bad.strip() not in str(info.value)


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [
        ("https://App.Example.com", "https://app.example.com"),
        ("HTTPS://app.example.com", "https://app.example.com"),
        ("https://app.example.com:443", "https://app.example.com"),
        ("http://localhost:80", "http://localhost"),
    ],
)
def test_an_origin_no_browser_sends_is_a_config_error(spelling: str, canonical: str) -> None:
    """Browsers send the serialized origin (lowercase, no default port), and
    Clerk mints azp the same way: any other spelling would silently never
    match, so it is refused, naming the spelling that works."""
    with pytest.raises(ClerkConfigError) as info:
        ClerkAuth(jwks_url="https://clerk.example.com/.well-known/jwks.json", authorized_parties=[spelling])
    assert info.value.setting == "authorized_parties"
    assert f"write it as {canonical}" in str(info.value)


def test_every_entry_point_refuses_options_it_would_ignore() -> None:
    """An option an entry point takes and then ignores is a silent surprise:
    the FastAPI dependencies act on neither ``preflight=`` nor ``cors=``, the
    middlewares not on ``cors=``, the authorizer on neither; a typo is never
    a bare TypeError."""
    from clerk_serverless.authorizer import make_authorizer
    from clerk_serverless.integrations.asgi import ClerkMiddleware
    from clerk_serverless.integrations.fastapi import require_clerk_auth, require_clerk_session

    cases = [
        (lambda: require_clerk_session(preflight="handler"), "preflight"),
        (lambda: require_clerk_session(cors=True), "cors"),
        (lambda: require_clerk_auth(cors=False), "cors"),
        (lambda: ClerkMiddleware(lambda *a: None, cors=True), "cors"),
        (lambda: make_authorizer(cors=True), "cors"),
        (lambda: make_authorizer(preflight="handler"), "preflight"),
        (lambda: make_authorizer(permisions=["org:x:y"]), "permisions"),
        (lambda: with_session(permissions=["org:x:y"]), "permissions"),
    ]
    for build, setting in cases:
        with pytest.raises(ClerkConfigError) as info:
            build()
        assert info.value.setting == setting


def test_on_off_options_take_booleans_only() -> None:
    """A string is truthy: ``required="false"`` or ``simple_responses="false"``
    (say, from an environment variable) would silently mean the opposite."""
    from clerk_serverless.authorizer import make_authorizer
    from clerk_serverless.integrations.asgi import ClerkMiddleware
    from clerk_serverless.integrations.fastapi import require_clerk_auth, require_clerk_session
    from clerk_serverless.integrations.powertools import ClerkMiddleware as PowertoolsMiddleware

    cases = [
        (lambda: ClerkMiddleware(lambda *a: None, required="false"), "required"),  # type: ignore[arg-type]
        (lambda: PowertoolsMiddleware(required="false"), "required"),  # type: ignore[arg-type]
        (lambda: require_clerk_session(required=0), "required"),  # type: ignore[arg-type]
        (lambda: require_clerk_auth(required="no"), "required"),  # type: ignore[arg-type]
        (lambda: make_authorizer(simple_responses="false"), "simple_responses"),  # type: ignore[arg-type]
    ]
    for build, setting in cases:
        with pytest.raises(ClerkConfigError) as info:
            build()
        assert info.value.setting == setting
