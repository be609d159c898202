"""Run a template's functions the way Lambda's Python runtime would, without containers.

Each :class:`LocalFunction` starts one child process — a warm "execution
environment" — with Lambda's environment variables, the function's code and
layers on ``sys.path`` (as ``/var/task`` and ``/opt/python`` are), and a
runtime client talking to a loopback Runtime API. Invocations reuse it, as
Lambda reuses a warm container; a crash or a timeout retires it.

The child runs the function's runtime Python (``python3.13``) when it is
installed and nothing the function declares is left unbuilt (its
``requirements.txt`` and layers built, no layers from AWS); otherwise the
current interpreter, and a warning says why. Imports are not checked ahead:
one the function lacks fails its init phase, as on Lambda.
"""

from __future__ import annotations

import glob
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .runtime_api import RuntimeApi
from .template import FunctionSpec, Template, TemplateError

BOOTSTRAP = Path(__file__).with_name("bootstrap.py")
_PASSTHROUGH = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_CONFIG_FILE",
                "AWS_SHARED_CREDENTIALS_FILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SSM",
                "AWS_ENDPOINT_URL_SECRETS_MANAGER", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")
_python_cache: dict[str, str | None] = {}


class InitError(Exception):
    """The function failed its init phase (import error, missing handler …)."""

    def __init__(self, error: dict[str, Any]) -> None:
        self.error = error
        message = f"{error.get('errorType', 'Runtime.Unknown')}: {error.get('errorMessage', '')}"
        if "No module named 'clerk_serverless" in message:
            message += (" (the function gets clerk-serverless from its CodeUri's requirements.txt or a layer, "
                        "as on Lambda: list it there and run sam build)")
        super().__init__(message)


@dataclass
class InvokeResult:
    """What one invocation returned, or how it failed."""

    payload: Any = None
    error: dict[str, Any] | None = None
    logs: str = ""
    duration_ms: float = 0.0
    cold_start: bool = False

    @property
    def ok(self) -> bool:
        """True when the function returned (no error object)."""
        return self.error is None

    def to_json(self) -> str:
        """What ``sam local invoke`` prints: the payload, or the error object."""
        return json.dumps(self.payload if self.error is None else self.error)


@dataclass
class LaunchPlan:
    """How the child process is started."""

    python: str
    pythonpath: list[str]
    code_dir: Path
    warnings: list[str] = field(default_factory=list)


