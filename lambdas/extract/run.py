"""One extract run: Totesys changes since the watermarks -> JSON Lines files -> manifest; later, the commit.

The order of effects is what makes a run safe to crash and to repeat. Files come first (invisible
until a manifest names them) and the manifest is the extract's commit point. A run id whose manifest
exists is extracted: running it again reads nothing from the source and returns the same manifest.

The watermarks move only when the whole run has reached the warehouse (`commit_run`, the state
machine's last step). A run that fails anywhere, in extract, transform or load, therefore leaves
them where they were, and the next run extracts its rows again: nothing is lost to a failed run, and
the warehouse load is idempotent, so nothing is loaded twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pg8000.native

from lambdas.extract.manifest import read_manifest, write_manifest
from lambdas.extract.reader import copy_window, export_snapshot, shared_snapshot, snapshot
from lambdas.extract.schema_check import check_source_schema
from lambdas.extract.source import connect_source, source_errors
from lambdas.extract.watermarks import advance_watermarks, latest_watermarks
from lambdas.extract.window import Window, read_horizon
from lambdas.extract.writer import FILE_BYTES, JsonLinesWriter, first_free_part
from lambdas.shared.constants import DEFAULT_SAFETY_LAG_SECONDS
from lambdas.shared.database import DatabaseCredentials
from lambdas.shared.manifests import ExtractManifest, TableExtract
from lambdas.shared.observability import logger
from lambdas.shared.totesys import TABLES, Table

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Sessions reading at once, and the table rows (by the planner's estimate) from which a second pays for its
# connection. One more session is one more backend on the OLTP server, for the duration of a run.
READ_LANES = 2
LANE_MIN_ROWS = 100_000


@dataclass(frozen=True)
class ExtractResult:
    manifest: ExtractManifest
    already_extracted: bool  # the run id had completed before: nothing was read
    duration_seconds: float
    watermark_lag_seconds: float | None  # source's now() minus the new high; None when nothing was read

    def payload(self) -> dict[str, Any]:
        """The state output the next step receives (the contract's Extract output)."""
        return {"run_id": self.manifest.run_id, "manifest_key": self.manifest.key,
                "has_changes": self.manifest.has_changes, "extracted": self.manifest.extracted}


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _iso_z(at: datetime) -> str:
    return f"{at:%Y-%m-%dT%H:%M:%S}.{at.microsecond // 1000:03d}Z"


def _seconds_between(earlier: str, later: str) -> float:
    return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds()


@dataclass(frozen=True)
class _RunFiles:
    """Where a run's data files go."""

    s3: S3Client
    bucket: str
    run_id: str
    at: datetime
    file_bytes: int

    def writer(self, table: Table) -> JsonLinesWriter:
        first_part = first_free_part(self.s3, self.bucket, table.name, self.run_id, self.at)
        return JsonLinesWriter(self.s3, self.bucket, table.name, self.run_id, self.at, first_part=first_part,
                               file_bytes=self.file_bytes)


def _extract_table(conn: pg8000.native.Connection, files: _RunFiles, table: Table, window: Window) -> TableExtract:
    if window.is_empty:
        return TableExtract(low=window.low, high=window.high, rows=0, keys=())
    writer = files.writer(table)
    try:
        copy_window(conn, table, window, writer)
        writer.close()
    except BaseException:
        with suppress(Exception):
            writer.abort()
        raise
    logger.info("extracted table", extra={"table": table.name, "rows": writer.rows, "low": window.low,
                                          "high": window.high, "keys": writer.keys})
    return TableExtract(low=window.low, high=window.high, rows=writer.rows, keys=tuple(writer.keys))


def _estimated_rows(conn: pg8000.native.Connection) -> dict[str, int]:
    """The planner's row count of each table (no scan): enough to share the tables between lanes. A table
    never analyzed (reltuples -1) is guessed from its size at ~100 bytes a row, about a Totesys order's."""
    rows = conn.run("SELECT c.relname, CASE WHEN c.reltuples >= 0 THEN c.reltuples::bigint "
                    "ELSE pg_relation_size(c.oid) / 100 END FROM pg_class c "
                    "WHERE c.relnamespace = to_regnamespace(current_schema()) AND c.relname = ANY(:names)",
                    names=[t.name for t in TABLES])
    return {str(name): int(count) for name, count in rows}


def plan_lanes(windows: dict[str, Window], estimated_rows: dict[str, int], *, lanes: int,
               min_rows: int) -> list[list[Table]]:
    """Tables per reading lane. A lane is one more source session: worth it only when the tables to read hold
    `min_rows` rows or more between them. Whole tables count, not the changes: Totesys has no index on
    `last_updated`, so even a small incremental window scans its table. The largest go first, each to the
    lightest lane; lane 0 (the session that exported the snapshot) also takes what weighs nothing."""
    weight = {t.name: 0 if windows[t.name].is_empty else estimated_rows.get(t.name, 0) for t in TABLES}
    if lanes <= 1 or sum(weight.values()) < min_rows:
        return [list(TABLES)]
    plan: list[list[Table]] = [[] for _ in range(lanes)]
    load = [0] * lanes
    for table in sorted((t for t in TABLES if weight[t.name]), key=lambda t: -weight[t.name]):
        lightest = load.index(min(load))
        plan[lightest].append(table)
        load[lightest] += weight[table.name]
    plan[0] = [t for t in TABLES if not weight[t.name]] + plan[0]
    return [lane for lane in plan if lane]


def _read_lane(credentials: DatabaseCredentials, snapshot_id: str, files: _RunFiles, tables: list[Table],
               windows: dict[str, Window]) -> dict[str, TableExtract]:
    conn = connect_source(credentials)
    try:
        with shared_snapshot(conn, snapshot_id):
            return {t.name: _extract_table(conn, files, t, windows[t.name]) for t in tables}
    finally:
        with suppress(Exception):
            conn.close()


def run_extract(credentials: DatabaseCredentials, s3: S3Client, bucket: str, run_id: str, *,
                safety_lag_seconds: float = DEFAULT_SAFETY_LAG_SECONDS, clock: Callable[[], datetime] = _utc_now,
                file_bytes: int = FILE_BYTES, lanes: int = READ_LANES,
                lane_min_rows: int = LANE_MIN_ROWS) -> ExtractResult:
    """Extract every Totesys row changed since the last complete run into `bucket` (idempotent per run id)."""
    started = time.monotonic()
    existing = read_manifest(s3, bucket, run_id)
    if existing is not None:
        logger.info("run already extracted: returning its manifest", extra={"manifest_key": existing.key})
        return ExtractResult(existing, True, time.monotonic() - started, None)

    started_at = clock()
    files = _RunFiles(s3, bucket, run_id, started_at, file_bytes)
    lows = latest_watermarks(s3, bucket)
    conn = connect_source(credentials)
    try:
        with source_errors(credentials):
            horizon = read_horizon(conn, safety_lag_seconds)
            logger.info("window horizon", extra={"high": horizon.high, "source_now": horizon.source_now,
                                                 "oldest_in_flight": horizon.oldest_in_flight})
            if horizon.hidden_sessions:
                logger.warning("cannot see the transactions of other sessions: grant pg_read_all_stats to the "
                               "extract role, or a late commit may be missed beyond the safety lag",
                               extra={"hidden_sessions": horizon.hidden_sessions})
            with snapshot(conn):
                for note in check_source_schema(conn):
                    logger.warning("the source allows values Onyx does not know", extra={"note": note})
                windows = {t.name: Window.between(lows.get(t.name), horizon.high) for t in TABLES}
                plan = plan_lanes(windows, _estimated_rows(conn), lanes=lanes, min_rows=lane_min_rows)
                extracted: dict[str, TableExtract] = {}
                with ThreadPoolExecutor(max_workers=len(plan) - 1 or 1, thread_name_prefix="extract-lane") as pool:
                    # The other lanes read the same snapshot in sessions of their own, so PostgreSQL renders
                    # their JSON on other cores of the source server, while this session reads lane 0.
                    others = [pool.submit(_read_lane, credentials, export_snapshot(conn), files, lane, windows)
                              for lane in plan[1:]]
                    if others:
                        logger.info("reading in lanes", extra={"lanes": [[t.name for t in lane] for lane in plan]})
                    try:
                        extracted.update({t.name: _extract_table(conn, files, t, windows[t.name]) for t in plan[0]})
                    finally:
                        wait(others)  # the exported snapshot lives as long as this transaction: keep it open
                    for other in others:
                        extracted.update(other.result())
                tables = {t.name: extracted[t.name] for t in TABLES}
    finally:
        with suppress(Exception):
            conn.close()

    manifest = ExtractManifest(run_id=run_id, started_at=_iso_z(started_at), tables=tables)
    if not write_manifest(s3, bucket, manifest):
        manifest = read_manifest(s3, bucket, run_id) or manifest  # a concurrent attempt committed first
    lag = _seconds_between(max(manifest.highs.values()), horizon.source_now)
    return ExtractResult(manifest, False, time.monotonic() - started, lag)


def commit_run(s3: S3Client, bucket: str, run_id: str) -> str:
    """Advance the watermarks to the run's highs, once the run is in the warehouse (idempotent).

    Returns the watermark object's key. A run without a manifest cannot be committed.
    """
    manifest = read_manifest(s3, bucket, run_id)
    if manifest is None:
        raise ValueError(f"run {run_id} has no extract manifest: nothing to commit")
    key = advance_watermarks(s3, bucket, run_id, manifest.highs)
    logger.info("watermarks advanced", extra={"watermark_key": key, "highs": manifest.highs})
    return key
