"""run_load against a real PostgreSQL warehouse, with runs written as Parquet into moto S3."""

from __future__ import annotations

import threading
from datetime import date
from decimal import Decimal
from typing import Any

import pg8000.native
import pytest

from lambdas.load import merge, runner
from lambdas.load.migrate import apply_migrations
from lambdas.load.runner import load_warehouse, run_load
from lambdas.shared.database import DatabaseCredentials
from lambdas.shared.errors import InvalidData, WarehouseUnavailable
from lambdas.shared.star_schema import STAR_TABLES
from local.postgres import free_port
from tests.fixtures.aws import Aws
from tests.load.builders import (
    CREATED,
    FULL_RUN_DAYS,
    as_time,
    at,
    counterparty,
    date_row,
    dates_of,
    full_run,
    location,
    sales_order,
    staff,
    write_run,
)
from tests.load.conftest import contents, rows

ONE_EACH = {t.name: 1 for t in STAR_TABLES}


def load(conn: pg8000.native.Connection, aws: Aws, manifest_key: str, schema: str = "public") -> dict[str, Any]:
    return dict(run_load(conn, aws.s3, aws.processed_bucket, schema, manifest_key))


def test_a_run_loads_every_table_and_reports_rows_per_table(aws, warehouse):
    tables = full_run()
    key = write_run(aws, "run-1", tables)

    result = load(warehouse, aws, key)

    assert result == {"run_id": "run-1", "already_loaded": False,
                      "loaded": {**ONE_EACH, "dim_date": len(FULL_RUN_DAYS)}}
    assert rows(warehouse, "dim_staff") == [[1, "Jeremie", "Franey", "Purchasing", "Manchester",
                                             "staff1@terrifictotes.com"]]
    assert rows(warehouse, "fact_sales_order") == [[
        1, 1, date(2022, 11, 3), as_time("14:20:52.186"), date(2022, 11, 3), as_time("14:20:52.186"), 1, 1, 100,
        Decimal("2.49"), 1, 1, date(2022, 11, 7), date(2022, 11, 10), 1]]
    # The three dates the facts refer to, and the days between them (a continuous calendar).
    assert len(tables["dim_date"]) == 3
    assert rows(warehouse, "dim_date", columns="date_id") == [[day] for day in FULL_RUN_DAYS]


def test_loading_the_same_run_twice_returns_the_recorded_counts_and_adds_nothing(aws, warehouse):
    key = write_run(aws, "run-1", full_run())
    first = load(warehouse, aws, key)
    before = contents(warehouse)

    second = load(warehouse, aws, key)

    assert second == {**first, "already_loaded": True}
    assert contents(warehouse) == before


def test_two_runs_carrying_the_same_versions_keep_one_row_per_version_and_per_key(aws, warehouse):
    load(warehouse, aws, write_run(aws, "run-1", full_run()))

    result = load(warehouse, aws, write_run(aws, "run-2", full_run()))

    assert result["loaded"] == {t.name: 0 for t in STAR_TABLES}
    for table in STAR_TABLES:
        count = warehouse.run(f"SELECT count(*) FROM {table.name}")[0][0]
        assert count == (len(FULL_RUN_DAYS) if table.name == "dim_date" else 1), table.name
    assert rows(warehouse, "onyx_run", columns="run_id") == [["run-1"], ["run-2"]]


def test_a_changed_dimension_value_updates_its_row(aws, warehouse):
    load(warehouse, aws, write_run(aws, "run-1", full_run()))

    result = load(warehouse, aws, write_run(aws, "run-2", {"dim_location": [location(city="Leeds")]}))

    assert result["loaded"]["dim_location"] == 1
    assert rows(warehouse, "dim_location", columns="location_id, city") == [[1, "Leeds"]]
    recorded = warehouse.run("SELECT rows -> 'dim_location' FROM onyx_run WHERE run_id = 'run-2'")
    assert recorded == [[{"inserted": 0, "updated": 1}]]


