"""Put Totesys data into a PostgreSQL database: the schema, then every table by COPY, in one transaction."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO

import pg8000.native
from pg8000.native import identifier

from lambdas.shared.database import DatabaseCredentials
from lambdas.shared.totesys import ENUMS, TABLES, TABLES_BY_NAME, Table
from local.database_check import failure_reason
from local.seed.copy_format import chunk_lines, copy_line
from local.seed.generator import TotesysGenerator
from local.seed.schema import SchemaVariant, created_types, source_schema_sql

Progress = Callable[[str], None]
# What a table's dump may be called, in order of preference; the repository's sample is gzipped.
DUMP_SUFFIXES = (".jsonl", ".jsonl.gz", ".json")


class SeedError(RuntimeError):
    """The source could not be seeded; the message says why and where."""


def connect(credentials: DatabaseCredentials) -> pg8000.native.Connection:
    """Connect, turning any failure into one clear sentence (never with the password)."""
    try:
        return credentials.connect(timeout=10, application_name="onyx-seed")
    except Exception as exc:
        raise SeedError(f"cannot connect to {credentials.public_url()}: {failure_reason(exc, credentials)}") from exc


def _reason(exc: Exception) -> str:
    if isinstance(exc, pg8000.native.DatabaseError) and exc.args and isinstance(exc.args[0], dict):
        return str(exc.args[0].get("M", exc))
    return str(exc) or type(exc).__name__


def apply_source_schema(conn: pg8000.native.Connection, *, reset: bool = False,
                        variant: SchemaVariant | None = None) -> None:
    """Create the Totesys schema (idempotent), its enum columns declared as `variant` says (default: as Totesys
    does, `local.seed.schema`); with `reset`, drop the tables, their data and their enum types first."""
    if reset:
        types = dict.fromkeys([*_enum_types_in_use(conn),
                               *(str(identifier(name)) for name in (*ENUMS, *created_types(variant)))])
        conn.run(" ".join(f"DROP TABLE IF EXISTS {t.sql_name} CASCADE;" for t in reversed(TABLES))
                 + "".join(f" DROP TYPE IF EXISTS {name};" for name in types))
    conn.run(source_schema_sql(variant))


def _enum_types_in_use(conn: pg8000.native.Connection) -> list[str]:
    """The enum types the Totesys tables' columns have, as SQL names (whatever a variant called them)."""
    rows = conn.run("""
        SELECT DISTINCT CAST(CAST(a.atttypid AS regtype) AS text)
          FROM pg_attribute a
          JOIN pg_class c ON c.oid = a.attrelid
          JOIN pg_type t ON t.oid = a.atttypid
         WHERE c.relnamespace = CAST(current_schema() AS regnamespace) AND c.relname = ANY(CAST(:tables AS text[]))
           AND t.typtype = 'e'""", tables=[t.name for t in TABLES])
    return sorted(str(name) for (name,) in rows)


def _require_empty(conn: pg8000.native.Connection) -> None:
    filled = [t.name for t in TABLES if conn.run(f"SELECT EXISTS (SELECT 1 FROM {t.sql_name})")[0][0]]
    if filled:
        raise SeedError(f"the source already holds data ({', '.join(filled)}): pass --reset to replace it")


def copy_into(conn: pg8000.native.Connection, table: Table, lines: Iterable[str]) -> int:
    """COPY ready-made lines into `table`; returns the rows loaded."""
    columns = ", ".join(table.column_names)
    conn.run(f"COPY {table.sql_name} ({columns}) FROM STDIN", stream=chunk_lines(lines))
    return int(conn.row_count)


def _foreign_keys() -> list[tuple[Table, str, str]]:
    return [(t, c.name, c.references) for t in TABLES for c in t.columns if c.references]


def _constraint(table: Table, column: str) -> str:
    """PostgreSQL's default name of the foreign key, quoted: the one the source schema's DDL creates."""
    return str(identifier(f"{table.name}_{column}_fkey"))


def _drop_foreign_keys(conn: pg8000.native.Connection) -> None:
    for table, column, _ in _foreign_keys():
        conn.run(f"ALTER TABLE {table.sql_name} DROP CONSTRAINT IF EXISTS {_constraint(table, column)}")


def _add_foreign_keys(conn: pg8000.native.Connection) -> None:
    for table, column, target in _foreign_keys():
        try:
            conn.run(f"ALTER TABLE {table.sql_name} ADD CONSTRAINT {_constraint(table, column)} "
                     f"FOREIGN KEY ({identifier(column)}) REFERENCES {identifier(target)} "
                     f"({identifier(target + '_id')})")
        except pg8000.native.DatabaseError as exc:
            detail = exc.args[0].get("D", "") if exc.args and isinstance(exc.args[0], dict) else ""
            raise SeedError(f"{table.name}.{column} refers to a missing {target}: {detail or _reason(exc)}") from exc


