"""`python -m ops`, as an operator runs it: on the local cloud, and on a deployed stack (--stack) reached
through the local cloud's own CloudFormation, which holds the very template `cdk deploy` would create."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from lambdas.shared.database import DatabaseCredentials
from lambdas.shared.star_schema import STAR_TABLES
from lambdas.shared.totesys import TABLE_NAMES
from local.cloud import LocalCloud
from local.moto_cloud import ACCOUNT
from ops.cli import main as ops_main
from tests.local_cloud.helpers import deployed_function
from tests.sql import run_sql

REPO = Path(__file__).resolve().parents[2]
VALID = "warehouse valid (10 checks run, 0 skipped)"
# The secrets cdk.json names for the dev environment, which the local cloud creates.
WAREHOUSE_SECRET, SOURCE_SECRET = "onyx/dev/warehouse", "onyx/dev/totesys"  # pragma: allowlist secret


def _ops(*args: str, directory: Path, aws: dict[str, str] | None = None, timeout: float = 300,
         program: str = "ops") -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env |= {"ONYX_LOCAL_DIR": str(directory), **(aws or {})}
    return subprocess.run([sys.executable, "-m", program, *args], cwd=REPO, env=env, capture_output=True, text=True,
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


def test_on_the_local_cloud_execute_replays_a_run_and_rebuilds_the_warehouse_showing_each_step(cloud):
    run = cloud.execute()
    assert run.succeeded

    replayed = _ops("execute", "--replay", run.run_id, "--json", directory=cloud.directory)

    assert replayed.returncode == 0, replayed.stderr
    assert json.loads(replayed.stdout)["status"] == "SUCCEEDED"
    assert "Replay" in replayed.stderr

    rebuilt = _ops("execute", "--rebuild", "--step-runs", "1", directory=cloud.directory, program="local")

    assert rebuilt.returncode == 0, rebuilt.stderr
    assert rebuilt.stdout.splitlines()[0].endswith("— transformed 1 and loaded 1 of 1 runs (100%) — swapped in")
    assert "rebuild execution rebuild-" in rebuilt.stderr
    load_runs = next(line for line in rebuilt.stderr.splitlines() if line.startswith("  LoadRuns       done in"))
    assert load_runs.endswith("transformed 1 and loaded 1 of 1 runs (100%)")


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


# ---- python -m ops smoke: the first check after `cdk deploy` ------------------------------------------------
# What the shared source template holds after one full load (tests/fixtures/postgres.py: 300 sales orders).
VIEW_ROWS = {"sales_order_current": 300, "purchase_order_current": 126, "payment_current": 426,
             "sales_order_wide": 300, "purchase_order_wide": 126, "payment_wide": 426}


def _local(*args: str, directory: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env["ONYX_LOCAL_DIR"] = str(directory)
    return subprocess.run([sys.executable, "-m", "local", *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


def _rules(cloud: LocalCloud) -> tuple[str, str]:
    """The deployed schedule rule's name and the run-alert rule's."""
    rules = cloud.client("events").list_rules()["Rules"]
    (schedule,) = [r["Name"] for r in rules if r.get("ScheduleExpression")]
    (alerts,) = [r["Name"] for r in rules if r.get("EventPattern")]
    return schedule, alerts


def _rows(url: str, tables: list[str]) -> int:
    """How many rows the tables hold together."""
    return int(run_sql(url, " + ".join(f'(SELECT count(*) FROM "{table}")' for table in tables).join(
        ("SELECT ", "")))[0][0])


def _server_version(cloud: LocalCloud) -> str:
    return str(run_sql(cloud.state.source_url, "SHOW server_version")[0][0]).split()[0]


def _probe(cloud: LocalCloud, part: str, kind: str) -> dict[str, Any]:
    answer = cloud.client("lambda").invoke(FunctionName=deployed_function(cloud, part)["FunctionName"],
                                           Payload=json.dumps({"probe": kind}).encode())
    assert "FunctionError" not in answer
    return dict(json.loads(answer["Payload"].read()))


def test_smoke_on_a_healthy_deployment_runs_the_pipeline_counts_the_views_and_lists_what_is_left(cloud):
    smoked = _local("smoke", "--run-id", "run-smoke-1", directory=cloud.directory)

    assert smoked.returncode == 0, smoked.stdout + smoked.stderr
    user = DatabaseCredentials.from_url(cloud.state.warehouse_url).username
    schedule, alerts = _rules(cloud)
    # A first load: every source row extracted, every star row loaded (dim_date's days depend on today's date).
    extracted = _rows(cloud.state.source_url, list(TABLE_NAMES))
    loaded = _rows(cloud.state.warehouse_url, [table.name for table in STAR_TABLES])
    indent = " " * 25
    assert smoked.stdout.splitlines() == [
        f"Onyx smoke check of local cloud ({cloud.directory})",
        f"  OK    run              run-smoke-1: SUCCEEDED, extracted {extracted:,} rows, loaded {loaded:,}",
        "  OK    views            the 6 analyst views answer (schema public):",
        *(f"{indent}  {view:<24}{rows:>10,}" for view, rows in VIEW_ROWS.items()),
        f"  OK    warehouse login  {user} may create in schema public and use temporary tables",
        f"  OK    source           {user} on PostgreSQL {_server_version(cloud)} may read the 11 Totesys tables",
        f"  OK    late commits     {user} holds pg_read_all_stats: extract sees every transaction still in flight",
        "  TODO  alert e-mail     no e-mail subscription (alertEmail was not set): failed runs and alarms reach nobody",
        f'{indent}do: set "alertEmail" under context.onyx.environments.dev in cdk.json, then make deploy ONYX_ENV=dev',
        f"  OK    schedule         rule {schedule}: ENABLED, rate(15 minutes)",
        f"  OK    run alerts       rule {alerts}: ENABLED",
        "smoke check: 7 OK, 1 to do, 0 failed",
    ]
    assert "  Load           done in" in smoked.stderr  # the run, followed state by state

    # The probes, asked directly as the smoke check asks them (the operator's lambda:Invoke, routed to the real
    # handler): the views' rows after that one run, and what each login may do.
    assert _probe(cloud, "Load", "warehouse") == {
        "probe": "warehouse", "user": user, "database": DatabaseCredentials.from_url(cloud.state.warehouse_url).dbname,
        "schema": "public", "views": {view: {"rows": rows} for view, rows in VIEW_ROWS.items()},
        "temporary_tables": True, "create_in_schema": True}
    assert _probe(cloud, "Extract", "source") == {
        "probe": "source", "user": user, "pg_read_all_stats": True, "server_version": _server_version(cloud),
        "server_version_num": int(run_sql(cloud.state.source_url, "SHOW server_version_num")[0][0]),
        "tables_missing": [], "tables_not_readable": []}


def test_smoke_when_the_run_fails_exits_non_zero_naming_the_failed_state(cloud):
    secrets = cloud.client("secretsmanager")
    secrets.put_secret_value(SecretId=SOURCE_SECRET, SecretString=json.dumps({"host": "db"}))
    # A cold environment reads the secret afresh (a warm one would still hold the good one for 5 minutes).
    cloud.moto.invoker.fault = lambda spec, event: {"ONYX_TEST_BROKEN_SECRET": "1"} if "Extract" in spec.name else None

    smoked = _ops("smoke", "--run-id", "run-smoke-broken", directory=cloud.directory)
    cloud.settle()  # the failed run's e-mail

    assert smoked.returncode == 1, smoked.stdout + smoked.stderr
    broken = ("InvalidSecret: secret onyx/dev/totesys: lacks username, password, dbname "  # pragma: allowlist secret
              "(and no sourceDatabase setting given)")
    extract = deployed_function(cloud, "Extract")["FunctionName"]
    user = DatabaseCredentials.from_url(cloud.state.warehouse_url).username
    schedule, alerts = _rules(cloud)
    indent = " " * 25
    assert smoked.stdout.splitlines() == [
        f"Onyx smoke check of local cloud ({cloud.directory})",
        f"  FAIL  run              run-smoke-broken: FAILED in Extract: {broken}",
        f"{indent}do: why: the functions' logs in {cloud.directory / 'logs'}",
        f"{indent}do: fix the cause, then run the smoke check again (a new run catches up on everything this one did "
        "not load)",
        "  OK    views            the 6 analyst views answer (schema public):",  # and nothing loaded into them
        *(f"{indent}  {view:<24}{0:>10,}" for view in VIEW_ROWS),
        f"  OK    warehouse login  {user} may create in schema public and use temporary tables",
        f"  FAIL  source           could not ask the Extract function {extract}: {broken}",
        f"{indent}do: the function's log: {cloud.directory / 'logs' / extract}.log",
        "  TODO  alert e-mail     no e-mail subscription (alertEmail was not set): failed runs and alarms reach nobody",
        f'{indent}do: set "alertEmail" under context.onyx.environments.dev in cdk.json, then make deploy ONYX_ENV=dev',
        f"  OK    schedule         rule {schedule}: ENABLED, rate(15 minutes)",
        f"  OK    run alerts       rule {alerts}: ENABLED",
        "smoke check: 4 OK, 1 to do, 2 failed",
    ]
    (alert,) = cloud.moto.alerts
    assert alert.subject == "Onyx dev: run FAILED in Extract (InvalidSecret)"


def test_smoke_of_a_stack_with_only_the_policy_it_prints_shows_a_pending_e_mail_and_a_disabled_schedule(
        cloud, monkeypatch, capsys):
    stack, aws = cloud.state.stack_name, _stack_credentials(cloud)
    for variable, value in aws.items():  # the command line in this process, as the operator runs it
        monkeypatch.setenv(variable, value)
    assert ops_main(["smoke", "--stack", stack, "--policy"]) == 0
    policy = json.loads(capsys.readouterr().out)
    # An operator's role holding that policy alone: the local cloud authorizes each of its calls as IAM would.
    iam = cloud.client("iam")
    role = iam.create_role(RoleName="onyx-smoke-operator", AssumeRolePolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                  "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}}]}))["Role"]
    iam.put_role_policy(RoleName=role["RoleName"], PolicyName="smoke", PolicyDocument=json.dumps(policy))
    operator = cloud.moto.sessions.environment(role["Arn"], "operator")
    sns, events = cloud.client("sns"), cloud.client("events")
    topic = cloud.deployment.outputs["AlertTopicArn"]
    subscription = sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="ops@example.com")["SubscriptionArn"]
    schedule, _ = _rules(cloud)
    events.disable_rule(Name=schedule)
    denied_before = len(cloud.moto.authorizer.denials)
    try:
        smoked = _ops("smoke", "--stack", stack, directory=cloud.directory / "elsewhere", aws={**aws, **operator})
    finally:
        events.enable_rule(Name=schedule)
        sns.unsubscribe(SubscriptionArn=subscription)
        iam.delete_role_policy(RoleName=role["RoleName"], PolicyName="smoke")
        iam.delete_role(RoleName=role["RoleName"])

    assert smoked.returncode == 0, smoked.stdout + smoked.stderr
    assert cloud.moto.authorizer.denials[denied_before:] == []
    lines = smoked.stdout.splitlines()
    indent = " " * 25
    assert lines[0] == f"Onyx smoke check of stack {stack} ({cloud.state.region})"
    assert lines[1].startswith("  OK    run              run-")
    at = lines.index("  TODO  alert e-mail     ops@example.com: PendingConfirmation: failed runs and alarms are not "
                     "e-mailed until it is confirmed")
    assert lines[at + 1:at + 5] == [
        f'{indent}do: open the e-mail "AWS Notification - Subscription Confirmation" sent to ops@example.com and '
        'follow "Confirm subscription" (AWS deletes the subscription if it is not confirmed within 48 hours)',
        f"{indent}do: no such e-mail? send it again: aws sns subscribe --topic-arn {topic} --protocol email "
        f"--notification-endpoint ops@example.com --region {cloud.state.region}",
        f"  TODO  schedule         rule {schedule}: DISABLED: no run starts on its own",
        f"{indent}do: aws events enable-rule --name {schedule} --region {cloud.state.region}",
    ]
    assert lines[-1] == "smoke check: 6 OK, 2 to do, 0 failed"
