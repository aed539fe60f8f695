"""COPY hands the writer many lines at once: files still close at the first line end past their size."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lambdas.extract.writer import MIB, JsonLinesWriter
from tests.fixtures.aws import Aws

AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_writes_of_many_lines_split_files_at_the_same_line_ends_as_single_lines(aws: Aws):
    line = b'{"x":"' + b"a" * 1000 + b'"}\n'
    batch = line * 700  # about 0.7 MB per write, as a batch of rows from COPY
    writer = JsonLinesWriter(aws.s3, aws.ingestion_bucket, "address", "run-1", AT, file_bytes=6 * MIB)
    for _ in range(20):  # 14,000 lines, about 14 MB: two full files and the rest
        writer.write(batch)
    writer.close()

    files = [aws.read(aws.ingestion_bucket, key) for key in writer.keys]
    per_file = -(-6 * MIB // len(line))  # lines up to the first line end at or past 6 MiB
    assert writer.keys == ["address/2026/01/02/run-1.jsonl", "address/2026/01/02/run-1.1.jsonl",
                           "address/2026/01/02/run-1.2.jsonl"]
    assert [len(f) for f in files] == [per_file * len(line), per_file * len(line),
                                       (14_000 - 2 * per_file) * len(line)]
    assert b"".join(files) == batch * 20
    assert writer.rows == 14_000


def test_a_write_ending_mid_line_continues_the_line_in_the_next_write(aws: Aws):
    writer = JsonLinesWriter(aws.s3, aws.ingestion_bucket, "address", "run-1", AT)
    writer.write(b'{"address_id":1}\n{"addr')
    writer.write(b'ess_id":2}\n')
    writer.close()

    assert writer.rows == 2
    assert aws.read(aws.ingestion_bucket, writer.keys[0]) == b'{"address_id":1}\n{"address_id":2}\n'


def test_a_file_that_fails_in_the_background_fails_the_writer_and_leaves_only_the_files_before(aws: Aws,
                                                                                               monkeypatch):
    put_object = aws.s3.put_object
    calls: list[str] = []

    def failing_second_file(**kwargs: object) -> object:
        calls.append(str(kwargs["Key"]))
        if len(calls) == 2:
            raise ConnectionError("S3 went away")
        return put_object(**kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(aws.s3, "put_object", failing_second_file)
    writer = JsonLinesWriter(aws.s3, aws.ingestion_bucket, "address", "run-1", AT, file_bytes=5 * MIB)
    line = b'{"x":"' + b"a" * 1000 + b'"}\n'

    def write_all() -> None:
        for _ in range(20):  # 14,000 lines, about 14 MB: the error surfaces at the next file or the close
            writer.write(line * 700)
        writer.close()

    with pytest.raises(ConnectionError, match="S3 went away"):
        write_all()
    writer.abort()

    assert calls == ["address/2026/01/02/run-1.jsonl", "address/2026/01/02/run-1.1.jsonl"]
    assert aws.keys(aws.ingestion_bucket) == ["address/2026/01/02/run-1.jsonl"]