def _reset_sequences(conn: pg8000.native.Connection) -> None:
    """Move every serial past the largest id, so the application's next insert does not collide."""
    for table in TABLES:
        conn.run(f"SELECT setval(pg_get_serial_sequence('{table.sql_name}', '{table.key}'), "
                 f"GREATEST((SELECT max({table.key}) FROM {table.sql_name}), 1))")


def _load(credentials: DatabaseCredentials, reset: bool, progress: Progress,
          fill: Callable[[pg8000.native.Connection], dict[str, int]], variant: SchemaVariant | None = None,
          ) -> dict[str, int]:
    conn = connect(credentials)
    try:
        conn.run("BEGIN")
        apply_source_schema(conn, reset=reset, variant=variant)
        _require_empty(conn)
        # Bulk-load idiom: drop the foreign keys, load, then add them back. Re-adding validates every
        # row in one join per key instead of one trigger call per row, and fails the load if any is broken.
        _drop_foreign_keys(conn)
        counts = fill(conn)
        _add_foreign_keys(conn)
        _reset_sequences(conn)
        conn.run("COMMIT")
        # As a source stands once autovacuum has been by: hint bits set and the visibility map built, so
        # its first reader does not pay for them, and autovacuum does not start in the middle of a bench.
        conn.run("VACUUM (ANALYZE)")
        progress(f"seeded {credentials}: {sum(counts.values()):,} rows in {len(counts)} tables")
        return counts
    finally:
        conn.close()  # without COMMIT, closing rolls everything back: nothing half-loaded


def seed_generated(credentials: DatabaseCredentials, scale: int, seed: int = 1, *, reset: bool = False,
                   progress: Progress = lambda _: None, variant: SchemaVariant | None = None) -> dict[str, int]:
    """Fill an empty source with generated data for `scale` sales orders (the schema as `variant` declares it:
    the same data, whatever the enum columns' types)."""
    generator = TotesysGenerator(scale, seed)  # validates the scale before we touch the database

    def fill(conn: pg8000.native.Connection) -> dict[str, int]:
        counts = {}
        for table in TABLES:
            started = time.monotonic()
            if table.name in generator.GENERATED_TABLES:
                counts[table.name] = copy_into(conn, table, generator.lines(table.name))
            elif table.name == "transaction":
                counts[table.name] = _derive_transactions(conn)
            else:
                counts[table.name] = _synthesize_payments(conn, seed)
            progress(f"  {table.name:<15} {counts[table.name]:>10,} rows  {time.monotonic() - started:6.1f}s")
        return counts

    return _load(credentials, reset, progress, fill, variant)


def seed_from_jsonl(credentials: DatabaseCredentials, directory: Path, *, reset: bool = False,
                    progress: Progress = lambda _: None) -> dict[str, int]:
    """Load a directory of Totesys JSON Lines dumps (`<table>.jsonl`, `.jsonl.gz` or `.json`) exactly as they are.

    A dump without `payment` gets one synthesized payment per transaction, consistent with its order.
    """
    files = _dump_files(directory)

    def fill(conn: pg8000.native.Connection) -> dict[str, int]:
        counts = {}
        for table in TABLES:
            started = time.monotonic()
            if table.name in files:
                counts[table.name] = copy_into(conn, table, _dump_lines(files[table.name], table))
            else:
                counts[table.name] = _synthesize_payments(conn, seed=0)
            progress(f"  {table.name:<15} {counts[table.name]:>10,} rows  {time.monotonic() - started:6.1f}s")
        return counts

    return _load(credentials, reset, progress, fill)


def _dump_files(directory: Path) -> dict[str, Path]:
    if not directory.is_dir():
        raise SeedError(f"{directory}: not a directory")
    files: dict[str, Path] = {}
    for table in TABLES:
        for suffix in DUMP_SUFFIXES:
            if (directory / f"{table.name}{suffix}").is_file():
                files[table.name] = directory / f"{table.name}{suffix}"
                break
    missing = [t.name for t in TABLES if t.name not in files and t.name != "payment"]
    if missing:
        raise SeedError(f"{directory}: no dump for {', '.join(missing)} (expected <table>.jsonl)")
    return files


def open_dump(path: Path) -> IO[str]:
    """A dump opened as text, decompressed on the fly when it is gzipped (`.gz`)."""
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")


