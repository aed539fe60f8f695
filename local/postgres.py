"""A throwaway PostgreSQL cluster: initdb + postgres on a free loopback port, always cleaned up.

Runs Debian's server binaries directly (no Docker). When started as root the server runs as an
unprivileged user because `initdb` and `postgres` refuse root. The postmaster is given a parent-death
signal so that even a SIGKILL of the Python process leaves no orphan `postgres` behind.

It serves TLS with a certificate for 127.0.0.1 and localhost, signed by a certificate authority made at start
(`ca_file`), and refuses connections without it, as RDS does (rds.force_ssl, on by default from PostgreSQL 15): what
connects to it takes the default sslmode, `require`, and a run that succeeds proves every connection was encrypted.
"""

from __future__ import annotations

import ctypes
import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from pg8000.native import identifier

from lambdas.shared.database import DatabaseCredentials
from local.certificates import LOCAL_HOSTS, Authority

_PR_SET_PDEATHSIG = 1
# Who may connect to a TLS cluster: anyone over the socket file (the owner's tools), and over TCP with TLS only.
TLS_ONLY_HBA = """\
local    all  all                trust
hostssl  all  all  127.0.0.1/32  scram-sha-256
hostssl  all  all  ::1/128       scram-sha-256
"""
_UNPRIVILEGED_USERS = ("postgres", "nobody")


class PostgresError(RuntimeError):
    """The throwaway cluster could not be created or started."""


