"""Runs a Lambda function's handler for the local cloud: one fresh process per invocation, holding only
that function's environment (plus the local AWS endpoint), so nothing leaks between functions and a
failure reaches Step Functions as Lambda reports it (errorType = the exception's class name)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
# What a process needs from the host to run Python at all; nothing else is inherited.
_HOST_VARIABLES = ("PATH", "LANG", "LC_ALL", "TZ", "HOME", "TMPDIR", "SYSTEMROOT")


@dataclass
class Invocation:
    """One finished invocation, for progress display and benchmarks."""

    function_name: str
    handler: str
    started: float
    seconds: float
    ok: bool
    error_type: str | None
    peak_rss_mb: float


@dataclass
class FunctionSpec:
    name: str
    handler: str
    environment: dict[str, str]
    timeout_seconds: int
    memory_mb: int
    arn: str = ""


class LambdaInvoker:
    """Invokes functions as child processes and records each invocation."""

    def __init__(self, endpoint_url: str, region: str, log_dir: Path,
                 on_invocation: Callable[[Invocation], None] | None = None,
                 fault: Callable[[FunctionSpec, dict[str, Any]], dict[str, str] | None] | None = None) -> None:
        self.endpoint_url = endpoint_url
        self.region = region
        self.log_dir = log_dir
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.invocations: list[Invocation] = []
        self._on_invocation = on_invocation
        # A hook for tests and fault campaigns: may return extra environment for this one invocation.
        self.fault = fault
        self._lock = threading.Lock()

    def environment_for(self, spec: FunctionSpec) -> dict[str, str]:
        env = {k: os.environ[k] for k in _HOST_VARIABLES if k in os.environ}
        env.update(spec.environment)
        env.update({
            "AWS_ENDPOINT_URL": self.endpoint_url, "AWS_REGION": self.region, "AWS_DEFAULT_REGION": self.region,
            # moto accepts any credentials; these stand in for the function's execution role.
            "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_SESSION_TOKEN": "local",
            "AWS_LAMBDA_FUNCTION_NAME": spec.name, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "ONYX_LOCAL_TIMEOUT": str(spec.timeout_seconds), "ONYX_LOCAL_FUNCTION_ARN": spec.arn,
            "PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1",
        })
        return env

    def invoke(self, spec: FunctionSpec, event: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Run the handler on `event`; returns (payload, errored) as Lambda would."""
        env = self.environment_for(spec)
        if self.fault is not None:
            env.update(self.fault(spec, event) or {})
        started = time.time()
        with tempfile.TemporaryDirectory(prefix="onyx-lambda-") as scratch:
            result_file = Path(scratch) / "result.json"
            with open(self.log_dir / f"{spec.name}.log", "ab") as log:
                log.write(f"--- {time.strftime('%Y-%m-%dT%H:%M:%S')} invoke {spec.name}\n".encode())
                log.flush()
                outcome: dict[str, Any]
                try:
                    subprocess.run([sys.executable, "-m", "local.lambda_runtime", spec.handler, str(result_file)],
                                   input=json.dumps(event).encode(), stdout=log, stderr=log, env=env, cwd=scratch,
                                   timeout=spec.timeout_seconds, check=False)
                    outcome = json.loads(result_file.read_text()) if result_file.exists() else {
                        "ok": False, "peak_rss_mb": 0.0,
                        "payload": {"errorType": "Runtime.ExitError", "errorMessage": "the handler process died"}}
                except subprocess.TimeoutExpired:
                    outcome = {"ok": False, "peak_rss_mb": 0.0, "payload": {
                        "errorType": "Sandbox.Timedout",
                        "errorMessage": f"Task timed out after {spec.timeout_seconds} seconds"}}
        payload: dict[str, Any] = outcome["payload"]
        ok = bool(outcome["ok"])
        record = Invocation(function_name=spec.name, handler=spec.handler, started=started,
                            seconds=round(time.time() - started, 3), ok=ok,
                            error_type=None if ok else str(payload.get("errorType")),
                            peak_rss_mb=float(outcome.get("peak_rss_mb", 0.0)))
        with self._lock:
            self.invocations.append(record)
            with open(self.log_dir / "invocations.jsonl", "a", encoding="utf-8") as journal:
                journal.write(json.dumps(asdict(record)) + "\n")
        if self._on_invocation is not None:
            self._on_invocation(record)
        return payload, not ok
