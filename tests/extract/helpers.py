"""Reading back what an extract wrote."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from lambdas.extract.run import ExtractResult
from lambdas.extract.watermarks import PREFIX as WATERMARK_PREFIX
from tests.fixtures.aws import Aws

Extract = Callable[..., ExtractResult]


def rows_of(aws: Aws, result: ExtractResult, table: str) -> list[dict[str, Any]]:
    """The rows a run extracted for `table`, parsed, in file order.

    Lines split on b"\\n" only: `str.splitlines` would also split inside a value at U+2028 and friends.
    """
    return [json.loads(line) for key in result.manifest.tables[table].keys
            for line in aws.read(aws.ingestion_bucket, key).split(b"\n") if line]


def data_keys(aws: Aws) -> list[str]:
    return [k for k in aws.keys(aws.ingestion_bucket) if k.endswith(".jsonl")]


def watermark_keys(aws: Aws) -> list[str]:
    return aws.keys(aws.ingestion_bucket, WATERMARK_PREFIX)


def bucket_state(aws: Aws) -> dict[str, str]:
    """Every object of the ingestion bucket with its ETag: proves nothing was added, changed or removed."""
    pages = aws.s3.get_paginator("list_objects_v2").paginate(Bucket=aws.ingestion_bucket)
    return {obj["Key"]: obj["ETag"] for page in pages for obj in page.get("Contents", [])}
