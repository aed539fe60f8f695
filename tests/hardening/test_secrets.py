"""No secret leaves its place (docs/design.md invariant 6): a whole pipeline, failures included, runs with a
recognisable database password, which then appears in no log line, no Step Functions payload or history
event, no SNS alert and no object (any version) in any bucket."""

from __future__ import annotations

import io
import json
import secrets
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from pg8000.native import identifier, literal

from lambdas.shared.database import DatabaseCredentials
from tests.hardening.harness import Activity, Campaign, Redrive, Run


def _leaks(canary: str, campaign: Campaign) -> tuple[list[str], dict[str, int]]:
    """Every place the canary shows up outside Secrets Manager, and how many places of each kind were read."""
    cloud = campaign.cloud
    found: list[str] = []
    scanned = {"log files": 0, "executions": 0, "objects": 0}
    for path in sorted(Path(cloud.directory).rglob("*")):
        if path.is_file() and path.name != "state.json":  # state.json: the boot databases' URLs, 0600, no canary
            scanned["log files"] += 1
            if canary in path.read_text(errors="replace"):
                found.append(f"file {path.relative_to(cloud.directory)}")
    sfn = cloud.client("stepfunctions")
    for machine in sfn.list_state_machines()["stateMachines"]:
        # Every page: the session's cloud keeps the executions of earlier tests too.
        pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=machine["stateMachineArn"])
        for execution in (e for page in pages for e in page["executions"]):
            scanned["executions"] += 1
            arn = execution["executionArn"]
            described = json.dumps(sfn.describe_execution(executionArn=arn), default=str)
            history = json.dumps(sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"], default=str)
            if canary in described or canary in history:
                found.append(f"execution {execution['name']}")
    s3 = cloud.client("s3")
    for bucket in s3.list_buckets()["Buckets"]:
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket["Name"]):
            for version in page.get("Versions", []):
                scanned["objects"] += 1
                body = s3.get_object(Bucket=bucket["Name"], Key=version["Key"],
                                     VersionId=version["VersionId"])["Body"].read()
                if canary in _readable(version["Key"], body):
                    found.append(f"object s3://{bucket['Name']}/{version['Key']}")
    alerts = cloud.moto.alerts if cloud.moto else []
    scanned["alerts"] = len(alerts)
    found += [f"alert {a.subject}" for a in alerts if canary in a.message]
    return found, scanned


def _readable(key: str, body: bytes) -> str:
    """An object's content as text: Parquet decoded (its pages are compressed), anything else as bytes."""
    if key.endswith(".parquet"):
        return json.dumps(pq.read_table(io.BytesIO(body)).to_pylist(), default=str)
    return body.decode("utf-8", errors="replace")


def _as_canary(campaign: Campaign, role: str, canary: str) -> DatabaseCredentials:
    assert campaign.source is not None
    assert campaign.warehouse is not None
    conn = campaign.server.connect()
    try:
        conn.run(f"CREATE ROLE {identifier(role)} LOGIN SUPERUSER PASSWORD {literal(canary)}")
    finally:
        conn.close()
    secrets_manager = campaign.cloud.client("secretsmanager")
    for name, database in ((campaign.source_secret, campaign.source), (campaign.warehouse_secret, campaign.warehouse)):
        login = DatabaseCredentials.from_secret(database.to_secret() | {"username": role, "password": canary})
        secrets_manager.put_secret_value(SecretId=name, SecretString=json.dumps(login.to_secret()))
    # the outages take the same login to a closed port (an outage reads the secret when it begins)
    return login


@pytest.mark.slow
def test_a_database_password_appears_in_no_log_payload_alert_or_object(campaign):
    canary = f"onyx-canary-{secrets.token_hex(8)}"
    role = f"onyx_canary_{secrets.token_hex(4)}"
    campaign.reset()
    try:
        _as_canary(campaign, role, canary)
        # success, a retried outage, a run failing for good (alerted), its redrive, then the final run
        campaign.play([Run("source_blip"), Activity(new_orders=2, amended=2, paid=1, address_changes=1),
                       Run("warehouse_down"), Redrive()])

        statuses = [e.outcome.status for e in campaign.record.executions]
        assert statuses == ["SUCCEEDED", "FAILED", "SUCCEEDED", "SUCCEEDED"]
        assert campaign.cloud.moto is not None
        assert campaign.cloud.moto.alerts
        errors = [i.error_type for i in campaign.cloud.moto.invoker.invocations] if campaign.cloud.moto.invoker \
            else []
        assert "SourceUnavailable" in errors
        assert "WarehouseUnavailable" in errors
        found, scanned = _leaks(canary, campaign)
        assert found == []
        assert all(scanned.values()), f"nothing was read from some place: {scanned}"
    finally:
        campaign.reset()  # the secrets point at the superuser again; the canary's databases are gone
        _drop_role(campaign, role)


def _drop_role(campaign: Campaign, role: str) -> None:
    conn = campaign.server.connect()
    try:
        conn.run(f"DROP ROLE IF EXISTS {identifier(role)}")
    finally:
        conn.close()


def test_the_leak_scan_finds_a_planted_password(campaign):
    """The scan is not blind: a canary written to a log file of the cloud is found."""
    canary = f"onyx-canary-{secrets.token_hex(8)}"
    log = Path(campaign.cloud.directory) / "logs" / "planted.log"
    log.write_text(f"connecting with password={canary}\n")
    try:
        found, _scanned = _leaks(canary, campaign)
    finally:
        log.unlink()
    assert found == ["file logs/planted.log"]
