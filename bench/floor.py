"""The physical floor of moving the Totesys rows from one PostgreSQL database to another.

`COPY (SELECT * FROM t) TO STDOUT` of every source table, piped as it streams into `COPY t FROM STDIN`
into an empty table of the same shape in another database, one table after the other, timed end to end.
Two shapes, two floors: the source DDL with its keys (foreign keys left out, as any bulk load does), what a
load into keyed tables cannot go below; and the same tables without any key or index, the bytes moved and
nothing else (issue 18 holds the full load to 3x this one).

Two clients do the piping:
- `psql` (C, libpq): two `psql` processes per table joined by an OS pipe. No client work at all beyond
  moving bytes, so this is the floor the pipeline is measured against.
- `pg8000` (pure Python, what the Lambdas use): a reader thread and a writer on two connections joined by a
  bounded queue. It shows what the Python driver alone costs for the same bytes.
"""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from pg8000.native import identifier

from lambdas.shared.database import DatabaseCredentials
from lambdas.shared.totesys import TABLES
from local.seed.load import apply_source_schema

METHODS = ("psql", "pg8000")
_CHUNK_BYTES = 1 << 20  # what the pg8000 reader hands the writer at a time
_QUEUE_CHUNKS = 8  # at most this many chunks in flight: memory stays bounded


@dataclass
class FloorResult:
    method: str
    seconds: float
    rows: int
    bytes: int  # COPY text moved (counted by the pg8000 client; psql does not count it)
    tables: dict[str, dict[str, float]] = field(default_factory=dict)  # table -> {rows, bytes, seconds}

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    def to_json(self) -> dict[str, object]:
        return {"method": self.method, "seconds": round(self.seconds, 3), "rows": self.rows, "bytes": self.bytes,
                "rows_per_second": round(self.rows_per_second), "tables": self.tables}


def psql_binary() -> str | None:
    """The psql client, or None when it is not installed (then only the pg8000 floor is measured)."""
    return shutil.which("psql")


def prepare_target(target: DatabaseCredentials, *, keys: bool = True) -> DatabaseCredentials:
    """Give the (new, empty) database `target` the Totesys tables, without foreign keys; with `keys` False,
    without any key or index either."""
    dropped = "'f'" if keys else "'f', 'p', 'u'"
    conn = target.connect(io_timeout=None)
    try:
        apply_source_schema(conn)
        # Foreign keys first: they depend on the primary keys.
        for table, constraint in conn.run(
                "SELECT conrelid::regclass::text, conname FROM pg_constraint "
                f"WHERE contype IN ({dropped}) AND connamespace = 'public'::regnamespace "
                "ORDER BY contype = 'f' DESC"):
            # Names come from the catalogue of the schema we just created, quoted as identifiers.
            conn.run(f"ALTER TABLE {table} DROP CONSTRAINT {identifier(constraint)}")
        if not keys:
            for (index,) in conn.run("SELECT indexrelid::regclass::text FROM pg_index i JOIN pg_class c "
                                     "ON c.oid = i.indrelid WHERE c.relnamespace = 'public'::regnamespace"):
                conn.run(f"DROP INDEX {index}")
    finally:
        conn.close()
    return target


def truncate(target: DatabaseCredentials) -> None:
    conn = target.connect(io_timeout=None)
    try:
        conn.run("TRUNCATE " + ", ".join(t.sql_name for t in TABLES))
    finally:
        conn.close()


def measure(source: DatabaseCredentials, target: DatabaseCredentials, method: str) -> FloorResult:
    """Empty the target's tables, then pipe every source table into them; returns the timings."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    truncate(target)
    copy_table = _copy_with_psql if method == "psql" else _copy_with_pg8000
    result = FloorResult(method=method, seconds=0.0, rows=0, bytes=0)
    started = time.perf_counter()
    for table in TABLES:
        table_started = time.perf_counter()
        rows, size = copy_table(source, target, table.sql_name)
        result.tables[table.name] = {"rows": rows, "bytes": size,
                                     "seconds": round(time.perf_counter() - table_started, 3)}
        result.rows += rows
        result.bytes += size
    result.seconds = time.perf_counter() - started
    return result


# ---- psql ----------------------------------------------------------------------------------------------
def _psql_env(credentials: DatabaseCredentials) -> dict[str, str]:
    """libpq's variables: the password never appears on a command line."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update({"PGHOST": credentials.host, "PGPORT": str(credentials.port), "PGUSER": credentials.username,
                "PGPASSWORD": credentials.password, "PGDATABASE": credentials.dbname,
                "PGSSLMODE": "prefer" if credentials.sslmode == "disable" else credentials.sslmode,
                "PGAPPNAME": "onyx-bench-floor"})
    return env


