"""Runs a Lambda function's handler for the local cloud as Lambda does: in an execution environment (a
child process holding only that function's environment, plus the local AWS endpoint) that imports the
handler once and is then reused by later invocations while it stays warm, so nothing leaks between
functions, a failure reaches Step Functions as Lambda reports it (errorType = the exception's class
name), and cold starts cost what they cost on Lambda: once per environment, not once per invocation.

An invocation that gets extra environment from the fault hook runs in a fresh environment of its own,
which is retired afterwards; so does every invocation when `keep_warm_seconds` is 0 (all cold starts).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from local.lambda_forkserver import ForkedProcess, ForkServer, forkable
from local.moto_cloud_constants import OPERATOR_CREDENTIALS

REPO = Path(__file__).resolve().parent.parent
# What a process needs from the host to run Python at all; nothing else is inherited.
_HOST_VARIABLES = ("PATH", "LANG", "LC_ALL", "TZ", "HOME", "TMPDIR", "SYSTEMROOT")


def _host_environment() -> dict[str, str]:
    return {k: os.environ[k] for k in _HOST_VARIABLES if k in os.environ}


# What every environment's interpreter runs with (the fork server's too: its children inherit its stdio settings).
_INTERPRETER_VARIABLES = {"PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"}


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
    cold_start: bool = True
    init_seconds: float = 0.0


@dataclass
class FunctionSpec:
    name: str
    handler: str
    environment: dict[str, str]
    timeout_seconds: int
    memory_mb: int
    arn: str = ""
    # The AWS_* credential variables of the function's execution role (the local cloud assumes it). None:
    # the operator's, for the invoker's own tests, which run handlers with no AWS behind them.
    credentials: dict[str, str] | None = None


# How long an idle environment stays warm. Lambda does not publish its figure; minutes is what is seen.
KEEP_WARM_SECONDS = 600.0


@dataclass
class _Environment:
    """One execution environment: a `local.lambda_runtime` process serving one function."""

    process: subprocess.Popen[bytes] | ForkedProcess
    responses: int  # the read end of the process's answer pipe
    scratch: str  # its working directory, like Lambda's /tmp: kept while the environment lives
    last_used: float = field(default_factory=time.monotonic)

    stopped: bool = False

    def call(self, event: dict[str, Any], timeout_seconds: int) -> dict[str, Any]:
        """The runtime's answer, or Lambda's error when the process died or ran out of time (it is then stopped)."""
        try:
            answer = self._exchange(event, timeout_seconds)
        except TimeoutError:
            self.stop(kill=True)  # as Lambda does: the sandbox is stopped, not asked to finish
            return {"ok": False, "payload": {"errorType": "Sandbox.Timedout",
                                             "errorMessage": f"Task timed out after {timeout_seconds} seconds"}}
        if answer is None:
            self.stop()
            return {"ok": False, "payload": {"errorType": "Runtime.ExitError",
                                             "errorMessage": "the handler process died"}}
        self.last_used = time.monotonic()
        return answer

    def _exchange(self, event: dict[str, Any], timeout_seconds: int) -> dict[str, Any] | None:
        """Send the event, wait for the answer line; None if the process is gone."""
        stdin = self.process.stdin
        if stdin is None:
            return None
        try:
            stdin.write(json.dumps({"event": event}).encode("utf-8") + b"\n")
            stdin.flush()
        except BrokenPipeError:
            return None
        deadline = time.monotonic() + timeout_seconds
        answer = b""
        while not answer.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self.responses], [], [], remaining)[0]:
                raise TimeoutError
            chunk = os.read(self.responses, 1 << 16)
            if not chunk:  # the process died mid-invocation
                return None
            answer += chunk
        outcome: dict[str, Any] = json.loads(answer)
        return outcome

    def signal_end(self) -> None:
        """Close the runtime's stdin: it leaves its loop at EOF (`stop` then waits for it)."""
        if self.process.stdin is not None and not self.stopped:
            with contextlib.suppress(OSError):
                self.process.stdin.close()

    def stop(self, *, kill: bool = False) -> None:
        if self.stopped:
            return
        self.stopped = True
        try:
            if kill:
                self.process.kill()
            if self.process.stdin is not None:
                self.process.stdin.close()  # a clean end: the runtime leaves its loop at EOF
            self.process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        os.close(self.responses)
        shutil.rmtree(self.scratch, ignore_errors=True)


