"""Load one run into the warehouse: everything, or (on any failure) nothing, and never twice."""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final, TypedDict

import pg8000.native

from lambdas.load.calendar import fill_calendar
from lambdas.load.direct import load_directly
from lambdas.load.merge import Merged, merge_dates, merge_dimension, merge_fact
from lambdas.load.migrate import apply_migrations
from lambdas.load.staging import stage_table
from lambdas.load.warehouse import invalid_data, is_data_error, rollback_quietly, unavailable
from lambdas.shared.database import DatabaseCredentials
from lambdas.shared.errors import DatabaseTlsError, InvalidData, OnyxError
from lambdas.shared.identifiers import qualified
from lambdas.shared.manifests import TableFiles, TransformManifest
from lambdas.shared.sqlstates import is_transient
from lambdas.shared.star_schema import DIM_DATE, STAR_TABLES, StarTable

RUN_LEDGER: Final = "onyx_run"
# Memory for this transaction's sorts, hashes and index builds (PostgreSQL's defaults, 4 MB and 64 MB, are
# sized for many small sessions): at 4 MB, ordering 1M staged versions spilled to disk. One load runs at a
# time (the advisory lock below).
WORK_MEM: Final = "256MB"
MANIFEST: Final = TransformManifest.KIND


class LoadOutput(TypedDict):
    """The Load state's output (the contract in docs/design.md section 1)."""

    run_id: str
    loaded: dict[str, int]
    already_loaded: bool


def read_manifest(s3: Any, bucket: str, key: str) -> TransformManifest:
    """The run's transform manifest, naming the files of every star table; anything else is InvalidData."""
    manifest = TransformManifest.from_json(s3.get_object(Bucket=bucket, Key=key)["Body"].read(), key)
    manifest.require_tables([table.name for table in STAR_TABLES], key)
    return manifest


Merge = Callable[[pg8000.native.Connection, str, StarTable], Merged]


def _merge_for(table: StarTable, *, newest: bool) -> Merge:
    if table.is_fact:
        return merge_fact  # every version is history: an old run's versions belong in it too
    if table is DIM_DATE:
        return merge_dates
    return merge_dimension if newest else functools.partial(merge_dimension, update=False)


def run_load(conn: pg8000.native.Connection, s3: Any, processed_bucket: str, schema: str, manifest_key: str,
             *, run_id: str | None = None) -> LoadOutput:
    """Load the run described by the transform manifest at `manifest_key`, in one transaction.

    A run already in the run ledger is skipped and its recorded counts returned. `run_id`, if given,
    must be the manifest's. The schema must have been migrated (apply_migrations).
    """
    manifest = read_manifest(s3, processed_bucket, manifest_key)
    if run_id is not None and run_id != manifest.run_id:
        raise InvalidData(MANIFEST, manifest_key, f"belongs to run {manifest.run_id}, not {run_id}")
    ledger = qualified(schema, RUN_LEDGER)
    with _transaction(conn):
        # Two loads never interleave: the second waits here, then finds the first one's run in the ledger.
        conn.run("SELECT pg_advisory_xact_lock(hashtextextended(:lock, 0))", lock=f"onyx:load:{schema}")
        conn.run("SELECT set_config('work_mem', :memory, true), set_config('maintenance_work_mem', :memory, true)",
                 memory=WORK_MEM)
        recorded = conn.run(f"SELECT rows FROM {ledger} WHERE run_id = :run_id", run_id=manifest.run_id)
        if recorded:
            conn.run("ROLLBACK")
            return LoadOutput(run_id=manifest.run_id, already_loaded=True,
                              loaded={t: int(c["inserted"]) + int(c["updated"]) for t, c in recorded[0][0].items()})
        # A run extracted before one already loaded (an old execution redriven late) must not put its
        # older dimension values over newer ones.
        newest = not conn.run(f"SELECT EXISTS (SELECT 1 FROM {ledger} WHERE started_at > :started_at)",
                              started_at=manifest.started)[0][0]
        counts: dict[str, Merged] = {}
        for table in STAR_TABLES:  # dimensions first: the facts' foreign keys refer to them
            staged = _TableSource(s3, processed_bucket, manifest.tables[table.name], manifest_key)
            counts[table.name] = _load_table(conn, schema, table, staged, newest=newest)
            if table is DIM_DATE:  # a continuous calendar: the days between its first and last (calendar.py)
                counts[table.name] = Merged(inserted=counts[table.name].inserted + fill_calendar(conn, schema))
        conn.run(f"INSERT INTO {ledger} (run_id, started_at, rows) VALUES (:run_id, :started_at, CAST(:rows AS jsonb))",
                 run_id=manifest.run_id, started_at=manifest.started,
                 rows=json.dumps({t: m.as_dict() for t, m in counts.items()}))
        conn.run("COMMIT")
    return LoadOutput(run_id=manifest.run_id, already_loaded=False, loaded={t: m.total for t, m in counts.items()})


