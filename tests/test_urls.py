"""The strict URL parser used for key URLs, the Backend API and origins,
against urllib.parse on what both accept, and on what only we refuse."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clerk_serverless.urls import is_loopback_host, parse_url


@pytest.mark.parametrize(
    "url,parts",
    [
        ("https://clerk.example.com/.well-known/jwks.json", ("https", "clerk.example.com", None, "/.well-known/jwks.json")),
        ("https://api.clerk.com", ("https", "api.clerk.com", None, "")),
        ("HTTPS://API.Clerk.com:8443/v1/jwks?x=1", ("https", "api.clerk.com", 8443, "/v1/jwks?x=1")),
        ("http://127.0.0.1:4010/jwks", ("http", "127.0.0.1", 4010, "/jwks")),
        ("http://[::1]:3001", ("http", "::1", 3001, "")),
        ("https://host?only=query", ("https", "host", None, "?only=query")),
    ],
)
def test_parses(url: str, parts: tuple[object, ...]) -> None:
    ours = parse_url(url)
    assert ours is not None
    assert (ours.scheme, ours.host, ours.port, ours.target) == parts


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com", "https//example.com", "https://", "https://user@example.com", "https://user:pw@example.com/",
        "https://example.com#frag", "https://exa mple.com", "https://example.com/a b", "https://example.com\\@evil",
        "https://exämple.com", "https://example.com:0", "https://example.com:65536", "https://example.com:99999x",
        "https://example.com:", "https://.example.com", "https://a..b", "https://[::1", "https://[]:80",
        "https://[example.com]", "https://example.com\r\nX: y", "https://%65xample.com", "javascript:alert(1)",
        "https://example.com:+80", "https://example.com: 80", None, 42, "",
    ],
)
def test_refuses(url: object) -> None:
    assert parse_url(url) is None


@settings(max_examples=300, deadline=None)
@given(
    scheme=st.sampled_from(["http", "https"]),
    labels=st.lists(st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=10).filter(lambda s: not s.startswith("-")), min_size=1, max_size=4),
    port=st.one_of(st.none(), st.integers(1, 65535)),
    path=st.text("abcdefghijklmnopqrstuvwxyz0123456789/._-~%", max_size=20),
    query=st.one_of(st.none(), st.text("abcdefghijklmnopqrstuvwxyz0123456789=&", max_size=10)),
)
def test_agrees_with_urlsplit_where_both_accept(scheme: str, labels: list[str], port: int | None, path: str, query: str | None) -> None:
    url = f"{scheme}://{'.'.join(labels)}{f':{port}' if port else ''}{'/' + path if path else ''}{f'?{query}' if query is not None else ''}"
    ours, theirs = parse_url(url), urlsplit(url)
    assert ours is not None
    assert (ours.scheme, ours.host, ours.port) == (theirs.scheme, theirs.hostname, theirs.port)
    assert ours.target == theirs.path + (f"?{theirs.query}" if theirs.query or url.endswith("?") else "")


@pytest.mark.parametrize(
    "host,loopback",
    [("localhost", True), ("LOCALHOST", True), ("127.0.0.1", True), ("127.1.2.3", True), ("[::1]", True), ("::1", True),
     ("0:0:0:0:0:0:0:1", True), ("128.0.0.1", False), ("127.0.0", False), ("127.0.0.1.example.com", False),
     ("localhost.example.com", False), ("::2", False), ("", False), (None, False), ("127.0.0.256", False)],
)
def test_loopback(host: str | None, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback
