"""A fork server for the local cloud's Lambda execution environments: cold starts without the library imports.

A cold start of our handlers costs about 0.6 s here, most of it importing pyarrow, boto3, pg8000 and pydantic,
and Powertools with the X-Ray SDK. This server (`python -m local.lambda_forkserver FD`) imports those once;
each new execution environment is a fork of it that takes the function's environment, working directory and
pipes, and only then runs `local.lambda_runtime`: the handler's own modules and their set-up (Powertools'
Logger, Metrics and Tracer, boto3 sessions and clients) still happen in the new environment, under the
function's variables, and are what `init_seconds` measures. What the preloaded libraries read from the
environment at import is listed (READ_AT_IMPORT); an environment that sets any of it is spawned instead.

It is an opt-in for the test suite (`UpOptions.fork_server`, `ONYX_LOCAL_FORK_SERVER=1`): `make bench` never
uses it, so its cold-start figures stay those of a fresh interpreter, as on Lambda. An environment whose
PYTHONPATH puts directories before ours (the fault campaign's start-up hooks) gets them as a fresh interpreter
would: on sys.path in PYTHONPATH's place, and their `sitecustomize` imported; any other PYTHONPATH is spawned.

Forking is safe here because the server is single-threaded in Python and the only native thread its imports
start (jemalloc's background thread, under pyarrow) belongs to a library with fork handlers; numpy, whose
OpenBLAS would start more, is hidden as in the Lambda asset (local/lambda_runtime.py).

Protocol, over a SOCK_SEQPACKET socket: the invoker sends one message per environment, a JSON object
{"handler", "environment", "cwd"} with three descriptors (the runtime's stdin, its answer pipe,
its log); the server answers {"pid"} with a pidfd of the new process, by which the invoker follows and stops
it (it is the server's child, not the invoker's). The server ends when the invoker's end of the socket closes.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.machinery
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import traceback
from pathlib import Path
from typing import IO, Any

# Imported once by the server: libraries, never the handlers' own modules.
PRELOAD = ("pyarrow", "pyarrow.compute", "pyarrow.parquet", "pg8000.native", "boto3", "botocore.session",
           "botocore.client", "s3transfer.manager", "pydantic", "aws_xray_sdk.core", "aws_lambda_powertools",
           "aws_lambda_powertools.utilities.parameters", "local.lambda_runtime")
# What those read from the environment while they are imported (the X-Ray SDK builds its recorder then; two
# Powertools modules keep a value): all set by Lambda's runtime, none by a function's configuration. An
# environment that sets one is spawned instead, so no environment sees the server's values for them.
READ_AT_IMPORT = ("AWS_XRAY_SDK_ENABLED", "LAMBDA_TASK_ROOT", "_X_AMZN_TRACE_ID", "AWS_XRAY_DAEMON_ADDRESS",
                  "AWS_XRAY_NOOP_ID", "AWS_XRAY_CONTEXT_MISSING", "AWS_XRAY_TRACING_NAME", "AWS_EXECUTION_ENV",
                  "AWS_LAMBDA_INITIALIZATION_TYPE")
MAX_MESSAGE = 1 << 20


def preload() -> None:
    from local.lambda_runtime import hide_packages_absent_on_lambda

    hide_packages_absent_on_lambda()  # before pyarrow, which would import numpy
    for name in PRELOAD:
        importlib.import_module(name)


def _become_environment(request: dict[str, Any], fds: list[int], server: socket.socket) -> None:
    """In the forked child: take the pipes, variables and directory of the new environment, then serve."""
    stdin, responses, log = fds
    server.close()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the server's automatic reaping is not the handler's
    os.dup2(stdin, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(stdin)
    os.close(log)
    server_path = os.environ.get("PYTHONPATH", "")
    os.environ.clear()
    os.environ.update(request["environment"])
    os.chdir(request["cwd"])
    tempfile.tempdir = None  # recomputed from this environment's TMPDIR, not the server's
    _start_up_hooks(server_path, os.environ.get("PYTHONPATH", ""))
    from local import lambda_runtime

    lambda_runtime.main([request["handler"], str(responses)])


def _start_up_hooks(server_path: str, path: str) -> None:
    """What a fresh interpreter would do with this environment's PYTHONPATH entries before the server's: put them
    on sys.path where PYTHONPATH goes, and import a `sitecustomize` found there (the fault campaign's hooks)."""
    extras = path.removesuffix(server_path).rstrip(os.pathsep).split(os.pathsep) if path != server_path else []
    extras = [entry for entry in extras if entry]
    if not extras:
        return
    first = server_path.split(os.pathsep, maxsplit=1)[0]
    at = sys.path.index(first) if first in sys.path else 1
    sys.path[at:at] = extras
    if importlib.machinery.PathFinder.find_spec("sitecustomize", extras) is not None:
        sys.modules.pop("sitecustomize", None)
        importlib.import_module("sitecustomize")


def forkable(environment: dict[str, str], server_path: str) -> bool:
    """Whether an environment can be forked: it sets nothing the preloaded libraries read at import, and its
    PYTHONPATH is the server's, maybe with other entries before."""
    path = environment.get("PYTHONPATH", "")
    return (path == server_path or path.endswith(os.pathsep + server_path)) and \
        not any(name in environment for name in READ_AT_IMPORT)


def _fork(request: dict[str, Any], fds: list[int], server: socket.socket) -> tuple[int, int | None]:
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            _become_environment(request, fds, server)
        except BaseException:  # noqa: BLE001 - the child must never return into the server's loop
            traceback.print_exc()
            code = 1
        finally:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(code)
    for fd in fds:
        os.close(fd)
    try:
        return pid, os.pidfd_open(pid)
    except ProcessLookupError:  # it has already ended (and been reaped)
        return pid, None


def serve(server: socket.socket) -> None:
    # Children are reaped by the kernel: the invoker follows each through its pidfd, not its exit status.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    while True:
        message, fds, _flags, _address = socket.recv_fds(server, MAX_MESSAGE, 3)
        if not message:
            return  # the invoker is gone
        pid, pidfd = _fork(json.loads(message), list(fds), server)
        reply = json.dumps({"pid": pid}).encode()
        if pidfd is None:
            server.send(reply)
        else:
            socket.send_fds(server, [reply], [pidfd])
            os.close(pidfd)


def main(argv: list[str]) -> int:
    preload()
    with socket.socket(fileno=int(argv[0])) as server:
        serve(server)
    return 0


class ForkedProcess:
    """An environment forked by the server, followed through its pidfd (the invoker is not its parent).

    Offers what the invoker uses of `subprocess.Popen`: stdin, poll, wait, kill.
    """

    def __init__(self, pid: int, pidfd: int | None, stdin: IO[bytes]) -> None:
        self.pid, self._pidfd, self.stdin = pid, pidfd, stdin
        # The exit status belongs to the server (which lets the kernel reap): -1 says "ended".
        self.returncode: int | None = None if pidfd is not None else -1

    def poll(self) -> int | None:
        return self.returncode if self.returncode is not None else self._ended(0.0)

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None and self._ended(timeout) is None:
            raise subprocess.TimeoutExpired(f"environment {self.pid}", timeout or 0.0)
        return -1

    def kill(self) -> None:
        if self.returncode is None and self._pidfd is not None:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)

    def _ended(self, timeout: float | None) -> int | None:
        if self._pidfd is None:
            return self.returncode
        if not select.select([self._pidfd], [], [], timeout)[0]:
            return None
        os.close(self._pidfd)
        self._pidfd, self.returncode = None, -1
        return self.returncode


