"""The fact tables: one pure function each (a batch of source row versions in, fact rows out).

One fact row per source row version: `created_at` / `last_updated` split into a date and a time that
keeps the milliseconds; the text dates parsed strictly; payment account numbers are not carried.
"""

from __future__ import annotations

import pyarrow as pa

from lambdas.shared.star_schema import FACT_PAYMENT, FACT_PURCHASE_ORDER, FACT_SALES_ORDER, TIME_MS, StarTable
from lambdas.transform.checks import conform
from lambdas.transform.dates import parse_dates


def _versioned(source: str, star: StarTable, rows: pa.Table, text_dates: tuple[str, ...],
               renames: dict[str, str] | None = None) -> pa.Table:
    """The source rows with split stamps, parsed dates and star names, in the star's columns and types."""
    columns = {name: rows[name] for name in rows.column_names}
    for stamp, prefix in (("created_at", "created"), ("last_updated", "last_updated")):
        columns[f"{prefix}_date"] = rows[stamp].cast(pa.date32())
        columns[f"{prefix}_time"] = rows[stamp].cast(TIME_MS)
    ids = rows[f"{source}_id"]
    for name in text_dates:
        columns[name] = parse_dates(source, ids, name, rows[name])
    for old, new in (renames or {}).items():
        columns[new] = columns.pop(old)
    return conform(star, pa.table({name: columns[name] for name in star.columns}))


def build_fact_sales_order(sales_order: pa.Table) -> pa.Table:
    """fact_sales_order: one row per sales order version; `sales_staff_id` is the order's `staff_id`."""
    return _versioned("sales_order", FACT_SALES_ORDER, sales_order, ("agreed_payment_date", "agreed_delivery_date"),
                      {"staff_id": "sales_staff_id"})


def build_fact_purchase_order(purchase_order: pa.Table) -> pa.Table:
    """fact_purchase_order: one row per purchase order version."""
    return _versioned("purchase_order", FACT_PURCHASE_ORDER, purchase_order,
                      ("agreed_delivery_date", "agreed_payment_date"))


def build_fact_payment(payment: pa.Table) -> pa.Table:
    """fact_payment: one row per payment version, without the account numbers."""
    return _versioned("payment", FACT_PAYMENT, payment, ("payment_date",))
