"""The ingestion bucket is never overwritten: parts continue after an earlier attempt's files."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError

from lambdas.extract.writer import MIB, JsonLinesWriter, first_free_part
from tests.fixtures.aws import Aws

AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_first_free_part_counts_only_this_runs_files(aws: Aws):
    for key in ("address/2026/01/02/run-1.jsonl", "address/2026/01/02/run-1.1.jsonl",
                "address/2026/01/02/run-1.x.jsonl", "address/2026/01/02/run-10.jsonl",
                "address/2026/01/02/run-1.2.jsonl.bak", "staff/2026/01/02/run-1.5.jsonl"):
        aws.s3.put_object(Bucket=aws.ingestion_bucket, Key=key, Body=b"")

    assert first_free_part(aws.s3, aws.ingestion_bucket, "address", "run-1", AT) == 2
    assert first_free_part(aws.s3, aws.ingestion_bucket, "address", "run-2", AT) == 0


def test_writer_refuses_to_overwrite_an_existing_file(aws: Aws):
    aws.s3.put_object(Bucket=aws.ingestion_bucket, Key="address/2026/01/02/run-1.jsonl", Body=b"kept\n")
    writer = JsonLinesWriter(aws.s3, aws.ingestion_bucket, "address", "run-1", AT)
    writer.write(b'{"address_id":1}\n')

    with pytest.raises(ClientError, match="PreconditionFailed"):
        writer.close()

    assert aws.read(aws.ingestion_bucket, "address/2026/01/02/run-1.jsonl") == b"kept\n"


def test_writer_writes_nothing_for_no_rows(aws: Aws):
    writer = JsonLinesWriter(aws.s3, aws.ingestion_bucket, "address", "run-1", AT)

    writer.close()

    assert (writer.rows, writer.keys, aws.keys(aws.ingestion_bucket)) == (0, [], [])


def test_writer_splits_files_only_at_line_ends(aws: Aws):
    writer = JsonLinesWriter(aws.s3, aws.ingestion_bucket, "address", "run-1", AT, file_bytes=5 * MIB)
    line = b'{"x":"' + b"a" * 1000 + b'"}\n'
    for _ in range(6000):  # about 6 MB: one file past 5 MiB, then the rest
        writer.write(line)
    writer.close()

    assert writer.keys == ["address/2026/01/02/run-1.jsonl", "address/2026/01/02/run-1.1.jsonl"]
    files = [aws.read(aws.ingestion_bucket, key) for key in writer.keys]
    assert all(f.endswith(b"\n") for f in files)
    assert sum(f.count(b"\n") for f in files) == writer.rows == 6000
    assert len(files[0]) == -(-5 * MIB // len(line)) * len(line)
