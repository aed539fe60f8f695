"""Reading Totesys: one REPEATABLE READ snapshot, and each table's window streamed as JSON Lines by COPY.

PostgreSQL renders the JSON itself (`row_to_json`), so Python never sees a row: the bytes of
`COPY ... TO STDOUT` go straight to the writer, which keeps memory flat whatever the table size.
Each value is cast to the contract's form first: numeric as text (exact), timestamps with exactly
three millisecond digits, enums as text; integers and booleans stay JSON numbers and booleans.

COPY's text format would escape the backslashes of the JSON (`\\"` -> `\\\\"`). Its CSV format with a
quote and delimiter byte that JSON text never contains (PostgreSQL escapes every control character
as `\\u00XX`) passes each JSON document through untouched, one per line.

PostgreSQL sends one CopyData message per COPY row, and the client handles each in Python, so the
rows travel in batches: each COPY row is the `string_agg` of the lines of one primary-key range
(`BATCH_KEYS` keys, read by an index range scan, so the server holds one batch at a time). A value
holding newlines is quoted in CSV, with the quote byte that JSON never contains: dropping that byte
from the stream leaves exactly the JSON Lines of the rows, one per line, each ending in a newline.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Protocol

import pg8000.native

from lambdas.extract.window import TIMESTAMP_FORMAT, Window
from lambdas.shared.totesys import MONEY, TIMESTAMP, Column, Table

_QUOTE = b"\x01"
_COPY_OPTIONS = r"(FORMAT csv, DELIMITER E'\x02', QUOTE E'\x01')"
BATCH_KEYS = 1000  # primary-key values per COPY row: a few hundred KiB of JSON for Totesys rows
# COPY takes no bind parameters: the window travels as transaction-local settings, set with parameters.
_LOW_SETTING, _HIGH_SETTING = "onyx.window_low", "onyx.window_high"


class ByteSink(Protocol):
    def write(self, data: bytes) -> object: ...


class _Unquoted:
    """Passes the COPY bytes on without the CSV quote byte (a batch of lines is one quoted value)."""

    def __init__(self, sink: ByteSink) -> None:
        self._sink = sink

    def write(self, data: bytes) -> int:
        self._sink.write(data.translate(None, _QUOTE))
        return len(data)


def _json_value(column: Column) -> str:
    name = f'"{column.name}"'
    if column.kind == TIMESTAMP:
        return f"to_char({name}, '{TIMESTAMP_FORMAT}') AS {name}"
    if column.kind == MONEY or column.kind.startswith("enum:"):
        return f"CAST({name} AS text) AS {name}"
    return name


def json_lines_sql(table: Table, *, from_beginning: bool, batch_keys: int = BATCH_KEYS) -> str:
    """`COPY` of the table's rows in the window as JSON objects, keys in Totesys order: one line per row,
    `batch_keys` primary-key values per COPY row (a CSV-quoted value when it holds more than one line)."""
    values = ", ".join(_json_value(c) for c in table.columns)
    key = f'"{table.key}"'
    where = (f"{key} >= batch.low AND {key} < batch.low + {batch_keys:d} AND "
             f"last_updated <= (SELECT CAST(current_setting('{_HIGH_SETTING}') AS timestamp))")
    if not from_beginning:
        where = f"{where} AND last_updated > (SELECT CAST(current_setting('{_LOW_SETTING}') AS timestamp))"
    lows = (f"generate_series((SELECT CAST(min({key}) AS bigint) FROM {table.sql_name}), "
            f"(SELECT max({key}) FROM {table.sql_name}), {batch_keys:d}) AS batch(low)")
    lines = (f"SELECT string_agg(CAST(row_to_json(r) AS text), E'\\n') AS lines "
             f"FROM (SELECT {values} FROM {table.sql_name} WHERE {where}) AS r")
    return (f"COPY (SELECT b.lines FROM {lows} CROSS JOIN LATERAL ({lines}) AS b WHERE b.lines IS NOT NULL) "
            f"TO STDOUT {_COPY_OPTIONS}")


@contextmanager
def snapshot(conn: pg8000.native.Connection) -> Iterator[None]:
    """One consistent, read-only view of the whole database for everything run inside."""
    conn.run("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    try:
        yield
    except BaseException:
        with suppress(Exception):  # the connection may be gone; the original error is what matters
            conn.run("ROLLBACK")
        raise
    conn.run("COMMIT")


_SNAPSHOT_ID = re.compile(r"[0-9A-F]+-[0-9A-F]+(-[0-9]+)?")


def export_snapshot(conn: pg8000.native.Connection) -> str:
    """The id of `conn`'s snapshot (inside `snapshot`), for another session to read the very same data."""
    snapshot_id = str(conn.run("SELECT pg_export_snapshot()")[0][0])
    if not _SNAPSHOT_ID.fullmatch(snapshot_id):  # SET TRANSACTION SNAPSHOT takes a literal, not a parameter
        raise ValueError(f"unexpected snapshot id {snapshot_id!r}")
    return snapshot_id


@contextmanager
def shared_snapshot(conn: pg8000.native.Connection, snapshot_id: str) -> Iterator[None]:
    """`snapshot`, but seeing exactly what the exporting session sees (valid while its transaction is open)."""
    if not _SNAPSHOT_ID.fullmatch(snapshot_id):
        raise ValueError(f"not a snapshot id: {snapshot_id!r}")
    with snapshot(conn):
        conn.run(f"SET TRANSACTION SNAPSHOT '{snapshot_id}'")
        yield


def copy_window(conn: pg8000.native.Connection, table: Table, window: Window, sink: ByteSink) -> None:
    """Stream the table's rows with `last_updated` in `window` into `sink` as JSON Lines (inside `snapshot`)."""
    conn.run(f"SELECT set_config('{_LOW_SETTING}', :low, true), set_config('{_HIGH_SETTING}', :high, true)",
             low=window.low or "", high=window.high)
    conn.run(json_lines_sql(table, from_beginning=window.low is None), stream=_Unquoted(sink))
