"""JSON Lines into the ingestion bucket: streamed as S3 multipart uploads, split into parts past a size.

The bucket is immutable: every object is created with `If-None-Match: *`, so nothing is ever
overwritten. A retried run whose first attempt left files behind (it crashed before its manifest)
numbers its parts after them; only the manifest says which files make up the run.
"""

from __future__ import annotations

import re
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
        self.rows = 0
        self.keys: list[str] = []

    @property
    def _key(self) -> str:
        return ingestion_data_key(self._table, self._run_id, self._at, self._part)

    def write(self, data: bytes) -> int:
        self._buffer += data
        self._file_size += len(data)
        self.rows += data.count(b"\n")  # JSON text holds no raw newline: one per row
        if self._file_size >= self._file_bytes and data.endswith(b"\n"):
            self._finish_file()
        elif len(self._buffer) >= self._upload_bytes:
            self._upload_part()
        return len(data)

    def close(self) -> None:
        """Finish the file being written (nothing is written for a table without rows)."""
        if self._buffer or self._upload_id:
            self._finish_file()

    def abort(self) -> None:
        """Drop an unfinished multipart upload; finished files stay (no manifest refers to them)."""
        if self._upload_id:
            self._s3.abort_multipart_upload(Bucket=self._bucket, Key=self._key, UploadId=self._upload_id)
            self._upload_id = None

    def _upload_part(self) -> None:
        if self._upload_id is None:
            self._upload_id = self._s3.create_multipart_upload(
                Bucket=self._bucket, Key=self._key, ContentType=CONTENT_TYPE)["UploadId"]
        response = self._s3.upload_part(Bucket=self._bucket, Key=self._key, UploadId=self._upload_id,
                                        PartNumber=len(self._etags) + 1, Body=bytes(self._buffer))
        self._etags.append(response["ETag"])
        self._buffer.clear()

    def _finish_file(self) -> None:
        if self._upload_id is None:
            self._s3.put_object(Bucket=self._bucket, Key=self._key, Body=bytes(self._buffer),
                                ContentType=CONTENT_TYPE, IfNoneMatch="*")
        else:
            if self._buffer:
                self._upload_part()
            parts: list[CompletedPartTypeDef] = [{"PartNumber": n, "ETag": etag}
                                                 for n, etag in enumerate(self._etags, start=1)]
            self._s3.complete_multipart_upload(Bucket=self._bucket, Key=self._key, UploadId=self._upload_id,
                                               MultipartUpload={"Parts": parts}, IfNoneMatch="*")
        self.keys.append(self._key)
        self._buffer.clear()
        self._file_size, self._upload_id, self._etags = 0, None, []
        self._part += 1
