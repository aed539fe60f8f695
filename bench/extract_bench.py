"""Extract benchmark: rows/s and peak memory of a full first extract of a generated Totesys database,
against the floor: a plain `COPY <table> TO STDOUT` of the same tables into a sink that drops the bytes.

    .venv/bin/python -m bench.extract_bench --scale 1000000 [--url postgresql://...]

Prints figures; it is not a test. Without --url it starts a throwaway PostgreSQL (local/postgres.py).
S3 is a stand-in that counts and drops the bytes, so S3 is not measured; the memory figure is the
process's peak resident set growth during the run (what a Lambda function's memory must hold).
"""

from __future__ import annotations

import argparse
import resource
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from lambdas.extract.run import run_extract
from lambdas.shared.database import DatabaseCredentials
from lambdas.shared.totesys import TABLES
from local.postgres import PostgresCluster, create_database
from local.seed.load import seed_generated


class _Paginator:
    def paginate(self, **_: Any) -> list[dict[str, Any]]:
        return [{"Contents": []}]


class NullBucket:
    """The S3 calls an extract makes, on an empty bucket that drops what it is given."""

    def __init__(self) -> None:
        self.bytes = 0
        self.requests = 0

    def _count(self, body: bytes) -> None:
        self.bytes += len(body)
        self.requests += 1

    def get_object(self, **_: Any) -> dict[str, Any]:
        from botocore.exceptions import ClientError
        raise ClientError({"Error": {"Code": "NoSuchKey"}}, "GetObject")

    def list_objects_v2(self, **_: Any) -> dict[str, Any]:
        return {}

    def get_paginator(self, _: str) -> _Paginator:
        return _Paginator()

    def put_object(self, Body: bytes, **_: Any) -> dict[str, Any]:
        self._count(Body)
        return {}

    def create_multipart_upload(self, **_: Any) -> dict[str, Any]:
        return {"UploadId": uuid.uuid4().hex}

    def upload_part(self, Body: bytes, **_: Any) -> dict[str, Any]:
        self._count(Body)
        return {"ETag": uuid.uuid4().hex}

    def complete_multipart_upload(self, **_: Any) -> dict[str, Any]:
        return {}

    def abort_multipart_upload(self, **_: Any) -> dict[str, Any]:
        return {}


class _Drop:
    def __init__(self) -> None:
        self.bytes = 0

    def write(self, data: bytes) -> int:
        self.bytes += len(data)
        return len(data)


def _max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def copy_floor(credentials: DatabaseCredentials) -> tuple[float, int]:
    """Seconds and bytes of a plain COPY TO STDOUT of every table, in one snapshot."""
    conn = credentials.connect(io_timeout=None)
    sink = _Drop()
    started = time.perf_counter()
    conn.run("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    for table in TABLES:
        conn.run(f"COPY {table.sql_name} TO STDOUT", stream=sink)
    conn.run("COMMIT")
    conn.close()
    return time.perf_counter() - started, sink.bytes


def bench(credentials: DatabaseCredentials) -> None:
    floor_seconds, floor_bytes = copy_floor(credentials)
    copy_floor(credentials)  # warm the cache the same way for both
    floor_seconds, floor_bytes = copy_floor(credentials)
    bucket = NullBucket()
    rss_before = _max_rss_mib()
    started = time.perf_counter()
    result = run_extract(credentials, bucket, "bench", f"bench-{datetime.now(UTC):%Y%m%dT%H%M%S}",  # type: ignore[arg-type]
                         safety_lag_seconds=0)
    seconds = time.perf_counter() - started
    rows = sum(result.manifest.extracted.values())
    print(f"{'table':<16}{'rows':>12}")
    for table, count in result.manifest.extracted.items():
        print(f"{table:<16}{count:>12,}")
    print(f"extract : {rows:,} rows, {bucket.bytes / 2**20:,.0f} MiB JSON Lines in {bucket.requests} requests, "
          f"{seconds:.1f} s = {rows / seconds:,.0f} rows/s, {bucket.bytes / 2**20 / seconds:,.0f} MiB/s")
    print(f"floor   : COPY TO STDOUT of the same tables {floor_seconds:.1f} s = {rows / floor_seconds:,.0f} rows/s "
          f"({floor_bytes / 2**20:,.0f} MiB text); extract / floor = {seconds / floor_seconds:.2f}")
    print(f"memory  : peak RSS {_max_rss_mib():,.0f} MiB (was {rss_before:,.0f} MiB before the run)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--scale", type=int, default=1_000_000, help="sales orders of the generated database")
    parser.add_argument("--url", help="superuser URL of an existing PostgreSQL server")
    args = parser.parse_args()
    name = f"onyx_bench_{uuid.uuid4().hex[:8]}"

    def run(server: DatabaseCredentials) -> None:
        source = create_database(server, name)
        started = time.perf_counter()
        seed_generated(source, args.scale, seed=1)
        print(f"seeded scale {args.scale:,} in {time.perf_counter() - started:.0f} s")
        bench(source)

    if args.url:
        run(DatabaseCredentials.from_url(args.url))
    else:
        with PostgresCluster() as cluster:
            run(cluster.url)


if __name__ == "__main__":
    main()
