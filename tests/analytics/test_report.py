"""The analytics report: its figures equal independent SQL over the source the warehouse was built from, and
the HTML file is self-contained and renders in a real headless Chromium."""

from __future__ import annotations

import os
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from analytics.report import collect, query_names, write_report
from tests.analytics.browser import Chromium, find_chromium

# One worker builds the pipeline's warehouse once for both modules (pytest -n N --dist loadgroup).
pytestmark = pytest.mark.xdist_group("analytics")


@pytest.fixture(scope="module")
def figures(built):
    return collect(built.warehouse)


def source_rows(credentials, statement, **params) -> list[dict[str, Any]]:
    conn = credentials.connect()
    try:
        rows = conn.run(statement, **params)
        columns = [c["name"] for c in conn.columns]
        return [dict(zip(columns, row, strict=True)) for row in rows]
    finally:
        conn.close()


def test_revenue_by_month_and_currency_equals_the_source(built, figures):
    expected = source_rows(built.source, """
        SELECT date_trunc('month', o.created_at)::date AS month, c.currency_code, count(*) AS orders,
               sum(o.units_sold) AS units_sold, sum(o.units_sold * o.unit_price) AS revenue
          FROM sales_order o JOIN currency c USING (currency_id)
         GROUP BY 1, 2 ORDER BY 1, 2""")

    assert figures["revenue_by_month"] == expected
    assert len(expected) > 70  # two years of history in three currencies, and the simulated month


def test_revenue_per_currency_equals_the_source_with_iso_names(built, figures):
    expected = source_rows(built.source, """
        SELECT c.currency_code, count(*) AS orders, sum(o.units_sold) AS units_sold,
               sum(o.units_sold * o.unit_price) AS revenue
          FROM sales_order o JOIN currency c USING (currency_id) GROUP BY 1 ORDER BY 1""")

    without_names = [{k: v for k, v in row.items() if k != "currency_name"} for row in figures["revenue_by_currency"]]
    assert without_names == expected
    assert [row["currency_name"] for row in figures["revenue_by_currency"]] == ["Euro", "Pound Sterling", "US Dollar"]


def test_top_designs_equal_the_source(built, figures):
    expected = source_rows(built.source, """
        SELECT d.design_id, d.design_name, count(*) AS orders, sum(o.units_sold) AS units_sold
          FROM sales_order o JOIN design d USING (design_id)
         GROUP BY 1, 2 ORDER BY units_sold DESC, design_id LIMIT 10""")

    assert figures["top_designs"] == expected


def test_sales_by_counterparty_country_and_city_equal_the_source(built, figures):
    by_place = """
        SELECT {columns}, count(*) AS orders, sum(o.units_sold) AS units_sold
          FROM sales_order o
          JOIN counterparty cp USING (counterparty_id)
          JOIN address a ON a.address_id = cp.legal_address_id
         GROUP BY {groups} ORDER BY units_sold DESC, {groups}"""

    assert figures["sales_by_country"] == source_rows(
        built.source, by_place.format(columns="a.country", groups="country"))
    assert figures["sales_by_city"] == source_rows(
        built.source, by_place.format(columns="a.city, a.country", groups="city, country"))


def test_sales_by_staff_member_and_department_equal_the_source(built, figures):
    staff = source_rows(built.source, """
        SELECT s.staff_id, s.first_name || ' ' || s.last_name AS staff_name, d.department_name,
               count(*) AS orders, sum(o.units_sold) AS units_sold
          FROM sales_order o JOIN staff s USING (staff_id) JOIN department d USING (department_id)
         GROUP BY 1, 2, 3 ORDER BY units_sold DESC, staff_id""")
    departments = source_rows(built.source, """
        SELECT d.department_name, count(DISTINCT s.staff_id) AS staff, count(*) AS orders,
               sum(o.units_sold) AS units_sold
          FROM sales_order o JOIN staff s USING (staff_id) JOIN department d USING (department_id)
         GROUP BY 1 ORDER BY units_sold DESC, department_name""")

    assert figures["sales_by_staff"] == staff
    assert figures["sales_by_department"] == departments


