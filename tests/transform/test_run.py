"""A run's outputs: keys and manifest as the contract says, idempotent, state kept and rebuildable, the handler."""

from __future__ import annotations

import io
import json

import pyarrow.parquet as pq
import pytest

from lambdas.shared.constants import Env
from lambdas.shared.star_schema import STAR_TABLES
from lambdas.transform.runner import run_transform
from lambdas.transform.state import STATE_COLUMNS, load_state, rebuild_state
from tests.transform.runs import address, first_run, put_run, read_star, sales_order, transform

LATER = "2024-02-05T16:45:00.007"
COUNTS = {"dim_date": 8, "dim_staff": 2, "dim_location": 2, "dim_design": 1, "dim_currency": 2,
          "dim_counterparty": 3, "dim_payment_type": 2, "dim_transaction": 2, "fact_sales_order": 2,
          "fact_purchase_order": 1, "fact_payment": 1}


def _outputs(aws) -> dict[str, bytes]:
    return {key: aws.read(aws.processed_bucket, key) for key in aws.keys(aws.processed_bucket)
            if not key.startswith("state/")}


def test_payload_names_the_run_its_manifest_and_rows_per_table(aws):
    payload = transform(aws, "run-1", first_run())

    assert payload == {"run_id": "run-1", "manifest_key": "runs/run-1/transform.json", "transformed": COUNTS}


def test_manifest_and_parquet_keys_follow_the_contract(aws):
    transform(aws, "run-1", first_run(), started_at="2026-11-25T23:59:59.999Z")

    manifest = json.loads(aws.read(aws.processed_bucket, "runs/run-1/transform.json"))
    assert manifest == {
        "run_id": "run-1", "extract_manifest_key": "runs/run-1/extract.json",
        "started_at": "2026-11-25T23:59:59.999Z",
        "tables": {t.name: {"rows": COUNTS[t.name], "keys": [f"{t.name}/2026/11/25/run-1.parquet"]}
                   for t in STAR_TABLES},
    }
    assert [k for k in aws.keys(aws.processed_bucket) if not k.startswith(("runs/", "state/"))] == sorted(
        f"{t.name}/2026/11/25/run-1.parquet" for t in STAR_TABLES)


def test_parquet_files_have_exactly_the_star_schemas(aws):
    transform(aws, "run-1", first_run())

    for star in STAR_TABLES:
        key = f"{star.name}/2026/11/25/run-1.parquet"
        schema = pq.read_schema(io.BytesIO(aws.read(aws.processed_bucket, key)))
        assert schema.equals(star.schema, check_metadata=False), star.name


def test_table_without_rows_gets_no_file_and_no_keys(aws):
    transform(aws, "run-1", first_run())

    payload = transform(aws, "run-2", {"address": [address(2, city="Hull", updated=LATER)]})

    manifest = json.loads(aws.read(aws.processed_bucket, "runs/run-2/transform.json"))
    assert payload["transformed"]["fact_payment"] == 0
    assert manifest["tables"]["fact_payment"] == {"rows": 0, "keys": []}
    assert manifest["tables"]["dim_counterparty"]["rows"] == 1


def test_same_run_again_returns_the_same_payload_and_writes_nothing_new(aws):
    manifest_key = put_run(aws, "run-1", first_run())
    first = run_transform(aws.s3, aws.ingestion_bucket, aws.processed_bucket, "run-1", manifest_key)
    written = _outputs(aws)

    again = run_transform(aws.s3, aws.ingestion_bucket, aws.processed_bucket, "run-1", manifest_key)

    assert again == first
    assert _outputs(aws) == written


def test_run_interrupted_before_its_manifest_redone_gives_the_same_keys_and_content(aws):
    manifest_key = put_run(aws, "run-1", first_run())
    run_transform(aws.s3, aws.ingestion_bucket, aws.processed_bucket, "run-1", manifest_key)
    before = {t.name: read_star(aws, t.name, "run-1") for t in STAR_TABLES}
    keys = aws.keys(aws.processed_bucket)
    aws.s3.delete_object(Bucket=aws.processed_bucket, Key="runs/run-1/transform.json")  # state already merged

    run_transform(aws.s3, aws.ingestion_bucket, aws.processed_bucket, "run-1", manifest_key)

    assert aws.keys(aws.processed_bucket) == keys
    for star in STAR_TABLES:
        assert read_star(aws, star.name, "run-1").equals(before[star.name]), star.name


