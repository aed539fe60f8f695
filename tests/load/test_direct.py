"""First loads COPY straight into empty tables: the same rows, counts, record ids and errors as the staging path."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambdas.load import direct, merge, staging
from lambdas.load.migrate import apply_migrations
from lambdas.shared.errors import InvalidData
from lambdas.shared.star_schema import STAR_TABLES
from tests.load.builders import at, full_run, sales_order, staff, write_run
from tests.load.conftest import contents, rows
from tests.load.test_bulk import SLOW, constraints_and_indexes, history, load, load_slowly, star_tables


def _record_staged(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tables the load puts through a staging table, in order, as it goes."""
    staged: list[str] = []
    stage_table = staging.stage_table

    def recording(conn: Any, s3: Any, bucket: str, table: Any, keys: list[str], **kwargs: Any) -> int:
        staged.append(table.name)
        return stage_table(conn, s3, bucket, table, keys, **kwargs)

    monkeypatch.setattr("lambdas.load.runner.stage_table", recording)
    return staged


@pytest.fixture
def direct_from_one_row(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every first load of a table takes the direct path (and a fact's the bulk one); returns the tables
    that went through a staging table instead."""
    monkeypatch.setattr(direct, "DIRECT_MIN_ROWS", 1)
    monkeypatch.setattr(merge, "BULK_ROWS", 1)
    return _record_staged(monkeypatch)


@pytest.fixture(params=["staging", "direct"])
def first_load_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> tuple[str, list[str]]:
    """Either path of a first load (every fact load on the bulk path): (its name, the tables it staged)."""
    if request.param == "direct":
        monkeypatch.setattr(direct, "DIRECT_MIN_ROWS", 1)
    monkeypatch.setattr(merge, "BULK_ROWS", 1)
    return request.param, _record_staged(monkeypatch)


def _staged_until(path: str, run: dict[str, list[Any]], failing: str) -> list[str]:
    """What a first load stages before `failing` refuses its rows: on the direct path only that table (refused,
    then explained by the staging path); on the staging path every table with rows up to it."""
    if path == "direct":
        return [failing]
    names = [t.name for t in STAR_TABLES]
    return [name for name in names[:names.index(failing) + 1] if run[name]]


def test_a_first_load_copies_every_table_straight_in_with_the_rows_of_the_staging_path(
        aws, warehouse, monkeypatch, direct_from_one_row):
    apply_migrations(warehouse, SLOW)
    first, _ = history()
    key = write_run(aws, "run-1", first)

    fast = load(warehouse, aws, key)
    staged_by_fast = list(direct_from_one_row)
    slow = load_slowly(warehouse, aws, key, monkeypatch)

    assert staged_by_fast == []  # every table of the first run was empty: none was staged
    assert len(direct_from_one_row) == len(STAR_TABLES)  # the slow path stages them all
    assert fast["loaded"] == slow["loaded"]
    assert star_tables(warehouse, "public") == star_tables(warehouse, SLOW)
    # Record ids follow time, as the staging path's ORDER BY makes them: the file lists 3, 1, 2 (newer), 2.
    assert rows(warehouse, "fact_sales_order", columns="sales_record_id, sales_order_id, units_sold") == [
        [1, 1, 100], [2, 2, 100], [3, 2, 7], [4, 3, 100]]


def test_after_a_direct_first_load_every_constraint_and_index_is_back(aws, warehouse, direct_from_one_row):
    before = constraints_and_indexes(warehouse)
    first, second = history()

    load(warehouse, aws, write_run(aws, "run-1", first))
    load(warehouse, aws, write_run(aws, "run-2", second))

    assert constraints_and_indexes(warehouse) == before
    assert direct_from_one_row.count("fact_sales_order") == 1  # the second run merges into a filled table


def test_a_version_twice_in_a_first_load_is_refused_on_either_path_and_nothing_is_written(aws, warehouse,
                                                                                          first_load_path):
    path, staged = first_load_path
    run = full_run(fact_sales_order=[sales_order(1), sales_order(2), sales_order(2, units_sold=5)])
    before, schema = contents(warehouse), constraints_and_indexes(warehouse)

    with pytest.raises(InvalidData) as failure:
        load(warehouse, aws, write_run(aws, "run-1", run))

    assert (failure.value.table, failure.value.key, failure.value.rule) == (
        "fact_sales_order", "sales_order_id=2, last_updated_date=2022-11-03, last_updated_time=14:20:52.186",
        "is duplicated")
    assert staged == _staged_until(path, run, "fact_sales_order")
    assert contents(warehouse) == before
    assert constraints_and_indexes(warehouse) == schema


def test_a_missing_reference_in_a_first_load_is_named_and_nothing_is_written(aws, warehouse, direct_from_one_row):
    orders = [sales_order(1), sales_order(2, design_id=77, updated=at("2022-11-04 10:00:00.000"))]
    before = contents(warehouse)

    with pytest.raises(InvalidData) as failure:
        load(warehouse, aws, write_run(aws, "run-1", full_run(fact_sales_order=orders)))

    assert (failure.value.table, failure.value.key, failure.value.rule) == (
        "fact_sales_order", "sales_order_id=2, last_updated_date=2022-11-04, last_updated_time=10:00:00.000",
        "design_id=77 is not present in dim_design")
    assert contents(warehouse) == before


def test_a_key_twice_in_a_first_dimension_load_is_refused_on_either_path_and_nothing_is_written(aws, warehouse,
                                                                                                first_load_path):
    path, staged = first_load_path
    run = full_run(dim_staff=[staff(1), staff(1, last_name="X")])
    before = contents(warehouse)

    with pytest.raises(InvalidData) as failure:
        load(warehouse, aws, write_run(aws, "run-1", run))

    assert (failure.value.table, failure.value.key, failure.value.rule) == ("dim_staff", "staff_id=1",
                                                                            "is duplicated")
    assert staged == _staged_until(path, run, "dim_staff")
    assert contents(warehouse) == before


def test_a_file_holding_other_than_the_manifest_count_is_refused_as_by_the_staging_path(aws, warehouse,
                                                                                           direct_from_one_row):
    key = write_run(aws, "run-1", full_run(fact_sales_order=[sales_order(1), sales_order(2)]))
    manifest = json.loads(aws.read(aws.processed_bucket, key))
    manifest["tables"]["fact_sales_order"]["rows"] = 3
    aws.s3.put_object(Bucket=aws.processed_bucket, Key=key, Body=json.dumps(manifest).encode())
    before = contents(warehouse)

    with pytest.raises(InvalidData) as failure:
        load(warehouse, aws, key)

    assert (failure.value.table, failure.value.rule) == ("fact_sales_order", "manifest counts 3 rows, its files hold 2")
    assert contents(warehouse) == before


def test_a_first_load_bigger_than_the_direct_limit_takes_the_staging_path(aws, warehouse, monkeypatch,
                                                                          direct_from_one_row):
    monkeypatch.setattr(direct, "DIRECT_ROWS", 2)
    orders = [sales_order(3), sales_order(1), sales_order(2, updated=at("2022-11-02 10:00:00.000"))]

    load(warehouse, aws, write_run(aws, "run-1", full_run(fact_sales_order=orders)))

    assert "fact_sales_order" in direct_from_one_row
    assert "dim_staff" not in direct_from_one_row  # one row: within the limit
    assert rows(warehouse, "fact_sales_order", columns="sales_record_id, sales_order_id") == [[1, 2], [2, 1], [3, 3]]
