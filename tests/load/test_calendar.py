"""dim_date is a continuous calendar: every day from the earliest date a fact refers to through the latest."""

from __future__ import annotations

from datetime import date
from typing import Any

import pg8000.native
import pyarrow as pa
import pytest

from lambdas.load.migrate import apply_migrations
from lambdas.load.runner import run_load
from lambdas.shared.errors import InvalidData
from lambdas.shared.star_schema import DIM_DATE, STAR_TABLES
from lambdas.transform.dates import build_dim_date
from lambdas.transform.runner import run_transform
from lambdas.transform.state import empty_state, save_state
from tests.fixtures.aws import REGION, Aws
from tests.load.builders import FULL_RUN_DAYS, date_row, days_from, full_run, sales_order, write_run
from tests.load.conftest import contents, rows
from tests.transform import runs as extract


def load(conn: pg8000.native.Connection, aws: Aws, manifest_key: str, schema: str = "public",
         bucket: str | None = None) -> dict[str, Any]:
    return dict(run_load(conn, aws.s3, bucket or aws.processed_bucket, schema, manifest_key))


def calendar(conn: pg8000.native.Connection, schema: str = "public") -> list[dict[str, Any]]:
    """dim_date as rows of column -> value, in date order."""
    columns = list(DIM_DATE.columns)
    return [dict(zip(columns, row, strict=True)) for row in rows(conn, "dim_date", schema, ", ".join(columns))]


def expected_calendar(first: date, last: date) -> list[dict[str, Any]]:
    """Every day from `first` through `last`, with the attributes transform gives a date."""
    return build_dim_date(pa.array(days_from(first, last), pa.date32())).to_pylist()


# ---- the fill, at the load ----------------------------------------------------------------------
def test_the_days_filled_in_equal_the_days_transform_makes_over_decades_of_leap_years(aws, warehouse):
    # Only the two ends come from a run; the load makes the 12,419 days between (2000, 2004, ..., 2032 are leap).
    key = write_run(aws, "run-1", {"dim_date": [date_row(date(1999, 12, 30)), date_row(date(2033, 12, 31))]})

    result = load(warehouse, aws, key)

    assert calendar(warehouse) == expected_calendar(date(1999, 12, 30), date(2033, 12, 31))
    assert result["loaded"]["dim_date"] == 12_421
    assert warehouse.run("SELECT rows -> 'dim_date' FROM onyx_run") == [[{"inserted": 12_421, "updated": 0}]]


def test_every_day_of_the_calendar_agrees_with_postgresql_s_own_calendar(aws, warehouse):
    load(warehouse, aws, write_run(aws, "run-1", {"dim_date": [date_row(date(1999, 12, 30)),
                                                               date_row(date(2033, 12, 31))]}))

    # An independent oracle for the one definition: ISO day of week (Monday = 1), English names.
    disagreeing = warehouse.run("""
        SELECT date_id FROM dim_date
         WHERE year <> extract(year FROM date_id) OR month <> extract(month FROM date_id)
            OR day <> extract(day FROM date_id) OR quarter <> extract(quarter FROM date_id)
            OR day_of_week <> extract(isodow FROM date_id)
            OR day_name <> to_char(date_id, 'FMDay') OR month_name <> to_char(date_id, 'FMMonth')""")
    assert disagreeing == []
    assert warehouse.run("SELECT day_of_week, day_name FROM dim_date WHERE date_id IN ('2000-02-29', '2024-02-29', "
                         "'2033-12-31') ORDER BY date_id") == [[2, "Tuesday"], [4, "Thursday"], [6, "Saturday"]]


def test_a_later_run_with_only_later_dates_fills_the_days_between_the_two_ranges(aws, warehouse):
    load(warehouse, aws, write_run(aws, "run-1", full_run()))  # 2022-11-03 .. 2022-11-10

    june = sales_order(2, agreed_payment_date=date(2023, 6, 2), agreed_delivery_date=date(2023, 6, 1))
    result = load(warehouse, aws, write_run(aws, "run-2", {"fact_sales_order": [june],
                                                           "dim_date": [date_row(date(2023, 6, 1)),
                                                                        date_row(date(2023, 6, 2))]}))

    assert calendar(warehouse) == expected_calendar(date(2022, 11, 3), date(2023, 6, 2))
    assert result["loaded"]["dim_date"] == len(days_from(date(2022, 11, 11), date(2023, 6, 2)))


def test_a_run_with_an_older_date_than_any_before_extends_the_calendar_backwards(aws, warehouse):
    load(warehouse, aws, write_run(aws, "run-1", full_run()))

    result = load(warehouse, aws, write_run(aws, "run-2", {"dim_date": [date_row(date(2021, 2, 27))]}))

    assert calendar(warehouse) == expected_calendar(date(2021, 2, 27), date(2022, 11, 10))
    assert result["loaded"]["dim_date"] == len(days_from(date(2021, 2, 27), date(2022, 11, 2)))


