"""The SAM application: the template lints clean, builds, and what it builds runs.

These tests run the real ``sam`` CLI (a dev dependency) and need CPython 3.13
(the functions' runtime) and the package registry for the layer's wheels.
Without Python 3.13 they are skipped, except under CI where that is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from clerk_serverless_local.runner import LocalFunction, find_python, read_env_vars
from clerk_serverless_local.template import Template

ROOT = Path(__file__).resolve().parent.parent
SAM = Path(sys.executable).with_name("sam")
pytestmark = pytest.mark.sam

ELF_MACHINE = {"x86_64": 0x3E, "arm64": 0xB7}


RUNTIME = Template(ROOT / "template.yaml").function("MeFunction").runtime  # PythonRuntime's default


def _python313() -> str:
    """The functions' runtime CPython (template.yaml's PythonRuntime)."""
    python = os.environ.get("RUNTIME_PYTHON") or os.environ.get("PYTHON313") or find_python(RUNTIME)
    if not python:
        if os.environ.get("CI"):
            pytest.fail(f"CPython for {RUNTIME} is required in CI for sam build")
        pytest.skip(f"no CPython for {RUNTIME}: sam build needs the functions' runtime")
    return python


def _sam(*args: str, python313: str | None = None, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    if not SAM.exists():
        pytest.fail(f"the sam CLI is missing from {SAM.parent}: install the dev extras")
    env = dict(os.environ, SAM_CLI_TELEMETRY="0", AWS_DEFAULT_REGION="us-east-1")
    if python313:
        env["PATH"] = f"{Path(python313).parent}{os.pathsep}{env['PATH']}"
        env["PYTHON"] = sys.executable  # what the layer Makefile runs pip with
    return subprocess.run([str(SAM), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``sam build`` for both architectures, into temporary build directories."""
    python313 = _python313()
    dirs = {}
    for arch in ("x86_64", "arm64"):
        build_dir = tmp_path_factory.mktemp(f"sam-build-{arch}")
        out = _sam("build", "--build-dir", str(build_dir), "--cache-dir", str(build_dir / ".cache"),
                   "--parameter-overrides", f"Architecture={arch}", python313=python313)
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
        dirs[arch] = build_dir
    return dirs


def _elf_machines(directory: Path) -> set[int]:
    machines = set()
    for so in directory.rglob("*.so"):
        header = so.read_bytes()[:20]
        assert header[:4] == b"\x7fELF", so
        machines.add(int.from_bytes(header[18:20], "little"))
    return machines


def test_sam_validate_lint_is_clean() -> None:
    out = _sam("validate", "--lint")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "is a valid SAM Template" in out.stdout
    assert "[W" not in out.stdout + out.stderr  # no warnings either


def test_cfn_lint_reports_nothing_at_all() -> None:
    out = subprocess.run([str(SAM.with_name("cfn-lint")), "template.yaml"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "", out.stdout


@pytest.mark.parametrize("arch", ["x86_64", "arm64"])
def test_layer_wheels_match_the_architecture(built: dict[str, Path], arch: str) -> None:
    layer = built[arch] / ("ClerkLayerArm64" if arch == "arm64" else "ClerkLayerX86") / "python"
    assert (layer / "clerk_serverless" / "__init__.py").exists()
    assert _elf_machines(layer) == {ELF_MACHINE[arch]}
    tags = "".join(p.read_text() for p in layer.glob("cryptography-*.dist-info/WHEEL"))
    assert ("aarch64" if arch == "arm64" else "x86_64") in tags
    # Functions with their own compiled dependencies follow the same architecture.
    assert _elf_machines(built[arch] / "FastApiFunction") == {ELF_MACHINE[arch]}


def test_built_layer_imports_in_a_clean_interpreter(built: dict[str, Path]) -> None:
    layer = built["x86_64"] / "ClerkLayerX86" / "python"
    code = (
        "import sys; sys.path[:0] = [sys.argv[1]];"
        "import clerk_serverless, cryptography.hazmat.bindings._rust;"
        "from clerk_serverless.verify import signature_valid;"
        "from clerk_serverless.keys import rsa_public_key;"
        "assert clerk_serverless.__file__.startswith(sys.argv[1]), clerk_serverless.__file__;"
        "import importlib.util; assert importlib.util.find_spec('jwt') is None, 'PyJWT is no runtime dependency';"
        "print(clerk_serverless.__version__)"
    )
    out = subprocess.run([_python313(), "-I", "-S", "-c", code, str(layer)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == __import__("clerk_serverless").__version__


def test_built_functions_run_on_the_runtime_python(built: dict[str, Path]) -> None:
    template = Template(ROOT / "template.yaml")
    env_vars = read_env_vars(ROOT / "env.json")
    warnings: list[str] = []
    with LocalFunction(template, "MeFunction", env_vars=env_vars, build_dir=built["x86_64"], warn=warnings.append) as me:
        assert me.plan.python == find_python(RUNTIME) and not warnings
        event = json.loads((ROOT / "events" / "http_v2" / "bearer.json").read_text())
        result = me.invoke(event)
    assert result.ok, result.error
    assert json.loads(result.payload["body"])["user_id"] == "user_dev_123"


def test_python313_is_on_hand_for_make(built: dict[str, Path]) -> None:
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    out = subprocess.run([make, "-s", "-n", "sam-build"], cwd=ROOT, capture_output=True, text=True)
    assert RUNTIME in out.stdout and "sam build" in out.stdout


def test_layer_holds_exactly_the_package_sources(built: dict[str, Path]) -> None:
    layer = built["x86_64"] / "ClerkLayerX86" / "python" / "clerk_serverless"
    shipped = {str(p.relative_to(layer)) for p in layer.rglob("*.py")}
    source = {str(p.relative_to(ROOT / "clerk_serverless")) for p in (ROOT / "clerk_serverless").rglob("*.py")}
    assert shipped == source  # nothing stale from an earlier in-tree build, nothing missing


def test_layer_holds_the_runtime_library_and_its_dependencies_only(built: dict[str, Path]) -> None:
    """No dev tools (clerk_serverless_local, PyJWT, PyYAML), no dev key, no tests:
    the distributions in the layer are clerk-serverless and what it requires."""
    root = built["x86_64"] / "ClerkLayerX86" / "python"
    distributions = {p.name.split("-")[0].lower() for p in root.glob("*.dist-info")}
    assert "clerk_serverless" in distributions and "cryptography" in distributions
    assert not distributions & {"clerk_serverless_local", "pyjwt", "pyyaml", "pytest"}, distributions
    assert not (root / "clerk_serverless_local").exists() and not (root / "jwt").exists()
    strays = [p for p in root.rglob("*") if p.suffix == ".pem" or p.name in ("tests", "conftest.py", "env.json")]
    assert strays == []
