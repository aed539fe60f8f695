"""Staging table -> warehouse table, one set-based statement each.

Dimensions are upserted, and a row is rewritten only when a value changed; dim_date only gains the
dates it lacks; a fact version is inserted only if it is not there yet (facts are history).
"""

from __future__ import annotations

from dataclasses import dataclass

import pg8000.native

from lambdas.load.staging import staging_table
from lambdas.load.warehouse import (
    detail_key,
    invalid_data,
    is_data_error,
    key_text,
    qualified,
    quote_ident,
    sqlstate,
)
from lambdas.shared.errors import InvalidData
from lambdas.shared.star_schema import STAR_TABLES_BY_NAME, StarTable

FOREIGN_KEY_VIOLATION = "23503"
# A fact load is "bulk" from BULK_ROWS staged rows, when it adds at least 1/BULK_SHARE of the table's rows.
BULK_ROWS = 10_000
BULK_SHARE = 4


@dataclass(frozen=True)
class Merged:
    inserted: int = 0
    updated: int = 0

    @property
    def total(self) -> int:
        return self.inserted + self.updated

    def as_dict(self) -> dict[str, int]:
        return {"inserted": self.inserted, "updated": self.updated}


def _columns(names: tuple[str, ...], prefix: str = "") -> str:
    return ", ".join(prefix + quote_ident(c) for c in names)


def merge_dimension(conn: pg8000.native.Connection, schema: str, table: StarTable, *,
                    update: bool = True) -> Merged:
    """Upsert the staged rows; a row whose values are all unchanged is neither rewritten nor counted.

    With `update=False` existing rows are left alone and only new keys are inserted: for a run older
    than one already loaded, whose dimension values may be out of date (a redrive of an old run).
    """
    target = qualified(schema, table.name)
    values = tuple(c for c in table.columns if c not in table.key)
    assignments = ", ".join(f"{quote_ident(c)} = EXCLUDED.{quote_ident(c)}" for c in values)
    if not update:
        conn.run(f"""
            INSERT INTO {target} ({_columns(table.columns)})
            SELECT {_columns(table.columns)} FROM {staging_table(table)}
            ON CONFLICT ({_columns(table.key)}) DO NOTHING""")
        return Merged(inserted=int(conn.row_count))
    # xmax = 0 marks a freshly inserted tuple; an updated one carries the updating transaction's id.
    counts = conn.run(f"""
        WITH upserted AS (
            INSERT INTO {target} AS t ({_columns(table.columns)})
            SELECT {_columns(table.columns)} FROM {staging_table(table)}
            ON CONFLICT ({_columns(table.key)}) DO UPDATE SET {assignments}
            WHERE ({_columns(values, 't.')}) IS DISTINCT FROM ({_columns(values, 'EXCLUDED.')})
            RETURNING (t.xmax = 0) AS inserted)
        SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM upserted""")
    return Merged(inserted=int(counts[0][0]), updated=int(counts[0][1]))


def merge_dates(conn: pg8000.native.Connection, schema: str, table: StarTable) -> Merged:
    """Insert the dates the calendar lacks (a date's attributes never change)."""
    conn.run(f"""
        INSERT INTO {qualified(schema, table.name)} ({_columns(table.columns)})
        SELECT {_columns(table.columns)} FROM {staging_table(table)}
        ON CONFLICT ({_columns(table.key)}) DO NOTHING""")
    return Merged(inserted=int(conn.row_count))