def test_an_unchanged_dimension_row_is_not_rewritten(aws, warehouse):
    load(warehouse, aws, write_run(aws, "run-1", {"dim_staff": [staff(1), staff(2)]}))
    xmin_before = warehouse.run("SELECT staff_id, xmin::text FROM dim_staff ORDER BY 1")

    result = load(warehouse, aws, write_run(aws, "run-2", {"dim_staff": [staff(1), staff(2, last_name="Ng")]}))

    xmin_after = warehouse.run("SELECT staff_id, xmin::text FROM dim_staff ORDER BY 1")
    assert result["loaded"]["dim_staff"] == 1
    assert xmin_after[0] == xmin_before[0]
    assert xmin_after[1] != xmin_before[1]


def test_a_null_becoming_a_value_counts_as_a_change(aws, warehouse):
    load(warehouse, aws, write_run(aws, "run-1", {"dim_counterparty": [counterparty()]}))

    result = load(warehouse, aws, write_run(aws, "run-2", {
        "dim_counterparty": [counterparty(counterparty_legal_district="Avon")]}))

    assert result["loaded"]["dim_counterparty"] == 1
    assert rows(warehouse, "dim_counterparty", columns="counterparty_legal_district") == [["Avon"]]


def test_an_order_updated_twice_across_three_runs_has_three_fact_rows_and_the_current_view_shows_the_last(
        aws, warehouse):
    versions = [sales_order(units_sold=100), sales_order(updated=at("2022-11-04 09:00:00.500"), units_sold=150),
                sales_order(updated=at("2022-11-05 17:45:01.001"), units_sold=175, unit_price=Decimal("2.99"))]
    for number, version in enumerate(versions, start=1):
        load(warehouse, aws, write_run(aws, f"run-{number}", full_run(fact_sales_order=[version])))

    assert rows(warehouse, "fact_sales_order", columns="sales_record_id, units_sold") == [[1, 100], [2, 150], [3, 175]]
    assert rows(warehouse, "sales_order_current", columns="sales_order_id, sales_record_id, units_sold, unit_price, "
                "last_updated_date, last_updated_time") == [
        [1, 3, 175, Decimal("2.99"), date(2022, 11, 5), as_time("17:45:01.001")]]


def test_an_older_version_loaded_late_does_not_become_current(aws, warehouse):
    newer = sales_order(updated=at("2022-11-05 17:45:01.001"), units_sold=175)
    load(warehouse, aws, write_run(aws, "run-1", full_run(fact_sales_order=[newer])))

    load(warehouse, aws, write_run(aws, "run-2", full_run(fact_sales_order=[sales_order(units_sold=100)])))

    assert rows(warehouse, "fact_sales_order", columns="sales_record_id, units_sold") == [[1, 175], [2, 100]]
    assert rows(warehouse, "sales_order_current", columns="units_sold") == [[175]]


def test_the_wide_view_joins_the_current_order_to_its_dimensions(aws, warehouse):
    load(warehouse, aws, write_run(aws, "run-1", full_run()))

    wide = warehouse.run("SELECT sales_order_id, sales_staff_last_name, counterparty_legal_name, currency_code, "
                         "design_name, delivery_city, created_day_name, total_value FROM sales_order_wide")

    assert wide == [[1, "Franey", "Fahey and Sons", "GBP", "Wooden", "New Patienceburgh", "Thursday",
                     Decimal("249.00")]]
    assert warehouse.run("SELECT payment_type_name, transaction_type, payment_month_name FROM payment_wide") == [
        ["SALES_RECEIPT", "SALE", "November"]]
    assert warehouse.run("SELECT item_code, total_value FROM purchase_order_wide") == [
        ["ZDOI5EA", Decimal("134075.69")]]


def test_a_failure_after_the_dimensions_leaves_the_warehouse_as_it_was_and_the_run_loads_later(
        aws, warehouse, monkeypatch):
    load(warehouse, aws, write_run(aws, "run-1", full_run()))
    before = contents(warehouse)
    changed = full_run(dim_staff=[staff(last_name="Changed"), staff(2)],
                       fact_sales_order=[sales_order(updated=at("2022-11-04 09:00:00.500"))])
    key = write_run(aws, "run-2", changed)

    def fail(*_: object) -> None:
        raise RuntimeError("injected between dimensions and facts")

    monkeypatch.setattr(runner, "merge_fact", fail)
    with pytest.raises(RuntimeError, match="injected"):
        load(warehouse, aws, key)
    assert contents(warehouse) == before

    monkeypatch.undo()
    result = load(warehouse, aws, key)
    assert result["loaded"]["dim_staff"] == 2
    assert result["loaded"]["fact_sales_order"] == 1
    assert rows(warehouse, "dim_staff", columns="staff_id, last_name") == [[1, "Changed"], [2, "Franey"]]


