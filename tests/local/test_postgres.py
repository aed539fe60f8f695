"""The throwaway PostgreSQL: starts unprivileged on loopback, and never leaves a process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from local.postgres import PostgresCluster, find_server_bindir

REPO = Path(__file__).resolve().parents[2]


def _postgres_processes(marker: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        try:
            if proc.info["name"] == "postgres" and marker in " ".join(proc.info["cmdline"] or []):
                found.append(proc)
        except psutil.Error:
            continue
    return found


def _wait_gone(marker: str, timeout: float = 20) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    while (left := _postgres_processes(marker)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def test_the_server_binaries_are_found():
    assert (find_server_bindir() / "postgres").is_file()


@pytest.mark.slow
def test_a_cluster_serves_on_loopback_as_an_unprivileged_user_and_cleans_up():
    with PostgresCluster() as cluster:
        workdir = str(cluster.workdir)
        conn = cluster.create_database("made_on_request").connect()
        try:
            assert conn.run("SELECT current_database(), inet_server_addr()::text, current_setting('fsync')") == \
                [["made_on_request", "127.0.0.1/32", "off"]]
        finally:
            conn.close()
        owners = {p.username() for p in _postgres_processes(workdir)}
        assert owners
        assert "root" not in owners
    assert _wait_gone(workdir) == []
    assert not Path(workdir).exists()


def _child(code: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(REPO)})


# Ctrl-C as a user's foreground process gets it: a test run started in the background of a non-interactive shell
# ignores SIGINT, and a child would inherit that.
HOLD_A_CLUSTER = """
    import signal
    import time
    from local.postgres import PostgresCluster
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with PostgresCluster() as cluster:
        print(cluster.workdir, flush=True)
        time.sleep(120)
"""


@pytest.mark.slow
@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill-9"])
def test_no_postgres_survives_its_owner_being_interrupted_or_killed(how):
    child = _child(HOLD_A_CLUSTER)
    assert child.stdout is not None
    workdir = child.stdout.readline().strip()
    assert workdir
    assert _postgres_processes(workdir)
    child.send_signal(how)
    child.wait(timeout=30)
    assert _wait_gone(workdir) == []
    if how == signal.SIGINT:
        assert not Path(workdir).exists()


@pytest.mark.slow
def test_a_test_session_that_fails_on_purpose_leaves_no_process(tmp_path):
    (tmp_path / "test_fails.py").write_text(textwrap.dedent("""
        def test_uses_the_database_then_fails(empty_db):
            conn = empty_db.connect()
            print("MARK", conn.run("SELECT current_setting('data_directory')")[0][0], flush=True)
            raise AssertionError("on purpose")
    """))
    result = subprocess.run([sys.executable, "-m", "pytest", "-s", "-q", "-p", "tests.fixtures.postgres",
                             "-p", "no:cacheprovider", str(tmp_path / "test_fails.py")],
                            cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
                            env={k: v for k, v in os.environ.items() if k != "ONYX_TEST_DATABASE_URL"})
    assert result.returncode == 1, result.stdout + result.stderr
    datadir = next(line.split()[1] for line in result.stdout.splitlines() if line.startswith("MARK"))
    assert _wait_gone(datadir) == []
