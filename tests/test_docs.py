"""The documentation covers the whole public surface, mechanically.

Every name ``clerk_serverless`` exports has a docstring and an entry in the
API reference (``docs/reference``); every argument of ``ClerkAuth``, every
route option and every parameter of the integrations is in the guide (the
README or its pages under ``docs/guide/``) and in the docstring the reference
renders; every reason code is in the README's table and on the reference's
generated page. Every python block of the README and the guide pages runs as
a file of its own, and every relative link between them resolves. The reference is also built
(offline, as ``make docs`` does) and read back: mkdocstrings silently leaves
out a name without a docstring, so every name of the rendered modules'
``__all__`` must have its entry, and every argument, option and reason code
its row. A new option or code that is documented nowhere fails here, not in
a user's hands.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.tokens import SigningKey
from support.tools import unavailable

import clerk_serverless
from clerk_serverless import ClerkAuth, Reason
from clerk_serverless.authorizer import make_authorizer
from clerk_serverless.handler import (
    AuthOptions,
    HandlerOptions,
    PolicyOptions,
    SessionPolicyOptions,
    WithAuthOptions,
    WithSessionOptions,
)
from clerk_serverless.integrations import asgi, fastapi, powertools

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
# The README and the pages it links to, which hold what moved out of it.
GUIDE = {"README.md": README} | {
    p.relative_to(ROOT).as_posix(): p.read_text(encoding="utf-8") for p in sorted((ROOT / "docs" / "guide").glob("*.md"))
}
DOCUMENTED = "\n".join(GUIDE.values())
REFERENCE = "\n".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "docs" / "reference").rglob("*.md")))
DIRECTIVES = set(re.findall(r"^::: (\S+)", REFERENCE, re.M))

# Each integration entry point, the module its reference page renders whole.
ENTRY_POINTS: list[tuple[Callable[..., Any], str]] = [
    (asgi.ClerkMiddleware, "clerk_serverless.integrations.asgi"),
    (powertools.ClerkMiddleware, "clerk_serverless.integrations.powertools"),
    (fastapi.require_clerk_session, "clerk_serverless.integrations.fastapi"),
    (fastapi.require_clerk_auth, "clerk_serverless.integrations.fastapi"),
    (make_authorizer, "clerk_serverless.authorizer"),
]


CONFIGURE = GUIDE["docs/guide/configure.md"]


def _configure_table_names(heading_cell: str) -> set[str]:
    """The first-column names (`name` or `name=…`) of the configuration
    guide's table whose header row starts with ``| heading_cell |``."""
    start = CONFIGURE.index(f"| {heading_cell} |")
    rows = CONFIGURE[start:].split("\n\n", 1)[0].splitlines()[2:]
    names: set[str] = set()
    for row in rows:
        names.update(re.findall(r"`(\w+)[=`]", row.split("|")[1]))
    return names


@pytest.mark.parametrize("name", clerk_serverless.__all__)
def test_every_public_name_has_a_docstring_and_a_reference_entry(name: str) -> None:
    obj = getattr(clerk_serverless, name)
    assert (obj.__doc__ or "").strip(), f"clerk_serverless.{name} has no docstring"
    assert f"clerk_serverless.{name}" in DIRECTIVES, f"clerk_serverless.{name} is not in docs/reference"


def test_every_clerk_auth_argument_is_in_the_configure_table_and_the_docstring() -> None:
    arguments = [p for p in inspect.signature(ClerkAuth.__init__).parameters if p != "self"]
    in_table = _configure_table_names("argument")
    docstring = inspect.getdoc(ClerkAuth) or ""
    assert [a for a in arguments if a not in in_table] == [], "missing from the Configure table (docs/guide/configure.md)"
    assert [a for a in arguments if not re.search(rf"^\s+{a}:", docstring, re.M)] == [], "missing from Args:"


ROUTE_OPTIONS = (
    set(AuthOptions.__annotations__) | set(PolicyOptions.__annotations__) | set(HandlerOptions.__annotations__)
)


