"""Reading the run's inputs and writing its outputs: S3, JSON Lines (pyarrow.json) and Parquet."""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.json as pj
import pyarrow.parquet as pq

from lambdas.shared.errors import InvalidData
from lambdas.shared.totesys import BOOL, INT, MONEY, TIMESTAMP, Table
from lambdas.transform.checks import explain_bad_line, row_id

# About 10,000 order rows per batch: what bounds the transform's memory, whatever the run's size.
BLOCK_BYTES = 4 << 20
SINGLE_PUT_BYTES = 8 << 20  # the transfer manager's own multipart threshold
_TYPES = {INT: pa.int32(), MONEY: pa.decimal128(10, 2), TIMESTAMP: pa.timestamp("ms"), BOOL: pa.bool_()}


def source_schema(source: Table) -> pa.Schema:
    """The Arrow schema a source table's JSON Lines parse into (dates of orders stay text until checked)."""
    return pa.schema([pa.field(c.name, _TYPES.get(c.kind, pa.string())) for c in source.columns])


def read_object(s3: Any, bucket: str, key: str) -> bytes | None:
    """A small object's bytes (a manifest), or None if there is no such key."""
    try:
        body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    return body


def put_json(s3: Any, bucket: str, key: str, body: bytes) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")


def list_keys(s3: Any, bucket: str, prefix: str) -> Iterator[str]:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            yield str(item["Key"])


def iter_batches(s3: Any, bucket: str, source: Table, keys: Iterable[str],
                 block_bytes: int = BLOCK_BYTES) -> Iterator[pa.RecordBatch]:
    """Stream a source table's JSON Lines files as record batches; a row breaking the contract -> InvalidData."""
    schema = source_schema(source)
    options = pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="error")
    for key in keys:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
        try:
            reader = pj.open_json(pa.PythonFile(body, mode="r"), read_options=pj.ReadOptions(block_size=block_bytes),
                                  parse_options=options)
            yield from reader
        except pa.ArrowInvalid as exc:
            raise _locate(s3, bucket, key, source, exc) from exc
        finally:
            body.close()


def read_table(s3: Any, bucket: str, source: Table, keys: Iterable[str]) -> pa.Table:
    """A (dimension-sized) source table's rows of the given files, whole."""
    return pa.Table.from_batches(list(iter_batches(s3, bucket, source, keys)), schema=source_schema(source))


def _locate(s3: Any, bucket: str, key: str, source: Table, exc: Exception) -> InvalidData:
    """Find the row the reader refused (error path only: a second, line-by-line read of the file)."""
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    for line in io.TextIOWrapper(body, encoding="utf-8"):
        if line.strip() and (reason := explain_bad_line(source, line)) is not None:
            return InvalidData(source.name, row_id(source, line), reason)
    return InvalidData(source.name, key, f"unreadable JSON Lines: {exc}")


def parquet_bytes(table: pa.Table, *, delta_encoded: bool = False) -> bytes:
    """`delta_encoded`: for sorted integers (an id set), which it stores as differences, without a dictionary
    (hundreds of times smaller and ten times faster to write than dictionary-encoded: docs/performance.md)."""
    encoding: dict[str, Any] = {"use_dictionary": False, "column_encoding": dict.fromkeys(
        table.column_names, "DELTA_BINARY_PACKED")} if delta_encoded else {}
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd", **encoding)
    return bytes(sink.getvalue().to_pybytes())


def put_parquet(s3: Any, bucket: str, key: str, table: pa.Table, *, delta_encoded: bool = False) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=parquet_bytes(table, delta_encoded=delta_encoded))


def upload_file(s3: Any, bucket: str, key: str, path: Path) -> None:
    """A local file to S3: one PUT when small (the transfer manager's threads cost more than they save),
    else the transfer manager's concurrent multipart upload."""
    if path.stat().st_size <= SINGLE_PUT_BYTES:
        with path.open("rb") as body:
            s3.put_object(Bucket=bucket, Key=key, Body=body)
    else:
        s3.upload_file(str(path), bucket, key)


def read_parquet(s3: Any, bucket: str, key: str) -> pa.Table | None:
    """A Parquet object as a table, or None if there is no such key."""
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    return pq.read_table(pa.BufferReader(body))