def test_purchases_vs_sales_equal_the_source(built, figures):
    expected = source_rows(built.source, """
        SELECT month, currency_code, sum(sales) AS sales_value, sum(purchases) AS purchase_value
          FROM (SELECT date_trunc('month', created_at)::date AS month, currency_id,
                       units_sold * unit_price AS sales, 0 AS purchases FROM sales_order
                UNION ALL
                SELECT date_trunc('month', created_at)::date, currency_id,
                       0, item_quantity * item_unit_price FROM purchase_order) AS o
          JOIN currency USING (currency_id)
         GROUP BY 1, 2 ORDER BY 1, 2""")

    assert figures["purchases_vs_sales"] == expected


def test_payments_outstanding_equal_the_source(built, figures):
    expected = source_rows(built.source, """
        SELECT c.currency_code, t.transaction_type::text, count(*) AS payments, sum(p.payment_amount) AS amount,
               count(*) FILTER (WHERE p.payment_date::date < current_date) AS overdue_payments,
               coalesce(sum(p.payment_amount) FILTER (WHERE p.payment_date::date < current_date), 0)
                   AS overdue_amount
          FROM payment p JOIN "transaction" t USING (transaction_id) JOIN currency c USING (currency_id)
         WHERE NOT p.paid
         GROUP BY 1, 2 ORDER BY 1, 2""")

    assert figures["payments_outstanding"] == expected
    assert {row["transaction_type"] for row in expected} == {"SALE", "PURCHASE"}


def test_order_amendments_count_the_versions_the_pipeline_saw(built, figures):
    # The first run saw every order once; the orders amended before the second run have a second version.
    [counts] = source_rows(built.source, """
        SELECT count(*) FILTER (WHERE created_at <= :before AND last_updated > :before) AS amended,
               count(*) FILTER (WHERE NOT (created_at <= :before AND last_updated > :before)) AS not_amended,
               (SELECT count(*) FROM purchase_order) AS purchase_orders
          FROM sales_order""", before=built.before_activity)

    assert figures["order_amendments"] == [
        {"order_kind": "sales order", "versions": 1, "orders": counts["not_amended"]},
        {"order_kind": "sales order", "versions": 2, "orders": counts["amended"]},
        {"order_kind": "purchase order", "versions": 1, "orders": counts["purchase_orders"]},
    ]
    assert 0 < counts["amended"] <= 10  # simulate may amend an order it has just created: one version


def test_key_figures_and_time_range_equal_the_source(built, figures):
    [expected] = source_rows(built.source, """
        SELECT (SELECT count(*) FROM sales_order) AS sales_orders,
               (SELECT sum(units_sold) FROM sales_order) AS units_sold,
               (SELECT count(DISTINCT counterparty_id) FROM sales_order) AS customers,
               (SELECT count(*) FROM purchase_order) AS purchase_orders,
               (SELECT count(*) FROM sales_order WHERE created_at <= :before AND last_updated > :before)
                   AS sales_orders_amended,
               (SELECT count(*) FROM payment WHERE NOT paid) AS payments_outstanding,
               (SELECT count(*) FROM payment WHERE NOT paid AND payment_date::date < current_date)
                   AS payments_overdue""", before=built.before_activity)
    [span] = source_rows(built.source, """
        SELECT min(created_at)::date AS first_order_date, max(created_at)::date AS last_order_date,
               greatest((SELECT max(last_updated) FROM sales_order), (SELECT max(last_updated) FROM purchase_order),
                        (SELECT max(last_updated) FROM payment)) AS newest_change
          FROM sales_order""")

    assert figures["key_figures"] == [expected]
    coverage = figures["coverage"][0]
    assert {k: coverage[k] for k in span} == span
    assert coverage["runs"] == 2


