"""Memory stays bounded whatever the table size: rows stream from COPY into S3 parts, never into a list."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from lambdas.extract.writer import MIB
from lambdas.shared.database import DatabaseCredentials
from lambdas.shared.layout import ingestion_data_key
from tests.extract.helpers import Extract
from tests.fixtures.aws import Aws

ROWS = 200_000
FILE = 6 * MIB


def _fill_addresses(credentials: DatabaseCredentials, rows: int) -> None:
    conn = credentials.connect()
    try:
        conn.run("""
            INSERT INTO address (address_line_1, address_line_2, district, city, postal_code, country, phone,
                                 created_at, last_updated)
            SELECT 'Flat ' || n || ', ' || repeat('Long Street Name ', 8), NULL, 'Avon', 'New Patienceburgh',
                   lpad(n::text, 8, '0'), 'United Kingdom', '1803 637401',
                   timestamp '2022-11-03 14:20:52.186' + n * interval '1 second',
                   timestamp '2022-11-03 14:20:52.186' + n * interval '1 second'
              FROM generate_series(1, :rows) AS n""", rows=rows)
    finally:
        conn.close()


class _S3Meter:
    """Wraps the moto client: records each request body's size, and the traced memory peak of everything
    *outside* moto (which copies whole files while completing an upload and leaves its request objects in
    reference cycles): the peak the extract itself reaches."""

    def __init__(self, aws: Aws, monkeypatch) -> None:
        self.bodies: list[int] = []
        self._peak = 0
        for name in ("put_object", "upload_part", "complete_multipart_upload", "create_multipart_upload"):  # any
            monkeypatch.setattr(aws.s3, name, self._metered(getattr(aws.s3, name)))

    def _metered(self, call: Callable[..., Any]) -> Callable[..., Any]:
        def metered(*args: Any, **kwargs: Any) -> Any:
            self._peak = max(self._peak, tracemalloc.get_traced_memory()[1])
            if "Body" in kwargs:
                self.bodies.append(len(kwargs["Body"]))
            try:
                return call(*args, **kwargs)
            finally:
                gc.collect()
                tracemalloc.reset_peak()
        return metered

    @property
    def peak(self) -> int:
        return max(self._peak, tracemalloc.get_traced_memory()[1])


@pytest.mark.slow
def test_large_table_streams_in_files_with_bounded_memory(source_db, aws: Aws, extract: Extract, monkeypatch):
    _fill_addresses(source_db, ROWS)
    s3 = _S3Meter(aws, monkeypatch)
    tracemalloc.start()
    try:
        result = extract(source_db, "run-1", file_bytes=FILE)
        peak = s3.peak
    finally:
        tracemalloc.stop()

    table = result.manifest.tables["address"]
    sizes = [aws.s3.head_object(Bucket=aws.ingestion_bucket, Key=key)["ContentLength"] for key in table.keys]
    total = sum(sizes)
    assert table.rows == ROWS
    assert total > 75 * MIB
    assert len(table.keys) == -(-total // FILE)  # each file closes at the first line end past FILE bytes
    assert all(size >= FILE for size in sizes[:-1])
    assert table.keys == tuple(ingestion_data_key("address", "run-1", datetime.fromisoformat(
        result.manifest.started_at), part) for part in range(len(table.keys)))
    assert sorted(s3.bodies, reverse=True)[:len(table.keys)] == sorted(sizes, reverse=True)  # one PUT per file
    assert len(s3.bodies) == len(table.keys) + 2  # and the manifest and the watermarks
    assert max(s3.bodies) < FILE + 1024  # never more than one file (and a line) in one request
    assert peak < 3 * FILE  # a file buffered plus its copy in flight; the table is over 75 MiB
    lines = b"".join(aws.read(aws.ingestion_bucket, key) for key in table.keys).split(b"\n")
    assert lines.pop() == b""
    assert len(lines) == ROWS
