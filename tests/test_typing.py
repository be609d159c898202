"""The package as a typed dependency: a user project type-checks clean.

``tests/fixtures/typed_project`` is what a team writes: handlers under
``require_session`` / ``require_auth`` / ``with_session`` with typed
signatures (Powertools' ``LambdaContext`` and event data classes, plain
dicts), a FastAPI app with our dependencies and ASGI middleware, a Powertools
resolver with ``ClerkMiddleware``. Checked against the built wheel installed
in a fresh environment (not the checkout), it must pass ``mypy --strict`` and
pyright in strict mode: decorated handlers keep their signatures (calls with the wrong
argument types are errors, marked by ignores that must not be unused), and
``assert_type`` pins the ``Session`` / ``MachineAuth`` attribute types the
README promises.
"""

from __future__ import annotations

import json
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest
from support.tools import unavailable

ROOT = Path(__file__).resolve().parent.parent
PROJECT = Path(__file__).resolve().parent / "fixtures" / "typed_project"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The interpreter of a fresh virtual environment holding the built wheel,
    as ``pip install clerk-serverless`` leaves it (py.typed and all), and
    through a path file this environment's other packages (FastAPI,
    Powertools, Mangum): the checkout itself is nowhere on its path."""
    base = tmp_path_factory.mktemp("installed")
    # As `make build` and a release build it: the sdist, then the wheel from
    # the unpacked sdist (an in-tree build would reuse a stale build/).
    built = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(base / "dist"), str(ROOT)],
        capture_output=True, text=True, timeout=600,
    )
    if built.returncode != 0:
        unavailable(f"could not build the distributions (the build backend comes from PyPI): {built.stderr[-500:]}")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(base / "env")], check=True, timeout=120)
    python = base / "env" / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.strip()
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--quiet", "--target", purelib,
         *map(str, (base / "dist").glob("clerk_serverless-*.whl"))],
        check=True, capture_output=True, timeout=300,
    )
    # Path lines only: the editable install's import hook (an `import` line of
    # a .pth in this environment's site-packages) is not run from there.
    Path(purelib, "outer-environment.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    where = subprocess.run(
        [str(python), "-c", "import clerk_serverless; print(clerk_serverless.__file__)"],
        capture_output=True, text=True, check=True, timeout=60, cwd=base,
    ).stdout.strip()
    assert where.startswith(purelib), where
    return python


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The typed project, copied away from the checkout (nothing imports from the repository)."""
    copy = tmp_path / "typed_project"
    shutil.copytree(PROJECT, copy)
    return copy


def test_a_user_project_passes_mypy_strict(installed: Path, project: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--python-version", "3.11", "--python-executable", str(installed),
         "--config-file", "", "--cache-dir", str(project / ".mypy_cache"), "."],
        cwd=project, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_user_project_passes_pyright_strict(installed: Path, project: Path) -> None:
    from importlib.metadata import version

    powertools = tuple(int(part) for part in version("aws-lambda-powertools").split(".")[:2])
    if powertools < (3, 37):
        # Older Powertools (3.0.0 in the lowest-dependencies job) types neither
        # event_source nor its middleware decorators, which strict mode reports
        # in the project's Powertools files; mypy --strict (above) still runs.
        pytest.skip(f"pyright strict runs against Powertools >= 3.37 (this environment: {version('aws-lambda-powertools')})")
    pyright = shutil.which("pyright", path=str(Path(sys.executable).parent)) or shutil.which("pyright")
    if pyright is None:
        unavailable("pyright is not installed (pip install pyright)")
    # The project's own config, beside its files: pyright ignores an absolute
    # path in `include` ("not relative") and then checks nothing, successfully;
    # so the files analysed are counted too.
    result = subprocess.run(
        [str(pyright), "--pythonpath", str(installed), "--outputjson"],
        cwd=project, capture_output=True, text=True, timeout=600,
    )
    try:
        report = json.loads(result.stdout)
    except ValueError:
        if "node" in result.stderr.lower() or "npm" in result.stderr.lower():
            unavailable(f"pyright could not start: {result.stderr.strip()[:200]}")
        raise AssertionError(result.stdout + result.stderr) from None
    diagnostics = [
        f"{Path(d['file']).name}:{d['range']['start']['line'] + 1}: {d['message']}"
        for d in report["generalDiagnostics"] if d["severity"] == "error"
    ]
    assert diagnostics == []
    assert report["summary"]["filesAnalyzed"] == len(list(PROJECT.glob("*.py")))
