"""A migrated warehouse to load into, and ways to look at it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pg8000.native
import pytest

from lambdas.load.migrate import apply_migrations
from lambdas.shared.database import DatabaseCredentials
from lambdas.shared.identifiers import qualified
from lambdas.shared.star_schema import STAR_TABLES


@pytest.fixture
def warehouse(empty_db: DatabaseCredentials) -> Iterator[pg8000.native.Connection]:
    """A connection to a fresh warehouse, schema `public`, fully migrated."""
    conn = empty_db.connect()
    apply_migrations(conn, "public")
    try:
        yield conn
    finally:
        with contextlib.suppress(pg8000.native.InterfaceError):  # a test may have had it terminated
            conn.close()


def rows(conn: pg8000.native.Connection, table: str, schema: str = "public", columns: str = "*") -> list[list[Any]]:
    """Every row of a table or view, in a stable order."""
    return list(conn.run(f"SELECT {columns} FROM {qualified(schema, table)} ORDER BY 1"))


def contents(conn: pg8000.native.Connection, schema: str = "public") -> dict[str, list[list[Any]]]:
    """The whole warehouse: every star table and the run ledger."""
    tables = {t.name: rows(conn, t.name, schema) for t in STAR_TABLES}
    tables["onyx_run"] = rows(conn, "onyx_run", schema)
    return tables
