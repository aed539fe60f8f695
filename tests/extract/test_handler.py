"""The Lambda handler: environment, secret, payload, metrics and logs, through `handler(event, context)`."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from pydantic import ValidationError

from lambdas.extract.handler import handler
from lambdas.shared.constants import Env
from lambdas.shared.database import DatabaseCredentials
from lambdas.shared.errors import SourceUnavailable
from lambdas.shared.totesys import TABLE_NAMES
from local.postgres import free_port
from tests.fixtures.aws import Aws
from tests.fixtures.observability import RUN_DIMENSIONS, Metric

PASSWORD = f"Pw-{uuid.uuid4().hex}-never-logged"


@pytest.fixture
def reader_role(pg_server: DatabaseCredentials, seeded_source_db: DatabaseCredentials) -> Iterator[DatabaseCredentials]:
    """A least-privilege login for the extract: SELECT on the tables, and pg_read_all_stats to see transactions."""
    role = f"onyx_extract_{uuid.uuid4().hex[:8]}"
    conn = seeded_source_db.connect()
    try:
        conn.run(f"CREATE ROLE {role} LOGIN PASSWORD '{PASSWORD}'")
        conn.run(f"GRANT CONNECT ON DATABASE {seeded_source_db.dbname} TO {role}")
        conn.run(f"GRANT USAGE ON SCHEMA public TO {role}")
        conn.run(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
        conn.run(f"GRANT pg_read_all_stats TO {role}")
        yield replace(seeded_source_db, username=role, password=PASSWORD)
        conn.run(f"DROP OWNED BY {role}")
        conn.run(f"DROP ROLE {role}")
    finally:
        conn.close()


@pytest.fixture
def everything_printed(log_output, capsys, caplog) -> Callable[[], list[str]]:
    """Every text the function sends out: its log lines, stdout and stderr (metrics, tracebacks), log records."""

    def read() -> list[str]:
        captured = capsys.readouterr()
        return [log_output.getvalue(), captured.out, captured.err, caplog.text]

    return read


def _environment(monkeypatch, aws: Aws, secret_name: str) -> None:
    monkeypatch.setenv(Env.SOURCE_SECRET_NAME, secret_name)
    monkeypatch.setenv(Env.INGESTION_BUCKET, aws.ingestion_bucket)
    monkeypatch.setenv(Env.SAFETY_LAG_SECONDS, "0")


def _json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_handler_extracts_and_returns_the_contract_payload(reader_role, aws: Aws, lambda_context, monkeypatch,
                                                           log_output):
    """And moves no watermark: only AdvanceWatermark does, once the run is in the warehouse."""
    _environment(monkeypatch, aws, aws.put_secret(reader_role))

    payload = handler({"run_id": "run-7", "ignored": "extra keys are fine"}, lambda_context)

    assert set(payload) == {"run_id", "manifest_key", "has_changes", "extracted"}
    assert (payload["run_id"], payload["manifest_key"], payload["has_changes"]) == (
        "run-7", "runs/run-7/extract.json", True)
    assert list(payload["extracted"]) == list(TABLE_NAMES)
    assert all(rows > 0 for rows in payload["extracted"].values())
    manifest = json.loads(aws.read(aws.ingestion_bucket, "runs/run-7/extract.json"))
    assert {name: table["rows"] for name, table in manifest["tables"].items()} == payload["extracted"]
    logs = _json_lines(log_output.getvalue())
    assert len(logs) > 11
    assert {line["correlation_id"] for line in logs} == {"run-7"}
    assert aws.keys(aws.ingestion_bucket, "state/watermarks/") == []


def test_handler_emits_rows_per_table_duration_and_watermark_lag(reader_role, aws: Aws, lambda_context,
                                                                 monkeypatch, emitted_metrics):
    _environment(monkeypatch, aws, aws.put_secret(reader_role))

    payload = handler({"run_id": "run-7"}, lambda_context)

    emitted = emitted_metrics()
    rows = [m for m in emitted if m.name == "RowsExtracted"]
    assert rows == [Metric("Onyx", {**RUN_DIMENSIONS, "Table": table}, "RowsExtracted", "Count", [float(count)])
                    for table, count in payload["extracted"].items()]
    run_metrics = {m.name: m for m in emitted if m.name != "RowsExtracted"}
    assert set(run_metrics) == {"ExtractDuration", "WatermarkLag", "RunsExtracted"}
    assert [m.dimensions for m in run_metrics.values()] == [RUN_DIMENSIONS] * 3
    (duration,), (lag,) = run_metrics["ExtractDuration"].values, run_metrics["WatermarkLag"].values
    assert duration > 0
    assert 0 < lag < 5  # the high trails the source's clock by a millisecond (no safety lag here)
    assert run_metrics["RunsExtracted"].values == [1.0]


def test_password_never_appears_in_logs_files_or_payload(reader_role, aws: Aws, lambda_context, monkeypatch,
                                                         everything_printed):
    _environment(monkeypatch, aws, aws.put_secret(reader_role))
    payload = handler({"run_id": "run-1"}, lambda_context)
    unreachable = replace(reader_role, port=free_port())
    _environment(monkeypatch, aws, aws.put_secret(unreachable))
    with pytest.raises(SourceUnavailable) as failure:
        handler({"run_id": "run-2"}, lambda_context)

    printed = everything_printed()
    for text in (*printed, json.dumps(payload), str(failure.value), repr(failure.value.__cause__)):
        assert PASSWORD not in text
    for key in aws.keys(aws.ingestion_bucket):
        assert PASSWORD.encode() not in aws.read(aws.ingestion_bucket, key)
    assert '"message":"extract failed' in printed[0]  # the failure was logged, and captured here


def test_after_the_source_secret_is_rotated_the_retry_reads_it_again(reader_role, aws: Aws, lambda_context,
                                                                     monkeypatch):
    # The secret first points at a port nothing listens on (a rotation half done); the same warm process then
    # retries, as Step Functions does, after the secret was put right: it must not use its cached copy.
    name = aws.put_secret(replace(reader_role, port=free_port()))
    _environment(monkeypatch, aws, name)
    with pytest.raises(SourceUnavailable):
        handler({"run_id": "run-1"}, lambda_context)

    aws.secretsmanager.put_secret_value(SecretId=name, SecretString=json.dumps(reader_role.to_secret()))
    payload = handler({"run_id": "run-1"}, lambda_context)

    assert payload["has_changes"] is True
    assert set(payload["extracted"]) == set(TABLE_NAMES)


def test_handler_refuses_a_run_id_that_cannot_be_part_of_a_key(aws: Aws, lambda_context, monkeypatch):
    _environment(monkeypatch, aws, "onyx/unused")

    with pytest.raises(ValueError, match="run_id"):
        handler({"run_id": "../etc"}, lambda_context)


def test_handler_requires_its_environment(aws: Aws, lambda_context, monkeypatch):
    monkeypatch.delenv(Env.SOURCE_SECRET_NAME, raising=False)
    monkeypatch.setenv(Env.INGESTION_BUCKET, aws.ingestion_bucket)

    with pytest.raises(ValueError, match=Env.SOURCE_SECRET_NAME):
        handler({"run_id": "run-1"}, lambda_context)


# ---- the smoke check's probe (lambdas/shared/probe.py) ----------------------------------------------------------
def test_the_extract_handler_answers_the_source_probe_with_what_its_login_may_do(reader_role, aws: Aws, lambda_context,
                                                                                monkeypatch, emitted_metrics):
    _environment(monkeypatch, aws, aws.put_secret(reader_role))

    answer = handler({"probe": "source"}, lambda_context)

    assert {k: v for k, v in answer.items() if not k.startswith("server_version")} == {
        "probe": "source", "user": reader_role.username, "pg_read_all_stats": True, "tables_missing": [],
        "tables_not_readable": []}
    assert aws.keys(aws.ingestion_bucket) == []  # nothing extracted, no manifest, no watermark
    assert emitted_metrics() == [Metric("Onyx", {"environment": "test", "service": "onyx"}, "Probes", "Count", [1.0])]


@pytest.mark.filterwarnings("ignore:No application metrics")
def test_a_run_id_beside_the_probe_key_is_refused_not_extracted(reader_role, aws: Aws, lambda_context, monkeypatch):
    _environment(monkeypatch, aws, aws.put_secret(reader_role))

    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        handler({"probe": "source", "run_id": "run-7"}, lambda_context)
    assert aws.keys(aws.ingestion_bucket) == []
