"""The real Totesys sample, turned into the contract's JSON Lines, transforms completely and to the penny.

(The end-to-end version, loaded into PostgreSQL and extracted by the real extract, belongs to the lead.)
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pytest

from lambdas.shared.totesys import TABLES_BY_NAME, TIMESTAMP
from local.seed.load import open_dump
from tests.transform.runs import read_star, transform

MONEY_COLUMNS = {"sales_order": "unit_price", "purchase_order": "item_unit_price"}
STAR_OF = {"address": "dim_location", "currency": "dim_currency", "design": "dim_design",
           "payment_type": "dim_payment_type", "counterparty": "dim_counterparty", "staff": "dim_staff",
           "transaction": "dim_transaction", "sales_order": "fact_sales_order",
           "purchase_order": "fact_purchase_order"}


def _contract_row(table: str, raw: dict[str, Any]) -> dict[str, Any]:
    """A sample row as extract writes it: 3 millisecond digits, money as exact text."""
    row = dict(raw)
    for column in TABLES_BY_NAME[table].columns:
        if column.kind == TIMESTAMP:
            row[column.name] = row[column.name][:23]
    if table in MONEY_COLUMNS:
        row[MONEY_COLUMNS[table]] = f"{row[MONEY_COLUMNS[table]]:.2f}"
    return row


def _sample(sample_dir: Path) -> tuple[dict[str, list[dict[str, Any]]], dict[str, Decimal]]:
    rows, sums = {}, {}
    for path in sorted(sample_dir.glob("*.jsonl.gz")):
        table = path.name.removesuffix(".jsonl.gz")
        with open_dump(path) as dump:
            lines = [line for line in dump.read().splitlines() if line.strip()]
        exact = [json.loads(line, parse_float=Decimal) for line in lines]
        if table in MONEY_COLUMNS:
            sums[table] = sum((r[MONEY_COLUMNS[table]] for r in exact), Decimal("0"))
        rows[table] = [_contract_row(table, json.loads(line)) for line in lines]
    rows["payment"] = []  # the sample has no payments; none are made up
    return rows, sums


@pytest.mark.slow
def test_real_sample_transforms_every_row_and_every_penny(aws, sample_dir):
    rows, sums = _sample(sample_dir)

    payload = transform(aws, "run-sample", rows)

    for source, star in STAR_OF.items():
        assert payload["transformed"][star] == len(rows[source]), star
    assert payload["transformed"]["fact_payment"] == 0
    for source, column in MONEY_COLUMNS.items():
        written = pc.sum(read_star(aws, STAR_OF[source], "run-sample")[column]).as_py()
        assert written == sums[source], source
    assert payload["transformed"]["dim_date"] > 0
