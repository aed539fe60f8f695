"""The analyst's notebook (docs/analysis.ipynb) runs top to bottom in a real Jupyter kernel against the warehouse
the pipeline built, and its figures equal independent SQL over the source and the fact tables."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

# One worker builds the pipeline's warehouse once for every analytics module (pytest -n N --dist loadgroup).
pytestmark = pytest.mark.xdist_group("analytics")

NOTEBOOK = Path(__file__).resolve().parents[2] / "docs" / "analysis.ipynb"


def rows(credentials, statement: str) -> list[list[Any]]:
    conn = credentials.connect()
    try:
        return list(conn.run(statement))
    finally:
        conn.close()


@pytest.fixture(scope="module")
def executed(built, tmp_path_factory, monkeypatch_module) -> nbformat.NotebookNode:
    """The notebook executed with ONYX_WAREHOUSE_URL pointing at the built warehouse, from a scratch folder."""
    monkeypatch_module.setenv("ONYX_WAREHOUSE_URL", built.warehouse.to_url())
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    scratch = tmp_path_factory.mktemp("notebook")
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(scratch)}}).execute()
    return notebook


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@pytest.fixture(scope="module")
def summary(executed) -> dict[str, Any]:
    """The JSON line the last cell prints."""
    last = executed.cells[-1]
    text = "".join(output["text"] for output in last.outputs if output.get("name") == "stdout")
    return json.loads(text.strip().splitlines()[-1])


def test_the_committed_notebook_has_no_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code
    assert [(cell.outputs, cell.execution_count) for cell in code] == [([], None)] * len(code)


def test_the_notebook_draws_its_chart(executed):
    images = [output for cell in executed.cells if cell.cell_type == "code" for output in cell.outputs
              if "image/png" in output.get("data", {})]
    assert len(images) == 1


def test_orders_and_revenue_per_currency_equal_the_source(built, summary):
    revenue = rows(built.source, """
        SELECT c.currency_code, sum(o.units_sold * o.unit_price)
          FROM sales_order o JOIN currency c USING (currency_id) GROUP BY 1 ORDER BY 1""")

    assert summary["sales_orders"] == rows(built.source, "SELECT count(*) FROM sales_order")[0][0]
    assert {code: Decimal(total) for code, total in summary["revenue_by_currency"].items()} == dict(revenue)
    assert summary["months"] == rows(built.source,
                                     "SELECT count(DISTINCT date_trunc('month', created_at)) FROM sales_order")[0][0]


def test_the_top_design_equals_the_source(built, summary):
    top = rows(built.source, "SELECT design_id FROM sales_order GROUP BY 1 ORDER BY sum(units_sold) DESC, 1 LIMIT 1")

    assert summary["top_design_id"] == top[0][0]


def test_days_without_a_sale_come_from_the_continuous_calendar(built, summary):
    # Independent of dim_date: the span of days the source's orders were created on, minus those with an order.
    first, last, days_with = rows(built.source, """
        SELECT min(created_at)::date, max(created_at)::date, count(DISTINCT created_at::date) FROM sales_order""")[0]
    quiet = rows(built.source, f"""
        SELECT min(day)::date FROM generate_series('{first}'::timestamp, '{last}'::timestamp, interval '1 day') day
         WHERE NOT EXISTS (SELECT 1 FROM sales_order WHERE created_at::date = day::date)""")[0][0]

    assert summary["days_without_a_sale"] == (last - first).days + 1 - days_with
    assert summary["first_day_without_a_sale"] == (str(quiet) if quiet else None)


def test_the_calendar_spans_every_day_from_the_earliest_to_the_latest_date_of_a_fact(built, summary):
    dates = " UNION ALL ".join(
        f"SELECT min({column}) AS first, max({column}) AS last FROM {table}"
        for table, columns in (("fact_sales_order", ("created_date", "last_updated_date", "agreed_payment_date",
                                                     "agreed_delivery_date")),
                               ("fact_purchase_order", ("created_date", "last_updated_date", "agreed_payment_date",
                                                        "agreed_delivery_date")),
                               ("fact_payment", ("created_date", "last_updated_date", "payment_date")))
        for column in columns)
    first, last = rows(built.warehouse, f"SELECT min(first), max(last) FROM ({dates}) spans")[0]

    assert summary["calendar_days"] == (last - first).days + 1



def test_every_sql_example_of_the_data_model_page_runs_on_the_warehouse(built):
    page = (NOTEBOOK.parent / "data-model.md").read_text(encoding="utf-8")
    examples = re.findall(r"```sql\n(.*?)```", page, flags=re.DOTALL)
    assert len(examples) == 6

    answered = [rows(built.warehouse, example) for example in examples]

    # All but "days without a sale" (which may rightly be empty) answer with rows.
    assert [bool(answer) for i, answer in enumerate(answered) if i != 2] == [True] * 5
    weekdays = answered[3]
    assert [(day, name) for day, name, _ in weekdays] == list(enumerate(
        ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"], start=1))
    orders = rows(built.warehouse, "SELECT count(*) FROM sales_order_current")[0][0]
    assert sum(count for *_, count in weekdays) == orders
