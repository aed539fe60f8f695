"""Runs one after another: a full first load, then only what changed, with nothing lost or repeated."""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from lambdas.extract.reader import copy_window
from lambdas.shared.database import DatabaseCredentials
from lambdas.shared.errors import SourceUnavailable
from lambdas.shared.layout import extract_manifest_key, ingestion_data_key
from lambdas.shared.totesys import TABLE_NAMES, TABLES
from tests.extract.helpers import Extract, data_keys, rows_of, watermark_keys
from tests.fixtures.aws import Aws
from tests.sql import run_sql


def _source_counts(credentials: DatabaseCredentials) -> dict[str, int]:
    conn = credentials.connect()
    try:
        return {t.name: conn.run(f"SELECT count(*) FROM {t.sql_name}")[0][0] for t in TABLES}
    finally:
        conn.close()


def test_first_run_extracts_every_row_of_every_table(seeded_source_db, aws: Aws, extract: Extract):
    expected = _source_counts(seeded_source_db)

    result = extract(seeded_source_db, "run-1")

    started = datetime.fromisoformat(result.manifest.started_at)
    assert result.manifest.extracted == expected
    assert all(expected.values())
    for table in TABLES:
        rows = rows_of(aws, result, table.name)
        assert len(rows) == expected[table.name]
        assert len({row[table.key] for row in rows}) == expected[table.name]
        assert result.manifest.tables[table.name].low is None
        assert result.manifest.tables[table.name].keys == (ingestion_data_key(table.name, "run-1", started),)
    assert result.payload() == {"run_id": "run-1", "manifest_key": "runs/run-1/extract.json",
                                "has_changes": True, "extracted": expected}


def test_second_run_without_changes_writes_no_data_file(seeded_source_db, aws: Aws, extract: Extract):
    first = extract(seeded_source_db, "run-1")
    files_after_first = data_keys(aws)

    second = extract(seeded_source_db, "run-2")

    assert second.payload() == {"run_id": "run-2", "manifest_key": "runs/run-2/extract.json",
                                "has_changes": False, "extracted": dict.fromkeys(TABLE_NAMES, 0)}
    assert data_keys(aws) == files_after_first
    for name, table in second.manifest.tables.items():
        assert table.low == first.manifest.tables[name].high
        assert table.keys == ()


def test_updated_row_is_extracted_again_as_a_new_version(seeded_source_db, aws: Aws, extract: Extract):
    first = extract(seeded_source_db, "run-1")
    before = next(r for r in rows_of(aws, first, "sales_order") if r["sales_order_id"] == 5)
    run_sql(seeded_source_db, "UPDATE sales_order SET units_sold = units_sold + 1, "
                               "last_updated = now() AT TIME ZONE 'UTC' WHERE sales_order_id = 5")

    second = extract(seeded_source_db, "run-2")

    (after,) = rows_of(aws, second, "sales_order")
    assert after["sales_order_id"] == 5
    assert after["units_sold"] == before["units_sold"] + 1
    assert after["created_at"] == before["created_at"]
    assert after["last_updated"] > before["last_updated"]
    assert second.manifest.extracted == {**dict.fromkeys(TABLE_NAMES, 0), "sales_order": 1}


def test_new_row_appears_in_the_next_run(seeded_source_db, aws: Aws, extract: Extract):
    first = extract(seeded_source_db, "run-1")
    run_sql(seeded_source_db, "INSERT INTO currency (currency_code) VALUES ('CHF')")

    second = extract(seeded_source_db, "run-2")

    (new,) = rows_of(aws, second, "currency")
    assert new["currency_code"] == "CHF"
    assert new["currency_id"] == first.manifest.extracted["currency"] + 1
    assert second.manifest.extracted == {**dict.fromkeys(TABLE_NAMES, 0), "currency": 1}


def test_late_commit_is_extracted_by_the_following_run(seeded_source_db, aws: Aws, extract: Extract):
    extract(seeded_source_db, "run-1")
    writer = seeded_source_db.connect()
    try:
        writer.run("BEGIN")
        writer.run("UPDATE staff SET email_address = 'late@terrifictotes.com', "
                   "last_updated = now() AT TIME ZONE 'UTC' WHERE staff_id = 3")
        ((stamp,),) = writer.run("SELECT to_char(last_updated, 'YYYY-MM-DD\"T\"HH24:MI:SS.MS') "
                                 "FROM staff WHERE staff_id = 3")
        time.sleep(0.05)  # the run starts well after the row was stamped

        during = extract(seeded_source_db, "run-2")
        writer.run("COMMIT")
    finally:
        writer.close()
    after = extract(seeded_source_db, "run-3")

    assert during.manifest.tables["staff"].rows == 0
    assert during.manifest.tables["staff"].high < stamp  # held below the open transaction
    assert [(r["staff_id"], r["email_address"], r["last_updated"]) for r in rows_of(aws, after, "staff")] == [
        (3, "late@terrifictotes.com", stamp)]