class ForkServer:
    """The invoker's side: starts the server on first use, asks it for environments, stops it on close."""

    def __init__(self, environment: dict[str, str], log: Path) -> None:
        self._environment, self._log = environment, log
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._socket: socket.socket | None = None

    @staticmethod
    def available() -> bool:
        return hasattr(os, "pidfd_open") and hasattr(signal, "pidfd_send_signal") and hasattr(os, "fork")

    def start_environment(self, handler: str, environment: dict[str, str], cwd: str, *, responses: int,
                          log: int) -> ForkedProcess:
        """Fork a new environment running `handler`, answering on `responses` and logging to `log`."""
        request = json.dumps({"handler": handler, "environment": environment, "cwd": cwd}).encode()
        stdin_read, stdin_write = os.pipe()
        try:
            with self._lock:
                # A server that died is replaced once.
                answer = self._ask(request, [stdin_read, responses, log]) or \
                    self._ask(request, [stdin_read, responses, log])
        except BaseException:
            os.close(stdin_write)
            raise
        finally:
            os.close(stdin_read)
        if answer is None:
            os.close(stdin_write)
            raise RuntimeError(f"the Lambda fork server ended (its log: {self._log})")
        pid, pidfd = answer
        return ForkedProcess(pid, pidfd, os.fdopen(stdin_write, "wb"))

    def _ask(self, request: bytes, fds: list[int]) -> tuple[int, int | None] | None:
        """The new environment's pid and pidfd (None: it has ended already); None when the server is gone."""
        try:
            server = self._connected()
            socket.send_fds(server, [request], fds)
            reply, pidfds, _flags, _address = socket.recv_fds(server, MAX_MESSAGE, 1)
        except OSError:
            reply, pidfds = b"", []
        if not reply:
            self._stop()
            return None
        return int(json.loads(reply)["pid"]), (pidfds[0] if pidfds else None)

    def _connected(self) -> socket.socket:
        if self._socket is None:
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            with open(self._log, "ab") as log, theirs:
                self._process = subprocess.Popen(
                    [sys.executable, "-m", "local.lambda_forkserver", str(theirs.fileno())],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=self._environment,
                    pass_fds=(theirs.fileno(),))
            self._socket = ours
        return self._socket

    def close(self) -> None:
        """End the server (its environments live on until their own stdin closes)."""
        with self._lock:
            self._stop()

    def _stop(self) -> None:
        if self._socket is not None:
            self._socket.close()  # the server sees end of file and leaves its loop
            self._socket = None
        if self._process is not None:
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
