"""The warehouse DDL as numbered SQL migrations, applied once each into a configurable schema.

Each file runs with `search_path` set to the (validated, quoted) schema, so the SQL itself names no
schema and reads as plain DDL. A ledger table in that schema records what ran, with a checksum;
applying twice is a no-op, and concurrent appliers queue on an advisory lock.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pg8000.native

from lambdas.load.warehouse import rollback_quietly
from lambdas.shared.identifiers import schema_identifier

MIGRATIONS_DIR: Final = Path(__file__).resolve().parent / "migrations"
LEDGER: Final = "onyx_migration"
_FILE_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class MigrationError(RuntimeError):
    """The migrations on disk and the ledger disagree (e.g. an applied file was edited)."""


@dataclass(frozen=True)
class Migration:
    name: str  # the file name, e.g. 0001_dimensions.sql
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def migrations(directory: Path = MIGRATIONS_DIR) -> tuple[Migration, ...]:
    """Every migration file in version order; refuses stray files and repeated versions."""
    found: dict[str, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNNN_words.sql")
        if match.group(1) in found:
            raise MigrationError(f"{path.name}: version {match.group(1)} used twice")
        found[match.group(1)] = Migration(path.name, path.read_text(encoding="utf-8"))
    return tuple(found[v] for v in sorted(found))


def apply_migrations(conn: pg8000.native.Connection, schema: str = "public",
                     directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Create `schema` if missing and apply the migrations not yet in its ledger, in one transaction.

    Returns the names applied by this call (empty when the warehouse was already up to date).
    """
    quoted = schema_identifier(schema)
    pending = migrations(directory)
    conn.run("BEGIN")
    try:
        conn.run("SELECT pg_advisory_xact_lock(hashtextextended(:lock, 0))", lock=f"onyx:migrate:{schema}")
        # Checking first spares a user who owns an existing schema the CREATE privilege on the database.
        if not conn.run("SELECT 1 FROM pg_namespace WHERE nspname = :schema", schema=schema):
            conn.run(f"CREATE SCHEMA {quoted}")
        conn.run(f"SET LOCAL search_path TO {quoted}, pg_catalog, pg_temp")
        conn.run(f"""CREATE TABLE IF NOT EXISTS {LEDGER} (
                         name       text PRIMARY KEY,
                         checksum   text NOT NULL,
                         applied_at timestamptz NOT NULL DEFAULT now())""")
        applied = {str(name): str(checksum) for name, checksum in conn.run(f"SELECT name, checksum FROM {LEDGER}")}
        ran = []
        for migration in pending:
            if migration.name in applied:
                if applied[migration.name] != migration.checksum:
                    raise MigrationError(f"{migration.name} was changed after it was applied to schema {schema}; "
                                         "add a new migration instead")
                continue
            conn.run(migration.sql)
            conn.run(f"INSERT INTO {LEDGER} (name, checksum) VALUES (:name, :checksum)",
                     name=migration.name, checksum=migration.checksum)
            ran.append(migration.name)
        conn.run("COMMIT")
        return ran
    except BaseException:
        rollback_quietly(conn)
        raise