class LambdaInvoker:
    """Invokes functions in warm or fresh execution environments and records each invocation."""

    def __init__(self, endpoint_url: str, region: str, log_dir: Path, *,
                 on_invocation: Callable[[Invocation], None] | None = None,
                 fault: Callable[[FunctionSpec, dict[str, Any]], dict[str, str] | None] | None = None,
                 keep_warm_seconds: float = KEEP_WARM_SECONDS, fork_server: bool = False) -> None:
        self.endpoint_url = endpoint_url
        self.region = region
        self.log_dir = log_dir
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.invocations: list[Invocation] = []
        self._on_invocation = on_invocation
        # A hook for tests and fault campaigns: may return extra environment for this one invocation.
        self.fault = fault
        self.keep_warm_seconds = keep_warm_seconds
        self._lock = threading.Lock()
        # Idle environments per function and environment: concurrent invocations each take their own, as on Lambda.
        self._idle: dict[tuple[str, str], list[_Environment]] = {}
        # Opt-in (local/lambda_forkserver.py): new environments forked from a process that imported the libraries.
        self._fork_server = None
        if fork_server and ForkServer.available():
            self._fork_server = ForkServer({**_host_environment(), **_INTERPRETER_VARIABLES},
                                           self.log_dir / "fork-server.log")

    def environment_for(self, spec: FunctionSpec) -> dict[str, str]:
        env = _host_environment()
        env.update(spec.environment)
        env.update({
            "AWS_ENDPOINT_URL": self.endpoint_url, "AWS_REGION": self.region, "AWS_DEFAULT_REGION": self.region,
            **(spec.credentials or OPERATOR_CREDENTIALS),
            "AWS_LAMBDA_FUNCTION_NAME": spec.name, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "ONYX_LOCAL_TIMEOUT": str(spec.timeout_seconds), "ONYX_LOCAL_FUNCTION_ARN": spec.arn,
            **_INTERPRETER_VARIABLES,
        })
        return env

    def invoke(self, spec: FunctionSpec, event: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Run the handler on `event`; returns (payload, errored) as Lambda would."""
        env = self.environment_for(spec)
        extra = self.fault(spec, event) if self.fault is not None else None
        env.update(extra or {})
        reusable = not extra and self.keep_warm_seconds > 0
        key = (spec.name, json.dumps([spec.handler, sorted(env.items())]))
        started = time.time()
        with open(self.log_dir / f"{spec.name}.log", "ab") as log:
            log.write(f"--- {time.strftime('%Y-%m-%dT%H:%M:%S')} invoke {spec.name}\n".encode())
        environment = self._take(key) if reusable else None
        cold_start = environment is None
        if environment is None:
            environment = self._start(spec, env)
        outcome = environment.call(event, spec.timeout_seconds)
        if reusable and not environment.stopped:
            self._give_back(key, environment)
        else:
            environment.stop()
        payload: dict[str, Any] = outcome["payload"]
        ok = bool(outcome["ok"])
        record = Invocation(function_name=spec.name, handler=spec.handler, started=started,
                            seconds=round(time.time() - started, 3), ok=ok,
                            error_type=None if ok else str(payload.get("errorType")),
                            peak_rss_mb=float(outcome.get("peak_rss_mb", 0.0)), cold_start=cold_start,
                            init_seconds=float(outcome.get("init_seconds", 0.0)))
        with self._lock:
            self.invocations.append(record)
            with open(self.log_dir / "invocations.jsonl", "a", encoding="utf-8") as journal:
                journal.write(json.dumps(asdict(record)) + "\n")
        if self._on_invocation is not None:
            self._on_invocation(record)
        return payload, not ok

    def shutdown(self) -> None:
        """Retire every warm environment and stop the fork server."""
        self.close()
        if self._fork_server is not None:
            self._fork_server.close()

    def close(self) -> None:
        """Retire every warm environment."""
        with self._lock:
            environments = [e for idle in self._idle.values() for e in idle]
            self._idle.clear()
        # Every runtime is told to end first, then each is waited for: they wind down together, not in turn.
        for environment in environments:
            environment.signal_end()
        for environment in environments:
            environment.stop()

    def _take(self, key: tuple[str, str]) -> _Environment | None:
        expired: list[_Environment] = []
        taken = None
        now = time.monotonic()
        with self._lock:
            for idle in self._idle.values():  # Lambda reclaims environments left idle too long
                expired += [e for e in idle
                            if now - e.last_used > self.keep_warm_seconds or e.process.poll() is not None]
                idle[:] = [e for e in idle if e not in expired]
            if self._idle.get(key):
                taken = self._idle[key].pop()
        for environment in expired:
            environment.stop()
        return taken

    def _give_back(self, key: tuple[str, str], environment: _Environment) -> None:
        with self._lock:
            self._idle.setdefault(key, []).append(environment)

    def _start(self, spec: FunctionSpec, env: dict[str, str]) -> _Environment:
        scratch = tempfile.mkdtemp(prefix="onyx-lambda-")
        read_end, write_end = os.pipe()
        try:
            with open(self.log_dir / f"{spec.name}.log", "ab") as log:
                process: subprocess.Popen[bytes] | ForkedProcess
                if self._fork_server is not None and forkable(env, str(REPO)):
                    process = self._fork_server.start_environment(spec.handler, env, scratch, responses=write_end,
                                                                  log=log.fileno())
                else:
                    # No PDEATHSIG: it fires when the *thread* that started the process ends, and invocations
                    # come from the moto server's short-lived request threads. The runtime ends at EOF on its
                    # stdin instead.
                    process = subprocess.Popen(
                        [sys.executable, "-m", "local.lambda_runtime", spec.handler, str(write_end)],
                        stdin=subprocess.PIPE, stdout=log, stderr=log, env=env, cwd=scratch, pass_fds=(write_end,))
        except BaseException:
            os.close(read_end)
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        finally:
            os.close(write_end)
        return _Environment(process=process, responses=read_end, scratch=scratch)