@pytest.mark.parametrize("option", sorted(ROUTE_OPTIONS))
def test_every_route_option_is_in_the_configure_table_and_the_reference(option: str) -> None:
    assert option in _configure_table_names("option"), f"{option} is missing from the route options (docs/guide/configure.md)"
    documented_in = [
        cls.__name__
        for cls in (SessionPolicyOptions, PolicyOptions, HandlerOptions, AuthOptions)
        if option in cls.__annotations__ and re.search(rf"^\s+{option}:", inspect.getdoc(cls) or "", re.M)
    ]
    assert documented_in, f"{option} has no entry under Attributes: in the option TypedDicts"
    for cls in (SessionPolicyOptions, PolicyOptions, HandlerOptions, AuthOptions):
        assert f"clerk_serverless.handler.{cls.__name__}" in DIRECTIVES


# The decorators whose docstrings spell out their options, help() being read
# where the TypedDict is not: each list must name every option there is.
LISTED_OPTIONS = [
    (clerk_serverless.require_session, HandlerOptions),
    (ClerkAuth.require_session, HandlerOptions),
    (clerk_serverless.with_session, WithSessionOptions),
    (clerk_serverless.with_auth, WithAuthOptions),
]


@pytest.mark.parametrize("decorator, options", LISTED_OPTIONS, ids=lambda e: getattr(e, "__qualname__", str(e)))
def test_a_docstring_listing_options_lists_them_all(decorator: Callable[..., Any], options: type) -> None:
    docstring = inspect.getdoc(decorator) or ""
    assert [o for o in options.__annotations__ if f"``{o}``" not in docstring] == []


@pytest.mark.parametrize("entry, module", ENTRY_POINTS, ids=lambda e: getattr(e, "__qualname__", str(e)))
def test_every_integration_parameter_is_documented(entry: Callable[..., Any], module: str) -> None:
    assert module in DIRECTIVES, f"{module} has no reference page"
    docstring = inspect.getdoc(entry) or ""
    named = [
        p.name
        for p in inspect.signature(entry).parameters.values()
        if p.kind is not p.VAR_KEYWORD and p.name not in ("self", "app")
    ]
    assert [p for p in named if p not in docstring] == [], f"{entry.__qualname__}: parameters missing from its docstring"
    assert [p for p in named if f"`{p}" not in DOCUMENTED and f"{p}=" not in DOCUMENTED] == [], "missing from the guide"


def test_every_environment_variable_is_named_in_the_readme_table() -> None:
    # The front door names every variable the package reads, one line each.
    read = set()
    for source in (ROOT / "clerk_serverless").rglob("*.py"):
        read |= set(re.findall(r'"(CLERK_[A-Z_]+)"', source.read_text(encoding="utf-8")))
    table = README[README.index("| variable |"):].split("\n\n", 1)[0]
    assert sorted(v for v in read if f"`{v}`" not in table) == []


def test_every_reason_code_is_in_the_readme_table_and_the_reference_page() -> None:
    table = README[README.index("| status | reason |"):].split("\n\n", 1)[0]
    assert [r.value for r in Reason if f"`{r.value}`" not in table] == []
    spec = importlib.util.spec_from_file_location("generated_pages", ROOT / "docs" / "hooks" / "generated_pages.py")
    assert spec is not None and spec.loader is not None
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    page = hooks.reason_codes_page()
    assert [r.value for r in Reason if f"`{r.value}`" not in page] == []
    assert "::: clerk_serverless.Reason" in REFERENCE


# The modules the reference renders whole (``::: module`` with its members):
# each name of their ``__all__`` must come out on the built page, which a
# name without a docstring does not (mkdocstrings leaves it out silently).
REFERENCE_MODULES = [
    "clerk_serverless.authorizer",
    "clerk_serverless.errors",
    "clerk_serverless.integrations.asgi",
    "clerk_serverless.integrations.fastapi",
    "clerk_serverless.integrations.openapi",
    "clerk_serverless.integrations.powertools",
    "clerk_serverless.webhooks",
]


def test_every_exported_name_is_named_in_the_guide() -> None:
    missing = [n for n in clerk_serverless.__all__ if not re.search(rf"\b{n}\b", DOCUMENTED)]
    assert missing == [], "exported by clerk_serverless but never named in the README or docs/guide/"
    assert [m for m in REFERENCE_MODULES if m not in DIRECTIVES] == [], "modules without a reference page"


