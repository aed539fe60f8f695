"""Large tables are read in two lanes, two sessions sharing one exported snapshot: the run sees one
consistent database exactly as with one session, and a small source keeps one session."""

from __future__ import annotations

from typing import Any

import pytest

from lambdas.extract import run as extract_run
from lambdas.extract.run import plan_lanes
from lambdas.extract.window import Window
from lambdas.shared.totesys import TABLES
from tests.extract.helpers import Extract, rows_of
from tests.fixtures.aws import Aws
from tests.sql import run_sql

HIGH = "2026-11-25T10:00:00.000"
BIG = {"sales_order": 1_000_000, "purchase_order": 420_000, "transaction": 1_420_000, "payment": 1_420_000}
SMALL = [t.name for t in TABLES if t.name not in BIG]  # weigh next to nothing, in TABLES order


def windows(low: str | None) -> dict[str, Window]:
    return {t.name: Window.between(low, HIGH) for t in TABLES}


def names(plan: list[list[Any]]) -> list[list[str]]:
    return [[t.name for t in lane] for lane in plan]


def test_a_large_first_load_is_shared_between_two_lanes_largest_tables_first():
    plan = plan_lanes(windows(None), BIG | {"address": 30}, lanes=2, min_rows=100_000)

    # Each table in turn, largest first, to the lighter lane; lane 0 also reads what weighs nothing, first.
    assert names(plan) == [[*(t for t in SMALL if t != "address"), "transaction", "sales_order"],
                           ["payment", "purchase_order", "address"]]
    assert sorted(name for lane in names(plan) for name in lane) == sorted(t.name for t in TABLES)


def test_an_incremental_run_over_large_tables_uses_two_lanes_too_as_each_window_scans_its_table():
    plan = plan_lanes(windows("2026-11-25T09:30:00.000"), BIG, lanes=2, min_rows=100_000)

    assert names(plan)[1] == ["payment", "purchase_order"]


def test_a_table_with_an_empty_window_weighs_nothing():
    empty = windows(None) | {"transaction": Window.between(HIGH, HIGH), "payment": Window.between(HIGH, HIGH)}

    plan = plan_lanes(empty, BIG, lanes=2, min_rows=100_000)

    assert names(plan) == [[*SMALL, "transaction", "payment", "sales_order"], ["purchase_order"]]


@pytest.mark.parametrize(("low", "rows", "lanes"), [
    (None, {"sales_order": 60_000, "payment": 39_999}, 2),  # below the threshold
    ("2026-11-25T09:30:00.000", {"sales_order": 60_000, "payment": 39_999}, 2),
    (None, BIG, 1),  # one lane configured
])
def test_one_session_reads_everything_when_a_second_would_not_pay(low, rows, lanes):
    assert names(plan_lanes(windows(low), rows, lanes=lanes, min_rows=100_000)) == [[t.name for t in TABLES]]


def test_both_lanes_read_the_one_snapshot_taken_before_a_concurrent_change(
        seeded_source_db, aws: Aws, extract: Extract, monkeypatch):
    before = {t.name: run_sql(seeded_source_db, f"SELECT count(*) FROM {t.sql_name}")[0][0] for t in TABLES}
    amounts = {"payment": run_sql(seeded_source_db, "SELECT payment_amount::text FROM payment WHERE payment_id = 1"),
               "sales_order": run_sql(seeded_source_db, "SELECT units_sold FROM sales_order WHERE sales_order_id = 1"),
               "purchase_order": run_sql(seeded_source_db,
                                      "SELECT item_quantity FROM purchase_order WHERE purchase_order_id = 1")}
    lanes: list[list[str]] = []
    read_lane = extract_run._read_lane

    def second_lane(credentials, snapshot_id, files, tables, windows_):
        # Committed after lane 0 took the snapshot and before this lane imports it; last_updated is left as
        # it was, so only the snapshot (not the window) keeps these versions out of the run.
        run_sql(seeded_source_db, "UPDATE payment SET payment_amount = payment_amount + 1 WHERE payment_id = 1; "
                               "UPDATE sales_order SET units_sold = units_sold + 1 WHERE sales_order_id = 1; "
                               "UPDATE purchase_order SET item_quantity = item_quantity + 1 "
                               "WHERE purchase_order_id = 1; "
                               "INSERT INTO currency (currency_id, currency_code, created_at, last_updated) "
                               "VALUES (99, 'CHF', '2022-11-03 14:20:49.962', '2022-11-03 14:20:49.962')")
        lanes.append([t.name for t in tables])
        return read_lane(credentials, snapshot_id, files, tables, windows_)

    monkeypatch.setattr(extract_run, "_read_lane", second_lane)
    result = extract(seeded_source_db, "run-1", lane_min_rows=1)

    assert len(lanes) == 1
    assert set(lanes[0]) & {"payment", "sales_order", "purchase_order"}  # a changed table was read by lane 1
    assert result.manifest.extracted == before
    first = {table: next(r for r in rows_of(aws, result, table) if r[key] == 1)
             for table, key in (("payment", "payment_id"), ("sales_order", "sales_order_id"),
                                ("purchase_order", "purchase_order_id"))}
    assert first["payment"]["payment_amount"] == amounts["payment"][0][0]
    assert first["sales_order"]["units_sold"] == amounts["sales_order"][0][0]
    assert first["purchase_order"]["item_quantity"] == amounts["purchase_order"][0][0]
    assert 99 not in {r["currency_id"] for r in rows_of(aws, result, "currency")}


def test_a_failure_in_the_second_lane_fails_the_run_and_writes_no_manifest(
        seeded_source_db, aws: Aws, extract: Extract, monkeypatch):
    def broken_lane(*_args: Any) -> Any:
        raise RuntimeError("lane 1 lost its way")

    monkeypatch.setattr(extract_run, "_read_lane", broken_lane)
    with pytest.raises(RuntimeError, match="lane 1 lost its way"):
        extract(seeded_source_db, "run-1", lane_min_rows=1, commit=False)

    assert aws.keys(aws.ingestion_bucket, "runs/") == []
