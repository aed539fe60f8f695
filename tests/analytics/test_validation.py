"""Validation of the warehouse: every check passes on the warehouse the pipeline built, and fails, naming the
offending keys, on a copy broken on purpose."""

from __future__ import annotations

from typing import Any

import pytest

from analytics.validate import NAMED_KEYS, validate_warehouse
from lambdas.shared.database import DatabaseCredentials
from lambdas.shared.star_schema import FACTS

# One worker builds the pipeline's warehouse once for both modules (pytest -n N --dist loadgroup).
pytestmark = pytest.mark.xdist_group("analytics")

CHECKS = ["primary keys unique", "fact versions unique (id, last_updated_date, last_updated_time)",
          "facts reference their dimensions", "no NULL where forbidden", "values in range", "dim_date has no gap",
          "currency codes known (ISO 4217)", "freshness", "row counts match the source",
          "money sums match the source (per currency)"]


def _failed(report) -> dict[str, list[str]]:
    return {check.name: list(check.offending) for check in report.failed}


def test_every_check_passes_on_the_warehouse_the_pipeline_built(built):
    report = validate_warehouse(built.source, built.warehouse)

    assert [check.name for check in report.checks] == CHECKS
    assert [check.status for check in report.checks] == ["PASS"] * len(CHECKS)
    assert report.ok
    assert report.lines()[-1] == "warehouse valid (10 checks run, 0 skipped)"


def test_without_a_source_the_source_checks_are_skipped_and_say_so(built):
    report = validate_warehouse(None, built.warehouse)

    assert report.ok
    assert [check.status for check in report.checks] == ["PASS"] * 7 + ["SKIP"] * 3
    assert all(check.message.startswith("skipped: no source given") for check in report.checks[7:])
    assert "SKIP  row counts match the source: skipped: no source given" in report.lines()
    assert report.lines()[-1] == "warehouse valid (7 checks run, 3 skipped)"


def test_a_duplicated_dimension_key_fails_naming_the_key(built, broken_warehouse, sql):
    sql(broken_warehouse, "ALTER TABLE dim_design DROP CONSTRAINT dim_design_pkey CASCADE",
        "INSERT INTO dim_design SELECT * FROM dim_design WHERE design_id = 7")

    report = validate_warehouse(built.source, broken_warehouse)

    assert not report.ok
    assert _failed(report) == {
        "primary keys unique": ["dim_design design_id=7 (2 rows)"],
        "row counts match the source": ["dim_design: source 500, warehouse 501 (same ids: a duplicate)"],
    }


def test_a_fact_version_loaded_twice_fails_naming_the_version(built, broken_warehouse, sql):
    # One version of order 42 twice (the activity may have amended it: it can have several versions).
    version = sql_one(broken_warehouse, "SELECT last_updated_date, last_updated_time FROM fact_sales_order "
                                        "WHERE sales_order_id = 42 ORDER BY sales_record_id LIMIT 1")
    sql(broken_warehouse, "ALTER TABLE fact_sales_order DROP CONSTRAINT fact_sales_order_version_key",
        """INSERT INTO fact_sales_order (sales_order_id, created_date, created_time, last_updated_date,
               last_updated_time, sales_staff_id, counterparty_id, units_sold, unit_price, currency_id, design_id,
               agreed_payment_date, agreed_delivery_date, agreed_delivery_location_id)
           SELECT sales_order_id, created_date, created_time, last_updated_date, last_updated_time, sales_staff_id,
                  counterparty_id, units_sold, unit_price, currency_id, design_id, agreed_payment_date,
                  agreed_delivery_date, agreed_delivery_location_id
             FROM fact_sales_order WHERE sales_order_id = 42 ORDER BY sales_record_id LIMIT 1""")

    report = validate_warehouse(built.source, broken_warehouse)

    assert _failed(report) == {"fact versions unique (id, last_updated_date, last_updated_time)": [
        f"fact_sales_order sales_order_id=42, last_updated_date={version[0]}, "
        f"last_updated_time={version[1].isoformat('milliseconds')} (2 rows)"]}