def test_state_keeps_the_latest_version_of_each_row_whatever_the_order_of_runs(aws):
    transform(aws, "run-2", {"address": [address(1, city="Bradford", updated=LATER)]})
    transform(aws, "run-1", first_run())  # older rows, transformed later

    state = load_state(aws.s3, aws.processed_bucket)

    assert state is not None
    assert state["address"].sort_by("address_id").column("city").to_pylist() == ["Bradford", "York"]


def test_rebuilt_state_equals_the_state_kept_run_by_run(aws):
    transform(aws, "run-1", first_run())
    transform(aws, "run-2", {"address": [address(1, city="Bradford", updated=LATER)],
                             "sales_order": [sales_order(1, updated=LATER)]})
    kept = load_state(aws.s3, aws.processed_bucket)
    for table in STATE_COLUMNS:
        aws.s3.delete_object(Bucket=aws.processed_bucket, Key=f"state/{table}.parquet")

    rebuilt = rebuild_state(aws.s3, aws.ingestion_bucket, aws.processed_bucket)

    assert kept is not None
    assert sorted(rebuilt) == sorted(kept) == sorted(STATE_COLUMNS)
    for table in STATE_COLUMNS:
        assert rebuilt[table].equals(kept[table]), table
    assert load_state(aws.s3, aws.processed_bucket) is not None


def test_lost_state_is_rebuilt_so_dependents_are_still_re_emitted(aws):
    transform(aws, "run-1", first_run())
    for table in STATE_COLUMNS:
        aws.s3.delete_object(Bucket=aws.processed_bucket, Key=f"state/{table}.parquet")

    transform(aws, "run-2", {"address": [address(1, city="Bradford", updated=LATER)]})

    counterparty = read_star(aws, "dim_counterparty", "run-2").to_pylist()
    assert [(r["counterparty_id"], r["counterparty_legal_city"]) for r in counterparty] == [
        (1, "Bradford"), (3, "Bradford")]


def test_handler_transforms_the_extract_output(aws, lambda_context, monkeypatch, emitted_metrics, log_output):
    from lambdas.transform.handler import handler
    from tests.fixtures.observability import RUN_DIMENSIONS, Metric

    monkeypatch.setenv(Env.INGESTION_BUCKET, aws.ingestion_bucket)
    monkeypatch.setenv(Env.PROCESSED_BUCKET, aws.processed_bucket)
    manifest_key = put_run(aws, "exec-7", first_run())
    event = {"run_id": "exec-7", "manifest_key": manifest_key, "has_changes": True, "extracted": {"address": 2}}

    result = handler(event, lambda_context)

    assert result == {"run_id": "exec-7", "manifest_key": "runs/exec-7/transform.json", "transformed": COUNTS}
    logs = [json.loads(line) for line in log_output.getvalue().splitlines() if line.startswith("{")]
    logged = [line for line in logs if line.get("message") == "transformed"]
    assert logged[0]["correlation_id"] == "exec-7"
    assert emitted_metrics() == [
        *(Metric("Onyx", {**RUN_DIMENSIONS, "Table": table}, "RowsTransformed", "Count", [float(rows)])
          for table, rows in COUNTS.items()),
        Metric("Onyx", RUN_DIMENSIONS, "RunsTransformed", "Count", [1.0]),
    ]


@pytest.mark.filterwarnings("ignore:No application metrics")
def test_handler_refuses_an_environment_without_buckets(aws, lambda_context, monkeypatch):
    from pydantic import ValidationError

    from lambdas.transform.handler import handler

    monkeypatch.delenv(Env.INGESTION_BUCKET, raising=False)
    monkeypatch.delenv(Env.PROCESSED_BUCKET, raising=False)

    with pytest.raises(ValidationError, match=Env.INGESTION_BUCKET):
        handler({"run_id": "exec-7", "manifest_key": "runs/exec-7/extract.json"}, lambda_context)
