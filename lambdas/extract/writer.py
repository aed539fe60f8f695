"""JSON Lines into the ingestion bucket: files of about FILE_BYTES, each uploaded in one PUT.

The bucket is immutable: every object is created with `If-None-Match: *`, so nothing is ever
overwritten. A retried run whose first attempt left files behind (it crashed before its manifest)
numbers its parts after them; only the manifest says which files make up the run.

A file uploads on a background thread while the next one fills, so S3 time overlaps reading. At most
one upload is in flight: the writer holds a file filling and a file uploading, nothing more. One PUT
per file rather than a multipart upload of 8 MiB parts: S3 takes objects of this size in one request,
and the local cloud's S3 (moto) spent twice the CPU on a multipart upload (it hashes each part, then
copies and hashes them again to complete it).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from contextlib import suppress
from datetime import datetime
from typing import TYPE_CHECKING

from lambdas.shared.layout import ingestion_data_key

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MIB = 1024 * 1024
FILE_BYTES = 32 * MIB  # a file closes at the first line end past this size; the next part begins
CONTENT_TYPE = "application/x-ndjson"


def first_free_part(s3: S3Client, bucket: str, table: str, run_id: str, at: datetime) -> int:
    """The first part number of `run_id`'s data file for `table` that no earlier attempt has used."""
    base = ingestion_data_key(table, run_id, at)
    stem = base.removesuffix(".jsonl")
    pattern = re.compile(re.escape(stem) + r"(?:\.(\d+))?\.jsonl")
    used = [-1]
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=stem + "."):
        for obj in page.get("Contents", []):
            if match := pattern.fullmatch(obj["Key"]):
                used.append(int(match.group(1) or 0))
    return max(used) + 1


class _Upload(threading.Thread):
    """One file uploading in the background; `wait()` waits for it and re-raises its error."""

    def __init__(self, upload: Callable[[], object]) -> None:
        super().__init__(name="onyx-extract-upload", daemon=True)
        self._upload: Callable[[], object] | None = upload
        self._error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            if self._upload is not None:
                self._upload()
        except Exception as exc:  # noqa: BLE001 - handed to the writer's thread, which raises it
            self._error = exc
        finally:
            self._upload = None  # let go of the file's bytes

    def wait(self) -> None:
        self.join()
        if self._error is not None:
            raise self._error


class JsonLinesWriter:
    """A byte sink for `COPY ... TO STDOUT`: counts lines and uploads them as one or more files."""

    def __init__(self, s3: S3Client, bucket: str, table: str, run_id: str, at: datetime, *, first_part: int = 0,
                 file_bytes: int = FILE_BYTES) -> None:
        if file_bytes < 1:
            raise ValueError("file_bytes must be positive")
        self._s3, self._bucket, self._table, self._run_id, self._at = s3, bucket, table, run_id, at
        self._file_bytes = file_bytes
        self._part = first_part
        self._buffer = bytearray()
        self._in_flight: _Upload | None = None
        self.rows = 0
        self.keys: list[str] = []

    @property
    def _key(self) -> str:
        return ingestion_data_key(self._table, self._run_id, self._at, self._part)

    def write(self, data: bytes) -> int:
        """Take any run of bytes (one line or many): a file closes at its first line end past the file size."""
        self.rows += data.count(b"\n")  # JSON text holds no raw newline: one per row
        view, start, size = memoryview(data), 0, len(data)
        while start < size:
            # the file's last byte is the first newline at or past its `file_bytes`-th byte
            end = data.find(b"\n", start + max(self._file_bytes - len(self._buffer), 1) - 1) + 1
            self._buffer += view[start:end or size]
            if not end:
                break
            self._finish_file()
            start = end
        return size

    def close(self) -> None:
        """Finish the file being written and wait for every upload (nothing is written for a table without rows)."""
        if self._buffer:
            self._finish_file()
        self._settle()

    def abort(self) -> None:
        """Wait for the upload in flight, if any, ignoring its error; finished files stay (no manifest refers to
        them)."""
        if self._in_flight is not None:
            with suppress(Exception):  # its error, if any, is not what failed the run
                self._in_flight.wait()
            self._in_flight = None

    def _settle(self) -> None:
        """Wait for the upload in flight, raising its error."""
        if self._in_flight is not None:
            upload, self._in_flight = self._in_flight, None
            upload.wait()

    def _finish_file(self) -> None:
        self._settle()  # the file before is uploaded (and its bytes freed) before this one is copied
        s3, bucket, key, body = self._s3, self._bucket, self._key, bytes(self._buffer)
        self._buffer.clear()
        self._in_flight = _Upload(lambda: s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=CONTENT_TYPE,
                                                        IfNoneMatch="*"))
        self.keys.append(key)
        self._part += 1