def test_a_fact_referring_to_a_missing_dimension_row_fails_naming_table_key_and_reason(aws, warehouse):
    load(warehouse, aws, write_run(aws, "run-1", full_run()))
    before = contents(warehouse)
    orphan = sales_order(2, sales_staff_id=99)
    key = write_run(aws, "run-2", {"fact_sales_order": [orphan], "dim_date": dates_of(orphan),
                                   "dim_location": [location(city="Leeds")]})

    with pytest.raises(InvalidData) as failure:
        load(warehouse, aws, key)

    assert failure.value.table == "fact_sales_order"
    assert failure.value.key == "sales_order_id=2, last_updated_date=2022-11-03, last_updated_time=14:20:52.186"
    assert failure.value.rule == "sales_staff_id=99 is not present in dim_staff"
    assert contents(warehouse) == before


def test_a_fact_date_missing_from_dim_date_fails_naming_the_date(aws, warehouse):
    order = sales_order()
    key = write_run(aws, "run-1", full_run(dim_date=[date_row(CREATED.date())], fact_sales_order=[order]))

    with pytest.raises(InvalidData) as failure:
        load(warehouse, aws, key)

    assert failure.value.table == "fact_sales_order"
    assert failure.value.rule == "agreed_payment_date=2022-11-07 is not present in dim_date"


def test_a_manifest_whose_counts_disagree_with_its_files_is_refused(aws, warehouse):
    key = write_run(aws, "run-1", full_run())
    manifest = aws.read(aws.processed_bucket, key).replace(b'"dim_staff": {"rows": 1', b'"dim_staff": {"rows": 2')
    aws.s3.put_object(Bucket=aws.processed_bucket, Key=key, Body=manifest)

    with pytest.raises(InvalidData, match="manifest counts 2 rows, its files hold 1") as failure:
        load(warehouse, aws, key)

    assert failure.value.table == "dim_staff"
    assert rows(warehouse, "onyx_run") == []


def test_a_manifest_of_another_run_is_refused(aws, warehouse):
    key = write_run(aws, "run-1", full_run())

    with pytest.raises(InvalidData, match="belongs to run run-1, not run-2"):
        run_load(warehouse, aws.s3, aws.processed_bucket, "public", key, run_id="run-2")


def test_a_run_with_no_rows_is_recorded_with_zero_counts(aws, warehouse):
    result = load(warehouse, aws, write_run(aws, "run-empty", {}))

    assert result == {"run_id": "run-empty", "already_loaded": False, "loaded": {t.name: 0 for t in STAR_TABLES}}
    assert rows(warehouse, "onyx_run", columns="run_id, started_at::text") == [
        ["run-empty", "2026-11-25 22:30:00.123+00"]]


def test_a_table_split_over_several_files_loads_all_of_them(aws, warehouse):
    orders = [sales_order(n) for n in range(1, 8)]

    result = load(warehouse, aws, write_run(aws, "run-1", full_run(fact_sales_order=orders), files_per_table=3))

    assert result["loaded"]["fact_sales_order"] == 7
    assert rows(warehouse, "fact_sales_order", columns="sales_record_id, sales_order_id") == [
        [n, n] for n in range(1, 8)]


def test_new_versions_get_record_ids_in_version_order(aws, warehouse):
    orders = [sales_order(1, updated=at("2022-11-05 10:00:00.000")), sales_order(2),
              sales_order(3, updated=at("2022-11-04 10:00:00.000"))]

    load(warehouse, aws, write_run(aws, "run-1", full_run(fact_sales_order=orders)))

    assert rows(warehouse, "fact_sales_order", columns="sales_record_id, sales_order_id") == [[1, 2], [2, 3], [3, 1]]


def test_a_run_loads_into_a_non_public_schema(aws, empty_db):
    conn = empty_db.connect()
    try:
        apply_migrations(conn, "analytics")
        result = load(conn, aws, write_run(aws, "run-1", full_run()), schema="analytics")
        assert result["loaded"]["fact_payment"] == 1
        assert rows(conn, "fact_payment", schema="analytics", columns="payment_id") == [[1]]
    finally:
        conn.close()


