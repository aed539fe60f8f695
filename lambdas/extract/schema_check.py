"""Refuse a source whose tables differ from what Onyx knows (`lambdas.shared.totesys`), or whose server is
too old for the reader's queries."""

from __future__ import annotations

from collections.abc import Iterable

import pg8000.native

from lambdas.shared.errors import SourceSchemaChanged
from lambdas.shared.totesys import BOOL, INT, MONEY, TABLES, TEXT, TIMESTAMP, Column, Table

# information_schema.columns.data_type for each column kind Onyx reads.
_DATA_TYPES: dict[str, tuple[str, ...]] = {
    INT: ("integer", "smallint", "bigint"),
    TEXT: ("character varying", "text", "character"),
    TIMESTAMP: ("timestamp without time zone",),
    MONEY: ("numeric",),
    BOOL: ("boolean",),
}

# The reader batches each table by ranges of heap pages, a TID range scan (PostgreSQL 14 and later); an
# older server would scan the whole table once per batch.
MIN_SERVER_VERSION = 140000

_COLUMNS_SQL = """
    SELECT table_name, column_name, data_type, udt_name
      FROM information_schema.columns
     WHERE table_schema = current_schema() AND table_name = ANY(CAST(:tables AS text[]))
     ORDER BY table_name, ordinal_position
"""


def _expected_types(column: Column) -> tuple[tuple[str, str | None], ...]:
    if column.kind.startswith("enum:"):
        return (("USER-DEFINED", column.kind.removeprefix("enum:")),)
    return tuple((data_type, None) for data_type in _DATA_TYPES[column.kind])


def _differences(table: Table, found: list[tuple[str, str, str]]) -> list[str]:
    if not found:
        return ["table is missing"]
    names = [name for name, _, _ in found]
    problems = []
    missing = [c for c in table.column_names if c not in names]
    extra = [c for c in names if c not in table.column_names]
    if missing:
        problems.append(f"missing columns {', '.join(missing)}")
    if extra:
        problems.append(f"unknown columns {', '.join(extra)}")
    columns = {c.name: c for c in table.columns}
    for name, data_type, udt_name in found:
        if name in columns:
            allowed = _expected_types(columns[name])
            if not any(data_type == t and (udt is None or udt == udt_name) for t, udt in allowed):
                shown = udt_name if data_type == "USER-DEFINED" else data_type
                problems.append(f"column {name} is {shown}, expected {columns[name].kind}")
    return problems


def check_source_schema(conn: pg8000.native.Connection, tables: Iterable[Table] = TABLES) -> None:
    """Raise `SourceSchemaChanged` naming each table whose columns (names or types) differ."""
    version_num, version = conn.run(
        "SELECT current_setting('server_version_num'), current_setting('server_version')")[0]
    require_server_version(int(version_num), str(version))
    tables = tuple(tables)
    found: dict[str, list[tuple[str, str, str]]] = {t.name: [] for t in tables}
    for table_name, column_name, data_type, udt_name in conn.run(_COLUMNS_SQL, tables=[t.name for t in tables]):
        found[table_name].append((column_name, data_type, udt_name))
    problems = [f"{t.name}: {'; '.join(p)}" for t in tables if (p := _differences(t, found[t.name]))]
    if problems:
        raise SourceSchemaChanged("Totesys schema differs from what Onyx knows: " + " | ".join(problems))


def require_server_version(version_num: int, version: str) -> None:
    """Raise `SourceSchemaChanged` for a server older than MIN_SERVER_VERSION (`server_version_num`; `version`
    is `server_version`, for the message)."""
    if version_num < MIN_SERVER_VERSION:
        raise SourceSchemaChanged(
            f"Totesys runs on PostgreSQL {version}; Onyx reads it with TID "
            f"range scans, which need PostgreSQL {MIN_SERVER_VERSION // 10000} or later")
