"""Staging table -> warehouse table, one set-based statement each.

Dimensions are upserted, and a row is rewritten only when a value changed; dim_date only gains the
dates it lacks; a fact version is inserted only if it is not there yet (facts are history).
"""

from __future__ import annotations

from dataclasses import dataclass

import pg8000.native
from pg8000.native import identifier

from lambdas.load.staging import staging_table
from lambdas.load.warehouse import detail_key, invalid_data, is_data_error
from lambdas.shared.errors import InvalidData, key_text
from lambdas.shared.identifiers import qualified
from lambdas.shared.sqlstates import sqlstate
from lambdas.shared.star_schema import STAR_TABLES_BY_NAME, StarTable

FOREIGN_KEY_VIOLATION = "23503"
# A fact load is "bulk" from BULK_ROWS new versions; then constraints are dropped and added back where that
# is cheaper than keeping them (docs/performance.md, "Load", has the measurements): foreign keys (checked per
# row by triggers, re-added in one join) from 1/FK_SHARE of the table's rows; the unique version index (each
# row lands on a random leaf page; a rebuild sorts the whole table) and the record id's primary key with it
# from 1/INDEX_SHARE.
BULK_ROWS = 10_000
FK_SHARE = 20
INDEX_SHARE = 4


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
    return ", ".join(prefix + identifier(c) for c in names)


def merge_dimension(conn: pg8000.native.Connection, schema: str, table: StarTable, *,
                    update: bool = True) -> Merged:
    """Upsert the staged rows; a row whose values are all unchanged is neither rewritten nor counted.

    With `update=False` existing rows are left alone and only new keys are inserted: for a run older
    than one already loaded, whose dimension values may be out of date (a redrive of an old run).
    """
    target = qualified(schema, table.name)
    values = tuple(c for c in table.columns if c not in table.key)
    assignments = ", ".join(f"{identifier(c)} = EXCLUDED.{identifier(c)}" for c in values)
    if is_empty(conn, target):
        # The first load: nothing to conflict with (the staging table's primary key keeps keys unique).
        # A plain insert skips the upsert's speculative insertion and per-row conflict check (half the time).
        conn.run(f"INSERT INTO {target} ({_columns(table.columns)}) "
                 f"SELECT {_columns(table.columns)} FROM {staging_table(table)}")
        return Merged(inserted=int(conn.row_count))
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


