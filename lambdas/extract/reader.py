"""Reading Totesys: one REPEATABLE READ snapshot, and each table's window streamed as JSON Lines by COPY.

PostgreSQL renders the JSON itself (`json_object_sql`), so Python never sees a row: the bytes of
`COPY ... TO STDOUT` go straight to the writer, which keeps memory flat whatever the table size.
Each value takes the contract's form: numeric as a string (exact), timestamps with exactly three
millisecond digits, enums as strings; integers and booleans stay JSON numbers and booleans.

COPY's text format would escape the backslashes of the JSON (`\\"` -> `\\\\"`). Its CSV format with a
quote and delimiter byte that JSON text never contains (PostgreSQL escapes every control character
as `\\u00XX`) passes each JSON document through untouched, one per line.

PostgreSQL sends one CopyData message per COPY row, and the client handles each in Python, so the
rows travel in batches: each COPY row is the `string_agg` of the lines of one range of the table's
heap pages (`BATCH_BLOCKS` pages, read by a TID range scan, so the server holds one batch at a time).
Together the batches read the table once, front to back, like a sequential scan, whatever the window:
Totesys has no index on `last_updated`. Batches by primary-key range (an index range scan each) were
several times slower for an incremental window (docs/performance.md). A value holding newlines is
quoted in CSV, with the quote byte that JSON never contains: dropping that byte from the stream leaves
exactly the JSON Lines of the rows, one per line, each ending in a newline. Rows come in the order they
are stored, not by key.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Protocol

import pg8000.native
from pg8000.native import identifier

from lambdas.extract.window import TIMESTAMP_FORMAT, Window
from lambdas.shared.totesys import BOOL, INT, MONEY, TIMESTAMP, Column, Table

_QUOTE = b"\x01"
_COPY_OPTIONS = r"(FORMAT csv, DELIMITER E'\x02', QUOTE E'\x01')"
BATCH_BLOCKS = 16  # heap pages per COPY row: 128 KiB of table, ~1,300 Totesys rows, a few hundred KiB of JSON
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
    """The column's JSON value as SQL text, `null` for NULL (`||` passes a NULL on to the coalesce)."""
    name = identifier(column.name)
    if column.kind == TIMESTAMP:
        value = f"""'"' || to_char({name}, '{TIMESTAMP_FORMAT}') || '"'"""
    elif column.kind == MONEY:
        value = f"""'"' || CAST({name} AS text) || '"'"""
    elif column.kind in (INT, BOOL):  # a boolean cast to text is `true`/`false`, as JSON writes it
        value = f"CAST({name} AS text)"
    else:  # text and enums: to_json quotes and escapes exactly as row_to_json does
        value = f"CAST(to_json(CAST({name} AS text)) AS text)"
    return f"coalesce({value}, 'null')"


def json_object_sql(table: Table) -> str:
    """SQL for one row as a JSON object, keys in Totesys order, as row_to_json would write it.

    One `concat` of ready-made pieces: half the time of row_to_json (docs/performance.md), which builds each
    row through its composite type.
    """
    pieces = []
    for index, column in enumerate(table.columns):
        pieces.append(f"""'{"{" if index == 0 else ","}"{column.name}":'""")
        pieces.append(_json_value(column))
    pieces.append("'}'")
    return f"concat({', '.join(pieces)})"


def json_lines_sql(table: Table, *, from_beginning: bool, batch_blocks: int = BATCH_BLOCKS) -> str:
    """`COPY` of the table's rows in the window as JSON objects, keys in Totesys order: one line per row,
    the rows of `batch_blocks` heap pages per COPY row (a CSV-quoted value when it holds more than one line).

    The page count is read inside the snapshot: a row version the snapshot sees was committed before it
    began, so it lies in a page that existed then.
    """
    where = (f"ctid >= CAST(format('(%s,0)', batch.low) AS tid) "
             f"AND ctid < CAST(format('(%s,0)', batch.low + {batch_blocks:d}) AS tid) AND "
             f"last_updated <= (SELECT CAST(current_setting('{_HIGH_SETTING}') AS timestamp))")
    if not from_beginning:
        where = f"{where} AND last_updated > (SELECT CAST(current_setting('{_LOW_SETTING}') AS timestamp))"
    pages = (f"pg_relation_size(CAST('{table.sql_name}' AS regclass)) "
             f"/ CAST(current_setting('block_size') AS bigint)")
    lows = f"generate_series(0, {pages}, {batch_blocks:d}) AS batch(low)"
    lines = f"SELECT string_agg({json_object_sql(table)}, E'\\n') AS lines FROM {table.sql_name} WHERE {where}"
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


def copy_window(conn: pg8000.native.Connection, table: Table, window: Window, sink: ByteSink, *,
                batch_blocks: int = BATCH_BLOCKS) -> None:
    """Stream the table's rows with `last_updated` in `window` into `sink` as JSON Lines (inside `snapshot`)."""
    conn.run(f"SELECT set_config('{_LOW_SETTING}', :low, true), set_config('{_HIGH_SETTING}', :high, true)",
             low=window.low or "", high=window.high)
    conn.run(json_lines_sql(table, from_beginning=window.low is None, batch_blocks=batch_blocks),
             stream=_Unquoted(sink))