def test_two_loads_of_the_same_run_at_once_load_it_once(aws, warehouse, empty_db):
    key = write_run(aws, "run-1", full_run())
    results: list[dict[str, Any]] = []

    def load_in_thread() -> None:
        conn = empty_db.connect()
        try:
            results.append(load(conn, aws, key))
        finally:
            conn.close()

    threads = [threading.Thread(target=load_in_thread) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(r["already_loaded"] for r in results) == [False, True]
    assert results[0]["loaded"] == results[1]["loaded"]
    assert warehouse.run("SELECT count(*) FROM fact_sales_order") == [[1]]


def test_an_unreachable_warehouse_is_warehouse_unavailable(aws, empty_db):
    nowhere = DatabaseCredentials(host="127.0.0.1", port=free_port(), username="onyx", password="secret-pw",
                                  dbname="warehouse")

    with pytest.raises(WarehouseUnavailable) as failure:
        load_warehouse(nowhere, aws.s3, aws.processed_bucket, "public", write_run(aws, "run-1", full_run()))

    assert "secret-pw" not in str(failure.value)


def test_a_connection_terminated_by_the_server_is_warehouse_unavailable(aws, warehouse, pg_server):
    key = write_run(aws, "run-1", full_run())
    pid = warehouse.run("SELECT pg_backend_pid()")[0][0]
    admin = pg_server.connect()
    try:
        admin.run("SELECT pg_terminate_backend(:pid)", pid=pid)
    finally:
        admin.close()

    with pytest.raises(WarehouseUnavailable):
        load(warehouse, aws, key)


@pytest.fixture
def bulk_from_one_row(monkeypatch):
    """Make every fact load take the bulk path (foreign keys re-added instead of checked row by row)."""
    monkeypatch.setattr(merge, "BULK_ROWS", 1)


def foreign_keys(conn: pg8000.native.Connection) -> list[list[Any]]:
    return list(conn.run("SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
                         "WHERE contype = 'f' ORDER BY 1, 2"))


def test_a_bulk_load_keeps_every_foreign_key_as_it_was(aws, warehouse, bulk_from_one_row):
    constraints = foreign_keys(warehouse)

    result = load(warehouse, aws, write_run(aws, "run-1", full_run(fact_sales_order=[sales_order(n)
                                                                                      for n in range(1, 5)])))

    assert result["loaded"]["fact_sales_order"] == 4
    assert foreign_keys(warehouse) == constraints
    assert len(constraints) == sum(len(t.references) for t in STAR_TABLES)


def test_a_bulk_load_referring_to_a_missing_dimension_row_fails_naming_table_key_and_reason(
        aws, warehouse, bulk_from_one_row):
    constraints = foreign_keys(warehouse)
    orders = [sales_order(1), sales_order(2, counterparty_id=42)]

    with pytest.raises(InvalidData) as failure:
        load(warehouse, aws, write_run(aws, "run-1", full_run(fact_sales_order=orders)))

    assert failure.value.table == "fact_sales_order"
    assert failure.value.key == "sales_order_id=2, last_updated_date=2022-11-03, last_updated_time=14:20:52.186"
    assert failure.value.rule == "counterparty_id=42 is not present in dim_counterparty"
    assert foreign_keys(warehouse) == constraints
    assert rows(warehouse, "fact_sales_order") == []


def test_a_run_older_than_one_already_loaded_adds_its_rows_but_never_reverts_a_dimension(aws, warehouse):
    old = write_run(aws, "run-old", {"dim_location": [location(city="Old City"), location(2, city="Only Old")]},
                    started_at="2026-11-25T10:00:00.000Z")
    load(warehouse, aws, write_run(aws, "run-new", {"dim_location": [location(city="New City")]},
                                   started_at="2026-11-25T11:00:00.000Z"))

    result = load(warehouse, aws, old)  # e.g. an old failed execution redriven after a newer run loaded

    assert result["loaded"]["dim_location"] == 1
    assert rows(warehouse, "dim_location", columns="location_id, city") == [[1, "New City"], [2, "Only Old"]]
