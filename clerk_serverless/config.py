"""Settings from arguments or the environment, validated once.

Every problem raises :class:`~clerk_serverless.errors.ClerkConfigError` naming
the argument (``authorized_parties``) or, when the value came from the
environment, the variable (``CLERK_AUTHORIZED_PARTIES``).
"""

# Annotations are evaluated (no `from __future__ import annotations`): with
# strings, typing would compile each NamedTuple/TypedDict field at import, a
# cold start's loss.

import math
import os
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, Final, NamedTuple

from .errors import ClerkConfigError, config_value
from .urls import Url, is_loopback_host, parse_url

DEFAULT_API_URL = "https://api.clerk.com"
MIN_STALE_TTL = 24 * 3600.0
#: The most leeway ``clock_skew`` may give: a session token lives 60 s, and a
#: larger value is almost always milliseconds (Clerk's ``clockSkewInMs``) given as seconds.
MAX_CLOCK_SKEW = 60.0
#: The longest ``jwks_cache_ttl``: a key Clerk removed from the set (rotated out,
#: compromised) stops verifying within it; milliseconds given as seconds would be weeks.
MAX_JWKS_CACHE_TTL = 24 * 3600.0
#: The longest ``jwks_stale_ttl``: keys serve this long while every refresh
#: fails, and a key Clerk revoked meanwhile keeps verifying; milliseconds given
#: as seconds would be years.
MAX_STALE_TTL = 7 * 24 * 3600.0
#: The bounds of ``unknown_kid_cooldown``: below a second every forged ``kid``
#: is a fetch against Clerk; above five minutes (the default ``jwks_cache_ttl``)
#: a token of a key Clerk just rotated in could be refused with 401 — signing
#: users out — for that long (hours, for milliseconds given as seconds).
MIN_UNKNOWN_KID_COOLDOWN = 1.0
MAX_UNKNOWN_KID_COOLDOWN = 300.0

ENV = {
    "jwt_key": "CLERK_JWT_KEY",
    "secret_key": "CLERK_SECRET_KEY",
    "jwks_url": "CLERK_JWKS_URL",
    "publishable_key": "CLERK_PUBLISHABLE_KEY",
    "api_url": "CLERK_API_URL",
    "authorized_parties": "CLERK_AUTHORIZED_PARTIES",
    "issuer": "CLERK_ISSUER",
    "proxy_url": "CLERK_PROXY_URL",
    "secret_key_parameter": "CLERK_SECRET_KEY_PARAMETER",
    "secret_key_secret_id": "CLERK_SECRET_KEY_SECRET_ID",
    "machine_secret_key": "CLERK_MACHINE_SECRET_KEY",
}


class KeySource:
    """Where verification keys come from.

    ``kind`` is ``"pem"`` (networkless, ``pem`` holds the text) or ``"jwks"``
    (``url`` plus request ``headers``, e.g. the secret key for the Backend API).
    ``label`` says which setting chose it, for logs and errors; ``hint``, when
    set, follows the error of a fetch that got no answer at all. A plain
    slotted class, not a ``NamedTuple``: nothing unpacks or compares it, and a
    ``NamedTuple`` costs a cold start ~100 µs to define.
    """

    __slots__ = ("kind", "label", "url", "headers", "pem", "key", "hint")

    def __init__(
        self,
        kind: str,
        label: str,
        url: str | None = None,
        headers: tuple[tuple[str, str], ...] = (),
        pem: str | None = None,
        key: Any = None,  # the parsed RSA public key, for kind "pem"
        hint: str | None = None,
    ) -> None:
        self.kind = kind
        self.label = label
        self.url = url
        self.headers = headers
        self.pem = pem
        self.key = key
        self.hint = hint

    def __repr__(self) -> str:  # never show the secret key or the PEM
        return f"KeySource(kind={self.kind!r}, label={self.label!r}, url={self.url!r})"


