"""Reconciliation of the warehouse with its Totesys source: row counts per table, money sums per currency.

The warehouse keeps every version of a fact; the source holds only the latest. So facts are compared
through the current-state views, and dimensions by their keys. Besides the count, each side's key list
is fingerprinted in the database (md5 of the ordered ids), so a missing row hidden by an extra one is
still found; only when the two sides differ are the ids fetched, to name the rows that differ.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import pg8000.native
from pg8000.native import identifier

from lambdas.shared.database import DatabaseCredentials
from lambdas.shared.identifiers import schema_identifier
from lambdas.shared.star_schema import SOURCED

# warehouse relation -> (its source table, the key in the warehouse, the key in the source), counted one to one
COUNTED = {star.counted_relation: (source.name, star.id_column, source.key) for star, source in SOURCED}
# source fact -> (warehouse relation, amount expression), (source table, amount expression), grouped by currency_id
MONEY = {source.name: ((star.counted_relation, " * ".join(identifier(c) for c in star.amount)),
                       (source.name, " * ".join(identifier(c) for c in star.amount)))
         for star, source in SOURCED if star.amount}
NAMED_KEYS = 10  # ids named per side when a table differs


@dataclass(frozen=True)
class Mismatch:
    what: str
    source: object
    warehouse: object
    keys: tuple[str, ...] = ()  # e.g. "sales_order_id=12 only in source"

    def __str__(self) -> str:
        text = f"{self.what}: source {self.source}, warehouse {self.warehouse}"
        return f"{text} ({'; '.join(self.keys)})" if self.keys else text


@dataclass(frozen=True)
class KeyDifference:
    """Ids of one relation present on one side only (at most NAMED_KEYS each, plus the totals)."""

    key: str
    only_in_source: tuple[int, ...]
    only_in_warehouse: tuple[int, ...]
    only_in_source_total: int
    only_in_warehouse_total: int

    def named(self) -> tuple[str, ...]:
        return (*(f"{self.key}={k} only in source" for k in self.only_in_source),
                *(f"{self.key}={k} only in warehouse" for k in self.only_in_warehouse))


@dataclass(frozen=True)
class Reconciliation:
    counts: dict[str, tuple[int, int]]  # relation -> (source, warehouse)
    money: dict[str, dict[int, tuple[Decimal, Decimal]]]  # fact -> currency_id -> (source, warehouse)
    keys: dict[str, KeyDifference] = field(default_factory=dict)  # relation -> ids on one side only

    @property
    def mismatches(self) -> list[Mismatch]:
        found = []
        for name, (s, w) in self.counts.items():
            difference = self.keys.get(name)
            if s != w or difference is not None:
                found.append(Mismatch(f"rows in {name}", s, w, difference.named() if difference else ()))
        for fact, per_currency in self.money.items():
            found += [Mismatch(f"{fact} money in currency {c}", s, w) for c, (s, w) in per_currency.items() if s != w]
        return found

    @property
    def ok(self) -> bool:
        return not self.mismatches


def _fingerprint(conn: pg8000.native.Connection, relation: str, key: str) -> tuple[int, str]:
    key, relation = identifier(key), identifier(relation)
    count, digest = conn.run(f"SELECT count(*), md5(coalesce(string_agg({key}::text, ',' ORDER BY {key}), '')) "
                             f"FROM {relation}")[0]
    return int(count), str(digest)


def _ids(conn: pg8000.native.Connection, relation: str, key: str) -> set[int]:
    key, relation = identifier(key), identifier(relation)
    return {int(row[0]) for row in conn.run(f"SELECT {key} FROM {relation} WHERE {key} IS NOT NULL")}


def _difference(src: pg8000.native.Connection, wh: pg8000.native.Connection, name: str) -> KeyDifference:
    table, w_key, s_key = COUNTED[name]
    source_ids, warehouse_ids = _ids(src, table, s_key), _ids(wh, name, w_key)
    only_source, only_warehouse = sorted(source_ids - warehouse_ids), sorted(warehouse_ids - source_ids)
    return KeyDifference(w_key, tuple(only_source[:NAMED_KEYS]), tuple(only_warehouse[:NAMED_KEYS]),
                         len(only_source), len(only_warehouse))


def reconcile(source: DatabaseCredentials, warehouse: DatabaseCredentials, schema: str = "public") -> Reconciliation:
    src, wh = source.connect(), warehouse.connect()
    try:
        wh.run(f"SET search_path TO {schema_identifier(schema)}")
        counts: dict[str, tuple[int, int]] = {}
        keys: dict[str, KeyDifference] = {}
        for name, (table, w_key, s_key) in COUNTED.items():
            s_count, s_digest = _fingerprint(src, table, s_key)
            w_count, w_digest = _fingerprint(wh, name, w_key)
            counts[name] = (s_count, w_count)
            if s_digest != w_digest:
                difference = _difference(src, wh, name)
                # Equal id sets with different counts mean a duplicate: the counts say it, no id to name.
                if difference.only_in_source_total or difference.only_in_warehouse_total:
                    keys[name] = difference
        money: dict[str, dict[int, tuple[Decimal, Decimal]]] = {}
        for fact, ((w_rel, w_amount), (s_rel, s_amount)) in MONEY.items():
            s_sums = dict(src.run(f"SELECT currency_id, sum({s_amount}) FROM {identifier(s_rel)} GROUP BY 1"))
            w_sums = dict(wh.run(f"SELECT currency_id, sum({w_amount}) FROM {identifier(w_rel)} GROUP BY 1"))
            money[fact] = {c: (Decimal(s_sums.get(c) or 0), Decimal(w_sums.get(c) or 0))
                           for c in sorted(set(s_sums) | set(w_sums))}
        return Reconciliation(counts=counts, money=money, keys=keys)
    finally:
        src.close()
        wh.close()
