"""A first load into an empty table: the run's file COPYed straight into it, without the staging table.

Staging, then INSERT ... SELECT, writes every row twice, and the INSERT is the slow half: it writes row by
row where COPY writes whole pages. For 1M fact versions: COPY into staging 1.1 s, its key 0.4 s, the
INSERT 2.7 s, against 1.6 s for one COPY into the target.

Taken only where it cannot change the outcome:
- the target is empty: nothing to merge with, and a dimension has nothing to upsert;
- the run's rows are one file of at least DIRECT_MIN_ROWS rows. A fact's file is sorted by version in memory
  first, so record ids still follow time, which bounds it at DIRECT_ROWS rows (1.42M payment versions
  take about 150 MB); a bigger first load takes the staging path, whose sort is PostgreSQL's;
- any data error (a doubled key, a missing reference, a row count other than the manifest's) rolls back
  to a savepoint, and the staging path runs instead: it names the row, as it always has.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

import pg8000.native
import pyarrow.parquet as pq
from pg8000.native import identifier

from lambdas.load import merge
from lambdas.load.merge import Merged, bulk_constraints, drop_constraints, restore_constraints, version_order
from lambdas.load.staging import BATCH_ROWS, binary_copy, check_schema, copy_chunks, downloaded_parquet
from lambdas.load.warehouse import is_data_error
from lambdas.shared.identifiers import qualified
from lambdas.shared.star_schema import StarTable

DIRECT_MIN_ROWS = merge.BULK_ROWS  # fewer rows gain nothing measurable; the staging path loads them
DIRECT_ROWS = 2_000_000
_SAVEPOINT: Final = "onyx_direct"


class _Fallback(Exception):
    """The direct path cannot vouch for the rows: the staging path must run (and explain why)."""


def load_directly(conn: pg8000.native.Connection, schema: str, table: StarTable, *, s3: Any, bucket: str,
                  keys: list[str], rows: int) -> Merged | None:
    """COPY the run's rows of `table` straight into it if it is empty (see the module); None: not done, nothing
    changed, load it through the staging table."""
    if len(keys) != 1 or not DIRECT_MIN_ROWS <= rows <= DIRECT_ROWS:
        return None
    target = qualified(schema, table.name)
    if not merge.is_empty(conn, target):
        return None
    conn.run(f"SAVEPOINT {_SAVEPOINT}")
    try:
        copied = _copy(conn, table, target, s3=s3, bucket=bucket, key=keys[0], rows=rows)
    except (pg8000.native.DatabaseError, _Fallback) as exc:
        if isinstance(exc, pg8000.native.DatabaseError) and not is_data_error(exc):
            raise
        conn.run(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
        conn.run(f"RELEASE SAVEPOINT {_SAVEPOINT}")
        return None
    conn.run(f"RELEASE SAVEPOINT {_SAVEPOINT}")
    return Merged(inserted=copied)


def _copy(conn: pg8000.native.Connection, table: StarTable, target: str, *, s3: Any, bucket: str, key: str,
          rows: int) -> int:
    with downloaded_parquet(s3, bucket, key) as parquet:
        check_schema(parquet, table, key)
        # A fact's constraints come off while it fills and go back on in one pass (merge.py says why);
        # a dimension keeps its primary key, which the facts' foreign keys depend on.
        dropped = bulk_constraints(conn, target, rows) if table.is_fact else []
        drop_constraints(conn, target, dropped)
        columns = ", ".join(identifier(c) for c in table.columns)
        chunks = _in_version_order(parquet, table) if table.is_fact else copy_chunks(parquet)
        conn.run(f"COPY {target} ({columns}) FROM STDIN WITH (FORMAT binary)", stream=chunks)
        copied = int(conn.row_count)
        if copied != rows:
            raise _Fallback(f"{table.name}: the file holds {copied} rows, the manifest counts {rows}")
        restore_constraints(conn, table, target, dropped)
    return copied


def _in_version_order(parquet: pq.ParquetFile, table: StarTable) -> Iterator[bytes]:
    """The file's rows sorted as merge_fact orders new versions, as one binary COPY stream."""
    rows = parquet.read().sort_by([(column, "ascending") for column in version_order(table)])
    return binary_copy(rows.schema, rows.to_batches(max_chunksize=BATCH_ROWS))