class Settings(NamedTuple):
    """Resolved, validated settings of one :class:`~clerk_serverless.ClerkAuth`."""

    key_source: KeySource
    authorized_parties: frozenset[str] | None
    issuer: tuple[str, ...] | None
    clock_skew: float
    jwks_cache_ttl: float
    jwks_stale_ttl: float
    unknown_kid_cooldown: float
    fetch_timeout: float
    api_url: str
    secret_key: str | None
    publishable_key: str | None
    cookie_suffix: str | None
    frontend_api: str | None = None
    audience: frozenset[str] | None = None
    machine_secret_key: str | None = None

    def __repr__(self) -> str:
        return (
            f"Settings(key_source={self.key_source!r}, authorized_parties="
            f"{sorted(self.authorized_parties) if self.authorized_parties else None!r}, "
            f"issuer={self.issuer!r}, clock_skew={self.clock_skew!r}, "
            f"jwks_cache_ttl={self.jwks_cache_ttl!r})"
        )


_logged: set[str] = set()


def _log_once(message: str) -> None:
    if message not in _logged:
        _logged.add(message)
        from .logs import WARNING, log

        log("clerk_serverless", WARNING, "%s", message)


def parse_audience(value: Any) -> frozenset[str] | None:
    """``audience``: one string or a list of them (``aud`` must name one)."""
    if value is None:
        return None
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple, set, frozenset)) or not items:
        raise ClerkConfigError("audience", "must be a string or a non-empty list of strings")
    if not all(isinstance(a, str) and a for a in items):
        raise ClerkConfigError("audience", "must be a string or a non-empty list of strings")
    return frozenset(items)


def _comma_separated(text: str) -> list[str]:
    """The non-empty parts of a comma-separated setting, without surrounding whitespace."""
    return [part for part in (p.strip() for p in text.split(",")) if part]


def parse_issuer(value: Any, setting: str) -> tuple[str, ...] | None:
    """``issuer``: one ``https://`` URL, a list of them, or a comma-separated
    string of them; each read without surrounding whitespace and its trailing
    slash, duplicates dropped, in the order given (the order the refusal's
    log line names them in). A URL with a space, control or non-ASCII
    character, user info or a fragment inside is refused: no ``iss`` equals
    it (a list written with spaces, not commas, would refuse every token)."""
    if value is None:
        return None
    if isinstance(value, str):
        items: Iterable[Any] = _comma_separated(value)
    elif isinstance(value, (list, tuple, set, frozenset)):
        # A set's order, by text: sorted() alone raises TypeError on {"https://…", 7}.
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
    else:
        raise ClerkConfigError(setting, "must be an https:// URL, a list of them or a comma-separated string")
    issuers: list[str] = []
    for item in items:
        if not isinstance(item, str) or not item.strip().startswith("https://") or item.rstrip("/") == "https:":
            raise ClerkConfigError(setting, f"{config_value(item)} is not an https:// URL")
        issuer = item.strip().rstrip("/")
        if parse_url(issuer) is None:
            raise ClerkConfigError(
                setting,
                f"{config_value(item)} is not an https:// URL a token's iss can equal (no spaces, line breaks, "
                "non-ASCII characters, user@ or #fragment; separate several with commas)",
            )
        if issuer not in issuers:
            issuers.append(issuer)
    if not issuers:
        raise ClerkConfigError(setting, "is empty; leave it unset not to check iss against it")
    return tuple(issuers)


