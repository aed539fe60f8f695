"""The named SQL behind the report's figures: `queries/<name>.sql`, run against the warehouse views.

Each file is one plain SELECT over the analyst views and facts, without a schema name, so it runs as it
is in psql, Jupyter or Power BI once the warehouse schema is on the search path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import pg8000.native

from lambdas.shared.identifiers import schema_identifier

QUERIES_DIR: Final = Path(__file__).resolve().parent / "queries"

# column -> value as pg8000 returns it (int, Decimal, str, date, datetime, bool, None)
Record = dict[str, Any]


def query_names() -> tuple[str, ...]:
    return tuple(sorted(path.stem for path in QUERIES_DIR.glob("*.sql")))


def query_sql(name: str) -> str:
    path = QUERIES_DIR / f"{name}.sql"
    if not path.is_file():
        raise KeyError(f"no named query {name!r}; there are: {', '.join(query_names())}")
    return path.read_text(encoding="utf-8")


def run_query(conn: pg8000.native.Connection, name: str) -> list[Record]:
    """The rows of a named query as dicts (column name -> value), in the query's order."""
    rows = conn.run(query_sql(name))
    columns = [str(column["name"]) for column in conn.columns or []]
    return [dict(zip(columns, row, strict=True)) for row in rows]


def run_all(conn: pg8000.native.Connection, schema: str = "public") -> dict[str, list[Record]]:
    """Every named query, all from one snapshot of the warehouse."""
    conn.run(f"SET search_path TO {schema_identifier(schema)}")
    conn.run("START TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
    try:
        return {name: run_query(conn, name) for name in query_names()}
    finally:
        conn.run("ROLLBACK")
