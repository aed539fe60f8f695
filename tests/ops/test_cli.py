"""`python -m ops` without an environment to work on: one clear line saying what to give, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from local.postgres import free_port

REPO = Path(__file__).resolve().parents[2]


def _ops(*args: str, directory: Path, **environment: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env |= {"ONYX_LOCAL_DIR": str(directory), **environment}
    return subprocess.run([sys.executable, "-m", "ops", *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120, check=False)


@pytest.mark.parametrize(("command", "also"), [("validate", " or --warehouse-url (and --source-url)"),
                                               ("report", " or --warehouse-url"), ("execute", ""), ("status", "")])
def test_without_a_local_cloud_or_a_stack_each_command_says_what_to_give(tmp_path, command, also):
    result = _ops(command, directory=tmp_path)

    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "error: no local cloud is running here: start one with `python -m local up`, "
        f"or give --stack Onyx-<env>{also}")
    assert result.stdout == ""


def test_a_stack_without_an_aws_region_says_how_to_set_one(tmp_path):
    # No region from the environment, an AWS config file or (on EC2) the instance metadata.
    result = _ops("status", "--stack", "Onyx-dev", directory=tmp_path, AWS_CONFIG_FILE=str(tmp_path / "none"),
                  AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"), AWS_EC2_METADATA_DISABLED="true")

    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == ("error: no AWS region: set AWS_REGION or AWS_DEFAULT_REGION, "
                                              "or give --region (or a profile with a region)")


def test_an_unknown_aws_profile_is_named(tmp_path):
    result = _ops("status", "--stack", "Onyx-dev", "--profile", "nope", directory=tmp_path,
                  AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))

    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == "error: AWS credentials: The config profile (nope) could not be found"


def test_an_unreachable_warehouse_is_named_without_a_traceback(tmp_path):
    port = free_port()

    result = _ops("validate", "--warehouse-url", f"postgresql://onyx@127.0.0.1:{port}/warehouse",
                  directory=tmp_path)

    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"validating postgresql://onyx@127.0.0.1:{port}/warehouse (schema public) against no source: "
        "the source checks are skipped",
        f"error: database: Can't create a connection to host 127.0.0.1 and port {port} (timeout is 10 and "
        "source_address is None).",
    ]


@pytest.mark.parametrize(("argv", "payload"), [
    (["execute"], None),
    (["execute", "--rebuild"], {"mode": "rebuild"}),
    (["execute", "--rebuild", "--step-runs", "50"], {"mode": "rebuild", "step_runs": 50}),
    (["execute", "--replay", "run-20261202T120000Z-abc"], {"mode": "replay", "run_id": "run-20261202T120000Z-abc"}),
])
def test_execute_asks_the_pipeline_for_a_run_a_rebuild_or_a_replay(argv, payload):
    from ops.cli import build_parser, execution_input

    assert execution_input(build_parser().parse_args(argv)) == payload


@pytest.mark.parametrize(("argv", "message"), [
    (["execute", "--rebuild", "--replay", "run-1"], "not allowed with argument"),
    (["execute", "--step-runs", "0", "--rebuild"], "expected a whole number of 1 or more"),
])
def test_execute_refuses_a_rebuild_and_a_replay_together_and_steps_of_nothing(argv, message, capsys):
    from ops.cli import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(argv)
    assert message in capsys.readouterr().err


def test_step_runs_without_a_rebuild_is_one_clear_line(tmp_path):
    result = _ops("execute", "--step-runs", "5", directory=tmp_path)

    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == "error: --step-runs goes with --rebuild"
