"""The package as a typed dependency: a user project type-checks clean.

``tests/fixtures/typed_project`` is what a team writes: handlers under
``require_session`` / ``require_auth`` / ``with_session`` with typed
signatures (Powertools' ``LambdaContext`` and event data classes, plain
dicts), a FastAPI app with our dependencies and ASGI middleware, a Powertools
resolver with ``ClerkMiddleware``. It must pass ``mypy --strict`` and pyright in
strict mode: decorated handlers keep their signatures (calls with the wrong
argument types are errors, marked by ignores that must not be unused), and
``assert_type`` pins the ``Session`` / ``MachineAuth`` attribute types the
README promises.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.tools import unavailable

ROOT = Path(__file__).resolve().parent.parent
PROJECT = Path(__file__).resolve().parent / "fixtures" / "typed_project"
pytestmark = pytest.mark.slow


def test_a_user_project_passes_mypy_strict(tmp_path: Path) -> None:
    # Only the user's files are checked; clerk_serverless is followed as an
    # import (from the repository root: the editable install's finder is
    # invisible to type checkers) whose own diagnostics are silenced, as for
    # an installed package.
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--python-version", "3.11", "--follow-imports", "silent",
         "--config-file", "", "--cache-dir", str(tmp_path / "cache"), str(PROJECT)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_user_project_passes_pyright_strict(tmp_path: Path) -> None:
    pyright = shutil.which("pyright", path=str(Path(sys.executable).parent)) or shutil.which("pyright")
    if pyright is None:
        unavailable("pyright is not installed (pip install pyright)")
    # pyright ignores an absolute path in `include` ("not relative") and then
    # checks nothing, successfully: the project is copied beside its config,
    # and the files analysed are counted.
    project = tmp_path / "typed_project"
    shutil.copytree(PROJECT, project)
    config = json.loads((PROJECT / "pyrightconfig.json").read_text())
    config.update(extraPaths=[str(ROOT)])
    (project / "pyrightconfig.json").write_text(json.dumps(config))
    result = subprocess.run(
        [str(pyright), "--pythonpath", sys.executable, "--outputjson"],
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
