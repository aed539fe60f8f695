"""JSON Lines into the ingestion bucket: streamed as S3 multipart uploads, split into parts past a size.

The bucket is immutable: every object is created with `If-None-Match: *`, so nothing is ever
overwritten. A retried run whose first attempt left files behind (it crashed before its manifest)
numbers its parts after them; only the manifest says which files make up the run.

A part uploads on a background thread while the next one fills, so S3 time overlaps reading. At
most one part is in flight: the writer holds a part filling and a part uploading, nothing more.
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
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

MIB = 1024 * 1024
UPLOAD_BYTES = 8 * MIB  # one multipart part (S3's minimum is 5 MiB): what the writer holds in memory
FILE_BYTES = 64 * MIB  # a file closes at the first line end past this size; the next part begins
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


class _PartUpload(threading.Thread):
    """One multipart part uploading in the background; `etag()` waits for it and re-raises its error."""

    def __init__(self, upload: Callable[[], str]) -> None:
        super().__init__(name="onyx-extract-upload", daemon=True)
        self._upload: Callable[[], str] | None = upload
        self._etag: str | None = None
        self._error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            if self._upload is not None:
                self._etag = self._upload()
        except Exception as exc:  # noqa: BLE001 - handed to the writer's thread, which raises it
            self._error = exc
        finally:
            self._upload = None  # let go of the part's bytes

    def etag(self) -> str:
        self.join()
        if self._error is not None:
            raise self._error
        if self._etag is None:
            raise RuntimeError("part upload returned no ETag")
        return self._etag


class JsonLinesWriter:
    """A byte sink for `COPY ... TO STDOUT`: counts lines and uploads them as one or more files."""

    def __init__(self, s3: S3Client, bucket: str, table: str, run_id: str, at: datetime, *, first_part: int = 0,
                 upload_bytes: int = UPLOAD_BYTES, file_bytes: int = FILE_BYTES) -> None:
        if not 5 * MIB <= upload_bytes <= file_bytes:
            raise ValueError("need 5 MiB <= upload_bytes <= file_bytes")
        self._s3, self._bucket, self._table, self._run_id, self._at = s3, bucket, table, run_id, at
        self._upload_bytes, self._file_bytes = upload_bytes, file_bytes
        self._part = first_part
        self._buffer = bytearray()
        self._file_size = 0
        self._upload_id: str | None = None
        self._etags: list[str] = []
        self._in_flight: _PartUpload | None = None
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
            end = data.find(b"\n", start + max(self._file_bytes - self._file_size, 1) - 1) + 1
            self._append(view[start:end or size])
            if not end:
                break
            self._finish_file()
            start = end
        return size

    def close(self) -> None:
        """Finish the file being written (nothing is written for a table without rows)."""
        if self._buffer or self._upload_id:
            self._finish_file()

    def abort(self) -> None:
        """Drop an unfinished multipart upload; finished files stay (no manifest refers to them)."""
        if self._in_flight is not None:
            with suppress(Exception):  # its error, if any, is not what failed the run
                self._in_flight.etag()
            self._in_flight = None
        if self._upload_id:
            self._s3.abort_multipart_upload(Bucket=self._bucket, Key=self._key, UploadId=self._upload_id)
            self._upload_id = None

    def _append(self, data: memoryview) -> None:
        """Buffer `data`, uploading each part as it reaches `upload_bytes` (a part may end mid-line)."""
        self._file_size += len(data)
        while data:
            room = self._upload_bytes - len(self._buffer)
            self._buffer += data[:room]
            data = data[room:]
            if len(self._buffer) >= self._upload_bytes:
                self._upload_part()

    def _upload_part(self) -> None:
        self._settle()  # the part before is uploaded (and its bytes freed) before this one is copied
        if self._upload_id is None:
            self._upload_id = self._s3.create_multipart_upload(
                Bucket=self._bucket, Key=self._key, ContentType=CONTENT_TYPE)["UploadId"]
        s3, bucket, key, upload_id = self._s3, self._bucket, self._key, self._upload_id
        number, body = len(self._etags) + 1, bytes(self._buffer)
        self._buffer.clear()
        self._in_flight = _PartUpload(lambda: s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id,
                                                              PartNumber=number, Body=body)["ETag"])

    def _settle(self) -> None:
        """Wait for the part in flight, raising its error."""
        if self._in_flight is not None:
            upload, self._in_flight = self._in_flight, None
            self._etags.append(upload.etag())

    def _finish_file(self) -> None:
        if self._upload_id is None:
            self._s3.put_object(Bucket=self._bucket, Key=self._key, Body=bytes(self._buffer),
                                ContentType=CONTENT_TYPE, IfNoneMatch="*")
        else:
            if self._buffer:
                self._upload_part()
            self._settle()
            parts: list[CompletedPartTypeDef] = [{"PartNumber": n, "ETag": etag}
                                                 for n, etag in enumerate(self._etags, start=1)]
            self._s3.complete_multipart_upload(Bucket=self._bucket, Key=self._key, UploadId=self._upload_id,
                                               MultipartUpload={"Parts": parts}, IfNoneMatch="*")
        self.keys.append(self._key)
        self._buffer.clear()
        self._file_size, self._upload_id, self._etags = 0, None, []
        self._part += 1
