"""The Load Lambda handler: env + Secrets Manager + the Transform state's output -> the Load state's output."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from typing import Any

import pytest
from pydantic import ValidationError

from lambdas.load.handler import handler
from lambdas.load.probe import ANALYST_VIEWS
from lambdas.shared.constants import Env
from lambdas.shared.errors import WarehouseUnavailable
from lambdas.shared.observability import logger
from lambdas.shared.star_schema import STAR_TABLES
from local.postgres import free_port
from tests.fixtures.aws import Aws
from tests.fixtures.observability import RUN_DIMENSIONS, Metric
from tests.load.builders import FULL_RUN_DAYS, full_run, write_run
from tests.sql import run_sql


@pytest.fixture
def load_env(aws, empty_db, monkeypatch):
    monkeypatch.setenv(Env.WAREHOUSE_SECRET_NAME, aws.put_secret(empty_db))
    monkeypatch.setenv(Env.PROCESSED_BUCKET, aws.processed_bucket)
    monkeypatch.setenv(Env.WAREHOUSE_SCHEMA, "warehouse")
    return empty_db


def transform_output(aws: Aws, run_id: str) -> dict[str, Any]:
    tables = full_run()
    return {"run_id": run_id, "manifest_key": write_run(aws, run_id, tables),
            "transformed": {name: len(rows) for name, rows in tables.items()}}


def test_the_handler_migrates_the_warehouse_and_loads_the_run(aws, load_env, lambda_context, emitted_metrics):
    result = handler(transform_output(aws, "exec-1"), lambda_context)

    assert result == {"run_id": "exec-1", "already_loaded": False,
                      "loaded": {t.name: len(FULL_RUN_DAYS) if t.name == "dim_date" else 1 for t in STAR_TABLES}}
    conn = load_env.connect()
    try:
        assert conn.run("SELECT run_id FROM warehouse.onyx_run") == [["exec-1"]]
    finally:
        conn.close()
    assert emitted_metrics() == [
        *(Metric("Onyx", {**RUN_DIMENSIONS, "Table": table}, "RowsLoaded", "Count", [float(rows)])
          for table, rows in result["loaded"].items()),
        Metric("Onyx", RUN_DIMENSIONS, "RunsLoaded", "Count", [1.0]),
    ]


def test_the_handler_run_twice_reports_the_run_as_already_loaded(aws, load_env, lambda_context):
    event = transform_output(aws, "exec-1")
    first = handler(event, lambda_context)

    second = handler(event, lambda_context)

    assert second == {**first, "already_loaded": True}


def test_the_handler_logs_with_the_run_id_as_correlation_id(aws, load_env, lambda_context, monkeypatch):
    output = io.StringIO()
    monkeypatch.setattr(logger.registered_handler, "stream", output)

    handler(transform_output(aws, "exec-7"), lambda_context)

    logs = [json.loads(line) for line in output.getvalue().splitlines()]
    assert logs
    assert {log.get("correlation_id") for log in logs} == {"exec-7"}


@pytest.mark.filterwarnings("ignore:No application metrics")
def test_the_handler_refuses_a_schema_name_outside_the_pattern(aws, load_env, lambda_context, monkeypatch):
    monkeypatch.setenv(Env.WAREHOUSE_SCHEMA, "Bad-Name")

    with pytest.raises(ValidationError, match=Env.WAREHOUSE_SCHEMA):
        handler(transform_output(aws, "exec-1"), lambda_context)


def test_after_the_warehouse_secret_is_rotated_the_retry_reads_it_again(aws, empty_db, lambda_context, monkeypatch):
    # The secret first points at a port nothing listens on (a rotation half done); the same warm process then
    # retries, as Step Functions does, after the secret was put right: it must not use its cached copy.
    name = aws.put_secret(replace(empty_db, port=free_port()))
    monkeypatch.setenv(Env.WAREHOUSE_SECRET_NAME, name)
    monkeypatch.setenv(Env.PROCESSED_BUCKET, aws.processed_bucket)
    event = transform_output(aws, "run-1")
    with pytest.raises(WarehouseUnavailable):
        handler(event, lambda_context)

    aws.secretsmanager.put_secret_value(SecretId=name, SecretString=json.dumps(empty_db.to_secret()))
    result = handler(event, lambda_context)

    assert result["already_loaded"] is False
    assert result["loaded"]["fact_sales_order"] == len(full_run()["fact_sales_order"])


def test_after_the_warehouse_password_is_rotated_the_retry_reads_the_new_one(aws, empty_db, lambda_context,
                                                                           monkeypatch):
    # A warm process holds the secret from before a rotation: the server refuses the old password (28P01), which is
    # retried as the warehouse being unavailable, and the retry reads the rotated secret.
    name = aws.put_secret(replace(empty_db, password="the-password-before-rotation"))  # pragma: allowlist secret
    monkeypatch.setenv(Env.WAREHOUSE_SECRET_NAME, name)
    monkeypatch.setenv(Env.PROCESSED_BUCKET, aws.processed_bucket)
    event = transform_output(aws, "run-1")
    with pytest.raises(WarehouseUnavailable, match=r"^warehouse unavailable \(connecting to [^)]+\): 28P01 "):
        handler(event, lambda_context)

    aws.secretsmanager.put_secret_value(SecretId=name, SecretString=json.dumps(empty_db.to_secret()))
    assert handler(event, lambda_context)["already_loaded"] is False


# ---- the smoke check's probe (lambdas/shared/probe.py) ----------------------------------------------------------
def test_the_load_handler_answers_the_probe_with_each_view_s_rows_after_a_run(aws, load_env, lambda_context,
                                                                             emitted_metrics):
    handler(transform_output(aws, "exec-1"), lambda_context)
    emitted_metrics()

    answer = handler({"probe": "warehouse"}, lambda_context)

    assert answer == {"probe": "warehouse", "user": load_env.username, "database": load_env.dbname,
                      "schema": "warehouse", "views": {view: {"rows": 1} for view in ANALYST_VIEWS},
                      "temporary_tables": True, "create_in_schema": True}
    assert emitted_metrics() == [Metric("Onyx", {"environment": "test", "service": "onyx"}, "Probes", "Count", [1.0])]


@pytest.mark.filterwarnings("ignore:No application metrics")
@pytest.mark.parametrize("case", [
    # A state's input that somehow carried a probe key is refused, not loaded and not probed.
    ({"probe": "warehouse", "run_id": "run-1", "manifest_key": "runs/run-1/transform.json"}, ValidationError,
     "Extra inputs are not permitted"),
    ({"probe": "source"}, ValueError, "this function answers the warehouse probe, not the source one"),
    ({"probe": "everything"}, ValidationError, "Input should be 'source' or 'warehouse'"),
])
def test_an_event_with_a_probe_key_is_exactly_the_probe_or_refused(load_env, lambda_context, case):
    event, error, message = case
    with pytest.raises(error, match=message):
        handler(event, lambda_context)
    # Nothing reached the warehouse: not even the migrations that create its schema.
    assert run_sql(load_env, "SELECT count(*) FROM pg_namespace WHERE nspname = 'warehouse'") == [[0]]
