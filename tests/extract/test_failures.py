"""Failures are typed for the state machine, and a failed run leaves nothing complete and no watermark moved."""

from __future__ import annotations

import pytest

from lambdas.shared.database import DatabaseCredentials
from lambdas.shared.errors import SourceSchemaChanged, SourceUnavailable
from local.postgres import free_port
from tests.extract.helpers import Extract, bucket_state
from tests.fixtures.aws import Aws
from tests.sql import run_sql


def test_unreachable_source_is_source_unavailable_and_moves_nothing(seeded_source_db, aws: Aws, extract: Extract):
    extract(seeded_source_db, "run-1")
    before = bucket_state(aws)
    closed_port = DatabaseCredentials(host="127.0.0.1", port=free_port(), username="onyx_reader",
                                      password="never-shown-9f1c", dbname="totesys")

    with pytest.raises(SourceUnavailable, match=r"127\.0\.0\.1:\d+/totesys") as failure:
        extract(closed_port, "run-2")

    assert "never-shown-9f1c" not in str(failure.value)
    assert bucket_state(aws) == before


def test_statement_timeout_while_reading_is_source_unavailable(seeded_source_db, aws: Aws, extract: Extract):
    extract(seeded_source_db, "run-1")
    before = bucket_state(aws)
    run_sql(seeded_source_db, f"ALTER DATABASE {seeded_source_db.dbname} SET statement_timeout = '300ms'")
    locker = seeded_source_db.connect()
    try:
        locker.run("BEGIN")
        locker.run("LOCK TABLE staff IN ACCESS EXCLUSIVE MODE")  # our read of staff waits, then times out

        with pytest.raises(SourceUnavailable, match="57014"):
            extract(seeded_source_db, "run-2")
    finally:
        locker.close()

    assert bucket_state(aws) == before


def test_added_column_is_source_schema_changed_naming_table_and_column(seeded_source_db, aws: Aws,
                                                                      extract: Extract):
    extract(seeded_source_db, "run-1")
    before = bucket_state(aws)
    run_sql(seeded_source_db, "ALTER TABLE staff ADD COLUMN nickname varchar")

    with pytest.raises(SourceSchemaChanged, match=r"staff: unknown columns nickname") as failure:
        extract(seeded_source_db, "run-2")

    assert "address" not in str(failure.value)
    assert bucket_state(aws) == before


def test_first_run_on_a_changed_schema_writes_nothing(seeded_source_db, aws: Aws, extract: Extract):
    run_sql(seeded_source_db, "ALTER TABLE payment DROP COLUMN company_ac_number",
             "ALTER TABLE sales_order ALTER COLUMN unit_price TYPE double precision")

    with pytest.raises(SourceSchemaChanged) as failure:
        extract(seeded_source_db, "run-1")

    assert "payment: missing columns company_ac_number" in str(failure.value)
    assert "sales_order: column unit_price is double precision, expected money" in str(failure.value)
    assert bucket_state(aws) == {}


def test_missing_table_is_source_schema_changed(seeded_source_db, aws: Aws, extract: Extract):
    run_sql(seeded_source_db, "DROP TABLE payment")

    with pytest.raises(SourceSchemaChanged, match="payment: table is missing"):
        extract(seeded_source_db, "run-1")

    assert bucket_state(aws) == {}
