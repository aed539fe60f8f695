"""Dimensions follow their dependencies; facts keep every version."""

from __future__ import annotations

from datetime import date, time

from tests.transform.runs import address, department, first_run, read_star, sales_order, transform

LATER = "2024-02-05T16:45:00.007"


def test_address_change_re_emits_its_location_and_every_counterparty_using_it(aws):
    transform(aws, "run-1", first_run())

    transform(aws, "run-2", {"address": [address(1, city="Bradford", updated=LATER)]})

    location = read_star(aws, "dim_location", "run-2").to_pylist()
    counterparty = read_star(aws, "dim_counterparty", "run-2").to_pylist()
    assert [(r["location_id"], r["city"]) for r in location] == [(1, "Bradford")]
    assert [(r["counterparty_id"], r["counterparty_legal_name"], r["counterparty_legal_city"])
            for r in counterparty] == [(1, "Fahey and Sons", "Bradford"), (3, "Kohler Group", "Bradford")]


def test_department_change_re_emits_its_staff(aws):
    transform(aws, "run-1", first_run())

    transform(aws, "run-2", {"department": [department(2, "Purchasing", "Leeds", updated=LATER)]})

    staff = read_star(aws, "dim_staff", "run-2").to_pylist()
    assert [(r["staff_id"], r["department_name"], r["location"]) for r in staff] == [(2, "Purchasing", "Leeds")]


def test_unchanged_dependencies_emit_nothing(aws):
    transform(aws, "run-1", first_run())

    payload = transform(aws, "run-2", {"sales_order": [sales_order(1, updated=LATER)]})

    assert {t: n for t, n in payload["transformed"].items() if n} == {"fact_sales_order": 1, "dim_date": 4}


def test_updated_sales_order_adds_a_second_fact_row_with_the_new_last_updated(aws):
    transform(aws, "run-1", first_run())

    transform(aws, "run-2", {"sales_order": [sales_order(1, updated=LATER, units_sold=250)]})

    first = read_star(aws, "fact_sales_order", "run-1").to_pylist()
    second = read_star(aws, "fact_sales_order", "run-2").to_pylist()
    versions = [(r["sales_order_id"], r["last_updated_date"], r["last_updated_time"], r["units_sold"])
                for r in first + second if r["sales_order_id"] == 1]
    assert versions == [(1, date(2024, 1, 2), time(9, 15, 30, 250000), 100),
                        (1, date(2024, 2, 5), time(16, 45, 0, 7000), 250)]
    assert (second[0]["created_date"], second[0]["created_time"]) == (date(2024, 1, 2), time(9, 15, 30, 250000))


def test_two_versions_in_one_run_give_two_fact_rows(aws):
    run = first_run()
    run["sales_order"].append(sales_order(1, updated=LATER, units_sold=250))

    payload = transform(aws, "run-1", run)

    facts = read_star(aws, "fact_sales_order", "run-1").to_pylist()
    assert payload["transformed"]["fact_sales_order"] == 3
    assert [(r["sales_order_id"], r["units_sold"]) for r in facts] == [(1, 100), (2, 7), (1, 250)]


def test_dim_date_covers_every_date_the_run_s_facts_refer_to(aws):
    transform(aws, "run-1", first_run())

    transform(aws, "run-2", {"sales_order": [sales_order(9, stamp="2023-12-31T23:59:59.999", updated=LATER,
                                                         delivery="2025-06-30", payment="2025-07-01")]})

    days = read_star(aws, "dim_date", "run-2").to_pylist()
    assert [(r["date_id"], r["day_of_week"], r["day_name"], r["month_name"], r["quarter"]) for r in days] == [
        (date(2023, 12, 31), 7, "Sunday", "December", 4), (date(2024, 2, 5), 1, "Monday", "February", 1),
        (date(2025, 6, 30), 1, "Monday", "June", 2), (date(2025, 7, 1), 2, "Tuesday", "July", 3)]