def find_python(runtime: str) -> str | None:
    """An interpreter for a ``pythonX.Y`` Lambda runtime, on PATH or under pyenv."""
    if runtime in _python_cache:
        return _python_cache[runtime]
    version = runtime.removeprefix("python")
    candidates = [shutil.which(f"python{version}")]
    pyenv_root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    candidates += sorted(glob.glob(os.path.join(pyenv_root, "versions", f"{version}*", "bin", f"python{version}")),
                         reverse=True)
    candidates += [f"/usr/bin/python{version}", f"/usr/local/bin/python{version}"]
    found = None
    for candidate in candidates:
        if not candidate or not os.path.exists(candidate):
            continue
        try:
            out = subprocess.run([candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                                 capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if out.returncode == 0 and out.stdout.strip() == version:
            found = candidate
            break
    _python_cache[runtime] = found
    return found


def host_architecture() -> str:
    """This machine as a Lambda architecture: ``arm64`` or ``x86_64``."""
    machine = platform.machine().lower()
    return "arm64" if machine in ("aarch64", "arm64") else "x86_64"


def read_env_vars(path: str | Path) -> dict[str, Any]:
    """An ``--env-vars`` file: ``{"Parameters": {...}, "<LogicalId>": {...}}``."""
    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise TemplateError(f"cannot read env vars file {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise TemplateError(f"env vars file {path} is not JSON: {exc}") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise TemplateError(f"env vars file {path} must map 'Parameters' or logical IDs to objects")
    return data


class LocalFunction:
    """One function of a template, runnable locally and kept warm between invocations."""

    def __init__(
        self,
        template: Template,
        logical_id: str,
        *,
        env_vars: dict[str, Any] | None = None,
        python: str | None = None,
        runtime_client: str = "bootstrap",
        build_dir: str | Path | None = "auto",
        log_sink: Callable[[str], None] | None = None,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self.template = template
        self.spec: FunctionSpec = template.function(logical_id)
        self.runtime_client = runtime_client
        if runtime_client not in ("bootstrap", "awslambdaric"):
            raise TemplateError(f"unknown runtime client {runtime_client!r} (bootstrap or awslambdaric)")
        if build_dir == "auto":
            candidate = template.root / ".aws-sam" / "build"
            build_dir = candidate if (candidate / "template.yaml").exists() else None
        self.build_dir = Path(build_dir) if build_dir else None
        self.plan = self._plan(python)
        self._warn = warn or (lambda message: print(f"warning: {message}", file=sys.stderr))
        for message in self.plan.warnings:
            self._warn(message)
        self.environment = self._environment(env_vars or {})
        self._log_sink = log_sink
        self._logs: list[str] = []
        self._logs_lock = threading.Condition()
        self._api: RuntimeApi | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    # -- lifecycle ----------------------------------------------------------------

    def __enter__(self) -> LocalFunction:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Stop the warm child process and the Runtime API."""
        self._stop_child()
        if self._api is not None:
            self._api.close()
            self._api = None

    # -- invoking ------------------------------------------------------------------

    def invoke(self, event: Any, timeout: float | None = None) -> InvokeResult:
        """Run one event through the function; raises :class:`InitError` when the
        function cannot start (its import or handler lookup failed)."""
        timeout = self.spec.timeout if timeout is None else timeout
        cold = self._proc is None or self._proc.poll() is not None
        if cold:
            self._start()
        assert self._api is not None and self._proc is not None
        with self._logs_lock:
            self._logs.clear()
        started = time.monotonic()
        invocation = self._api.submit(event, timeout)
        deadline = started + timeout
        try:
            while not invocation.done.wait(0.02):
                if self._api.init_failed.is_set():
                    self._stop_child()
                    raise InitError(self._api.init_error or {"errorType": "Runtime.Unknown"})
                if self._proc.poll() is not None:
                    self._drain()
                    code = self._proc.returncode
                    self._stop_child()
                    return self._result(None, {
                        "errorType": "Runtime.ExitError",
                        "errorMessage": f"RequestId: {invocation.request_id} Error: "
                                        f"Runtime exited with error: exit status {code}",
                    }, started, cold)
                if time.monotonic() > deadline:
                    self._stop_child()
                    return self._result(None, {
                        "errorType": "Sandbox.Timedout",
                        "errorMessage": f"RequestId: {invocation.request_id} Error: "
                                        f"Task timed out after {timeout:.2f} seconds",
                    }, started, cold)
        finally:
            self._api.forget(invocation)
        self._await_log_line(f"END RequestId: {invocation.request_id}")
        return self._result(invocation.response, invocation.error, started, cold)

    def _await_log_line(self, marker: str, timeout: float = 2.0) -> None:
        """Wait until the log reader has passed ``marker`` — the END line our
        bootstrap prints after the handler's output and before its answer —
        so an invocation's logs are complete when it returns. (A runtime client
        that prints none, such as awslambdaric, costs the timeout's tail once.)"""
        deadline = time.monotonic() + (timeout if self.runtime_client == "bootstrap" else 0.05)
        with self._logs_lock:
            while not any(marker in line for line in self._logs):
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._logs_lock.wait(left)

    def _result(self, payload: Any, error: dict[str, Any] | None, started: float, cold: bool) -> InvokeResult:
        with self._logs_lock:
            logs = "".join(self._logs)
        return InvokeResult(payload, error, logs, (time.monotonic() - started) * 1000, cold)

    # -- the child process ---------------------------------------------------------

    def _plan(self, python: str | None) -> LaunchPlan:
        spec, warnings = self.spec, []
        usable_build = self.build_dir is not None and spec.architecture == host_architecture()
        if self.build_dir is not None and not usable_build:
            warnings.append(f"{spec.logical_id}: built artifacts are {spec.architecture}, "
                            f"this machine is {host_architecture()}; running from source")
        code_dir = spec.code_uri
        needs_current: list[str] = []
        if usable_build and (self.build_dir / spec.logical_id).is_dir():  # type: ignore[operator]
            code_dir = self.build_dir / spec.logical_id  # type: ignore[operator]
        elif (spec.code_uri / "requirements.txt").exists():
            needs_current.append(f"{spec.code_uri.name}/requirements.txt is not built")
        if not code_dir.is_dir():
            raise ValueError(f"{spec.logical_id}: its CodeUri {spec.code_uri} is not a directory here")
        paths = [str(code_dir)]
        for layer in spec.layers:
            built = self.build_dir / layer / "python" if usable_build else None  # type: ignore[operator]
            plain = self.template.layer_content(layer) / "python"
            if built is not None and built.is_dir():
                paths.append(str(built))
            elif plain.is_dir():
                paths.append(str(plain))
            else:
                needs_current.append(f"layer {layer} is not built (run sam build)")
        for arn in spec.external_layers:
            needs_current.append(f"layer {arn.rsplit(':', 2)[-2]} comes from AWS")
        if python is None:
            runtime_python = find_python(spec.runtime)
            if runtime_python and not needs_current and self.runtime_client == "bootstrap":
                python = runtime_python
            else:
                python = sys.executable
                current = "{}.{}".format(*sys.version_info[:2])
                if f"python{current}" != spec.runtime:
                    why = "; ".join(needs_current) or (f"{spec.runtime} is not installed" if not runtime_python
                                                       else "awslambdaric runs on the current interpreter")
                    warnings.append(f"{spec.logical_id}: running on Python {current} (current environment) "
                                    f"instead of {spec.runtime}: {why}")
        return LaunchPlan(python, paths, code_dir, warnings)

    def _declared_elsewhere(self, name: str) -> bool:
        """Whether another function of the template declares ``name`` (an
        env file's ``Parameters`` serve every function)."""
        for logical_id in self.template.function_ids():
            if logical_id != self.spec.logical_id:
                try:
                    if name in self.template.function(logical_id).environment:
                        return True
                except TemplateError:
                    continue
        return False

    def _environment(self, overrides: dict[str, Any]) -> dict[str, str]:
        spec = self.spec
        env = {name: os.environ[name] for name in ("PATH", "LANG", "HOME", "SYSTEMROOT") if name in os.environ}
        env.update({name: os.environ[name] for name in _PASSTHROUGH if name in os.environ})
        declared = dict(spec.environment)
        ignored = []
        for scope in ("Parameters", spec.logical_id):  # sam local: only declared variables are overridden
            for name, value in (overrides.get(scope) or {}).items():
                if name in declared:
                    declared[name] = "" if value is None else str(value)
                elif name.startswith("CLERK_") and value not in (None, "") and not (
                        scope == "Parameters" and self._declared_elsewhere(name)):
                    ignored.append(name)
        if ignored:
            names = sorted(set(ignored))
            example = names[0]
            parameter = "".join(word.capitalize() for word in example.split("_"))  # CLERK_JWT_KEY -> ClerkJwtKey
            self._warn(f"{spec.logical_id}: the env vars file sets {', '.join(names)}, which its template entry "
                       "does not declare, so the function does not get it (as with sam local): add it to the "
                       f"function's (or Globals') Environment Variables, e.g. {example}: !Ref {parameter} with a "
                       f"{parameter} parameter whose Default is \"\"")
        env.update(declared)
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        env.update({
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_LAMBDA_FUNCTION_NAME": spec.logical_id,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.logical_id}",
            "AWS_LAMBDA_LOG_STREAM_NAME": time.strftime("%Y/%m/%d/[$LATEST]local"),
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            "AWS_SAM_LOCAL": "true",  # as sam local sets it: a local run (the dev key is refused on AWS)
            "LAMBDA_TASK_ROOT": str(self.plan.code_dir),
            "LAMBDA_RUNTIME_DIR": str(BOOTSTRAP.parent),
            "_HANDLER": spec.handler,
            "TZ": ":UTC",
            "PYTHONPATH": os.pathsep.join(self.plan.pythonpath),
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        })
        return env

    def _start(self) -> None:
        if self._api is None:
            self._api = RuntimeApi(f"arn:aws:lambda:us-east-1:123456789012:function:{self.spec.logical_id}")
        self._api.reset()
        env = dict(self.environment, AWS_LAMBDA_RUNTIME_API=self._api.address)
        if self.runtime_client == "awslambdaric":
            command = [self.plan.python, "-m", "awslambdaric", self.spec.handler]
        else:
            command = [self.plan.python, str(BOOTSTRAP)]
        self._proc = subprocess.Popen(command, cwd=self.plan.code_dir, env=env, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        threading.Thread(target=self._read_logs, args=(self._proc,), daemon=True).start()

    def _read_logs(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        for raw in iter(proc.stdout.readline, b""):
            line = raw.decode(errors="replace")
            with self._logs_lock:
                self._logs.append(line)
                self._logs_lock.notify_all()
            if self._log_sink is not None:
                self._log_sink(line)
        proc.stdout.close()  # EOF: the child is gone; an unclosed pipe warned when collected

    def _drain(self) -> None:
        time.sleep(0.05)

    def _stop_child(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