def is_empty(conn: pg8000.native.Connection, target: str) -> bool:
    return not conn.run(f"SELECT EXISTS (SELECT 1 FROM {target})")[0][0]


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
    A bulk load (see bulk_constraints) takes constraints off the table and puts them back afterwards.
    """
    target = qualified(schema, table.name)
    conn.run("SAVEPOINT onyx_fact")
    try:
        empty = is_empty(conn, target)
        new = _new_versions(conn, table, target, empty=empty)
        # Nothing new (e.g. another run carrying versions already loaded): nothing to write.
        inserted = 0 if new == 0 else _insert(conn, table, target, empty=empty,
                                               dropped=bulk_constraints(conn, target, new))
    except pg8000.native.DatabaseError as exc:
        if sqlstate(exc) == FOREIGN_KEY_VIOLATION:
            conn.run("ROLLBACK TO SAVEPOINT onyx_fact")
            raise _orphan(conn, schema, table, exc) from exc
        if is_data_error(exc):
            raise invalid_data(exc, table.name) from exc
        raise
    conn.run("RELEASE SAVEPOINT onyx_fact")
    return Merged(inserted=inserted)


def _match(table: StarTable) -> str:
    return " AND ".join(f"f.{identifier(c)} = s.{identifier(c)}" for c in table.key)


def _insert(conn: pg8000.native.Connection, table: StarTable, target: str, *, empty: bool,
            dropped: list[tuple[str, str, str]]) -> int:
    """INSERT ... SELECT the new versions, with the `dropped` constraints off the table meanwhile.

    Without the version index there is no ON CONFLICT arbiter: the staging table's primary key and the
    anti-join keep versions unique, and adding the constraint back proves it. Dropping takes an ACCESS
    EXCLUSIVE lock on the table until commit; everything rolls back with the transaction.
    """
    drop_constraints(conn, target, dropped)
    new_only = "" if empty else f"WHERE NOT EXISTS (SELECT 1 FROM {target} f WHERE {_match(table)})"
    guard = "" if any(kind == "u" for _, kind, _ in dropped) else f"ON CONFLICT ({_columns(table.key)}) DO NOTHING"
    conn.run(f"""
        INSERT INTO {target} ({_columns(table.columns)})
        SELECT {_columns(table.columns, 's.')} FROM {staging_table(table)} s {new_only}
         ORDER BY {_columns(version_order(table), 's.')}
        {guard}""")
    inserted = int(conn.row_count)
    restore_constraints(conn, table, target, dropped)
    return inserted


def version_order(table: StarTable) -> tuple[str, ...]:
    """A fact's columns in the order its record ids follow: the version's time, then the natural id."""
    natural_id, *version = table.key
    return (*version, natural_id)


def drop_constraints(conn: pg8000.native.Connection, target: str, dropped: list[tuple[str, str, str]]) -> None:
    """Take `dropped` (from bulk_constraints) off the table; the lock is held, and all of it undone on rollback."""
    if dropped:
        conn.run(f"ALTER TABLE {target} " + ", ".join(f"DROP CONSTRAINT {identifier(n)}" for n, _, _ in dropped))


def restore_constraints(conn: pg8000.native.Connection, table: StarTable, target: str,
                        dropped: list[tuple[str, str, str]]) -> None:
    """Add `dropped` back: one statement builds the indexes, then checks each foreign key in one join."""
    if not dropped:
        return
    conn.run(f"ALTER TABLE {target} "
             + ", ".join(f"ADD CONSTRAINT {identifier(n)} {definition}" for n, _, definition in dropped))
    # The table grew by a good share, so its row count is stale, and the next load's bulk decision
    # relies on it (reltuples; autovacuum would come later). Only the key columns: cheaper, and an
    # ANALYZE of some columns leaves the table due for autovacuum's full one.
    conn.run(f"ANALYZE {target} ({_columns(table.key)})")


def _new_versions(conn: pg8000.native.Connection, table: StarTable, target: str, *, empty: bool) -> int | None:
    """How many staged versions the fact table lacks; None when too few are staged for a bulk load
    (not counted: the insert skips the existing ones anyway)."""
    staged = conn.run("SELECT reltuples FROM pg_class WHERE oid = CAST(:staging AS regclass)",
                      staging=staging_table(table))[0][0]  # an estimate; the staging table was just analyzed
    if staged < BULK_ROWS:
        return None
    if empty:  # the staging table's primary key makes every staged row a distinct version
        return int(conn.run(f"SELECT count(*) FROM {staging_table(table)}")[0][0])
    return int(conn.run(f"SELECT count(*) FROM {staging_table(table)} s "
                        f"WHERE NOT EXISTS (SELECT 1 FROM {target} f WHERE {_match(table)})")[0][0])


def bulk_constraints(conn: pg8000.native.Connection, target: str, new: int | None) -> list[tuple[str, str, str]]:
    """The constraints worth dropping for an insert of `new` versions (none below BULK_ROWS): the foreign
    keys from 1/FK_SHARE of the table's rows, the unique version index and the primary key too from
    1/INDEX_SHARE."""
    if new is None or new < BULK_ROWS:
        return []
    existing = conn.run("SELECT reltuples FROM pg_class WHERE oid = CAST(:target AS regclass)", target=target)[0][0]
    if existing < 0:  # never analyzed or vacuumed: no estimate, so count
        existing = conn.run(f"SELECT count(*) FROM {target}")[0][0]
    kinds = ["f"] if new * FK_SHARE >= existing else []
    if new * INDEX_SHARE >= existing:
        kinds += ["p", "u"]
    if not kinds:
        return []
    # The version index first: adding it back fails first if a version were doubled; then the record id's.
    return [(str(name), str(kind), str(definition)) for name, kind, definition in conn.run(
        "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = CAST(:target AS regclass) AND contype = ANY(CAST(:kinds AS \"char\"[])) "
        "ORDER BY contype = 'f', contype = 'p', conname", target=target, kinds="{" + ",".join(kinds) + "}")]


def _orphan(conn: pg8000.native.Connection, schema: str, table: StarTable,
            exc: pg8000.native.DatabaseError) -> Exception:
    """InvalidData naming the first staged fact row whose reference is missing, and what it refers to."""
    named = detail_key(exc)
    # The column PostgreSQL tripped over first, then the others.
    references = sorted(table.references, key=lambda r: not (named and named[0].startswith(f"{r[0]}=")))
    for column, dimension_name in references:
        dimension = STAR_TABLES_BY_NAME[dimension_name]
        rows = conn.run(f"""
            SELECT {_columns(table.key, 's.')}, s.{identifier(column)} FROM {staging_table(table)} s
             WHERE NOT EXISTS (SELECT 1 FROM {qualified(schema, dimension_name)} d
                                WHERE d.{identifier(dimension.key[0])} = s.{identifier(column)})
             ORDER BY {_columns(table.key, 's.')} LIMIT 1""")
        if rows:
            *key_values, missing = rows[0]
            key = key_text(table.key, key_values)
            reason = f"{column}={missing} is not present in {dimension_name}"
            return InvalidData(table.name, key, reason)
    return invalid_data(exc, table.name)

