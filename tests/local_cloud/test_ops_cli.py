"""`python -m ops`, as an operator runs it: on the local cloud, and on a deployed stack (--stack) reached
through the local cloud's own CloudFormation, which holds the very template `cdk deploy` would create."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from lambdas.shared.database import DatabaseCredentials
from local.cloud import LocalCloud

REPO = Path(__file__).resolve().parents[2]
VALID = "warehouse valid (10 checks run, 0 skipped)"
# The secrets cdk.json names for the dev environment, which the local cloud creates.
WAREHOUSE_SECRET, SOURCE_SECRET = "onyx/dev/warehouse", "onyx/dev/totesys"  # pragma: allowlist secret


def _ops(*args: str, directory: Path, aws: dict[str, str] | None = None,
         timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env |= {"ONYX_LOCAL_DIR": str(directory), **(aws or {})}
    return subprocess.run([sys.executable, "-m", "ops", *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


def _stack_credentials(cloud: LocalCloud) -> dict[str, str]:
    """What an operator sets for AWS, pointed at the local cloud's moto."""
    assert cloud.state is not None
    return {"AWS_ENDPOINT_URL": cloud.state.endpoint_url, "AWS_REGION": cloud.state.region,
            "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}


def test_on_the_local_cloud_execute_follows_a_run_that_status_then_lists_and_validate_passes(cloud):
    executed = _ops("execute", "--json", directory=cloud.directory)

    assert executed.returncode == 0, executed.stderr
    outcome = json.loads(executed.stdout)
    assert outcome["status"] == "SUCCEEDED"
    assert outcome["extracted"]["sales_order"] == 300
    assert outcome["loaded"]["fact_sales_order"] == 300
    assert "Extract" in executed.stderr  # progress goes to stderr, state by state

    status = _ops("status", "--json", directory=cloud.directory)

    assert status.returncode == 0, status.stderr
    listed = json.loads(status.stdout)
    assert listed["target"] == f"local cloud ({cloud.directory})"
    assert listed["state_machine_arn"] == cloud.state.state_machine_arn
    assert [(e["run_id"], e["status"]) for e in listed["executions"]] == [(outcome["run_id"], "SUCCEEDED")]

    validated = _ops("validate", directory=cloud.directory)

    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert validated.stdout.splitlines()[-1] == VALID
    assert "PASS  row counts match the source" in validated.stdout


def test_with_stack_the_warehouse_and_source_come_from_the_secrets_the_stack_names(cloud, tmp_path):
    assert cloud.execute().succeeded
    nowhere = tmp_path / "no-local-cloud"  # nothing may come from the local cloud's state file
    aws = _stack_credentials(cloud)

    validated = _ops("validate", "--stack", cloud.state.stack_name, directory=nowhere, aws=aws)

    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert validated.stdout.splitlines()[-1] == VALID
    warehouse, source = (DatabaseCredentials.from_url(url)
                         for url in (cloud.state.warehouse_url, cloud.state.source_url))
    assert f"validating {warehouse} (schema public) against {source}" in validated.stderr

    report = tmp_path / "report.html"
    reported = _ops("report", "--stack", cloud.state.stack_name, "--out", str(report), directory=nowhere, aws=aws)

    assert reported.returncode == 0, reported.stderr
    assert reported.stdout.strip() == f"report written to {report}"
    assert report.stat().st_size > 1_000_000  # plotly.js inlined: opens offline


def test_with_stack_a_missing_stack_or_an_unreadable_secret_is_one_clear_line(cloud, tmp_path):
    aws = _stack_credentials(cloud)
    stack = cloud.state.stack_name
    secrets = cloud.client("secretsmanager")

    missing = _ops("status", "--stack", "Onyx-nope", directory=tmp_path, aws=aws)
    not_json = "host=db user=onyx"
    secrets.put_secret_value(SecretId=WAREHOUSE_SECRET, SecretString=not_json)
    not_json_read = _ops("report", "--stack", stack, directory=tmp_path, aws=aws)
    secrets.delete_secret(SecretId=WAREHOUSE_SECRET, ForceDeleteWithoutRecovery=True)
    deleted = _ops("report", "--stack", stack, directory=tmp_path, aws=aws)
    secrets.put_secret_value(SecretId=SOURCE_SECRET, SecretString=json.dumps({"host": "db"}))
    incomplete = _ops("validate", "--stack", stack, "--warehouse-url", "postgresql://onyx@127.0.0.1/wh",
                      directory=tmp_path, aws=aws)

    assert [r.returncode for r in (missing, not_json_read, deleted, incomplete)] == [1, 1, 1, 1]
    assert [r.stderr.strip().splitlines()[-1] for r in (missing, not_json_read, deleted, incomplete)] == [
        f"error: stack Onyx-nope not found in {cloud.state.region}: check --stack (Onyx-<env>), the region and "
        "the account of your credentials",
        f"error: the warehouse secret onyx/dev/warehouse (named by stack {stack}) is not database credentials: "
        "not JSON",
        f"error: cannot read the warehouse secret onyx/dev/warehouse (named by stack {stack}): "
        "ResourceNotFoundException: Secrets Manager can't find the specified secret.",
        f"error: the source secret onyx/dev/totesys (named by stack {stack}) is not database credentials: "
        "lacks username, password, dbname (and no sourceDatabase setting given)",
    ]
    assert not_json not in not_json_read.stderr  # a secret's value is never shown
    assert not any("Traceback" in r.stderr for r in (missing, not_json_read, deleted, incomplete))

    # Explicit URLs need no secret: the warehouse's is gone, the source's broken.
    overridden = _ops("validate", "--stack", stack, "--warehouse-url", cloud.state.warehouse_url, "--no-source",
                      directory=tmp_path, aws=aws)

    assert overridden.returncode == 0, overridden.stdout + overridden.stderr
    assert overridden.stdout.splitlines()[-1] == "warehouse valid (7 checks run, 3 skipped)"
