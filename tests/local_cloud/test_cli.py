"""The local cloud's command line, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.sql import run_sql

REPO = Path(__file__).resolve().parents[2]
# Each test starts `python -m local` (imports boto3, moto, the CDK app): seconds before it does anything.
pytestmark = pytest.mark.slow


def _local(*args: str, directory: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ONYX_LOCAL_DIR": str(directory)}
    return subprocess.run([sys.executable, "-m", "local", *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


def test_execute_prints_one_json_object_and_exits_non_zero_when_the_run_fails(cloud):
    ok = _local("execute", "--json", directory=cloud.directory)

    assert ok.returncode == 0, ok.stderr
    outcome = json.loads(ok.stdout)
    assert outcome["status"] == "SUCCEEDED"
    assert outcome["run_id"].startswith("run-")
    assert outcome["extracted"]["sales_order"] == 300
    assert outcome["loaded"]["fact_sales_order"] == 300
    assert "Extract" in ok.stderr  # progress goes to stderr, state by state

    run_sql(cloud.state.source_url, "UPDATE sales_order SET agreed_payment_date = 'soon', "
                                    "last_updated = now() AT TIME ZONE 'UTC' WHERE sales_order_id = 9")
    failed = _local("execute", "--json", directory=cloud.directory)

    assert failed.returncode == 1
    outcome = json.loads(failed.stdout)
    assert outcome["status"] == "FAILED"
    assert outcome["error"]["error"] == "InvalidData"
    assert "sales_order_id=9" in outcome["error"]["cause"]


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        ("scheduleMinute=5", "error: unknown context key 'scheduleMinute'; known keys: env, onyx, alertEmail, "),
        ("scheduleMinutes=0", "error: invalid Onyx configuration for environment 'dev':\n  scheduleMinutes: Input "
                              "should be greater than or equal to 1 (from context key 'scheduleMinutes'"),
        ("scheduleMinutes", "error: -c expects KEY=VALUE, got 'scheduleMinutes'"),
    ],
)
def test_a_bad_context_key_is_one_line_before_anything_starts(tmp_path, capsys, monkeypatch, pair, message):
    from local.cli import main

    monkeypatch.setenv("ONYX_LOCAL_DIR", str(tmp_path))
    assert main(["up", "-c", pair]) == 1
    assert capsys.readouterr().err.startswith(message)
    assert list(tmp_path.iterdir()) == []  # nothing was started: no state, no cluster, no synth


def test_execute_without_a_running_cloud_says_how_to_start_one(tmp_path):
    result = _local("execute", directory=tmp_path)
    assert result.returncode == 1
    assert "no local cloud is running here: start one with `python -m local up`" in result.stderr


@pytest.mark.parametrize(("command", "also"), [("validate", " (and --source-url)"), ("report", "")])
def test_validate_and_report_without_a_running_cloud_or_a_warehouse_url_say_what_to_give(tmp_path, command, also):
    result = _local(command, directory=tmp_path)

    assert result.returncode == 1
    assert ("no local cloud is running here: start one with `python -m local up`, "
            f"or give --warehouse-url{also}") in result.stderr


def _postgres_of(directory: str) -> list[psutil.Process]:
    return [p for p in psutil.process_iter(["name", "cmdline"])
            if p.info["name"] == "postgres" and directory in " ".join(p.info["cmdline"] or [])]


def test_up_detached_then_down_leaves_no_process_behind(tmp_path, synthesized):
    directory = tmp_path / "cloud"
    # The context of the session's app (`synthesized`), so `up` finds it synthesized already (local/synth_cache.py).
    up = _local("up", "--detach", "--scale", "50", "--no-schedule", "-c", "safetyLagSeconds=0", directory=directory)
    assert up.returncode == 0, up.stderr
    state = json.loads((directory / "state.json").read_text())
    assert psutil.pid_exists(state["pid"])
    assert _postgres_of(state["postgres_dir"])

    down = _local("down", directory=directory)

    assert down.returncode == 0, down.stderr
    deadline = time.monotonic() + 20
    while (psutil.pid_exists(state["pid"]) or _postgres_of(state["postgres_dir"])) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not psutil.pid_exists(state["pid"])
    assert _postgres_of(state["postgres_dir"]) == []
    assert not (directory / "state.json").exists()


def test_run_loads_changes_loads_again_and_prints_the_summary(tmp_path, synthesized):
    report = tmp_path / "report.html"
    result = _local("run", "--scale", "300", "--orders", "12", "--purchases", "3", "--amend", "4", "--pay", "2",
                    "--report", str(report), directory=tmp_path / "cloud", timeout=600)

    assert result.returncode == 0, result.stderr[-3000:]
    summary = result.stdout
    assert "Onyx local run" in summary
    assert "full load" in summary
    assert "incremental" in summary
    assert summary.count("SUCCEEDED") == 2
    assert "warehouse    valid" in summary
    assert f"report       {report}" in summary
    assert report.stat().st_size > 1_000_000  # plotly.js inlined: opens offline
    assert "PASS  row counts match the source" in summary
    assert not (tmp_path / "cloud" / "state.json").exists()  # stopped cleanly