@pytest.mark.parametrize("module", ["clerk_serverless", *REFERENCE_MODULES])
def test_help_on_each_public_name_says_what_it_is(module: str) -> None:
    # help(name) prints the docstring: its first paragraph must stand alone.
    loaded = importlib.import_module(module)
    seen: dict[str, str] = {}
    for name in loaded.__all__:
        value = getattr(loaded, name)
        if isinstance(value, (str, int, frozenset)):
            continue  # a constant: help() shows its type's text; its docstring is the reference page's
        first = (inspect.getdoc(value) or "").split("\n\n")[0]
        assert len(first) >= 20, f"{module}.{name}: docstring {first!r}"
        assert not re.search(r"see the module doc", first, re.I), f"{module}.{name}: {first!r}"
        # Two names, one help text: an object built by a factory shows the factory's generic words.
        assert first not in seen, f"help({module}.{name}) reads as help({module}.{seen.get(first)}): {first!r}"
        seen[first] = name


PYTHON_BLOCKS = [
    (f"{page} python block {number}", block)
    for page, text in GUIDE.items()
    for number, block in enumerate(re.findall(r"^```python\n(.*?)^```", text, re.M | re.S), 1)
]


@pytest.mark.parametrize("where, code", PYTHON_BLOCKS, ids=[where for where, _ in PYTHON_BLOCKS])
def test_each_guide_python_block_runs_as_a_file_of_its_own(
    where: str, code: str, key: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A newcomer copies one block into app.py: it must import what it uses
    # and define what it decorates (`app`), with a key source configured as
    # a deployed function has one (and the secret key a function accepting
    # machine tokens must have: a `ClerkAuth` refuses them without one).
    monkeypatch.setenv("CLERK_JWT_KEY", key.public_pem)
    monkeypatch.setenv("CLERK_SECRET_KEY", "sk_test_docs_placeholder")
    exec(compile(code, where, "exec"), {"__name__": re.sub(r"\W", "_", where)})


# Every Markdown page: the README, the guide, the reference.
PAGES = ["README.md", *(p.relative_to(ROOT).as_posix() for p in sorted((ROOT / "docs").rglob("*.md")))]
# The pages docs/hooks/generated_pages.py adds at build time.
GENERATED = {ROOT / "docs" / "readme.md", ROOT / "docs" / "reference" / "reasons.md"}
LINK = re.compile(r"(?<!!)\[[^\]\n]*\]\(([^)\s]+)\)")


def _links(text: str) -> list[str]:
    """The inline link targets of a Markdown text, code blocks and spans left out."""
    prose = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    return LINK.findall(re.sub(r"`[^`\n]*`", "", prose))


def _anchors(text: str) -> set[str]:
    """The fragment ids GitHub gives a Markdown page's headings (lowercase,
    punctuation dropped, spaces as hyphens; MkDocs' toc agrees on ours)."""
    prose = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
            for heading in re.findall(r"^#{1,6} (.+)$", prose, re.M)}


@pytest.mark.parametrize("page", PAGES)
def test_every_link_to_a_section_names_a_heading_there(page: str) -> None:
    # "see the README's *What a request gets*" linked to the README's top: a
    # newcomer then scrolls 300 lines looking for it.
    dangling = []
    for target in _links((ROOT / page).read_text(encoding="utf-8")):
        path, _, fragment = target.partition("#")
        if not fragment or re.match(r"[a-z][a-z+.-]*:", target):
            continue
        file = ((ROOT / page).parent / path).resolve() if path else ROOT / page
        if file.suffix == ".md" and file.is_file() and fragment not in _anchors(file.read_text(encoding="utf-8")):
            dangling.append(target)
    assert dangling == [], f"{page}: links to sections that do not exist"


@pytest.mark.parametrize("page", PAGES)
def test_every_relative_link_resolves_on_github_and_in_the_site(page: str) -> None:
    # On GitHub a link is a path from the page; in the site the README is
    # readme.md and its docs/ links and the guide's ../../README.md links are
    # rewritten (docs/hooks/generated_pages.py), so nothing else may leave docs/.
    broken, outside = [], []
    for target in _links((ROOT / page).read_text(encoding="utf-8")):
        if re.match(r"[a-z][a-z+.-]*:|#", target):
            continue
        path = ((ROOT / page).parent / target.split("#", 1)[0]).resolve()
        if not path.is_file() and path not in GENERATED:
            broken.append(target)
        elif not (path.is_relative_to(ROOT / "docs") or (path == ROOT / "README.md" and page.startswith("docs/guide/"))):
            outside.append(target)
    assert broken == [], f"{page}: links to nothing"
    assert outside == [], f"{page}: links that leave the site"