def test_the_report_states_the_key_figures_time_range_and_freshness(built, figures, report_path):
    html = write_report(built.warehouse, "public", report_path, title="Totes & co").read_text()
    revenue = {row["currency_code"]: row["revenue"] for row in figures["revenue_by_currency"]}
    coverage = figures["coverage"][0]

    assert "<title>Totes &amp; co</title>" in html
    for code, name in (("EUR", "Euro"), ("GBP", "Pound Sterling"), ("USD", "US Dollar")):
        assert (f'<tr><td>Revenue in {code} ({name})</td><td class="value">{Decimal(revenue[code]):,.2f} {code}'
                f"</td></tr>") in html
    assert f'<td class="value">{figures["key_figures"][0]["sales_orders"]:,}</td>' in html
    assert f"Orders placed {coverage['first_order_date']:%d %b %Y} to {coverage['last_order_date']:%d %b %Y}" in html
    assert f"newest change in the warehouse, {coverage['newest_change']:%d %b %Y %H:%M} UTC" in html
    assert "last load " in html
    assert "Report generated " in html


def test_the_report_is_one_file_that_needs_no_network(built, report_path):
    html = write_report(built.warehouse, "public", report_path).read_text()

    assert not re.search(r"<script[^>]+src=", html)
    assert not re.search(r"<link[^>]+href=", html)
    assert html.count("Plotly.newPlot(") == 9
    assert re.findall(r'data-query="(\w+)"', html) == [
        "revenue_by_month", "purchases_vs_sales", "top_designs", "sales_by_country", "sales_by_city",
        "sales_by_staff", "sales_by_department", "payments_outstanding", "order_amendments"]
    assert set(re.findall(r'data-query="(\w+)"', html)) <= set(query_names())


def test_an_empty_warehouse_still_makes_a_readable_report(empty_db, tmp_path):
    from lambdas.load.migrate import apply_migrations

    conn = empty_db.connect()
    try:
        apply_migrations(conn, "public")
    finally:
        conn.close()

    html = write_report(empty_db, "public", tmp_path / "empty.html").read_text()

    assert "No sales orders in the warehouse yet" in html
    assert "Orders placed none yet to none yet" in html


CHARTS_DRAWN = """(async () => {
  const charts = () => [...document.querySelectorAll('section.chart')];
  for (let i = 0; i < 100 && !charts().every(s => s.querySelector('.main-svg')); i++) {
    await new Promise(resolve => setTimeout(resolve, 100));
  }
  return charts().map(section => {
    const plot = section.querySelector('.js-plotly-plot');
    return {
      query: section.dataset.query,
      title: section.querySelector('h2').textContent,
      traces: plot ? plot._fullData.length : 0,
      drawn: plot ? plot.querySelectorAll('g.trace').length : 0,
      marks: plot ? plot.querySelectorAll('g.trace path').length : 0,
      axisTitles: plot ? [...plot.querySelectorAll('.xtitle, .ytitle')].map(t => t.textContent).filter(t => t) : [],
    };
  });
})()"""


@pytest.fixture(scope="module")
def chromium(tmp_path_factory):
    executable = find_chromium()
    if executable is None:
        missing = "no Chromium or Chrome that starts (Debian: apt-get install chromium; .ci/run installs one)"
        if os.environ.get("CI", "").lower() == "true":  # CI must check the report in a browser, never skip it
            pytest.fail(missing)
        pytest.skip(missing)
    browser = Chromium(executable, tmp_path_factory.mktemp("chromium-profile"))
    yield browser
    browser.close()


def test_the_report_renders_in_chromium_with_every_chart_drawn_and_no_console_error(built, chromium, tmp_path):
    report = write_report(built.warehouse, "public", tmp_path / "report.html")

    session, load = chromium.open(report.as_uri())
    charts = chromium.evaluate(session, CHARTS_DRAWN)
    screenshot = chromium.screenshot(session, tmp_path / "report.png")
    chromium.collect(session, load)

    assert len(charts) == 9
    for chart in charts:
        assert chart["traces"] > 0, chart
        assert chart["drawn"] == chart["traces"], chart
        assert chart["marks"] > 0, chart
        assert chart["axisTitles"], chart
    assert load.console == []
    assert load.requests == [report.as_uri()]  # nothing fetched: no CDN, no font, no image
    assert screenshot.stat().st_size > 100_000
    assert Path(screenshot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
