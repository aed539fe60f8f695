"""Parquet -> COPY -> staging table: values arrive exactly, bad files are refused naming table and row."""

from __future__ import annotations

import io
from typing import Any

import pg8000.native
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lambdas.load.staging import stage_table, staging_table
from lambdas.shared.errors import InvalidData
from lambdas.shared.star_schema import DIM_DATE, DIM_LOCATION, DIM_STAFF, DIM_TRANSACTION, FACT_PAYMENT, StarTable
from tests.fixtures.aws import Aws
from tests.load.builders import date_row, location, parquet_bytes, payment, staff, transaction

AWKWARD_TEXT = ["", " ", 'say "hi"', "a,b", "two\nlines", "crlf\r\nend", "\\.", "back\\slash", "tab\there",
                "\\N", "NULL", "Zoë Ørsted 東京 🙂", "'single'", '"']


def put(aws: Aws, key: str, body: bytes) -> str:
    aws.s3.put_object(Bucket=aws.processed_bucket, Key=key, Body=body)
    return key


def staged(conn: pg8000.native.Connection, table: StarTable, columns: str = "*") -> list[list[Any]]:
    return list(conn.run(f"SELECT {columns} FROM {staging_table(table)} ORDER BY 1"))


def test_null_empty_string_quotes_and_newlines_survive_the_copy(aws, warehouse):
    rows = [location(n, address_line_2=text, district=None if n % 2 else text)
            for n, text in enumerate(AWKWARD_TEXT, start=1)]
    rows.append(location(99, address_line_2=None, district=""))
    key = put(aws, "dim_location/run.parquet", parquet_bytes(DIM_LOCATION, rows))

    warehouse.run("BEGIN")
    count = stage_table(warehouse, aws.s3, aws.processed_bucket, DIM_LOCATION, [key])

    assert count == len(rows)
    assert staged(warehouse, DIM_LOCATION, "location_id, address_line_2, district") == [
        [r["location_id"], r["address_line_2"], r["district"]] for r in rows]
    warehouse.run("ROLLBACK")


def test_every_column_type_arrives_unchanged(aws, warehouse):
    from datetime import time
    from decimal import Decimal

    rows = [payment(1), payment(2, payment_amount=Decimal("-0.01"), paid=False, created_time=time(0, 0)),
            payment(3, payment_amount=Decimal("99999999.99"), created_time=time(23, 59, 59, 999000))]
    key = put(aws, "fact_payment/run.parquet", parquet_bytes(FACT_PAYMENT, rows))

    warehouse.run("BEGIN")
    stage_table(warehouse, aws.s3, aws.processed_bucket, FACT_PAYMENT, [key])

    assert staged(warehouse, FACT_PAYMENT) == [list(r.values()) for r in rows]
    warehouse.run("ROLLBACK")


def test_a_file_is_streamed_in_batches(aws, warehouse):
    rows = [staff(n) for n in range(1, 11)]
    key = put(aws, "dim_staff/run.parquet", parquet_bytes(DIM_STAFF, rows))

    warehouse.run("BEGIN")
    count = stage_table(warehouse, aws.s3, aws.processed_bucket, DIM_STAFF, [key], batch_rows=3)

    assert count == 10
    assert staged(warehouse, DIM_STAFF, "staff_id") == [[n] for n in range(1, 11)]
    warehouse.run("ROLLBACK")


def test_a_file_with_another_schema_is_refused_naming_the_file(aws, warehouse):
    table = pa.table({"staff_id": pa.array([1], pa.int64()), "first_name": ["Ann"]})
    sink = io.BytesIO()
    pq.write_table(table, sink)
    key = put(aws, "dim_staff/run.parquet", sink.getvalue())

    warehouse.run("BEGIN")
    with pytest.raises(InvalidData) as failure:
        stage_table(warehouse, aws.s3, aws.processed_bucket, DIM_STAFF, [key])
    warehouse.run("ROLLBACK")

    assert (failure.value.table, failure.value.key) == ("dim_staff", key)
    assert failure.value.rule == (
        "Parquet schema differs from the star schema: staff_id is int64 null, not int32 not null; "
        "first_name is string null, not string not null; "
        "missing last_name, department_name, location, email_address")