def test_every_guide_page_is_linked_from_the_readme_and_in_the_site_nav() -> None:
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    pages = [page.removeprefix("docs/") for page in GUIDE if page != "README.md"]
    assert [p for p in pages if f"](docs/{p})" not in README] == [], "guide pages the README does not link to"
    assert [p for p in pages if f": {p}\n" not in nav] == [], "guide pages missing from mkdocs.yml's nav"


# What issue #13 keeps at the front door (whitespace-insensitive), however
# the rest moves to docs/guide/.
FRONT_DOOR = [
    "make demo", "make test", "pip install clerk-serverless", "| variable | meaning |",
    "Integrations", "FastAPI", "Powertools", "make_authorizer",
    'preflight="handler"', "origin-invalid", "With no authorized parties configured this protection is off",
    "| status | reason | when |", "## Where we differ from @clerk/backend, on purpose",
    "## Calling it from the frontend", 'credentials: "include"', "Never retry a 401/403", "Retry-After",
    "isAuthorized: false", "<!-- bench:start -->", "<!-- bench:end -->", "| contender | process |",
    "PyJWT stays in the dev environment as the reference verifier", "3.11–3.14", "python3.14",
    "**Layer**", "## Development", "make lint", "make docs",
]


def test_the_readme_stays_a_front_door() -> None:
    flat = " ".join(README.replace("**", "").split())
    assert [f for f in FRONT_DOOR if " ".join(f.replace("**", "").split()) not in flat] == []
    assert README.index("<!-- bench:start -->") < README.index("<!-- bench:end -->")  # bench.py --update-readme
    assert README.count("\n") <= 700, "the README is the front door: move reference material to docs/guide/"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The API reference as `make docs` builds it (offline, --strict): page path → HTML."""
    if importlib.util.find_spec("mkdocs") is None:
        unavailable("mkdocs is not installed (pip install -e '.[docs]')")
    out = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return {p.relative_to(out).as_posix(): p.read_text(encoding="utf-8") for p in out.rglob("*.html")}


def _table_names(html: str, anchor: str) -> set[str]:
    """The names in the parameter or attribute table of the object whose
    heading has id ``anchor`` (its own entry, up to the next heading)."""
    start = html.index("</h", html.index(f'id="{anchor}"'))
    end = html.find('class="doc doc-heading"', start)
    return set(re.findall(r"<td>\s*<code>(?:<span[^>]*>)?(?:\*\*)?(\w+)(?:</span>)?</code>", html[start:end if end > 0 else len(html)]))


@pytest.mark.slow
def test_the_built_reference_renders_every_public_name(site: dict[str, str]) -> None:
    every_page = "\n".join(site.values())
    missing = [f"clerk_serverless.{n}" for n in clerk_serverless.__all__ if f'id="clerk_serverless.{n}"' not in every_page]
    for module in REFERENCE_MODULES:
        names = importlib.import_module(module).__all__
        missing += [f"{module}.{n}" for n in names if f'id="{module}.{n}"' not in every_page]
    assert missing == [], "public names the built reference does not show (no docstring?)"


@pytest.mark.slow
def test_the_built_reference_documents_every_option_and_reason_code(site: dict[str, str]) -> None:
    reasons = site["reference/reasons/index.html"]
    assert [r.value for r in Reason if r.value not in reasons] == []
    main = site["reference/clerk_serverless/index.html"]
    arguments = [p for p in inspect.signature(ClerkAuth.__init__).parameters if p != "self"]
    table = _table_names(main, "clerk_serverless.ClerkAuth")
    assert [a for a in arguments if a not in table] == [], "ClerkAuth arguments missing from its rendered Parameters"
    # Each TypedDict's table lists its own options; together, every one.
    documented: set[str] = set()
    for options in (SessionPolicyOptions, PolicyOptions, HandlerOptions, WithSessionOptions, WithAuthOptions):
        documented |= _table_names(main, f"clerk_serverless.handler.{options.__name__}")
    assert sorted(set(AuthOptions.__annotations__) - documented) == [], "route options missing from the reference"
    page = site["reference/authorizer/index.html"]
    named = set(inspect.signature(make_authorizer).parameters)
    assert sorted(named - _table_names(page, "clerk_serverless.authorizer.make_authorizer")) == []
    described = page[page.index('id="clerk_serverless.authorizer.make_authorizer"'):]
    assert [o for o in PolicyOptions.__annotations__ if f"<code>{o}</code>" not in described] == []