def merge_fact(conn: pg8000.native.Connection, schema: str, table: StarTable) -> Merged:
    """Insert the staged versions not in the fact table yet, oldest first (so record ids follow time).

    Existing versions are filtered out before the insert, so they do not use up surrogate ids; the
    ON CONFLICT clause is only a guard. A foreign key violation is reported with the fact's key.
    """
    target = qualified(schema, table.name)
    match = " AND ".join(f"f.{quote_ident(c)} = s.{quote_ident(c)}" for c in table.key)
    natural_id, *version = table.key
    order = _columns((*version, natural_id), "s.")
    conn.run("SAVEPOINT onyx_fact")
    try:
        foreign_keys = _foreign_keys(conn, target) if _is_bulk(conn, table, target, match) else []
        if foreign_keys:
            # Checking each row's references one by one (the FK triggers) costs far more than the
            # insert itself; for a bulk load, re-adding the constraints checks them all in one join each.
            conn.run(f"ALTER TABLE {target} " + ", ".join(f"DROP CONSTRAINT {quote_ident(n)}" for n, _ in foreign_keys))
        conn.run(f"""
            INSERT INTO {target} ({_columns(table.columns)})
            SELECT {_columns(table.columns, 's.')} FROM {staging_table(table)} s
             WHERE NOT EXISTS (SELECT 1 FROM {target} f WHERE {match})
             ORDER BY {order}
            ON CONFLICT ({_columns(table.key)}) DO NOTHING""")
        inserted = int(conn.row_count)
        if foreign_keys:
            conn.run(f"ALTER TABLE {target} "
                     + ", ".join(f"ADD CONSTRAINT {quote_ident(n)} {definition}" for n, definition in foreign_keys))
    except pg8000.native.DatabaseError as exc:
        if sqlstate(exc) == FOREIGN_KEY_VIOLATION:
            conn.run("ROLLBACK TO SAVEPOINT onyx_fact")
            raise _orphan(conn, schema, table, exc) from exc
        if is_data_error(exc):
            raise invalid_data(exc, table.name) from exc
        raise
    conn.run("RELEASE SAVEPOINT onyx_fact")
    return Merged(inserted=inserted)


def _is_bulk(conn: pg8000.native.Connection, table: StarTable, target: str, match: str) -> bool:
    """Whether the run adds at least BULK_ROWS versions and 1/BULK_SHARE of the table's rows."""
    staged, existing = conn.run(
        "SELECT (SELECT reltuples FROM pg_class WHERE oid = CAST(:staging AS regclass)), "
        "       (SELECT reltuples FROM pg_class WHERE oid = CAST(:target AS regclass))",
        staging=staging_table(table), target=target)[0]  # estimates; the staging table was just analyzed
    if staged < BULK_ROWS:
        return False
    new = conn.run(f"SELECT count(*) FROM {staging_table(table)} s "
                   f"WHERE NOT EXISTS (SELECT 1 FROM {target} f WHERE {match})")[0][0]
    return bool(new >= BULK_ROWS and new * BULK_SHARE >= max(existing, 0))


def _foreign_keys(conn: pg8000.native.Connection, target: str) -> list[tuple[str, str]]:
    """(name, definition) of the table's foreign keys, as the catalog renders them (schema-qualified)."""
    return [(str(name), str(definition)) for name, definition in conn.run(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = CAST(:target AS regclass) AND contype = 'f' ORDER BY conname", target=target)]


def _orphan(conn: pg8000.native.Connection, schema: str, table: StarTable,
            exc: pg8000.native.DatabaseError) -> Exception:
    """InvalidData naming the first staged fact row whose reference is missing, and what it refers to."""
    named = detail_key(exc)
    # The column PostgreSQL tripped over first, then the others.
    references = sorted(table.references, key=lambda r: not (named and named[0].startswith(f"{r[0]}=")))
    for column, dimension_name in references:
        dimension = STAR_TABLES_BY_NAME[dimension_name]
        rows = conn.run(f"""
            SELECT {_columns(table.key, 's.')}, s.{quote_ident(column)} FROM {staging_table(table)} s
             WHERE NOT EXISTS (SELECT 1 FROM {qualified(schema, dimension_name)} d
                                WHERE d.{quote_ident(dimension.key[0])} = s.{quote_ident(column)})
             ORDER BY {_columns(table.key, 's.')} LIMIT 1""")
        if rows:
            *key_values, missing = rows[0]
            key = key_text(table.key, key_values)
            reason = f"{column}={missing} is not present in {dimension_name}"
            return InvalidData(table.name, key, reason)
    return invalid_data(exc, table.name)

