"""The AdvanceWatermark handler: the Load state's output -> the run's highs recorded as the new watermarks."""

from __future__ import annotations

import json

import pytest

from lambdas.extract.run import run_extract
from lambdas.extract.watermarks import latest_watermarks
from lambdas.shared.constants import Env
from lambdas.shared.totesys import TABLE_NAMES
from lambdas.watermark.handler import handler
from tests.fixtures.aws import Aws
from tests.fixtures.observability import RUN_DIMENSIONS, Metric


@pytest.fixture
def watermark_env(aws: Aws, monkeypatch):
    monkeypatch.setenv(Env.INGESTION_BUCKET, aws.ingestion_bucket)
    # It needs no secret: a function that tried to read one would fail on this.
    monkeypatch.delenv(Env.SOURCE_SECRET_NAME, raising=False)
    return aws


def _extracted(aws: Aws, source, run_id: str) -> dict[str, str]:
    """A run extracted from the seeded source (watermarks unmoved); each table's high."""
    result = run_extract(source, aws.s3, aws.ingestion_bucket, run_id, safety_lag_seconds=0)
    assert aws.keys(aws.ingestion_bucket, "state/watermarks/") == []
    return {name: table.high for name, table in result.manifest.tables.items()}


def _load_output(run_id: str) -> dict[str, object]:
    return {"run_id": run_id, "already_loaded": False, "loaded": {"dim_staff": 1}}


def test_the_handler_records_the_runs_highs_as_the_watermarks(watermark_env, seeded_source_db, lambda_context,
                                                               emitted_metrics, log_output):
    aws = watermark_env
    highs = _extracted(aws, seeded_source_db, "run-7")
    assert set(highs) == set(TABLE_NAMES)
    log_output.seek(0)
    log_output.truncate()  # the extract's own lines

    payload = handler(_load_output("run-7"), lambda_context)

    (key,) = aws.keys(aws.ingestion_bucket, "state/watermarks/")
    assert payload == {"run_id": "run-7", "watermark_key": key}
    assert key.endswith("-run-7.json")
    assert latest_watermarks(aws.s3, aws.ingestion_bucket) == highs
    assert emitted_metrics() == [Metric("Onyx", RUN_DIMENSIONS, "RunsCommitted", "Count", [1.0])]
    logs = [json.loads(line) for line in log_output.getvalue().splitlines()]
    assert {line["correlation_id"] for line in logs} == {"run-7"}
    assert [line["watermark_key"] for line in logs if line["message"] == "committed"] == [key]


def test_committing_a_run_twice_leaves_one_watermark(watermark_env, seeded_source_db, lambda_context):
    aws = watermark_env
    _extracted(aws, seeded_source_db, "run-7")
    first = handler(_load_output("run-7"), lambda_context)

    second = handler(_load_output("run-7"), lambda_context)

    assert second == first
    assert aws.keys(aws.ingestion_bucket, "state/watermarks/") == [first["watermark_key"]]


def test_committing_a_run_that_was_never_extracted_is_refused(watermark_env, lambda_context):
    with pytest.raises(ValueError, match="run run-404 has no extract manifest"):
        handler(_load_output("run-404"), lambda_context)
    assert watermark_env.keys(watermark_env.ingestion_bucket, "state/watermarks/") == []


@pytest.mark.filterwarnings("ignore:No application metrics")
def test_the_handler_requires_its_bucket(aws, lambda_context, monkeypatch):
    monkeypatch.delenv(Env.INGESTION_BUCKET, raising=False)

    with pytest.raises(ValueError, match=Env.INGESTION_BUCKET):
        handler(_load_output("run-7"), lambda_context)