def parse_proxy_url(value: Any, setting: str) -> str | None:
    """``proxy_url``: the absolute URL of a Frontend API proxy (Clerk's
    ``proxyUrl``/``CLERK_PROXY_URL``), read without its trailing slash.

    A path alone (``/__clerk``, which Clerk's SDKs complete with each
    request's origin) is refused: keys come from configuration only, never
    from a host a request names."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ClerkConfigError(setting, "must be the proxy's https:// URL, e.g. https://app.example.com/__clerk")
    url = value.strip()
    if url.startswith("/"):
        raise ClerkConfigError(
            setting,
            f"{config_value(value)} is a path; on a server it needs its origin, and keys are never fetched from "
            "a host a request names: write the absolute URL, e.g. https://app.example.com/__clerk",
        )
    url = validate_key_url(url.rstrip("/"), setting)
    if "?" in url:
        raise ClerkConfigError(setting, "must not carry a query (?…): the Frontend API's paths go after it")
    return url


# The publishable key's name in the frontend frameworks' .env files (Clerk's quickstarts).
_FRONTEND_PK_NAMES = (
    "NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY", "VITE_CLERK_PUBLISHABLE_KEY", "EXPO_PUBLIC_CLERK_PUBLISHABLE_KEY",
    "PUBLIC_CLERK_PUBLISHABLE_KEY", "REACT_APP_CLERK_PUBLISHABLE_KEY", "NUXT_PUBLIC_CLERK_PUBLISHABLE_KEY",
)

# What a value configured in the wrong place is, by its prefix: where it goes.
_KINDS = (
    ("sk_", "a secret key (sk_…)", "secret_key", "CLERK_SECRET_KEY"),
    ("pk_", "a publishable key (pk_…)", "publishable_key", "CLERK_PUBLISHABLE_KEY"),
    ("ak_", "a machine secret key (ak_…)", "machine_secret_key", "CLERK_MACHINE_SECRET_KEY"),
    ("-----BEGIN", "a PEM key", "jwt_key", "CLERK_JWT_KEY"),
    ("whsec_", "a webhook signing secret (whsec_…)", "signing_secret", "CLERK_WEBHOOK_SIGNING_SECRET"),
)


def misplaced(value: object, setting: str) -> str:
    """A hint for a key refused by ``setting``: quoted, or another kind of
    key that belongs to another setting (named by its prefix only, never
    echoed). Empty when neither."""
    if not isinstance(value, str):
        return ""
    text = value.strip()
    if text[:1] in ("'", '"'):
        return "; remove the quotes around it"
    for prefix, kind, argument, variable in _KINDS:
        if text.startswith(prefix) and setting not in (argument, variable):
            return f"; this is {kind}: it belongs in {variable} ({argument})"
    return ""


def _credential(value: object, setting: str, prefixes: tuple[str, ...], problem: str) -> str | None:
    """A key as configured, without surrounding whitespace; refused (without
    echoing it) when it has another prefix or any space or control character,
    which would otherwise surface later as a broken request header."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ClerkConfigError(setting, problem)
    value = value.strip()
    if not value.startswith(prefixes):
        raise ClerkConfigError(setting, problem + misplaced(value, setting))
    if not all("!" <= c <= "~" for c in value):
        raise ClerkConfigError(setting, "contains spaces, line breaks or non-ASCII characters")
    if value in prefixes:  # a template placeholder, or a value cut short when pasted
        raise ClerkConfigError(setting, "has nothing after its prefix")
    return value


def _from_env(name: str, value: Any) -> tuple[Any, str]:
    """The argument when given, else its environment variable (empty = unset)."""
    if value is not None:
        return value, name
    env = ENV[name]
    raw = os.environ.get(env)
    if raw is None or not raw.strip():
        return None, env
    return raw.strip(), env


def validate_key_url(url: Any, setting: str) -> str:
    """An absolute ``https://`` URL (``http://`` allowed for loopback only)."""
    if not isinstance(url, str) or not url:
        raise ClerkConfigError(setting, "must be a URL string")
    parts = parse_url(url)
    if parts is None:
        raise ClerkConfigError(
            setting,
            "is not a URL this package accepts: https://host[:port]/path, without user:password@, "
            "#fragment, spaces or non-ASCII characters",
        )
    if parts.scheme == "https" or is_loopback_host(parts.host):
        return url
    raise ClerkConfigError(
        setting, "must be an https:// URL (plain http is allowed only for loopback hosts)"
    )


def _serialized_origin(parts: Url) -> str:
    """``scheme://host[:port]`` as a browser's ``Origin`` spells it."""
    host = f"[{parts.host}]" if ":" in parts.host else parts.host
    default_port = 443 if parts.scheme == "https" else 80
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port not in (None, default_port) else "")


def normalize_origin(value: Any, setting: str) -> str:
    """``scheme://host[:port]`` with no path, query or trailing slash."""
    if not isinstance(value, str):
        raise ClerkConfigError(setting, "each authorized party must be an origin string")
    origin = value.strip()
    parts = parse_url(origin)
    if parts is None and "://" not in origin:  # `localhost:3000`, `app.example.com`: no scheme
        parts = parse_url(f"https://{origin}")
        if parts is not None and is_loopback_host(parts.host):  # a dev server: http
            parts = parse_url(f"http://{origin}")
        guess = _serialized_origin(parts) if parts is not None and not parts.target else None
        parts = None
    else:
        guess = _serialized_origin(parts) if parts is not None else None  # a path or trailing slash
    if parts is None or parts.target:
        shown = config_value(value)
        fix = (
            f"write it as {guess}, as a browser's Origin spells it"
            if guess and shown == repr(value)
            else "use scheme://host[:port], e.g. https://app.example.com"
        )
        raise ClerkConfigError(setting, f"{shown} is not an origin; {fix}")
    # Browsers send (and Clerk mints azp as) the serialized origin: lowercase,
    # without the scheme's default port. Any other spelling would never match.
    canonical = _serialized_origin(parts)
    if origin != canonical:
        if config_value(value) != repr(value):
            raise ClerkConfigError(setting, f"{config_value(value)} never matches a browser's Origin")
        raise ClerkConfigError(setting, f"{value!r} never matches a browser's Origin; write it as {canonical}")
    return origin