def find_server_bindir() -> Path:
    """The directory holding `initdb` and `postgres`, newest major version first."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        if out.returncode == 0 and out.stdout.strip():
            candidates.append(Path(out.stdout.strip()))

    def major(path: str) -> float:
        try:
            return float(Path(path).parent.name)
        except ValueError:
            return 0.0

    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=major, reverse=True)]
    for directory in candidates:
        if (directory / "initdb").is_file() and (directory / "postgres").is_file():
            return directory
    raise PostgresError(
        "PostgreSQL server binaries (initdb, postgres) not found: install Debian's `postgresql` "
        "package (apt-get install -y postgresql) or put pg_config on PATH"
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run_as(user: pwd.struct_passwd | None, *, die_with_parent: bool) -> Callable[[], None]:
    """preexec_fn: drop to `user`, then ask the kernel to stop us when our parent dies.

    The death signal is set *after* setuid because changing credentials clears it.
    """
    libc = ctypes.CDLL(None, use_errno=True) if die_with_parent else None

    def preexec() -> None:
        if user is not None:
            os.setgid(user.pw_gid)
            os.setgroups([])
            os.setuid(user.pw_uid)
        if libc is not None:
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGQUIT)

    return preexec


def _unprivileged_user() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    for name in _UNPRIVILEGED_USERS:
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise PostgresError("running as root and no unprivileged user (postgres, nobody) exists to run the server")


@dataclass
class PostgresCluster:
    """A PostgreSQL cluster in a temporary directory; use as a context manager.

    `detach=True` keeps the server alive after this process exits (for `local up --detach`);
    the caller then owns stopping it with `stop_pid`.
    """

    detach: bool = False
    superuser: str = "onyx"
    password: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    port: int = 0
    workdir: Path | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    # TLS only, with a certificate for these names signed by a CA of the cluster's own (its certificate: `ca_file`);
    # tls=False: a server without TLS (connect with sslmode=disable or prefer).
    tls: bool = True
    tls_hosts: tuple[str, ...] = LOCAL_HOSTS
    ca_file: Path | None = None

    @property
    def url(self) -> DatabaseCredentials:
        """Superuser URL of the `postgres` maintenance database (sslmode=require, or disable without TLS)."""
        return DatabaseCredentials(host="127.0.0.1", port=self.port, username=self.superuser, password=self.password,
                                   dbname="postgres", sslmode="require" if self.tls else "disable")

    def start(self) -> PostgresCluster:
        bindir = find_server_bindir()
        user = _unprivileged_user()
        self.workdir = Path(tempfile.mkdtemp(prefix="onyx-pg-"))
        datadir = self.workdir / "data"
        pwfile = self.workdir / "pwfile"
        pwfile.write_text(self.password)
        if user is not None:
            os.chown(self.workdir, user.pw_uid, user.pw_gid)
            os.chown(pwfile, user.pw_uid, user.pw_gid)
        preexec = _run_as(user, die_with_parent=False)
        init = subprocess.run(
            [str(bindir / "initdb"), "-D", str(datadir), "-U", self.superuser, "--pwfile", str(pwfile),
             "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync"],
            capture_output=True, text=True, preexec_fn=preexec, cwd=self.workdir, check=False,
        )
        pwfile.unlink()
        if init.returncode != 0:
            self._remove_workdir()
            raise PostgresError(f"initdb failed: {init.stderr.strip() or init.stdout.strip()}")
        tls_settings = self._write_certificates(self.workdir, user) if self.tls else []
        if self.tls:  # TCP connections with TLS only (the file is the server user's: only its content changes)
            (datadir / "pg_hba.conf").write_text(TLS_ONLY_HBA)
        for _attempt in range(5):
            self.port = free_port()
            self.process = subprocess.Popen(
                [str(bindir / "postgres"), "-D", str(datadir), "-p", str(self.port), "-k", str(self.workdir),
                 "-c", "listen_addresses=127.0.0.1",
                 # Durability off: a throwaway cluster trades crash safety for speed.
                 "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                 "-c", "max_connections=200", "-c", "shared_buffers=256MB",
                 "-c", "log_min_messages=warning", "-c", "logging_collector=off", *tls_settings],
                stdout=subprocess.DEVNULL, stderr=open(self.workdir / "server.log", "ab"),  # noqa: SIM115
                preexec_fn=_run_as(user, die_with_parent=not self.detach),  # noqa: PLW1509
                start_new_session=True, cwd=self.workdir,
            )
            if self._wait_ready():
                return self
            self._kill()
        log = (self.workdir / "server.log").read_text(errors="replace")[-2000:]
        self._remove_workdir()
        raise PostgresError(f"postgres did not start: {log}")

    def _write_certificates(self, workdir: Path, user: pwd.struct_passwd | None) -> list[str]:
        """A CA and a server certificate it signs in the work directory; the server's settings that serve them."""
        authority = Authority()
        self.ca_file = workdir / "ca.pem"
        self.ca_file.write_bytes(authority.certificate_pem)
        certificate, key = workdir / "server.crt", workdir / "server.key"
        authority.issue(self.tls_hosts).write(certificate, key)
        if user is not None:  # the server, run as `user`, must own its key
            for path in (self.ca_file, certificate, key):
                os.chown(path, user.pw_uid, user.pw_gid)
        return ["-c", "ssl=on", "-c", f"ssl_cert_file={certificate}", "-c", f"ssl_key_file={key}"]

    def _wait_ready(self, timeout: float = 30.0) -> bool:
        if self.process is None:
            return False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False  # e.g. the port was taken between free_port() and bind
            try:
                self.url.connect(timeout=2).close()
                return True
            except Exception:  # noqa: BLE001 - any failure means "not ready yet"
                time.sleep(0.05)
        return False

    def create_database(self, name: str, template: str | None = None) -> DatabaseCredentials:
        """Create database `name` (optionally as a copy of `template`) and return its URL."""
        return create_database(self.url, name, template)

    def stop(self) -> None:
        """Fast shutdown, then remove every file. Safe to call twice."""
        self._kill()
        self._remove_workdir()

    def _kill(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # fast shutdown: abort sessions, stop cleanly
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None

    def _remove_workdir(self) -> None:
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def __enter__(self) -> PostgresCluster:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if not self.detach:
            self.stop()


def create_database(server: DatabaseCredentials, name: str, template: str | None = None) -> DatabaseCredentials:
    """CREATE DATABASE on `server` (identifiers quoted; DDL cannot take parameters)."""
    conn = server.connect()
    try:
        sql = f"CREATE DATABASE {identifier(name)}"
        if template:
            sql += f" TEMPLATE {identifier(template)}"
        conn.run(sql)
    finally:
        conn.close()
    return server.with_dbname(name)


def drop_database(server: DatabaseCredentials, name: str) -> None:
    conn = server.connect()
    try:
        conn.run(f"DROP DATABASE IF EXISTS {identifier(name)} WITH (FORCE)")
    finally:
        conn.close()
