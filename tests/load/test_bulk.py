"""The fast paths of a load: a first load into empty tables, and a bulk load that takes the fact table's
version index and foreign keys off while it inserts. They must leave exactly what the row-by-row paths
leave, and refuse bad data just as loudly."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pg8000.native
import pytest

from lambdas.load import merge
from lambdas.load.migrate import apply_migrations
from lambdas.load.runner import run_load
from lambdas.shared.errors import InvalidData
from lambdas.shared.star_schema import STAR_TABLES
from tests.fixtures.aws import Aws
from tests.load.builders import (
    at,
    counterparty,
    dates_of,
    days_from,
    full_run,
    location,
    payment,
    purchase_order,
    sales_order,
    staff,
    transaction,
    write_run,
)
from tests.load.conftest import contents, rows

CREATED_DATE = at("2022-11-03 00:00").date()
SLOW = "slow"  # a second warehouse schema in the same database, loaded without the fast paths


def load(conn: pg8000.native.Connection, aws: Aws, manifest_key: str, schema: str = "public") -> dict[str, Any]:
    return dict(run_load(conn, aws.s3, aws.processed_bucket, schema, manifest_key))


@pytest.fixture
def bulk_from_one_row(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every fact load of one new version or more drops and re-adds the version index and foreign keys."""
    monkeypatch.setattr(merge, "BULK_ROWS", 1)