def _copy_with_psql(source: DatabaseCredentials, target: DatabaseCredentials, sql_name: str) -> tuple[int, int]:
    psql = psql_binary()
    if psql is None:
        raise RuntimeError("psql not found: install PostgreSQL's client (apt-get install postgresql-client)")
    base = [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1"]
    reader = subprocess.Popen([*base, "-c", f"COPY (SELECT * FROM {sql_name}) TO STDOUT"],
                              stdout=subprocess.PIPE, env=_psql_env(source))
    # Not quiet: the writer prints the command tag "COPY <rows>".
    writer = subprocess.Popen([psql, "-X", "-v", "ON_ERROR_STOP=1", "-c", f"COPY {sql_name} FROM STDIN"],
                              stdin=reader.stdout, stdout=subprocess.PIPE, env=_psql_env(target))
    assert reader.stdout is not None
    reader.stdout.close()  # the writer holds the pipe now; the reader gets SIGPIPE if the writer dies
    out, _ = writer.communicate()
    if reader.wait() != 0 or writer.returncode != 0:
        raise RuntimeError(f"the psql floor failed for {sql_name} (exit {reader.returncode}/{writer.returncode})")
    tag = out.decode().strip()  # "COPY <rows>"
    return (int(tag.rsplit(" ", 1)[-1]) if tag.startswith("COPY ") else _count(target, sql_name)), 0


def _count(credentials: DatabaseCredentials, sql_name: str) -> int:
    conn = credentials.connect(io_timeout=None)
    try:
        return int(conn.run(f"SELECT count(*) FROM {sql_name}")[0][0])
    finally:
        conn.close()


# ---- pg8000 --------------------------------------------------------------------------------------------
class _ChunkWriter:
    """The COPY OUT sink: gathers rows into ~1 MiB chunks and queues them for the writer."""

    def __init__(self, chunks: queue.Queue[bytes | None]) -> None:
        self.chunks = chunks
        self.parts: list[bytes] = []
        self.pending = 0
        self.bytes = 0

    def write(self, data: bytes) -> int:
        self.parts.append(data)
        self.pending += len(data)
        if self.pending >= _CHUNK_BYTES:
            self.flush()
        return len(data)

    def flush(self) -> None:
        if self.parts:
            chunk = b"".join(self.parts)
            self.bytes += len(chunk)
            self.chunks.put(chunk)
            self.parts, self.pending = [], 0


def _copy_with_pg8000(source: DatabaseCredentials, target: DatabaseCredentials, sql_name: str) -> tuple[int, int]:
    chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=_QUEUE_CHUNKS)
    sink = _ChunkWriter(chunks)
    failure: list[BaseException] = []

    def read() -> None:
        conn = source.connect(io_timeout=None, application_name="onyx-bench-floor")
        try:
            conn.run(f"COPY (SELECT * FROM {sql_name}) TO STDOUT", stream=sink)
            sink.flush()
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            failure.append(exc)
        finally:
            chunks.put(None)
            conn.close()

    def drain() -> Iterator[bytes]:
        while (chunk := chunks.get()) is not None:
            yield chunk

    reader = threading.Thread(target=read, name=f"floor-{sql_name}", daemon=True)
    reader.start()
    conn = target.connect(io_timeout=None, application_name="onyx-bench-floor")
    try:
        conn.run(f"COPY {sql_name} FROM STDIN", stream=drain())
        rows = int(conn.row_count)
    finally:
        conn.close()
        reader.join()
    if failure:
        raise failure[0]
    return rows, sink.bytes