def _dump_lines(path: Path, table: Table) -> Iterator[str]:
    """Each line of a dump as a COPY line, refusing anything that is not one row of `table`."""
    expected = set(table.column_names)
    with open_dump(path) as dump:
        for number, text in enumerate(dump, start=1):
            if not text.strip():
                continue
            try:
                row = json.loads(text)
            except json.JSONDecodeError as exc:
                raise SeedError(f"{path}:{number}: not valid JSON ({exc.msg})") from exc
            if not isinstance(row, dict):
                raise SeedError(f"{path}:{number}: expected a JSON object, got {type(row).__name__}")
            if set(row) != expected:
                missing, unknown = sorted(expected - set(row)), sorted(set(row) - expected)
                raise SeedError(f"{path}:{number}: columns differ from {table.name}: "
                                f"missing {missing or 'none'}, unknown {unknown or 'none'}")
            yield copy_line([row[c] for c in table.column_names])


def _column_type(conn: pg8000.native.Connection, table: Table, column: str) -> str:
    """The column's type as SQL (`transaction_type`, `"TransactionType"`, `character varying(16)`)."""
    return str(conn.run("SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                        "WHERE attrelid = CAST(:table AS regclass) AND attname = :column",
                        table=table.sql_name, column=column)[0][0])


def _derive_transactions(conn: pg8000.native.Connection) -> int:
    """One transaction per order, numbered in creation order (as Totesys records them), set-based.

    The type is cast to the column's own type, whatever the source named it (or text); the order of the
    kinds is Totesys' (SALE, then PURCHASE), whatever the type's sort order.
    """
    kind_type = _column_type(conn, TABLES_BY_NAME["transaction"], "transaction_type")
    conn.run(f"""
        INSERT INTO "transaction" (transaction_id, transaction_type, sales_order_id, purchase_order_id,
                                   created_at, last_updated)
        SELECT row_number() OVER (ORDER BY created_at, kind_order, order_id), CAST(kind AS {kind_type}),
               CASE WHEN kind = 'SALE' THEN order_id END,
               CASE WHEN kind = 'PURCHASE' THEN order_id END, created_at, created_at
          FROM (SELECT text 'SALE' AS kind, 1 AS kind_order, sales_order_id AS order_id, created_at
                  FROM sales_order
                UNION ALL
                SELECT 'PURCHASE', 2, purchase_order_id, created_at FROM purchase_order) AS orders
    """)
    return int(conn.row_count)


def _synthesize_payments(conn: pg8000.native.Connection, seed: int) -> int:
    """One payment per transaction, set-based: amount = units x price, type from the transaction.

    The pseudo-random parts (a few refunds, unpaid payments, account numbers) come from
    hashint4extended(id, seed): deterministic for a seed, and computed inside PostgreSQL.
    """
    conn.run("""
        INSERT INTO payment (payment_id, created_at, last_updated, transaction_id, counterparty_id,
                             payment_amount, currency_id, payment_type_id, paid, payment_date,
                             company_ac_number, counterparty_ac_number)
        SELECT t.transaction_id, t.created_at, t.last_updated, t.transaction_id,
               coalesce(s.counterparty_id, p.counterparty_id),
               coalesce(s.units_sold * s.unit_price, p.item_quantity * p.item_unit_price),
               coalesce(s.currency_id, p.currency_id),
               pt.payment_type_id,
               abs(hashint4extended(t.transaction_id, :seed + 1)) % 100 < 85,
               coalesce(s.agreed_payment_date, p.agreed_payment_date),
               10000000 + abs(hashint4extended(t.transaction_id, :seed + 2)) % 90000000,
               10000000 + abs(hashint4extended(t.transaction_id, :seed + 3)) % 90000000
          FROM "transaction" t
          LEFT JOIN sales_order s ON s.sales_order_id = t.sales_order_id
          LEFT JOIN purchase_order p ON p.purchase_order_id = t.purchase_order_id
          JOIN payment_type pt ON CAST(pt.payment_type_name AS text) = (
               CASE WHEN CAST(t.transaction_type AS text) = 'SALE'
                    THEN CASE WHEN abs(hashint4extended(t.transaction_id, :seed)) % 100 < 3
                              THEN 'SALES_REFUND' ELSE 'SALES_RECEIPT' END
                    ELSE CASE WHEN abs(hashint4extended(t.transaction_id, :seed)) % 100 < 3
                              THEN 'PURCHASE_REFUND' ELSE 'PURCHASE_PAYMENT' END
               END)
    """, seed=seed)
    return int(conn.row_count)