def parse_authorized_parties(value: Any, setting: str) -> frozenset[str] | None:
    """A list of origins, or a comma-separated string of them."""
    if value is None:
        return None
    if isinstance(value, str):
        items: Iterable[Any] = _comma_separated(value)
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = value
    else:
        raise ClerkConfigError(setting, "must be a list of origins or a comma-separated string")
    parties = frozenset(normalize_origin(v, setting) for v in items)
    if not parties:
        raise ClerkConfigError(setting, "is empty; leave it unset to accept any azp")
    return parties


def frontend_api_from_publishable_key(key: Any, setting: str) -> str:
    """The Frontend API host encoded in a ``pk_test_``/``pk_live_`` key."""
    where = " (the Publishable key of the Clerk Dashboard's API keys page)"
    if not isinstance(key, str) or not key.startswith(("pk_test_", "pk_live_")):
        raise ClerkConfigError(setting, "must start with pk_test_ or pk_live_" + (misplaced(key, setting) or where))
    import base64

    encoded = key.split("_", 2)[2]
    try:
        decoded = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        decoded = ""  # refused below, as a key decoding to no host
    # One "$", at the end, as @clerk/shared's isPublishableKey: a key decoding
    # to "host$$" or "$host$" is no key, not a Frontend API named "host$".
    host = decoded[:-1] if decoded.endswith("$") else ""
    if not host or any(c in host for c in "$/:@?# \\") or "." not in host:
        raise ClerkConfigError(setting, "is not a valid Clerk publishable key: copy it whole" + where)
    return host


