"""The fact tables: one pure function each (a batch of source row versions in, fact rows out).

One fact row per source row version: `created_at` / `last_updated` split into a date and a time that
keeps the milliseconds; the text dates parsed strictly; payment account numbers are not carried.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import pyarrow as pa

from lambdas.shared.star_schema import FACT_PAYMENT, FACT_PURCHASE_ORDER, FACT_SALES_ORDER, TIME_MS, StarTable
from lambdas.transform.checks import conform
from lambdas.transform.dates import parse_dates


def _versioned(star: StarTable, rows: pa.Table, renames: dict[str, str] | None = None) -> pa.Table:
    """The source rows with split stamps, parsed dates and star names, in the star's columns and types.

    The text dates to parse are the star's dim_date references that are source columns (the others are
    split from the stamps)."""
    if star.source is None:
        raise ValueError(f"{star.name} has no source table")
    text_dates = [c for c in star.date_columns if c in star.source.column_names]
    columns = {name: rows[name] for name in rows.column_names}
    for stamp, prefix in (("created_at", "created"), ("last_updated", "last_updated")):
        columns[f"{prefix}_date"] = rows[stamp].cast(pa.date32())
        columns[f"{prefix}_time"] = rows[stamp].cast(TIME_MS)
    ids = rows[star.source.key]
    for name in text_dates:
        columns[name] = parse_dates(star.source.name, ids, name, rows[name])
    for old, new in (renames or {}).items():
        columns[new] = columns.pop(old)
    return conform(star, pa.table({name: columns[name] for name in star.columns}))


def build_fact_sales_order(sales_order: pa.Table) -> pa.Table:
    """fact_sales_order: one row per sales order version; `sales_staff_id` is the order's `staff_id`."""
    return _versioned(FACT_SALES_ORDER, sales_order, {"staff_id": "sales_staff_id"})


def build_fact_purchase_order(purchase_order: pa.Table) -> pa.Table:
    """fact_purchase_order: one row per purchase order version."""
    return _versioned(FACT_PURCHASE_ORDER, purchase_order)


def build_fact_payment(payment: pa.Table) -> pa.Table:
    """fact_payment: one row per payment version, without the account numbers."""
    return _versioned(FACT_PAYMENT, payment)


# Fact table -> its builder (a batch of its source table's rows in: the source is the StarTable's).
BUILDERS: Final[dict[str, Callable[[pa.Table], pa.Table]]] = {
    FACT_SALES_ORDER.name: build_fact_sales_order,
    FACT_PURCHASE_ORDER.name: build_fact_purchase_order,
    FACT_PAYMENT.name: build_fact_payment,
}