@dataclass(frozen=True)
class _TableSource:
    """Where one table's files of the run are."""

    s3: Any
    bucket: str
    files: TableFiles
    manifest_key: str


def _load_table(conn: pg8000.native.Connection, schema: str, table: StarTable, source: _TableSource, *,
                newest: bool) -> Merged:
    files = source.files
    if not files.keys:
        if files.rows:
            raise InvalidData(table.name, source.manifest_key, f"manifest counts {files.rows} rows but lists no file")
        return Merged()
    try:
        direct = load_directly(conn, schema, table, s3=source.s3, bucket=source.bucket, keys=files.keys,
                               rows=files.rows)
        if direct is not None:
            return direct
        staged = stage_table(conn, source.s3, source.bucket, table, files.keys)
        if staged != files.rows:
            raise InvalidData(table.name, source.manifest_key,
                              f"manifest counts {files.rows} rows, its files hold {staged}")
        return _merge_for(table, newest=newest)(conn, schema, table)
    except pg8000.native.DatabaseError as exc:
        if is_data_error(exc):
            raise invalid_data(exc, table.name) from exc
        raise


@contextmanager
def _transaction(conn: pg8000.native.Connection) -> Iterator[None]:
    """BEGIN; on any failure roll back and raise WarehouseUnavailable for server/network trouble."""
    try:
        conn.run("BEGIN")
        yield
    except BaseException as exc:
        rollback_quietly(conn)
        if not isinstance(exc, OnyxError) and is_transient(exc):
            raise unavailable(exc, "loading") from exc
        raise


def connect(credentials: DatabaseCredentials, timeout: float = 10) -> pg8000.native.Connection:
    """Connect to the warehouse; any failure to connect is WarehouseUnavailable (retried), as extract's to the source:
    refused, unreachable, or a login refused (28P01) because the password was rotated and the cached secret is old,
    which the retry reads afresh. A connection its sslmode cannot have stays a DatabaseTlsError (a configuration
    problem: not transient, not retried)."""
    try:
        return credentials.connect(timeout=timeout, application_name="onyx-load")
    except DatabaseTlsError:
        raise
    except Exception as exc:
        raise unavailable(exc, f"connecting to {credentials.host}:{credentials.port}") from exc


def load_warehouse(credentials: DatabaseCredentials, s3: Any, processed_bucket: str, schema: str,
                   manifest_key: str, *, run_id: str | None = None) -> LoadOutput:
    """What the Load Lambda does: connect, bring the schema up to date, load the run."""
    conn = connect(credentials)
    try:
        try:
            apply_migrations(conn, schema)
        except Exception as exc:
            if is_transient(exc):
                raise unavailable(exc, "migrating") from exc
            raise
        return run_load(conn, s3, processed_bucket, schema, manifest_key, run_id=run_id)
    finally:
        with contextlib.suppress(Exception):  # closing a dead connection has nothing left to do
            conn.close()
