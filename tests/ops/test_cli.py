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
