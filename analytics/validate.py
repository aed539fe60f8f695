"""Validation of the warehouse: is the data fit for analysis, and does it agree with its source?

Every check is plain SQL run by PostgreSQL itself (a 1,000,000-order warehouse never crosses the wire),
driven by the star schema in `lambdas.shared.star_schema`, so a column added there is checked here. A
check names the first few offending rows by their keys and says how many there are in all.

Checks that need the source (freshness, reconciliation) are skipped, and say so, when none is given.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, Final

import pg8000.native
import pycountry
from pg8000.native import identifier

from analytics.reconcile import reconcile
from lambdas.shared.database import DatabaseCredentials
from lambdas.shared.errors import key_text
from lambdas.shared.identifiers import schema_identifier
from lambdas.shared.star_schema import FACTS, SOURCED, STAR_TABLES, STAR_TABLES_BY_NAME, StarTable

# The pipeline's promise (docs/design.md section 1): a change in Totesys can be queried in the warehouse
# within 30 minutes.
DEFAULT_FRESHNESS_TOLERANCE_SECONDS: Final = 1800.0
NAMED_KEYS: Final = 10  # offending keys listed per check


@dataclass(frozen=True)
class Check:
    """One check's outcome. `passed` is None when the check was skipped (it needs a source)."""

    name: str
    passed: bool | None
    message: str
    offending: tuple[str, ...] = ()  # the first NAMED_KEYS offending keys
    offending_total: int = 0  # how many there are in all

    @property
    def status(self) -> str:
        return {True: "PASS", False: "FAIL", None: "SKIP"}[self.passed]

    def lines(self) -> list[str]:
        lines = [f"{self.status}  {self.name}: {self.message}"]
        lines += [f"        {key}" for key in self.offending]
        if self.offending_total > len(self.offending):
            lines.append(f"        ... and {self.offending_total - len(self.offending):,} more")
        return lines


@dataclass(frozen=True)
class ValidationReport:
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        """No check failed (skipped checks do not count against it)."""
        return all(check.passed is not False for check in self.checks)

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(check for check in self.checks if check.passed is False)

    def check(self, name: str) -> Check:
        return next(check for check in self.checks if check.name == name)

    def lines(self) -> list[str]:
        lines = [line for check in self.checks for line in check.lines()]
        skipped = sum(check.passed is None for check in self.checks)
        verdict = "warehouse valid" if self.ok else f"warehouse INVALID: {len(self.failed)} check(s) failed"
        lines.append(f"{verdict} ({len(self.checks) - skipped} checks run, {skipped} skipped)")
        return lines

    def __str__(self) -> str:
        return "\n".join(self.lines())


# ---- findings: offending rows, as "table key=value, ...: what is wrong" ---------------------------
@dataclass
class _Findings:
    keys: list[str] = field(default_factory=list)
    total: int = 0

    def add(self, rows: Sequence[Sequence[Any]], describe: Callable[[Sequence[Any]], str]) -> None:
        """`rows`: the first offending rows of one query, each ending with the query's total count;
        `describe` names one row from its other columns."""
        if rows:
            self.total += int(rows[0][-1])
            self.keys += [describe(row[:-1]) for row in rows][: max(0, NAMED_KEYS - len(self.keys))]

    def check(self, name: str, ok_message: str, failed_message: str) -> Check:
        if not self.total:
            return Check(name, True, ok_message)
        return Check(name, False, failed_message.format(n=self.total), tuple(self.keys), self.total)


def _key_columns(table: StarTable) -> tuple[str, ...]:
    """The columns that name a row in a finding: the natural key (one version of a fact)."""
    return table.key


def _select_key(table: StarTable, alias: str = "") -> str:
    prefix = f"{alias}." if alias else ""
    return ", ".join(prefix + identifier(c) for c in _key_columns(table))


def _row_name(table: StarTable, values: Sequence[Any]) -> str:
    return f"{table.name} {key_text(_key_columns(table), values)}"


def _duplicate(table: str, columns: tuple[str, ...], row: Sequence[Any]) -> str:
    return f"{table} {key_text(columns, row[:-1])} ({row[-1]} rows)"


