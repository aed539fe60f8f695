"""Reconciliation of the warehouse with its Totesys source: row counts per table, money sums per currency.

The warehouse keeps every version of a fact; the source holds only the latest. So facts are compared
through the current-state views, and dimensions by their keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from lambdas.load.warehouse import schema_ident
from lambdas.shared.database import DatabaseCredentials

# warehouse relation -> its source table (counted one to one)
COUNTED = {
    "dim_staff": "staff", "dim_location": "address", "dim_design": "design", "dim_currency": "currency",
    "dim_counterparty": "counterparty", "dim_payment_type": "payment_type", "dim_transaction": '"transaction"',
    "sales_order_current": "sales_order", "purchase_order_current": "purchase_order", "payment_current": "payment",
}
# (warehouse relation, amount expression), (source table, amount expression), both grouped by currency_id
MONEY = {
    "sales_order": (("sales_order_current", "units_sold * unit_price"), ("sales_order", "units_sold * unit_price")),
    "purchase_order": (("purchase_order_current", "item_quantity * item_unit_price"),
                       ("purchase_order", "item_quantity * item_unit_price")),
    "payment": (("payment_current", "payment_amount"), ("payment", "payment_amount")),
}


@dataclass(frozen=True)
class Mismatch:
    what: str
    source: object
    warehouse: object

    def __str__(self) -> str:
        return f"{self.what}: source {self.source}, warehouse {self.warehouse}"


@dataclass(frozen=True)
class Reconciliation:
    counts: dict[str, tuple[int, int]]  # relation -> (source, warehouse)
    money: dict[str, dict[int, tuple[Decimal, Decimal]]]  # fact -> currency_id -> (source, warehouse)

    @property
    def mismatches(self) -> list[Mismatch]:
        found = [Mismatch(f"rows in {name}", s, w) for name, (s, w) in self.counts.items() if s != w]
        for fact, per_currency in self.money.items():
            found += [Mismatch(f"{fact} money in currency {c}", s, w) for c, (s, w) in per_currency.items() if s != w]
        return found

    @property
    def ok(self) -> bool:
        return not self.mismatches


def reconcile(source: DatabaseCredentials, warehouse: DatabaseCredentials, schema: str = "public") -> Reconciliation:
    src, wh = source.connect(), warehouse.connect()
    try:
        wh.run(f"SET search_path TO {schema_ident(schema)}")
        counts = {name: (int(src.run(f"SELECT count(*) FROM {table}")[0][0]),
                         int(wh.run(f"SELECT count(*) FROM {name}")[0][0])) for name, table in COUNTED.items()}
        money: dict[str, dict[int, tuple[Decimal, Decimal]]] = {}
        for fact, ((w_rel, w_amount), (s_rel, s_amount)) in MONEY.items():
            s_sums = dict(src.run(f"SELECT currency_id, sum({s_amount}) FROM {s_rel} GROUP BY 1"))
            w_sums = dict(wh.run(f"SELECT currency_id, sum({w_amount}) FROM {w_rel} GROUP BY 1"))
            money[fact] = {c: (Decimal(s_sums.get(c) or 0), Decimal(w_sums.get(c) or 0))
                           for c in sorted(set(s_sums) | set(w_sums))}
        return Reconciliation(counts=counts, money=money)
    finally:
        src.close()
        wh.close()