def load_slowly(conn: pg8000.native.Connection, aws: Aws, manifest_key: str,
                monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Load into SLOW as before the fast paths: upserts and anti-joins with every constraint in place."""
    with monkeypatch.context() as patch:
        patch.setattr(merge, "is_empty", lambda *_: False)
        patch.setattr(merge, "BULK_ROWS", 10**9)
        return load(conn, aws, manifest_key, SLOW)


def star_tables(conn: pg8000.native.Connection, schema: str) -> dict[str, list[list[Any]]]:
    return {t.name: rows(conn, t.name, schema) for t in STAR_TABLES}


def constraints_and_indexes(conn: pg8000.native.Connection) -> list[list[Any]]:
    return list(conn.run(
        "SELECT conrelid::regclass::text, conname, contype, convalidated, pg_get_constraintdef(oid) "
        "FROM pg_constraint WHERE connamespace = 'public'::regnamespace "
        "UNION ALL SELECT tablename, indexname, 'i', true, indexdef FROM pg_indexes WHERE schemaname = 'public' "
        "ORDER BY 1, 2, 3"))


def history() -> tuple[dict[str, list[dict[str, Any]]], dict[str, list[dict[str, Any]]]]:
    """Two runs: a first one with several versions out of time order, NULLs and awkward values; then one
    with changed dimensions, new versions and versions the first one had already."""
    orders = [sales_order(3, updated=at("2022-11-05 10:00:00.000"), unit_price=Decimal("0.05")),
              sales_order(1), sales_order(2, updated=at("2022-11-04 10:00:00.001"), units_sold=7),
              sales_order(2, updated=at("2022-11-04 09:00:00.000"))]
    payments = [payment(1), payment(2, payment_amount=Decimal("-12345678.90"), paid=False),
                payment(3, updated=at("2022-11-03 14:20:52.187"), payment_amount=Decimal("0.00"))]
    first = full_run(
        fact_sales_order=orders, fact_payment=payments,
        fact_purchase_order=[purchase_order(1), purchase_order(2, item_code="")],
        dim_staff=[staff(1), staff(2, location=None)],
        dim_location=[location(1), location(2, address_line_2=None, district="")],
        dim_counterparty=[counterparty(1)],
        dim_transaction=[transaction(1), transaction(2, sales_order_id=None, purchase_order_id=2)])
    newer_orders = [sales_order(1), sales_order(1, updated=at("2022-11-06 08:00:00.000"), units_sold=1),
                    sales_order(4, updated=at("2022-11-01 00:00:00.000"))]
    second = full_run(
        fact_sales_order=newer_orders, fact_payment=[payment(2, payment_amount=Decimal("-12345678.90"),
                                                             paid=False)],
        fact_purchase_order=[],
        dim_staff=[staff(2, location="Leeds")], dim_location=[location(2, address_line_2=None, district="")],
        dim_counterparty=[counterparty(1), counterparty(2)], dim_transaction=[transaction(1)])
    return first, second


def test_fast_paths_leave_exactly_the_rows_and_counts_of_the_upsert_paths(aws, warehouse, monkeypatch,
                                                                          bulk_from_one_row):
    apply_migrations(warehouse, SLOW)
    first, second = history()
    for run_id, tables in (("run-1", first), ("run-2", second)):
        key = write_run(aws, run_id, tables)

        fast = load(warehouse, aws, key)
        slow = load_slowly(warehouse, aws, key, monkeypatch)

        assert fast["loaded"] == slow["loaded"]
        assert star_tables(warehouse, "public") == star_tables(warehouse, SLOW)
    assert rows(warehouse, "fact_sales_order", columns="sales_record_id, sales_order_id, units_sold") == [
        [1, 1, 100], [2, 2, 100], [3, 2, 7], [4, 3, 100], [5, 4, 100], [6, 1, 1]]


def test_a_bulk_load_into_empty_and_into_filled_tables_keeps_every_constraint_and_index(aws, warehouse,
                                                                                       bulk_from_one_row):
    before = constraints_and_indexes(warehouse)
    first, second = history()

    load(warehouse, aws, write_run(aws, "run-1", first))
    load(warehouse, aws, write_run(aws, "run-2", second))

    assert constraints_and_indexes(warehouse) == before
    assert [c for c in before if c[2] == "u"] == sorted(
        [t.name, f"{t.name}_version_key", "u", True, f"UNIQUE ({', '.join(t.key)})"]
        for t in STAR_TABLES if t.is_fact)


def test_a_bulk_load_into_a_filled_table_adds_only_the_versions_it_lacks(aws, warehouse, bulk_from_one_row):
    load(warehouse, aws, write_run(aws, "run-1", full_run(fact_sales_order=[sales_order(1), sales_order(2)])))

    result = load(warehouse, aws, write_run(aws, "run-2", full_run(
        fact_sales_order=[sales_order(2), sales_order(3), sales_order(1, updated=at("2022-11-04 09:00:00.000"))])))

    assert result["loaded"]["fact_sales_order"] == 2
    assert rows(warehouse, "fact_sales_order", columns="sales_record_id, sales_order_id, last_updated_date") == [
        [1, 1, CREATED_DATE], [2, 2, CREATED_DATE], [3, 3, CREATED_DATE], [4, 1, at("2022-11-04 00:00").date()]]


def test_a_run_whose_versions_are_all_loaded_writes_nothing_on_the_bulk_path(aws, warehouse, bulk_from_one_row):
    load(warehouse, aws, write_run(aws, "run-1", full_run()))
    before = star_tables(warehouse, "public")

    result = load(warehouse, aws, write_run(aws, "run-2", full_run()))

    assert result["loaded"] == {t.name: 0 for t in STAR_TABLES}
    assert star_tables(warehouse, "public") == before


def test_a_bulk_load_into_a_filled_table_referring_to_a_missing_row_fails_naming_it_and_changes_nothing(
        aws, warehouse, bulk_from_one_row):
    load(warehouse, aws, write_run(aws, "run-1", full_run()))
    before, schema = contents(warehouse), constraints_and_indexes(warehouse)
    orders = [sales_order(2), sales_order(3, design_id=77)]

    with pytest.raises(InvalidData) as failure:
        load(warehouse, aws, write_run(aws, "run-2", full_run(fact_sales_order=orders)))

    assert (failure.value.table, failure.value.key, failure.value.rule) == (
        "fact_sales_order", "sales_order_id=3, last_updated_date=2022-11-03, last_updated_time=14:20:52.186",
        "design_id=77 is not present in dim_design")
    assert contents(warehouse) == before
    assert constraints_and_indexes(warehouse) == schema


def test_a_first_load_fills_dim_date_with_every_day_from_the_facts_first_date_to_their_last(
        aws, warehouse, bulk_from_one_row):
    first, _ = history()

    load(warehouse, aws, write_run(aws, "run-1", first))

    facts = [row for name in ("fact_sales_order", "fact_purchase_order", "fact_payment") for row in first[name]]
    dates = [d["date_id"] for d in dates_of(*facts)]
    assert rows(warehouse, "dim_date", columns="date_id") == [[day] for day in days_from(dates[0], dates[-1])]