def test_rerun_of_a_completed_run_returns_its_manifest_without_reading_the_source(
        seeded_source_db, aws: Aws, extract: Extract):
    first = extract(seeded_source_db, "run-1")
    run_sql(seeded_source_db, "UPDATE design SET design_name = 'Changed', "
                               "last_updated = now() AT TIME ZONE 'UTC' WHERE design_id = 1")
    objects = aws.keys(aws.ingestion_bucket)
    unreachable = DatabaseCredentials(host="127.0.0.1", port=1, username="nobody", password="x", dbname="none")

    again = extract(unreachable, "run-1")

    assert again.already_extracted
    assert again.manifest == first.manifest
    assert again.payload() == first.payload()
    assert aws.keys(aws.ingestion_bucket) == objects


def test_crash_after_the_files_before_the_watermark_loses_nothing_when_rerun(
        seeded_source_db, aws: Aws, extract: Extract, monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError("injected crash")

    monkeypatch.setattr("lambdas.extract.run.advance_watermarks", crash)
    with pytest.raises(RuntimeError, match="injected crash"):
        extract(seeded_source_db, "run-1")
    assert watermark_keys(aws) == []
    files = data_keys(aws)
    manifest = aws.read(aws.ingestion_bucket, extract_manifest_key("run-1"))
    monkeypatch.undo()

    retried = extract(seeded_source_db, "run-1")  # Step Functions retries with the same run id
    nxt = extract(seeded_source_db, "run-2")

    assert retried.already_extracted
    assert aws.read(aws.ingestion_bucket, extract_manifest_key("run-1")) == manifest
    assert retried.manifest.extracted == _source_counts(seeded_source_db)
    assert len(watermark_keys(aws)) == 2
    assert data_keys(aws) == files  # the next run starts where run-1 ended: nothing twice
    assert not nxt.manifest.has_changes


def test_crash_after_the_files_then_a_new_run_extracts_the_same_rows_again(
        seeded_source_db, aws: Aws, extract: Extract, monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError("injected crash")

    monkeypatch.setattr("lambdas.extract.run.advance_watermarks", crash)
    with pytest.raises(RuntimeError, match="injected crash"):
        extract(seeded_source_db, "run-1")
    monkeypatch.undo()

    fresh = extract(seeded_source_db, "run-2")  # a new execution, the crashed one abandoned

    assert fresh.manifest.extracted == _source_counts(seeded_source_db)
    assert all(t.low is None for t in fresh.manifest.tables.values())


def test_crash_while_writing_files_moves_nothing_and_the_retry_never_overwrites(
        seeded_source_db, aws: Aws, extract: Extract, monkeypatch):
    def copy_then_lose_the_connection(conn, table, window, sink):
        copy_window(conn, table, window, sink)
        if table.name == "staff":
            raise ConnectionResetError("injected crash")

    monkeypatch.setattr("lambdas.extract.run.copy_window", copy_then_lose_the_connection)
    with pytest.raises(SourceUnavailable, match="injected crash"):
        extract(seeded_source_db, "run-1")
    leftovers = {k: aws.s3.head_object(Bucket=aws.ingestion_bucket, Key=k)["ETag"] for k in data_keys(aws)}
    assert aws.keys(aws.ingestion_bucket, "runs/") == []
    assert watermark_keys(aws) == []
    monkeypatch.undo()

    retried = extract(seeded_source_db, "run-1")

    assert retried.manifest.extracted == _source_counts(seeded_source_db)
    for key, etag in leftovers.items():
        assert aws.s3.head_object(Bucket=aws.ingestion_bucket, Key=key)["ETag"] == etag
        assert key not in {k for t in retried.manifest.tables.values() for k in t.keys}
    assert retried.manifest.tables["address"].keys[0].endswith("/run-1.1.jsonl")


def test_a_run_that_failed_downstream_is_extracted_again_with_what_changed_since(
        seeded_source_db, aws: Aws, extract: Extract):
    first = extract(seeded_source_db, "run-1")
    run_sql(seeded_source_db, "UPDATE staff SET last_name = 'Late', last_updated = now() AT TIME ZONE 'UTC'"
                               " WHERE staff_id = 3")
    failed = extract(seeded_source_db, "run-2", commit=False)  # its transform or load failed: never committed
    run_sql(seeded_source_db, "UPDATE design SET design_name = 'Later', last_updated = now() AT TIME ZONE 'UTC'"
                               " WHERE design_id = 4")

    retry = extract(seeded_source_db, "run-3")

    assert failed.manifest.extracted["staff"] == 1
    assert retry.manifest.tables["staff"].low == first.manifest.tables["staff"].high
    assert [r["last_name"] for r in rows_of(aws, retry, "staff")] == ["Late"]
    assert [r["design_name"] for r in rows_of(aws, retry, "design")] == ["Later"]
