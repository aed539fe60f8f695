"""The child side of a local Lambda execution environment: `python -m local.lambda_runtime HANDLER FD`.

Like Lambda's runtime it imports the handler once (the init phase of a cold start), then serves
invocations until its stdin closes: each request is one JSON line `{"event": ...}` on stdin, each
answer one JSON line `{"ok", "payload", "peak_rss_mb", "init_seconds"}` on file descriptor FD.
A failure is answered with Lambda's error envelope ({errorType, errorMessage, stackTrace}).
Handler logs go to stdout/stderr as on Lambda.
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import sys
import time
import traceback
import uuid
from dataclasses import dataclass, field
from typing import IO, Any

# Installed here for the analytics and the tests, absent from the Lambda asset (tests/stacks/test_bundling.py
# keeps this true). pyarrow imports them whenever it can (pandas on its first Python-object conversion, about
# 0.4 s), so the local runtime hides them: a handler that needed either would fail here as on Lambda.
ABSENT_ON_LAMBDA = ("numpy", "pandas")


def hide_packages_absent_on_lambda() -> None:
    """Make `import numpy` / `import pandas` fail in this process, as in the Lambda asset."""
    for name in ABSENT_ON_LAMBDA:
        sys.modules[name] = None  # type: ignore[assignment]  # None: the import system raises ImportError


@dataclass
class LocalLambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    function_name: str = field(default_factory=lambda: os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local"))
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = field(default_factory=lambda: int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                                                                                "1024")))
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    invoked_function_arn: str = field(default_factory=lambda: os.environ.get("ONYX_LOCAL_FUNCTION_ARN", ""))
    log_group_name: str = ""
    log_stream_name: str = ""
    deadline: float = field(default_factory=lambda: time.monotonic() + float(os.environ.get("ONYX_LOCAL_TIMEOUT",
                                                                                              "900")))

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


def _load(handler_path: str) -> Any:
    module_name, _, function_name = handler_path.rpartition(".")
    return getattr(importlib.import_module(module_name), function_name)


def _peak_rss_mb() -> float:
    """This process's peak resident memory since the last reset (VmHWM; ru_maxrss cannot be reset and
    would still carry the parent's peak from before the fork)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak_rss() -> None:
    """Start VmHWM afresh at the current RSS, so a warm environment reports each invocation's own peak."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear_refs:
            clear_refs.write("5")
    except OSError:
        pass


def _error_envelope(exc: BaseException) -> dict[str, Any]:
    return {"errorType": type(exc).__name__, "errorMessage": str(exc),
            "stackTrace": traceback.format_exception(type(exc), exc, exc.__traceback__)}


def _invoke(handler: Any, init_error: BaseException | None, event: Any) -> dict[str, Any]:
    if init_error is not None:  # as on Lambda, an init failure fails every invocation of the environment
        return {"ok": False, "payload": _error_envelope(init_error)}
    try:
        return {"ok": True, "payload": handler(event, LocalLambdaContext())}
    except Exception as exc:  # noqa: BLE001 - every failure becomes Lambda's error envelope
        traceback.print_exc()
        return {"ok": False, "payload": _error_envelope(exc)}


def serve(handler_path: str, requests: IO[bytes], responses: IO[bytes]) -> None:
    started = time.monotonic()
    handler: Any = None
    init_error: BaseException | None = None
    try:
        handler = _load(handler_path)
    except Exception as exc:  # noqa: BLE001 - reported with each invocation, as Lambda does
        traceback.print_exc()
        init_error = exc
    init_seconds = round(time.monotonic() - started, 3)
    # EOF on stdin: the invoker retired this environment, or its process is gone.
    for line in iter(requests.readline, b""):
        _reset_peak_rss()
        outcome = _invoke(handler, init_error, json.loads(line)["event"])
        outcome["peak_rss_mb"] = round(_peak_rss_mb(), 1)
        outcome["init_seconds"], init_seconds = init_seconds, 0.0
        sys.stdout.flush()
        sys.stderr.flush()
        responses.write(json.dumps(outcome, default=str).encode("utf-8") + b"\n")
        responses.flush()


def main(argv: list[str]) -> int:
    hide_packages_absent_on_lambda()
    handler_path, response_fd = argv
    with os.fdopen(int(response_fd), "wb") as responses:
        serve(handler_path, sys.stdin.buffer, responses)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