def cookie_suffix(publishable_key: str) -> str:
    """The instance's cookie suffix, as @clerk/shared computes it: the first
    8 characters of base64url(SHA-1(publishable key))."""
    import base64
    import hashlib

    digest = hashlib.sha1(publishable_key.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()[:8]


def _number(
    value: Any, setting: str, *, minimum: float = 0.0, maximum: float = math.inf, why: str = "", low_why: str = ""
) -> float:
    """A number of seconds within ``[minimum, maximum]``; ``why`` follows the
    refusal of one above ``maximum``, ``low_why`` that of one below ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ClerkConfigError(setting, "must be a number of seconds")
    if isinstance(value, int) and not -1e300 < value < 1e300:
        value = math.inf  # an int no float holds (math.isfinite would raise OverflowError)
    if not math.isfinite(value) or value < minimum:
        raise ClerkConfigError(setting, f"must be a finite number >= {minimum:g}{low_why}")
    if value > maximum:
        raise ClerkConfigError(setting, f"must be at most {maximum:g} seconds{why}")
    return float(value)


#: The key cache's windows, by :class:`~clerk_serverless.ClerkAuth`'s argument
#: name: (minimum, maximum, why a value above is refused, why one below is).
#: The one source of these bounds: ClerkAuth and a hand-built
#: :class:`~clerk_serverless.keys.JwksKeyStore` both check through
#: :func:`key_cache_seconds`.
KEY_CACHE_BOUNDS: Final[Mapping[str, tuple[float, float, str, str]]] = MappingProxyType({
    "jwks_cache_ttl": (
        1.0, MAX_JWKS_CACHE_TTL,
        " (a day): it is in seconds, not milliseconds, and a key removed from the JWKS keeps verifying "
        "tokens until it passes", "",
    ),
    "jwks_stale_ttl": (
        MIN_STALE_TTL, MAX_STALE_TTL,
        " (a week): it is in seconds, not milliseconds, and a key Clerk revoked keeps verifying "
        "as long as refreshes fail", "",
    ),
    "unknown_kid_cooldown": (
        MIN_UNKNOWN_KID_COOLDOWN, MAX_UNKNOWN_KID_COOLDOWN,
        ": it is in seconds, not milliseconds, and a token signed by a key Clerk just rotated in "
        "is refused (401) until the window ends",
        ": below it every forged kid costs a key fetch against Clerk",
    ),
    "fetch_timeout": (0.05, 3.0, " (connect + read)", ""),
})


def key_cache_seconds(name: str, value: Any, setting: str | None = None) -> float:
    """``value`` as a float when it is within the bounds of ``name`` (a key of
    :data:`KEY_CACHE_BOUNDS`); otherwise a :class:`ClerkConfigError` naming
    ``setting`` (by default ``name``) and saying why the bound is there."""
    minimum, maximum, why, low_why = KEY_CACHE_BOUNDS[name]
    return _number(value, setting or name, minimum=minimum, maximum=maximum, why=why, low_why=low_why)


def _load_pem(pem: Any, setting: str) -> tuple[str, Any]:
    """Parse the PEM as an RSA public key; return its text and the key.

    Accepts the PEM with real newlines, with literal ``\\n`` (as env vars often
    carry it), on one line as Clerk's dashboard shows it, or its base64 body
    alone (as @clerk/backend's ``loadClerkJWKFromLocal`` does).
    """
    if not isinstance(pem, str):
        raise ClerkConfigError(setting, "must be a PEM public key string")
    text = pem.strip().replace("\\n", "\n")
    begin, end = "-----BEGIN PUBLIC KEY-----", "-----END PUBLIC KEY-----"
    if not text.startswith("-----"):  # the base64 body alone, as @clerk/backend accepts it
        text = begin + "".join(text.split()) + end
    if text.startswith(begin) and text.endswith(end) and "\n" not in text:
        body = text[len(begin) : -len(end)].replace(" ", "")
        text = begin + "\n" + "\n".join(body[i : i + 64] for i in range(0, len(body), 64)) + "\n" + end
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    try:
        key = load_pem_public_key(text.encode())
    except (ValueError, TypeError):
        raise ClerkConfigError(
            setting,
            "is not a PEM-encoded public key"
            + (misplaced(pem, setting) or " (the Clerk Dashboard's API keys page, Show JWT public key)"),
        ) from None
    except Exception:  # cryptography raises UnsupportedAlgorithm for odd keys
        raise ClerkConfigError(setting, "is not a supported PEM public key") from None
    if not isinstance(key, RSAPublicKey):
        raise ClerkConfigError(setting, "must be an RSA public key (Clerk signs with RS256)")
    if key.key_size < 2048:
        raise ClerkConfigError(setting, "RSA keys shorter than 2048 bits are refused")
    _refuse_published_key(key, setting)
    return text, key


#: The low 128 bits of the modulus of ``dev/clerk-dev-key.pem``, the
#: repository's development key (``env.json`` passes its public half as
#: ``CLERK_JWT_KEY``): its private half is published with the repository.
_PUBLISHED_DEV_KEY = 0xEFF1A5B9CF48593D3FF8C06D69A38D05


def _refuse_published_key(key: Any, setting: str) -> None:
    """Refuse the repository's development key on AWS Lambda: anyone can sign
    tokens it accepts. Local runs (``sam local``, ``clerk_serverless_local``,
    which set ``AWS_SAM_LOCAL``) and anything off Lambda (tests) keep it."""
    if key.public_numbers().n & (2**128 - 1) != _PUBLISHED_DEV_KEY:
        return
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME") and os.environ.get("AWS_SAM_LOCAL") != "true":
        raise ClerkConfigError(
            setting,
            "is clerk-serverless's development key (dev/clerk-dev-key.pem, env.json), whose private half is "
            "published: anyone could sign tokens it accepts. On AWS Lambda use your Clerk instance's key",
        )


def _secret_key_from_aws(parameter: Any, secret_id: Any, use_env: bool) -> tuple[str | None, str]:
    parameter, parameter_setting = (
        _from_env("secret_key_parameter", parameter) if use_env else (parameter, "secret_key_parameter")
    )
    secret_id, secret_setting = (
        _from_env("secret_key_secret_id", secret_id) if use_env else (secret_id, "secret_key_secret_id")
    )
    if parameter is not None and secret_id is not None:
        raise ClerkConfigError(parameter_setting, f"set either it or {secret_setting}, not both")
    if parameter is None and secret_id is None:
        return None, "secret_key"
    from .aws_secrets import read_secret_key

    if parameter is not None:
        return read_secret_key(parameter, kind="parameter", setting=parameter_setting), parameter_setting
    return read_secret_key(secret_id, kind="secret", setting=secret_setting), secret_setting


def resolve_settings(
    *,
    jwt_key: str | None = None,
    secret_key: str | None = None,
    jwks_url: str | None = None,
    publishable_key: str | None = None,
    api_url: str | None = None,
    authorized_parties: Iterable[str] | str | None = None,
    issuer: str | Iterable[str] | None = None,
    clock_skew: float = 5.0,
    jwks_cache_ttl: float = 300.0,
    jwks_stale_ttl: float = MIN_STALE_TTL,
    unknown_kid_cooldown: float = 30.0,
    fetch_timeout: float = 3.0,
    secret_key_parameter: str | None = None,
    secret_key_secret_id: str | None = None,
    audience: str | Iterable[str] | None = None,
    machine_secret_key: str | None = None,
    proxy_url: str | None = None,
) -> Settings:
    """Merge arguments with ``CLERK_*`` environment variables and validate.

    An argument always beats the environment: for its own setting, and in
    choosing the key source, where any key source given as an argument is
    preferred to every one found in the environment (logged once).
    """
    explicit_secret = secret_key is not None or secret_key_parameter is not None or secret_key_secret_id is not None
    if secret_key is not None:
        secret_setting = "secret_key"
    elif explicit_secret:
        secret_key, secret_setting = _secret_key_from_aws(secret_key_parameter, secret_key_secret_id, use_env=False)
    else:
        secret_key, secret_setting = _from_env("secret_key", None)
        if secret_key is None:
            secret_key, secret_setting = _secret_key_from_aws(None, None, use_env=True)
    explicit_sources = [
        name
        for name, value in (("jwt_key", jwt_key), ("jwks_url", jwks_url), ("publishable_key", publishable_key))
        if value is not None
    ] + (["secret_key"] if explicit_secret else [])
    jwt_key, jwt_key_setting = _from_env("jwt_key", jwt_key)
    jwks_url, jwks_url_setting = _from_env("jwks_url", jwks_url)
    publishable_key, pk_setting = _from_env("publishable_key", publishable_key)
    api_url, api_url_setting = _from_env("api_url", api_url)
    parties_raw, parties_setting = _from_env("authorized_parties", authorized_parties)
    issuer_raw, issuer_setting = _from_env("issuer", issuer)
    proxy_raw, proxy_setting = _from_env("proxy_url", proxy_url)
    if explicit_sources:
        # Key sources from the environment do not compete with one given in code.
        ignored = [
            setting
            for name, (value, setting) in {
                "jwt_key": (jwt_key, jwt_key_setting),
                "jwks_url": (jwks_url, jwks_url_setting),
                "publishable_key": (publishable_key, pk_setting),
                "secret_key": (secret_key, secret_setting),
            }.items()
            if value is not None and setting.startswith("CLERK_") and name not in explicit_sources
        ]
        if "jwt_key" not in explicit_sources:
            jwt_key = None
        if "jwks_url" not in explicit_sources:
            jwks_url = None
        if ignored:
            _log_once(
                f"clerk_serverless: the key source given as an argument ({explicit_sources[0]}) "
                f"is used; {', '.join(ignored)} from the environment is not a key source here"
            )

    secret_key = _credential(
        secret_key, secret_setting, ("sk_test_", "sk_live_"), "must start with sk_test_ or sk_live_"
    )
    machine_secret_key, machine_setting = _from_env("machine_secret_key", machine_secret_key)
    machine_secret_key = _credential(
        machine_secret_key, machine_setting, ("ak_",), "must be a machine secret key (ak_…)"
    )
    api_url = validate_key_url(api_url or DEFAULT_API_URL, api_url_setting).rstrip("/")
    if api_url.endswith("/v1"):
        raise ClerkConfigError(api_url_setting, "is the Backend API's base URL, without /v1 (e.g. https://api.clerk.com)")

    frontend_api = None
    if publishable_key is not None:
        if isinstance(publishable_key, str):
            publishable_key = publishable_key.strip()
        frontend_api = frontend_api_from_publishable_key(publishable_key, pk_setting)
        if secret_key is not None and secret_key.startswith("sk_live_") != publishable_key.startswith("pk_live_"):
            # One instance's keys are both test or both live: a mix verifies
            # sessions of one instance and machine tokens (and users) of another.
            kinds = ("live", "test") if secret_key.startswith("sk_live_") else ("test", "live")
            raise ClerkConfigError(
                secret_setting,
                f"is a {kinds[0]} key but {pk_setting} is a {kinds[1]} key: "
                "both must come from the same Clerk instance",
            )

    # `iss` is pinned only to a configured issuer, as @clerk/backend's
    # assertIssuerClaim: not to the publishable key's Frontend API, which is
    # not the `iss` behind a Frontend API proxy (the proxy URL) nor, always,
    # on a satellite domain (docs/guide/configure.md: "Which `iss` your tokens carry").
    issuers = parse_issuer(issuer_raw, issuer_setting)
    # A proxy only moves the Frontend API: it is validated whatever the key
    # source, and used with the publishable key's (docs/guide/keys-and-outages.md).
    proxy = parse_proxy_url(proxy_raw, proxy_setting)

    # Networkless first; then an explicit JWKS URL; then the Frontend API
    # (public, CDN-cached, not rate limited); the Backend API last.
    if jwt_key is not None:
        pem, key = _load_pem(jwt_key, jwt_key_setting)
        source = KeySource("pem", jwt_key_setting, pem=pem, key=key)
    elif jwks_url is not None:
        source = KeySource("jwks", jwks_url_setting, url=validate_key_url(jwks_url, jwks_url_setting))
    elif frontend_api is not None and (not explicit_sources or "publishable_key" in explicit_sources):
        if proxy is not None:  # what parsePublishableKey does with proxyUrl: the proxy replaces the host
            source = KeySource("jwks", f"{pk_setting} via {proxy_setting}", url=f"{proxy}/.well-known/jwks.json")
        else:
            # Proxying is for production instances only (Clerk's "Proxying the
            # Clerk Frontend API"): there the key's host may have no DNS at all.
            hint = (
                "if this instance's Frontend API is proxied, set CLERK_PROXY_URL (proxy_url) to the proxy's URL"
                if publishable_key.startswith("pk_live_")
                else None
            )
            source = KeySource("jwks", pk_setting, url=f"https://{frontend_api}/.well-known/jwks.json", hint=hint)
    elif secret_key is not None:
        source = KeySource(
            "jwks",
            secret_setting,
            url=f"{api_url}/v1/jwks",
            headers=(("Authorization", f"Bearer {secret_key}"),),
        )
    else:
        # A frontend's .env read by the backend: its prefixed name is not ours.
        framework = [n for n in _FRONTEND_PK_NAMES if (os.environ.get(n) or "").strip()]
        raise ClerkConfigError(
            "CLERK_JWT_KEY",
            "no key source configured; set one of jwt_key/CLERK_JWT_KEY (PEM), "
            "jwks_url/CLERK_JWKS_URL, publishable_key/CLERK_PUBLISHABLE_KEY or "
            "secret_key/CLERK_SECRET_KEY"
            + (f" ({framework[0]} is set, which is a frontend's name: set CLERK_PUBLISHABLE_KEY)" if framework else ""),
        )

    skew = _number(
        clock_skew, "clock_skew", maximum=MAX_CLOCK_SKEW,
        why=": it is in seconds, not milliseconds (Clerk's clockSkewInMs: 5000 is clock_skew=5), "
        "and more leeway admits expired tokens",
    )
    ttl = key_cache_seconds("jwks_cache_ttl", jwks_cache_ttl)
    stale = key_cache_seconds("jwks_stale_ttl", jwks_stale_ttl)
    cooldown = key_cache_seconds("unknown_kid_cooldown", unknown_kid_cooldown)
    timeout = key_cache_seconds("fetch_timeout", fetch_timeout)

    return Settings(
        key_source=source,
        authorized_parties=parse_authorized_parties(parties_raw, parties_setting),
        issuer=issuers,
        clock_skew=skew,
        jwks_cache_ttl=ttl,
        jwks_stale_ttl=stale,
        unknown_kid_cooldown=cooldown,
        fetch_timeout=timeout,
        api_url=api_url,
        secret_key=secret_key,
        publishable_key=publishable_key,
        cookie_suffix=cookie_suffix(publishable_key) if publishable_key else None,
        frontend_api=frontend_api,
        audience=parse_audience(audience),
        machine_secret_key=machine_secret_key,
    )