def test_a_run_within_the_calendar_adds_no_day_and_loading_it_again_adds_nothing(aws, warehouse):
    load(warehouse, aws, write_run(aws, "run-1", full_run()))
    key = write_run(aws, "run-2", {"dim_date": [date_row(date(2022, 11, 5))]})

    first = load(warehouse, aws, key)
    before = contents(warehouse)
    again = load(warehouse, aws, key)

    assert first["loaded"]["dim_date"] == 0
    assert again == {**first, "already_loaded": True}
    assert contents(warehouse) == before
    assert [r["date_id"] for r in calendar(warehouse)] == FULL_RUN_DAYS


def test_a_failed_run_adds_no_day_to_the_calendar(aws, warehouse):
    load(warehouse, aws, write_run(aws, "run-1", full_run()))
    before = contents(warehouse)
    orphan = sales_order(2, agreed_delivery_date=date(2023, 6, 1), design_id=77)

    with pytest.raises(InvalidData):
        load(warehouse, aws, write_run(aws, "run-2", {"fact_sales_order": [orphan],
                                                      "dim_date": [date_row(date(2023, 6, 1))]}))

    assert contents(warehouse) == before


def test_a_calendar_loaded_with_gaps_before_the_upgrade_is_filled_by_the_next_load(aws, warehouse):
    # What the load made before the calendar was continuous: only the dates the facts referred to.
    warehouse.run("INSERT INTO dim_date (date_id, year, month, day, day_of_week, day_name, month_name, quarter) "
                  "VALUES ('2022-10-30', 2022, 10, 30, 7, 'Sunday', 'October', 4), "
                  "('2022-11-10', 2022, 11, 10, 4, 'Thursday', 'November', 4)")

    result = load(warehouse, aws, write_run(aws, "run-1", {"dim_staff": full_run()["dim_staff"]}))

    assert calendar(warehouse) == expected_calendar(date(2022, 10, 30), date(2022, 11, 10))
    assert result["loaded"]["dim_date"] == 10


# ---- through the real transform: incremental runs equal a replay into an empty warehouse ----------
RUN_STARTS = {"run-1": "2026-11-25T22:30:00.123Z", "run-2": "2026-11-25T22:45:00.456Z",
              "run-3": "2026-11-25T23:00:00.789Z"}


def _runs() -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Run 1: facts from 2022-11 to 2023-01; run 2: only 2023-06; run 3: an order created in 2021."""
    dimensions = {t: rows for t, rows in extract.first_run().items()
                  if t in ("address", "currency", "department", "design", "counterparty", "staff")}
    return {
        "run-1": {**dimensions, "sales_order": [
            extract.sales_order(1, stamp="2022-11-03T10:00:00.000", delivery="2022-12-01", payment="2023-01-31")]},
        "run-2": {"sales_order": [
            extract.sales_order(2, stamp="2023-06-10T10:00:00.000", delivery="2023-06-20", payment="2023-06-25")]},
        "run-3": {"sales_order": [
            extract.sales_order(3, stamp="2021-05-04T08:00:00.000", updated="2023-06-11T09:00:00.000",
                                delivery="2023-06-12", payment="2023-06-14")]},
    }


def _transform_and_load(conn: pg8000.native.Connection, aws: Aws, run_id: str, bucket: str, schema: str) -> None:
    payload = run_transform(aws.s3, aws.ingestion_bucket, bucket, run_id, f"runs/{run_id}/extract.json")
    run_load(conn, aws.s3, bucket, schema, payload["manifest_key"], run_id=run_id)


def star(conn: pg8000.native.Connection, schema: str) -> dict[str, list[list[Any]]]:
    """Every star table without the surrogate record ids, as the fault campaign compares them."""
    return {t.name: rows(conn, t.name, schema, ", ".join(t.columns)) for t in STAR_TABLES}


def test_disjoint_runs_and_an_older_date_leave_no_gap_and_equal_a_replay_into_an_empty_warehouse(aws, warehouse):
    save_state(aws.s3, aws.processed_bucket, empty_state())  # a first deployment, as the replay's
    for run_id, tables in _runs().items():
        key = extract.put_run(aws, run_id, tables, started_at=RUN_STARTS[run_id])
        assert key == f"runs/{run_id}/extract.json"
    expected_after = {"run-1": (date(2022, 11, 3), date(2023, 1, 31)),
                      "run-2": (date(2022, 11, 3), date(2023, 6, 25)),
                      "run-3": (date(2021, 5, 4), date(2023, 6, 25))}

    for run_id, (first, last) in expected_after.items():
        _transform_and_load(warehouse, aws, run_id, aws.processed_bucket, "public")
        assert calendar(warehouse) == expected_calendar(first, last), run_id

    # The replay: a fresh processed bucket and state, an empty warehouse, the runs in extraction order.
    replay_bucket = "onyx-test-replay"
    aws.s3.create_bucket(Bucket=replay_bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    save_state(aws.s3, replay_bucket, empty_state())
    apply_migrations(warehouse, "replayed")
    for run_id in RUN_STARTS:
        _transform_and_load(warehouse, aws, run_id, replay_bucket, "replayed")
    assert star(warehouse, "public") == star(warehouse, "replayed")
    # The transform emitted only the dates the facts refer to; the rest of the 783 days came from the load.
    emitted = sum(extract.read_star(aws, "dim_date", r, RUN_STARTS[r]).num_rows for r in RUN_STARTS)
    assert (emitted, len(calendar(warehouse))) == (10, len(days_from(date(2021, 5, 4), date(2023, 6, 25))))
