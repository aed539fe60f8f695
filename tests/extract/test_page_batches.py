"""The reader batches a table by ranges of heap pages: every row in the window once, wherever it is stored."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from lambdas.extract.reader import copy_window, snapshot
from lambdas.extract.schema_check import require_server_version
from lambdas.extract.window import Window
from lambdas.shared.database import DatabaseCredentials
from lambdas.shared.errors import SourceSchemaChanged
from lambdas.shared.totesys import TABLES_BY_NAME
from tests.sql import run_sql

DESIGN = TABLES_BY_NAME["design"]
ROWS = 3_000  # about 40 heap pages of design rows


def _fill(credentials: DatabaseCredentials) -> None:
    run_sql(credentials, """
        INSERT INTO design (design_name, file_location, file_name, created_at, last_updated)
        SELECT 'Design ' || n, '/usr/share/' || repeat('x', 40), 'design-' || n || '.json',
               timestamp '2024-01-01 00:00:00' + n * interval '1 second',
               timestamp '2024-01-01 00:00:00' + n * interval '1 second'
          FROM generate_series(1, :rows) AS n""".replace(":rows", str(ROWS)))


def _read(credentials: DatabaseCredentials, window: Window, batch_blocks: int) -> tuple[list[dict[str, Any]], int]:
    """The window's rows as the reader streams them with `batch_blocks` pages per COPY row, and that COPY's
    row count (its batches)."""
    conn = credentials.connect()
    try:
        sink = io.BytesIO()
        with snapshot(conn):
            copy_window(conn, DESIGN, window, sink, batch_blocks=batch_blocks)
            batches = int(conn.row_count)
        return [json.loads(line) for line in sink.getvalue().splitlines()], batches
    finally:
        conn.close()


def test_every_row_once_across_many_small_batches(source_db: DatabaseCredentials):
    _fill(source_db)
    # Rows updated, then deleted, so that live rows move to the end of the heap and leave holes behind.
    run_sql(source_db, "UPDATE design SET design_name = design_name || ' (v2)', "
                       "last_updated = last_updated + interval '1 year' WHERE design_id % 7 = 0",
            "DELETE FROM design WHERE design_id % 11 = 0")

    rows, batches = _read(source_db, Window(low=None, high="2030-01-01T00:00:00.000"), batch_blocks=1)
    pages_with_rows = run_sql(source_db, "SELECT count(DISTINCT (ctid::text::point)[0]) FROM design")[0][0]

    ids = [r["design_id"] for r in rows]
    expected = [i for i in range(1, ROWS + 1) if i % 11]
    assert sorted(ids) == expected  # each once: none lost in a hole, none doubled by its move
    assert pages_with_rows > 40
    assert batches == pages_with_rows  # one COPY row per page holding rows, the moved rows' pages too
    moved = {r["design_id"]: r for r in rows if r["design_id"] % 7 == 0}
    assert moved[7]["design_name"] == "Design 7 (v2)"
    assert moved[7]["last_updated"] == "2025-01-01T00:00:07.000"


def test_incremental_window_reads_only_its_rows_from_every_page(source_db: DatabaseCredentials):
    _fill(source_db)
    run_sql(source_db, "UPDATE design SET last_updated = timestamp '2025-06-01 12:00:00' + design_id * interval "
                       "'1 ms' WHERE design_id IN (1, 1500, 3000)")

    rows, batches = _read(source_db, Window(low="2025-01-01T00:00:00.000", high="2030-01-01T00:00:00.000"),
                          batch_blocks=4)

    assert [(r["design_id"], r["last_updated"]) for r in rows] == [
        (1, "2025-06-01T12:00:00.001"), (1500, "2025-06-01T12:00:01.500"), (3000, "2025-06-01T12:00:03.000")]
    assert batches == 1  # the three updated rows went to the same new page; empty batches send nothing


def test_copy_window_uses_page_batches_for_a_table_bigger_than_one_batch(source_db: DatabaseCredentials):
    _fill(source_db)
    conn = source_db.connect()
    try:
        sink = io.BytesIO()
        with snapshot(conn):
            copy_window(conn, DESIGN, Window(low=None, high="2030-01-01T00:00:00.000"), sink)
            batches = int(conn.row_count)
    finally:
        conn.close()
    assert batches > 1
    assert len(sink.getvalue().splitlines()) == ROWS


@pytest.mark.parametrize(("version_num", "version"), [(130012, "13.12"), (90624, "9.6.24")])
def test_a_server_older_than_14_is_refused_by_name(version_num: int, version: str):
    with pytest.raises(SourceSchemaChanged,
                       match=rf"^Totesys runs on PostgreSQL {version}; .* need PostgreSQL 14 or later$"):
        require_server_version(version_num, version)


def test_servers_from_14_on_are_accepted(source_db: DatabaseCredentials):
    require_server_version(140000, "14.0")
    version_num, version = run_sql(source_db, "SELECT current_setting('server_version_num'), "
                                              "current_setting('server_version')")[0]
    require_server_version(int(version_num), version)