def _orphan(fact: StarTable, column: str, dimension: str, row: Sequence[Any]) -> str:
    return f"{_row_name(fact, row[:-1])}: {column}={row[-1]} not in {dimension}"


def _null(table: StarTable, row: Sequence[Any]) -> str:
    return f"{_row_name(table, row[:-1])}: NULL in {row[-1]}"


def _out_of_range(table: StarTable, column: str, requirement: str, row: Sequence[Any]) -> str:
    return f"{_row_name(table, row[:-1])}: {column}={row[-1]} (must be {requirement})"


def _not_loaded(table: str, key: str, warehouse_newest: datetime | None, row: Sequence[Any]) -> str:
    return f"{table} {key}={row[0]} last_updated {_iso(row[1])} (warehouse newest {_iso(warehouse_newest)})"


def _iso(at: datetime | None) -> str:
    return at.isoformat(sep=" ", timespec="milliseconds") if at else "none"


def _offending(conn: pg8000.native.Connection, sql: str, **params: Any) -> list[list[Any]]:
    """`sql` selects offending rows with `count(*) OVER () AS total` last; the first NAMED_KEYS of them."""
    return list(conn.run(f"{sql} LIMIT {NAMED_KEYS}", **params))


# ---- the checks on the warehouse alone --------------------------------------------------------
def _unique(conn: pg8000.native.Connection, name: str, tables: Sequence[tuple[StarTable, tuple[str, ...]]]) -> Check:
    findings = _Findings()
    for table, columns in tables:
        cols = ", ".join(identifier(c) for c in columns)
        rows = _offending(conn, f"SELECT {cols}, count(*), count(*) OVER () FROM {identifier(table.name)} "
                                f"GROUP BY {cols} HAVING count(*) > 1 ORDER BY {cols}")
        findings.add(rows, partial(_duplicate, table.name, columns))
    return findings.check(name, f"no duplicates in {len(tables)} tables", "{n} duplicated key(s)")


def check_primary_keys(conn: pg8000.native.Connection) -> Check:
    keys = [(t, (t.surrogate,) if t.surrogate else t.key) for t in STAR_TABLES]
    return _unique(conn, "primary keys unique", keys)


def check_fact_versions(conn: pg8000.native.Connection) -> Check:
    return _unique(conn, "fact versions unique (id, last_updated_date, last_updated_time)",
                   [(t, t.key) for t in FACTS])


def check_orphans(conn: pg8000.native.Connection) -> Check:
    findings = _Findings()
    pairs = 0
    for fact in FACTS:
        for column, dimension in fact.references:
            pairs += 1
            dim_key = STAR_TABLES_BY_NAME[dimension].key[0]
            col = identifier(column)
            rows = _offending(conn, f"""
                SELECT {_select_key(fact, 'f')}, f.{col}, count(*) OVER ()
                  FROM {identifier(fact.name)} f
                 WHERE f.{col} IS NOT NULL
                   AND NOT EXISTS (SELECT 1 FROM {identifier(dimension)} d WHERE d.{identifier(dim_key)} = f.{col})
                 ORDER BY {_select_key(fact, 'f')}""")
            findings.add(rows, partial(_orphan, fact, column, dimension))
    return findings.check("facts reference their dimensions", f"all {pairs} references resolve",
                          "{n} fact row reference(s) without a dimension row")


def check_not_null(conn: pg8000.native.Connection) -> Check:
    findings = _Findings()
    for table in STAR_TABLES:
        required = [f.name for f in table.schema if not f.nullable] + ([table.surrogate] if table.surrogate else [])
        nulls = ", ".join(f"CASE WHEN {identifier(c)} IS NULL THEN '{c}' END" for c in required)
        where = " OR ".join(f"{identifier(c)} IS NULL" for c in required)
        rows = _offending(conn, f"SELECT {_select_key(table)}, concat_ws(', ', {nulls}), count(*) OVER () "
                                f"FROM {identifier(table.name)} WHERE {where} ORDER BY {_select_key(table)}")
        findings.add(rows, partial(_null, table))
    return findings.check("no NULL where forbidden", "every required column is filled", "{n} row(s) with a NULL")


