"""Refuse a source whose tables differ from what Onyx knows (`lambdas.shared.totesys`), or whose server is
too old for the reader's queries.

What is compared is what the reader depends on: each table's column names, and each column's kind. The
names of the source's types are not: an enum column (`payment_type_name`, `transaction_type`) is read as its
text (`CAST(... AS text)`), so any enum type serves, whatever an ORM named it, and so does a text column.
Whether its values are ones Onyx knows is a question about data, answered row by row by the transform
(`InvalidData`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

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
_ENUM_EXPECTED = "an enum or text"

# The reader batches each table by ranges of heap pages, a TID range scan (PostgreSQL 14 and later); an
# older server would scan the whole table once per batch.
MIN_SERVER_VERSION = 140000

# information_schema says USER-DEFINED for any type of the user's; pg_type says which are enums (typtype 'e')
# and pg_enum their labels.
_COLUMNS_SQL = """
    SELECT c.table_name, c.column_name, c.data_type, c.udt_name, t.typtype = 'e' AS is_enum,
           ARRAY(SELECT CAST(e.enumlabel AS text) FROM pg_catalog.pg_enum e
                  WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder) AS labels
      FROM information_schema.columns c
      LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = c.udt_schema
      LEFT JOIN pg_catalog.pg_type t ON t.typnamespace = n.oid AND t.typname = c.udt_name
     WHERE c.table_schema = current_schema() AND c.table_name = ANY(CAST(:tables AS text[]))
     ORDER BY c.table_name, c.ordinal_position
"""


@dataclass(frozen=True)
class FoundColumn:
    """A source column as the catalog describes it."""

    name: str
    data_type: str  # information_schema's: `integer`, `character varying`, `USER-DEFINED`...
    udt_name: str  # the type's own name (`int4`, `varchar`, an enum's name)
    is_enum: bool
    labels: tuple[str, ...]  # an enum type's labels, in its order

    @property
    def shown(self) -> str:
        return self.udt_name if self.data_type == "USER-DEFINED" else self.data_type


def kind_fits(column: Column, found: FoundColumn) -> bool:
    """Whether the source column can be read as `column`'s kind (an enum column: any enum type, or text)."""
    if column.known_values is not None:
        return found.is_enum or found.data_type in _DATA_TYPES[TEXT]
    return found.data_type in _DATA_TYPES[column.kind]


def _differences(table: Table, found: list[FoundColumn]) -> list[str]:
    if not found:
        return ["table is missing"]
    names = [f.name for f in found]
    problems = []
    missing = [c for c in table.column_names if c not in names]
    extra = [c for c in names if c not in table.column_names]
    if missing:
        problems.append(f"missing columns {', '.join(missing)}")
    if extra:
        problems.append(f"unknown columns {', '.join(extra)}")
    columns = {c.name: c for c in table.columns}
    for source_column in found:
        column = columns.get(source_column.name)
        if column is not None and not kind_fits(column, source_column):
            expected = _ENUM_EXPECTED if column.known_values is not None else column.kind
            problems.append(f"column {column.name} is {source_column.shown}, expected {expected}")
    return problems


def _unknown_labels(table: Table, found: list[FoundColumn]) -> list[str]:
    """Notes on enum types that allow values Onyx does not know: acceptable (only a row holding one is not)."""
    notes = []
    columns = {c.name: c for c in table.columns}
    for source_column in found:
        column = columns.get(source_column.name)
        if column is None or column.known_values is None or not source_column.is_enum:
            continue
        unknown = [label for label in source_column.labels if label not in column.known_values]
        if unknown:
            notes.append(f"{table.name}.{column.name} (type {source_column.udt_name}) also allows "
                         f"{', '.join(unknown)}, which Onyx does not know: a row holding one fails the transform")
    return notes


def check_source_schema(conn: pg8000.native.Connection, tables: Iterable[Table] = TABLES) -> list[str]:
    """Raise `SourceSchemaChanged` naming each table whose columns (names or kinds) differ.

    Returns notes for the log: enum types whose labels include values Onyx does not know.
    """
    version_num, version = conn.run(
        "SELECT current_setting('server_version_num'), current_setting('server_version')")[0]
    require_server_version(int(version_num), str(version))
    tables = tuple(tables)
    found: dict[str, list[FoundColumn]] = {t.name: [] for t in tables}
    for table_name, name, data_type, udt_name, is_enum, labels in conn.run(
            _COLUMNS_SQL, tables=[t.name for t in tables]):
        found[table_name].append(FoundColumn(name, data_type, udt_name, bool(is_enum), tuple(labels or ())))
    problems = [f"{t.name}: {'; '.join(p)}" for t in tables if (p := _differences(t, found[t.name]))]
    if problems:
        raise SourceSchemaChanged("Totesys schema differs from what Onyx knows: " + " | ".join(problems))
    return [note for t in tables for note in _unknown_labels(t, found[t.name])]


def require_server_version(version_num: int, version: str) -> None:
    """Raise `SourceSchemaChanged` for a server older than MIN_SERVER_VERSION (`server_version_num`; `version`
    is `server_version`, for the message)."""
    if version_num < MIN_SERVER_VERSION:
        raise SourceSchemaChanged(
            f"Totesys runs on PostgreSQL {version}; Onyx reads it with TID "
            f"range scans, which need PostgreSQL {MIN_SERVER_VERSION // 10000} or later")