def test_an_orphan_fact_fails_naming_the_row_and_the_missing_dimension_key(built, broken_warehouse, sql):
    # A payment with one version: the simulated activity (PostgreSQL's unseeded random()) may have paid any other.
    (payment_id,) = sql_one(broken_warehouse, "SELECT payment_id FROM fact_payment GROUP BY payment_id "
                                              "HAVING count(*) = 1 ORDER BY payment_id LIMIT 1")
    sql(broken_warehouse, "ALTER TABLE fact_payment DROP CONSTRAINT fact_payment_counterparty_id_fkey",
        f"UPDATE fact_payment SET counterparty_id = 999 WHERE payment_id = {int(payment_id)}")
    version = sql_one(broken_warehouse, "SELECT last_updated_date, last_updated_time FROM fact_payment "
                                        f"WHERE payment_id = {int(payment_id)}")

    report = validate_warehouse(None, broken_warehouse)

    assert _failed(report) == {"facts reference their dimensions": [
        f"fact_payment payment_id={payment_id}, last_updated_date={version[0]}, "
        f"last_updated_time={version[1].isoformat('milliseconds')}: counterparty_id=999 not in dim_counterparty"]}


def test_a_null_where_the_schema_forbids_it_fails_naming_the_row_and_column(built, broken_warehouse, sql):
    sql(broken_warehouse, "ALTER TABLE dim_location ALTER COLUMN city DROP NOT NULL",
        "UPDATE dim_location SET city = NULL WHERE location_id IN (3, 11)")

    report = validate_warehouse(built.source, broken_warehouse)

    assert _failed(report) == {"no NULL where forbidden": ["dim_location location_id=3: NULL in city",
                                                           "dim_location location_id=11: NULL in city"]}
    assert report.check("no NULL where forbidden").message == "2 row(s) with a NULL"


def test_values_out_of_range_fail_naming_each_row_and_rule(built, broken_warehouse, sql):
    sql(broken_warehouse, "UPDATE fact_purchase_order SET item_quantity = 0 WHERE purchase_order_id = 8",
        "UPDATE fact_purchase_order SET item_unit_price = -1.50 WHERE purchase_order_id = 9",
        "UPDATE dim_date SET day_of_week = 8 WHERE date_id = '2023-01-02'")

    report = validate_warehouse(None, broken_warehouse)

    offending = _failed(report)["values in range"]
    assert len(offending) == 3
    assert offending[0].startswith("fact_purchase_order purchase_order_id=8, ")
    assert offending[0].endswith(": item_quantity=0 (must be > 0)")
    assert offending[1].startswith("fact_purchase_order purchase_order_id=9, ")
    assert offending[1].endswith(": item_unit_price=-1.50 (must be >= 0)")
    assert offending[2] == ("dim_date date_id=2023-01-02: date_id=2023-01-02 "
                            "(must be year, month, day, quarter and day_of_week agree with it)")


def test_a_day_missing_from_the_calendar_fails_naming_the_day(built, broken_warehouse, sql):
    # The first and last inner days no fact refers to (the foreign keys keep the others).
    referenced = " UNION ".join(f"SELECT {column} FROM {fact.name}" for fact in FACTS
                                for column, dimension in fact.references if dimension == "dim_date")
    inner = ("FROM dim_date WHERE date_id > (SELECT min(date_id) FROM dim_date) "
             f"AND date_id < (SELECT max(date_id) FROM dim_date) AND date_id NOT IN ({referenced})")
    gone = sql_one(broken_warehouse, f"SELECT min(date_id), max(date_id) {inner}")
    sql(broken_warehouse, *(f"DELETE FROM dim_date WHERE date_id = '{day}'" for day in gone))

    report = validate_warehouse(None, broken_warehouse)

    assert _failed(report) == {"dim_date has no gap": [f"dim_date date_id={day}: missing" for day in gone]}
    assert report.check("dim_date has no gap").message == "2 day(s) missing"


def test_an_unknown_currency_code_fails_naming_the_currency(built, broken_warehouse, sql):
    sql(broken_warehouse, "UPDATE dim_currency SET currency_code = 'XYZ' WHERE currency_id = 2")

    report = validate_warehouse(None, broken_warehouse)

    assert _failed(report) == {"currency codes known (ISO 4217)": [
        "dim_currency currency_id=2: currency_code='XYZ' is not ISO 4217"]}


