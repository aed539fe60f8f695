"""Extracted files the ingestion bucket's lifecycle has moved to S3 Glacier Instant Retrieval still read at once.

moto runs no lifecycle transition, so the files are stored in that class directly (as the transition leaves
them: same key, same bytes). moto refuses GetObject on an object in an archive class that needs a restore
(Glacier Flexible Retrieval, Deep Archive) as S3 does, and serves GLACIER_IR: the contrast below shows the
check is real.
"""

from __future__ import annotations

import pyarrow as pa
import pytest
from botocore.exceptions import ClientError

from lambdas.shared.totesys import TABLES_BY_NAME
from lambdas.transform.state import STATE_COLUMNS, load_state, rebuild_state
from lambdas.transform.storage import iter_batches, read_object
from tests.transform.runs import address, first_run, jsonl, sales_order, transform

SALES_ORDER = TABLES_BY_NAME["sales_order"]
KEY = "sales_order/2024/01/02/run-1.jsonl"
# 600 orders: about 170 KB, over the 128 KiB below which S3 moves nothing to GLACIER_IR.
BODY = jsonl(sales_order(order_id) for order_id in range(1, 601))


def _put(aws, key: str, body: bytes, storage_class: str) -> None:
    aws.s3.put_object(Bucket=aws.ingestion_bucket, Key=key, Body=body, StorageClass=storage_class)
    # HeadObject names the class of any object not in STANDARD, as S3 does.
    assert aws.s3.head_object(Bucket=aws.ingestion_bucket, Key=key).get("StorageClass", "STANDARD") == storage_class


def _read(aws, key: str) -> pa.Table:
    # A small block: the file streams in several batches, as a large one does in a run.
    return pa.Table.from_batches(list(iter_batches(aws.s3, aws.ingestion_bucket, SALES_ORDER, [key],
                                                   block_bytes=32 << 10)))


def test_a_file_in_glacier_instant_retrieval_streams_without_a_restore(aws):
    assert len(BODY) >= 128 << 10
    _put(aws, KEY, BODY, "GLACIER_IR")
    _put(aws, "sales_order/2024/01/02/standard.jsonl", BODY, "STANDARD")

    archived = _read(aws, KEY)

    assert archived.column("sales_order_id").to_pylist() == list(range(1, 601))
    assert archived.equals(_read(aws, "sales_order/2024/01/02/standard.jsonl"))


def test_a_manifest_in_glacier_instant_retrieval_reads_without_a_restore(aws):
    _put(aws, "runs/run-1/extract.json", b'{"run_id": "run-1"}', "GLACIER_IR")

    assert read_object(aws.s3, aws.ingestion_bucket, "runs/run-1/extract.json") == b'{"run_id": "run-1"}'


def test_a_file_in_glacier_flexible_retrieval_is_refused_until_restored(aws):
    # Why the rule moves files to GLACIER_IR and not to GLACIER: a rebuild would fail on the first archived file.
    _put(aws, KEY, BODY, "GLACIER")

    with pytest.raises(ClientError) as refused:
        _read(aws, KEY)

    assert refused.value.response["Error"]["Code"] == "InvalidObjectState"


def test_the_state_replays_from_runs_whose_files_were_all_moved_to_glacier_instant_retrieval(aws):
    transform(aws, "run-1", first_run())
    transform(aws, "run-2", {"address": [address(1, city="Bradford", updated="2024-02-05T16:45:00.007")],
                             "sales_order": [sales_order(1, updated="2024-02-05T16:45:00.007")]})
    kept = load_state(aws.s3, aws.processed_bucket)
    # What the transition does to each current object: the same key and bytes, in another storage class.
    keys = aws.keys(aws.ingestion_bucket)
    for key in keys:
        aws.s3.copy_object(Bucket=aws.ingestion_bucket, Key=key, StorageClass="GLACIER_IR",
                           CopySource={"Bucket": aws.ingestion_bucket, "Key": key})
    listed = aws.s3.list_objects_v2(Bucket=aws.ingestion_bucket)["Contents"]
    assert [(o["Key"], o["StorageClass"]) for o in listed] == [(key, "GLACIER_IR") for key in keys]

    rebuilt = rebuild_state(aws.s3, aws.ingestion_bucket, aws.processed_bucket)

    assert kept is not None
    for table in STATE_COLUMNS:
        assert rebuilt[table].equals(kept[table]), table