# (table, column, SQL condition that is a violation, what is required)
RANGE_RULES: Final = (
    ("fact_sales_order", "units_sold", "units_sold <= 0", "> 0"),
    ("fact_sales_order", "unit_price", "unit_price < 0", ">= 0"),
    ("fact_purchase_order", "item_quantity", "item_quantity <= 0", "> 0"),
    ("fact_purchase_order", "item_unit_price", "item_unit_price < 0", ">= 0"),
    ("fact_payment", "payment_amount", "payment_amount < 0", ">= 0"),
    ("dim_date", "date_id", """year <> extract(year FROM date_id) OR month <> extract(month FROM date_id)
                               OR day <> extract(day FROM date_id) OR quarter <> extract(quarter FROM date_id)
                               OR day_of_week <> extract(isodow FROM date_id)""",
     "year, month, day, quarter and day_of_week agree with it"),
)


def check_ranges(conn: pg8000.native.Connection) -> Check:
    findings = _Findings()
    for name, column, violation, requirement in RANGE_RULES:
        table = STAR_TABLES_BY_NAME[name]
        rows = _offending(conn, f"SELECT {_select_key(table)}, {identifier(column)}, count(*) OVER () "
                                f"FROM {identifier(name)} WHERE {violation} ORDER BY {_select_key(table)}")
        findings.add(rows, partial(_out_of_range, table, column, requirement))
    return findings.check("values in range", "quantities > 0, prices and amounts >= 0, calendar consistent",
                          "{n} value(s) out of range")


def check_calendar(conn: pg8000.native.Connection) -> Check:
    """dim_date is continuous: every day between its first and last is there (lambdas/load/calendar.py)."""
    findings = _Findings()
    rows = _offending(conn, """
        SELECT CAST(series.at AS date), count(*) OVER ()
          FROM generate_series((SELECT CAST(min(date_id) AS timestamp) FROM dim_date),
                               (SELECT CAST(max(date_id) AS timestamp) FROM dim_date), interval '1 day') AS series (at)
         WHERE NOT EXISTS (SELECT 1 FROM dim_date d WHERE d.date_id = CAST(series.at AS date))
         ORDER BY 1""")
    findings.add(rows, lambda row: f"dim_date date_id={row[0]}: missing")
    return findings.check("dim_date has no gap", "every day between its first and last", "{n} day(s) missing")


def check_currencies(conn: pg8000.native.Connection) -> Check:
    """Codes known to ISO 4217 (pycountry, the same maintained list the transform names them from)."""
    offending = []
    rows = conn.run("SELECT currency_id, currency_code, currency_name FROM dim_currency ORDER BY currency_id")
    for currency_id, code, name in rows:
        known = pycountry.currencies.get(alpha_3=code) if code else None
        if known is None:
            offending.append(f"dim_currency currency_id={currency_id}: currency_code={code!r} is not ISO 4217")
        elif name != known.name:
            offending.append(f"dim_currency currency_id={currency_id}: currency_name={name!r}, "
                             f"ISO 4217 says {known.name!r}")
    findings = _Findings(offending[:NAMED_KEYS], len(offending))
    codes = ", ".join(str(row[1]) for row in rows)
    return findings.check("currency codes known (ISO 4217)", f"{len(rows)} currencies: {codes}",
                          "{n} unknown or misnamed currency(ies)")


# ---- the checks against the source ----------------------------------------------------------------
# fact -> (source table, source key)
FACT_SOURCES: Final = {fact.name: (source.name, source.key) for fact, source in SOURCED if fact.is_fact}


def newest_versions(conn: pg8000.native.Connection) -> dict[str, datetime | None]:
    """The newest last_updated of each fact in the warehouse (None when the fact is empty)."""
    return {fact: conn.run(f"SELECT max(last_updated_date + last_updated_time) FROM {identifier(fact)}")[0][0]
            for fact in FACT_SOURCES}