def test_a_key_twice_in_a_run_is_refused_naming_the_key(aws, warehouse):
    key = put(aws, "dim_staff/run.parquet", parquet_bytes(DIM_STAFF, [staff(1), staff(2), staff(2, last_name="X")]))

    warehouse.run("BEGIN")
    with pytest.raises(InvalidData) as failure:
        stage_table(warehouse, aws.s3, aws.processed_bucket, DIM_STAFF, [key])
    warehouse.run("ROLLBACK")

    assert (failure.value.table, failure.value.key, failure.value.rule) == ("dim_staff", "staff_id=2",
                                                                            "is duplicated")


def test_a_value_postgresql_cannot_store_is_refused_naming_the_row(aws, warehouse):
    rows = [staff(1), staff(2), staff(3, last_name="nul\x00byte")]
    key = put(aws, "dim_staff/run.parquet", parquet_bytes(DIM_STAFF, rows))

    warehouse.run("BEGIN")
    with pytest.raises(InvalidData) as failure:
        stage_table(warehouse, aws.s3, aws.processed_bucket, DIM_STAFF, [key])
    warehouse.run("ROLLBACK")

    assert (failure.value.table, failure.value.key) == ("dim_staff", "staff_id=3")
    assert "0x00" in failure.value.rule


def test_edge_values_of_every_type_survive_the_binary_copy(aws, warehouse):
    from datetime import date, time
    from decimal import Decimal

    amounts = ["0.00", "0.05", "0.50", "1.00", "-0.01", "10000.00", "9999.99", "-12345678.90", "99999999.99",
               "-99999999.99", "20000000.00", "123.40"]
    days = [date(1970, 1, 1), date(1999, 12, 31), date(2000, 1, 1), date(1900, 2, 28), date(2099, 12, 31)]
    times = [time(0, 0), time(0, 0, 0, 1000), time(12, 0), time(23, 59, 59, 999000)]
    rows = [payment(n, payment_amount=Decimal(amount), paid=n % 2 == 0, payment_date=days[n % len(days)],
                    created_date=days[(n + 1) % len(days)], created_time=times[n % len(times)])
            for n, amount in enumerate(amounts, start=1)]
    key = put(aws, "fact_payment/run.parquet", parquet_bytes(FACT_PAYMENT, rows))
    transactions = [transaction(1), transaction(2, sales_order_id=None, purchase_order_id=2147483647),
                    transaction(-2147483648, sales_order_id=None, purchase_order_id=None, transaction_type="")]
    transaction_key = put(aws, "dim_transaction/run.parquet", parquet_bytes(DIM_TRANSACTION, transactions))
    dates = [date_row(d) for d in days]
    date_key = put(aws, "dim_date/run.parquet", parquet_bytes(DIM_DATE, dates))

    warehouse.run("BEGIN")
    stage_table(warehouse, aws.s3, aws.processed_bucket, FACT_PAYMENT, [key])
    stage_table(warehouse, aws.s3, aws.processed_bucket, DIM_TRANSACTION, [transaction_key])
    stage_table(warehouse, aws.s3, aws.processed_bucket, DIM_DATE, [date_key])

    assert staged(warehouse, FACT_PAYMENT) == [list(r.values()) for r in rows]
    assert staged(warehouse, FACT_PAYMENT, "payment_id, payment_amount::text") == [  # the scale is kept too
        [n, a] for n, a in enumerate(amounts, start=1)]
    assert staged(warehouse, DIM_TRANSACTION) == sorted(list(r.values()) for r in transactions)
    assert staged(warehouse, DIM_DATE) == sorted(list(r.values()) for r in dates)
    warehouse.run("ROLLBACK")
