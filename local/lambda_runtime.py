"""The child side of a local Lambda invocation: `python -m local.lambda_runtime HANDLER RESULT_FILE`.

Reads the event (JSON) on stdin, calls the handler with a Lambda-like context, and writes the
result, or Lambda's error envelope ({errorType, errorMessage, stackTrace}), to RESULT_FILE as
{"ok": bool, "payload": ..., "peak_rss_mb": float}. Handler logs go to stdout/stderr as on Lambda.
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
from typing import Any


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
    """This process's peak resident memory. VmHWM starts afresh at exec, unlike ru_maxrss, which
    would still carry the parent's peak from before the fork."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str]) -> int:
    handler_path, result_file = argv
    event = json.loads(sys.stdin.read() or "{}")
    try:
        payload = _load(handler_path)(event, LocalLambdaContext())
        outcome = {"ok": True, "payload": payload}
    except Exception as exc:  # noqa: BLE001 - every failure becomes Lambda's error envelope
        outcome = {"ok": False, "payload": {
            "errorType": type(exc).__name__, "errorMessage": str(exc),
            "stackTrace": traceback.format_exception(type(exc), exc, exc.__traceback__)}}
        traceback.print_exc()
    outcome["peak_rss_mb"] = round(_peak_rss_mb(), 1)
    with open(result_file, "w", encoding="utf-8") as out:
        json.dump(outcome, out, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