def check_freshness(src: pg8000.native.Connection, wh: pg8000.native.Connection, tolerance: float) -> Check:
    findings = _Findings()
    lags = []
    newest = newest_versions(wh)
    for fact, (table, key) in FACT_SOURCES.items():
        warehouse_newest = newest[fact]
        source_newest = src.run(f"SELECT max(last_updated) FROM {identifier(table)}")[0][0]
        if source_newest is None:
            continue
        lag = (source_newest - warehouse_newest).total_seconds() if warehouse_newest else float("inf")
        lags.append(f"{table} {max(lag, 0):,.0f} s")
        if lag > tolerance:
            since = warehouse_newest or datetime.min
            rows = _offending(src, f"SELECT {identifier(key)}, last_updated, count(*) OVER () FROM {identifier(table)} "
                                   f"WHERE last_updated > :since ORDER BY last_updated, {identifier(key)}", since=since)
            findings.add(rows, partial(_not_loaded, table, key, warehouse_newest))
    return findings.check("freshness", f"warehouse behind the source by {', '.join(lags) or 'nothing'} "
                                       f"(tolerance {tolerance:,.0f} s)",
                          "{n} source row version(s) newer than the warehouse's newest, "
                          f"beyond the tolerance of {tolerance:,.0f} s")


def _currency_codes(wh: pg8000.native.Connection) -> dict[int, str]:
    return {int(i): str(code) for i, code in wh.run("SELECT currency_id, currency_code FROM dim_currency")}


def check_reconciliation(source: DatabaseCredentials, warehouse: DatabaseCredentials, schema: str,
                         wh: pg8000.native.Connection) -> tuple[Check, Check]:
    result = reconcile(source, warehouse, schema)
    count_keys: list[str] = []
    count_total = 0
    for name, (s, w) in result.counts.items():
        difference = result.keys.get(name)
        if s != w or difference is not None:
            count_total += max(1, difference.only_in_source_total + difference.only_in_warehouse_total
                               if difference else abs(s - w))
            keys = ", ".join(difference.named()) if difference else "same ids: a duplicate"
            count_keys.append(f"{name}: source {s:,}, warehouse {w:,} ({keys})")
    counts = _Findings(count_keys[:NAMED_KEYS], count_total).check(
        "row counts match the source", f"{len(result.counts)} tables, "
        f"{sum(w for _, w in result.counts.values()):,} rows", "{n} row(s) differ")
    codes = _currency_codes(wh)
    money_keys = [f"{fact} {codes.get(c, f'currency_id={c}')}: source {s}, warehouse {w}"
                  for fact, per_currency in result.money.items() for c, (s, w) in per_currency.items() if s != w]
    money = _Findings(money_keys[:NAMED_KEYS], len(money_keys)).check(
        "money sums match the source (per currency)",
        ", ".join(f"{fact} in {len(per)} currencies" for fact, per in result.money.items()), "{n} sum(s) differ")
    return counts, money


# ---- all of it -----------------------------------------------------------------------------------
SOURCE_CHECKS: Final = ("freshness", "row counts match the source", "money sums match the source (per currency)")


def validate_warehouse(source: DatabaseCredentials | None, warehouse: DatabaseCredentials, schema: str = "public",
                       *, freshness_tolerance_seconds: float = DEFAULT_FRESHNESS_TOLERANCE_SECONDS
                       ) -> ValidationReport:
    """Run every check; those needing the source are skipped (and say so) when `source` is None."""
    wh = warehouse.connect(application_name="onyx-validate")
    try:
        wh.run(f"SET search_path TO {schema_identifier(schema)}")
        wh.run("START TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")  # one snapshot for every check
        checks = [check_primary_keys(wh), check_fact_versions(wh), check_orphans(wh), check_not_null(wh),
                  check_ranges(wh), check_calendar(wh), check_currencies(wh)]
        if source is None:
            newest = max((v for v in newest_versions(wh).values() if v is not None), default=None)
            note = f"no source given; warehouse newest change {_iso(newest)}"
            checks += [Check(name, None, "skipped: " + note if name == "freshness" else "skipped: no source given")
                       for name in SOURCE_CHECKS]
        else:
            src = source.connect(application_name="onyx-validate")
            try:
                checks.append(check_freshness(src, wh, freshness_tolerance_seconds))
            finally:
                src.close()
            checks += check_reconciliation(source, warehouse, schema, wh)
        wh.run("COMMIT")
        return ValidationReport(tuple(checks))
    finally:
        wh.close()