def test_a_stale_warehouse_fails_freshness_naming_the_source_rows_not_loaded(built, changed_source, sql):
    sql(changed_source, "UPDATE sales_order SET last_updated = "
                        "(SELECT max(last_updated) FROM sales_order) + interval '1 hour' WHERE sales_order_id = 12")
    newest = sql_one(built.warehouse, "SELECT max(last_updated_date + last_updated_time) FROM fact_sales_order")[0]
    changed = sql_one(changed_source, "SELECT last_updated FROM sales_order WHERE sales_order_id = 12")[0]

    report = validate_warehouse(changed_source, built.warehouse)

    assert _failed(report) == {"freshness": [
        f"sales_order sales_order_id=12 last_updated {changed.isoformat(sep=' ', timespec='milliseconds')} "
        f"(warehouse newest {newest.isoformat(sep=' ', timespec='milliseconds')})"]}
    assert "beyond the tolerance of 1,800 s" in report.check("freshness").message


def test_a_lag_within_the_tolerance_passes_freshness(built, changed_source, sql):
    sql(changed_source, "UPDATE sales_order SET last_updated = "
                        "(SELECT max(last_updated) FROM sales_order) + interval '10 minutes' WHERE sales_order_id = 12")

    report = validate_warehouse(changed_source, built.warehouse, freshness_tolerance_seconds=900)

    assert report.check("freshness").passed
    assert report.check("freshness").message.startswith("warehouse behind the source by sales_order 600 s, ")


def test_a_missing_order_fails_count_and_money_reconciliation_naming_it(built, broken_warehouse, sql):
    amount, code = sql_one(broken_warehouse, """SELECT units_sold * unit_price, currency_code
                                                 FROM sales_order_wide WHERE sales_order_id = 77""")
    sql(broken_warehouse, "DELETE FROM fact_sales_order WHERE sales_order_id = 77")

    report = validate_warehouse(built.source, broken_warehouse)

    failed = _failed(report)
    assert list(failed) == ["row counts match the source", "money sums match the source (per currency)"]
    assert failed["row counts match the source"] == [
        "sales_order_current: source 320, warehouse 319 (sales_order_id=77 only in source)"]
    [money] = failed["money sums match the source (per currency)"]
    source_sum, warehouse_sum = (part.rsplit(" ", 1)[1] for part in money.split(": ", 1)[1].split(", "))
    assert money.startswith(f"sales_order {code}: source ")
    assert float(source_sum) - float(warehouse_sum) == pytest.approx(float(amount))


def test_a_missing_row_hidden_by_an_extra_one_is_still_found(built, broken_warehouse, sql):
    [unsold] = sql_one(broken_warehouse, """SELECT min(design_id) FROM dim_design d WHERE NOT EXISTS
                                                (SELECT 1 FROM fact_sales_order f WHERE f.design_id = d.design_id)""")
    sql(broken_warehouse, f"UPDATE dim_design SET design_id = 1000 WHERE design_id = {unsold}")

    report = validate_warehouse(built.source, broken_warehouse)

    assert _failed(report)["row counts match the source"] == [
        f"dim_design: source 500, warehouse 500 (design_id={unsold} only in source, design_id=1000 only in warehouse)"]


def test_a_check_names_at_most_the_first_keys_and_counts_the_rest(built, broken_warehouse, sql):
    sql(broken_warehouse, "ALTER TABLE fact_sales_order ALTER COLUMN unit_price DROP NOT NULL",
        "UPDATE fact_sales_order SET unit_price = NULL WHERE sales_order_id <= 25")

    # Orders 1-25 hold 25 or more versions: the simulated activity amends random orders.
    versions = sql_one(broken_warehouse, "SELECT count(*) FROM fact_sales_order WHERE sales_order_id <= 25")[0]

    check = validate_warehouse(None, broken_warehouse).check("no NULL where forbidden")

    assert versions >= 25
    assert len(check.offending) == NAMED_KEYS
    assert check.offending[0].startswith("fact_sales_order sales_order_id=1, ")
    assert check.offending_total == versions
    assert check.lines()[-1] == f"        ... and {versions - NAMED_KEYS} more"


def sql_one(credentials: DatabaseCredentials, statement: str) -> list[Any]:
    conn = credentials.connect()
    try:
        return list(conn.run(statement)[0])
    finally:
        conn.close()
