"""Check what `make build` put in dist/: exactly the packages, their markers and licence, no tests.

    python .ci/check_dist.py [DIST_DIR]

For each distribution (clerk-serverless from the repository root,
clerk-serverless-local from local/):

* the wheel holds exactly its package's modules as they are in the source
  tree (nothing stale, nothing missing, not the other package, no tests), its
  ``py.typed``, and the licence as PEP 639 metadata (``License-Expression:
  MIT``, ``License-File: LICENSE``, the file under ``dist-info/licenses/``);
* the sdist holds no part of the test suite (it is a repository suite, left
  out by MANIFEST.in rather than shipped in halves);
* versions agree: both distributions carry ``clerk_serverless.__version__``,
  and clerk-serverless-local pins ``clerk-serverless`` to it.

Standard library only; prints one line per archive and exits non-zero with
every problem found.
"""

from __future__ import annotations

import ast
import sys
import tarfile
import zipfile
from email.parser import HeaderParser
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parent.parent


def source_version() -> str:
    """``__version__`` of clerk_serverless/__init__.py, read without importing it."""
    tree = ast.parse((ROOT / "clerk_serverless" / "__init__.py").read_text())
    for node in tree.body:
        if not isinstance(node, ast.Assign):
            continue
        if any(isinstance(t, ast.Name) and t.id == "__version__" for t in node.targets):
            value = ast.literal_eval(node.value)
            if isinstance(value, str):
                return value
    raise SystemExit("clerk_serverless/__init__.py has no __version__ = '...'")


def source_modules(package_dir: Path) -> set[str]:
    """The package's files as they should appear in a wheel (posix paths from the package's parent)."""
    found = set()
    for path in package_dir.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix in (".py", ".typed"):
            found.add(path.relative_to(package_dir.parent).as_posix())
    return found


def is_test_file(name: str) -> bool:
    parts = PurePosixPath(name).parts
    base = parts[-1] if parts else ""
    return (
        any(p in ("tests", "test", "testing") for p in parts[:-1])
        or base == "conftest.py"
        or (base.startswith("test_") and base.endswith(".py"))
        or base.endswith("_test.py")
    )


def check_wheel(path: Path, package: str, version: str, requires: list[str], problems: list[str]) -> None:
    with zipfile.ZipFile(path) as wheel:
        names = [n for n in wheel.namelist() if not n.endswith("/")]
        dist_info = f"{package}-{version}.dist-info/"
        meta = HeaderParser().parsestr(wheel.read(dist_info + "METADATA").decode())
        licence_path = dist_info + "licenses/LICENSE"
        licence = wheel.read(licence_path).decode() if licence_path in names else None
    tops = {n.split("/", 1)[0] for n in names}
    if tops != {package, dist_info.rstrip("/")}:
        problems.append(f"{path.name}: top-level entries {sorted(tops)}, expected only {package}/ and its dist-info")
    shipped = {n for n in names if not n.startswith(dist_info)}
    expected = source_modules(ROOT / ("local" if package.endswith("_local") else "") / package)
    if shipped != expected:
        problems.append(f"{path.name}: extra {sorted(shipped - expected)}, missing {sorted(expected - shipped)}")
    if f"{package}/py.typed" not in shipped:
        problems.append(f"{path.name}: no {package}/py.typed")
    if [n for n in names if is_test_file(n)]:
        problems.append(f"{path.name}: test files {[n for n in names if is_test_file(n)]}")
    if meta["Version"] != version:
        problems.append(f"{path.name}: version {meta['Version']}, clerk_serverless.__version__ is {version}")
    licence_meta = (meta["License-Expression"], meta.get_all("License-File"))
    if licence_meta != ("MIT", ["LICENSE"]):
        problems.append(f"{path.name}: licence metadata {licence_meta!r}, expected ('MIT', ['LICENSE'])")
    if licence != (ROOT / "LICENSE").read_text():
        problems.append(f"{path.name}: {dist_info}licenses/LICENSE is missing or differs from ./LICENSE")
    if "Typing :: Typed" not in (meta.get_all("Classifier") or []):
        problems.append(f"{path.name}: no 'Typing :: Typed' classifier")
    requires_dist = meta.get_all("Requires-Dist") or []
    for requirement in requires:
        if requirement not in requires_dist:
            problems.append(f"{path.name}: Requires-Dist {requirement!r} missing (has {requires_dist})")
    print(f"{path.name}: {len(shipped)} files, version {meta['Version']}, licence {meta['License-Expression']}")


def check_sdist(path: Path, stem: str, problems: list[str]) -> None:
    with tarfile.open(path) as sdist:
        names = [m.name for m in sdist.getmembers() if m.isfile()]
    inside = [n.split("/", 1)[1] for n in names if "/" in n]
    tests = [n for n in inside if is_test_file(n)]
    if tests:
        problems.append(f"{path.name}: holds part of a test suite: {tests[:5]}")
    for required in ("LICENSE", "README.md", "pyproject.toml", "PKG-INFO"):
        if required not in inside:
            problems.append(f"{path.name}: no {required}")
    if not any(n.endswith("/py.typed") for n in inside):
        problems.append(f"{path.name}: no py.typed")
    if not all(n.split("/", 1)[0] == stem for n in names):
        problems.append(f"{path.name}: entries outside {stem}/")
    print(f"{path.name}: {len(inside)} files, {len(tests)} test files")


def main() -> int:
    dist = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "dist")
    version = source_version()
    problems: list[str] = []
    local_pyproject = (ROOT / "local" / "pyproject.toml").read_text()
    if f'version = "{version}"' not in local_pyproject:
        problems.append(f"local/pyproject.toml: version is not {version} (clerk_serverless.__version__)")
    expected = {
        f"clerk_serverless-{version}-py3-none-any.whl",
        f"clerk_serverless-{version}.tar.gz",
        f"clerk_serverless_local-{version}-py3-none-any.whl",
        f"clerk_serverless_local-{version}.tar.gz",
    }
    present = {p.name for p in dist.iterdir()} if dist.is_dir() else set()
    if present != expected:
        problems.append(f"{dist}: holds {sorted(present)}, expected {sorted(expected)} (run make build)")
    for name in sorted(expected & present):
        path = dist / name
        package = name.split("-", 1)[0]
        if name.endswith(".whl"):
            requires = [f"clerk-serverless=={version}"] if package == "clerk_serverless_local" else []
            check_wheel(path, package, version, requires, problems)
        else:
            check_sdist(path, name.removesuffix(".tar.gz"), problems)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
