"""A Lambda Python runtime client, standard library only.

Started by the local runner as ``python bootstrap.py`` in a child process with
Lambda's environment (``_HANDLER``, ``LAMBDA_TASK_ROOT``,
``AWS_LAMBDA_RUNTIME_API`` …), it does what the managed runtime does: resolve
the handler string once (the init phase), then loop on the Runtime API's
``invocation/next``, call the handler with the event and a context object,
and post the result or the error. Errors use the runtime's shapes
(``Runtime.ImportModuleError``, ``Runtime.HandlerNotFound``,
``Runtime.MarshalError``).

The real ``awslambdaric`` speaks to the same loopback Runtime API; the runner
can start it instead (``--runtime-client awslambdaric``).
"""

import os
import sys

# Run as a script, this file's directory is sys.path[0]; it must not shadow
# the function's own modules.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)

import http.client  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

BASE = "/2018-06-01/runtime"


class LambdaContext:
    """The context object handlers receive (the attributes Lambda documents)."""

    def __init__(self, request_id: str, deadline_ms: int, invoked_arn: str) -> None:
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity: Any = None
        self.client_context: Any = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the invocation's deadline (0 once past it)."""
        return max(0, int(self._deadline_ms - time.time() * 1000))

    def __repr__(self) -> str:
        return f"LambdaContext(aws_request_id={self.aws_request_id!r}, function_name={self.function_name!r})"


class RuntimeApi:
    """HTTP/1.1 client of the Runtime API, one kept-alive connection."""

    def __init__(self, address: str) -> None:
        host, _, port = address.partition(":")
        self._conn = http.client.HTTPConnection(host, int(port or 80))

    def call(self, method: str, path: str, body: Any = None,
             headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        """One request (``body`` sent as JSON); ``(status, headers, body bytes)``."""
        payload = None if body is None else json.dumps(body).encode()
        hdrs = dict(headers or {})
        if payload is not None:
            hdrs["Content-Type"] = "application/json"
        self._conn.request(method, BASE + path, body=payload, headers=hdrs)
        response = self._conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()


def _error(exc: BaseException, error_type: str | None = None, message: str | None = None) -> dict[str, Any]:
    frames = traceback.extract_tb(exc.__traceback__)
    return {
        "errorMessage": message if message is not None else str(exc),
        "errorType": error_type or type(exc).__name__,
        "requestId": "",
        "stackTrace": [f'  File "{f.filename}", line {f.lineno}, in {f.name}\n    {f.line}\n' for f in frames],
    }


def load_handler(spec: str) -> Callable[[Any, LambdaContext], Any]:
    """``"path/to/module.function"`` → the function, as the Python runtime resolves it."""
    module_name, _, function_name = spec.rpartition(".")
    if not module_name or not function_name:
        raise LookupError("Runtime.MalformedHandlerName", f"Bad handler '{spec}': not enough values to unpack")
    module_name = module_name.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except SyntaxError as exc:
        raise LookupError("Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}") from exc
    except ImportError as exc:
        raise LookupError("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}") from exc
    handler = getattr(module, function_name, None)
    if handler is None:
        raise LookupError("Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'")
    function: Callable[[Any, LambdaContext], Any] = handler  # a non-callable fails when called, as in Lambda
    return function


def main() -> None:
    """The init phase, then the invocation loop; exits when the runner stops serving invocations."""
    api = RuntimeApi(os.environ["AWS_LAMBDA_RUNTIME_API"])
    try:
        handler = load_handler(os.environ["_HANDLER"])
    except LookupError as exc:
        error_type, message = exc.args
        api.call("POST", "/init/error", _error(exc, error_type, message),
                 {"Lambda-Runtime-Function-Error-Type": error_type})
        sys.exit(1)
    except Exception as exc:  # the module raised while importing (init phase)
        api.call("POST", "/init/error", _error(exc), {"Lambda-Runtime-Function-Error-Type": "Runtime.Unknown"})
        sys.exit(1)

    while True:
        status, headers, body = api.call("GET", "/invocation/next")
        if status != 200:
            sys.exit(0)  # the runner is shutting us down
        request_id = headers["lambda-runtime-aws-request-id"]
        trace = headers.get("lambda-runtime-trace-id")
        if trace:
            os.environ["_X_AMZN_TRACE_ID"] = trace
        context = LambdaContext(request_id, int(headers["lambda-runtime-deadline-ms"]),
                                headers.get("lambda-runtime-invoked-function-arn", ""))
        try:
            event = json.loads(body)
            result = handler(event, context)
        except Exception as exc:
            _end(request_id)
            api.call("POST", f"/invocation/{request_id}/error", _error(exc),
                     {"Lambda-Runtime-Function-Error-Type": "Unhandled"})
            continue
        _end(request_id)
        try:
            json.dumps(result)
        except (TypeError, ValueError) as exc:
            api.call("POST", f"/invocation/{request_id}/error",
                     _error(exc, "Runtime.MarshalError", f"Unable to marshal response: {exc}"))
            continue
        api.call("POST", f"/invocation/{request_id}/response", result)


def _end(request_id: str) -> None:
    """Lambda's END line, after the handler's output and before its answer:
    the runner knows an invocation's logs are complete when it reads it."""
    sys.stderr.flush()
    sys.stdout.write(f"END RequestId: {request_id}\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
