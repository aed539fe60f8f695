"""Running SQL from a test: one connection, each statement committed on its own, then closed."""

from __future__ import annotations

from typing import Any

from lambdas.shared.database import DatabaseCredentials


def run_sql(database: DatabaseCredentials | str, *statements: str) -> list[Any]:
    """Run `statements` on `database` (credentials or a URL); returns the rows of the last one (none: [])."""
    credentials = DatabaseCredentials.from_url(database) if isinstance(database, str) else database
    conn = credentials.connect()
    try:
        rows: list[Any] = []
        for statement in statements:
            rows = list(conn.run(statement) or [])
        return rows
    finally:
        conn.close()
