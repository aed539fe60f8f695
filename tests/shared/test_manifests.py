"""The documents between the stages: typed, byte-compatible with the runs already in the buckets, refused by key."""

from __future__ import annotations

import json

import pytest

from lambdas.extract.manifest import read_manifest as read_extract_manifest
from lambdas.extract.watermarks import advance_watermarks, latest_watermarks
from lambdas.load.runner import read_manifest as read_transform_manifest
from lambdas.shared.errors import InvalidData
from lambdas.shared.manifests import ExtractManifest, TableExtract, TableFiles, TransformManifest, Watermarks
from lambdas.shared.star_schema import STAR_TABLES
from lambdas.shared.totesys import TABLE_NAMES
from lambdas.transform.runner import run_transform

# Exactly what the stages wrote before the manifests were classes (json.dumps, indent=1), as old runs hold them.
OLD_EXTRACT = b"""{
 "run_id": "run-old",
 "started_at": "2026-11-25T22:30:00.123Z",
 "tables": {
  "address": {
   "low": null,
   "high": "2026-11-25T22:29:50.000",
   "rows": 2,
   "keys": [
    "address/2026/11/25/run-old.jsonl",
    "address/2026/11/25/run-old.1.jsonl"
   ]
  },
  "currency": {
   "low": "2026-11-24T10:00:00.000",
   "high": "2026-11-25T22:29:50.000",
   "rows": 0,
   "keys": []
  }
 }
}"""
OLD_TRANSFORM = b"""{
 "run_id": "run-old",
 "extract_manifest_key": "runs/run-old/extract.json",
 "started_at": "2026-11-25T22:30:00.123Z",
 "tables": {
  "dim_staff": {
   "rows": 3,
   "keys": [
    "dim_staff/2026/11/25/run-old.parquet"
   ]
  },
  "fact_payment": {
   "rows": 0,
   "keys": []
  }
 }
}"""
OLD_WATERMARKS = (b'{"run_id": "run-old", "highs": {"address": "2026-11-25T22:29:50.000", '
                  b'"currency": "2026-11-25T22:29:50.000"}}')


def test_an_extract_manifest_in_todays_format_reads_and_writes_back_byte_for_byte():
    manifest = ExtractManifest.from_json(OLD_EXTRACT, "runs/run-old/extract.json")

    assert manifest == ExtractManifest(run_id="run-old", started_at="2026-11-25T22:30:00.123Z", tables={
        "address": TableExtract(low=None, high="2026-11-25T22:29:50.000", rows=2,
                                keys=("address/2026/11/25/run-old.jsonl", "address/2026/11/25/run-old.1.jsonl")),
        "currency": TableExtract(low="2026-11-24T10:00:00.000", high="2026-11-25T22:29:50.000", rows=0, keys=())})
    assert (manifest.key, manifest.extracted, manifest.has_changes) == (
        "runs/run-old/extract.json", {"address": 2, "currency": 0}, True)
    assert manifest.keys_of("address") == ["address/2026/11/25/run-old.jsonl", "address/2026/11/25/run-old.1.jsonl"]
    assert manifest.keys_of("supplier") == []  # a table added after this run: no files
    assert manifest.to_json() == OLD_EXTRACT


def test_a_transform_manifest_in_todays_format_reads_and_writes_back_byte_for_byte():
    manifest = TransformManifest.from_json(OLD_TRANSFORM, "runs/run-old/transform.json")

    assert manifest.tables == {"dim_staff": TableFiles(rows=3, keys=["dim_staff/2026/11/25/run-old.parquet"]),
                               "fact_payment": TableFiles(rows=0, keys=[])}
    assert manifest.started.isoformat() == "2026-11-25T22:30:00.123000+00:00"
    assert manifest.to_json() == OLD_TRANSFORM


def test_watermarks_in_todays_format_read_and_write_back_byte_for_byte():
    watermarks = Watermarks.from_json(OLD_WATERMARKS, "state/watermarks/x.json")
    assert watermarks.highs == {"address": "2026-11-25T22:29:50.000", "currency": "2026-11-25T22:29:50.000"}
    assert watermarks.to_json() == OLD_WATERMARKS


def test_old_documents_in_a_bucket_are_read_by_the_stages_that_read_them(aws):
    aws.s3.put_object(Bucket=aws.ingestion_bucket, Key="runs/run-old/extract.json", Body=OLD_EXTRACT)
    aws.s3.put_object(Bucket=aws.ingestion_bucket, Key="state/watermarks/0-run-old.json", Body=OLD_WATERMARKS)

    assert read_extract_manifest(aws.s3, aws.ingestion_bucket, "run-old") == ExtractManifest.from_json(
        OLD_EXTRACT, "k")
    assert latest_watermarks(aws.s3, aws.ingestion_bucket) == json.loads(OLD_WATERMARKS)["highs"]


def test_a_manifest_round_trips_through_its_json():
    manifest = TransformManifest(run_id="run-1", extract_manifest_key="runs/run-1/extract.json",
                                 started_at="2026-11-25T23:59:59.999Z",
                                 tables={t.name: TableFiles(rows=0, keys=[]) for t in STAR_TABLES})
    assert TransformManifest.from_json(manifest.to_json(), manifest.key) == manifest


def test_watermarks_written_by_extract_read_back(aws):
    key = advance_watermarks(aws.s3, aws.ingestion_bucket, "run-1", {"address": "2026-11-25T22:29:50.000"})
    written = b'{"run_id": "run-1", "highs": {"address": "2026-11-25T22:29:50.000"}}'
    assert aws.read(aws.ingestion_bucket, key) == written
    assert latest_watermarks(aws.s3, aws.ingestion_bucket) == {"address": "2026-11-25T22:29:50.000"}


@pytest.mark.parametrize(("body", "reason"), [
    (b"{not json", "not JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
    (b'{"run_id": "run-1", "tables": {}}', "malformed: started_at: Field required"),
    (b'{"run_id": "run-1", "started_at": "2026-11-25T22:30:00", "tables": {}}',
     "malformed: started_at: Value error, lacks a time zone"),
    (OLD_EXTRACT.replace(b'"rows": 2', b'"rows": "two"'),
     "malformed: tables.address.rows: Input should be a valid integer, unable to parse string as an integer"),
    (OLD_EXTRACT.replace(b'"rows": 2', b'"rows": -2'),
     "malformed: tables.address.rows: Input should be greater than or equal to 0"),
])
def test_a_malformed_extract_manifest_is_refused_by_transform_naming_its_key(aws, body, reason):
    aws.s3.put_object(Bucket=aws.ingestion_bucket, Key="runs/run-1/extract.json", Body=body)

    with pytest.raises(InvalidData) as failure:
        run_transform(aws.s3, aws.ingestion_bucket, aws.processed_bucket, "run-1", "runs/run-1/extract.json")
    assert (failure.value.table, failure.value.key, failure.value.rule) == (
        "extract manifest", "runs/run-1/extract.json", reason)


def test_an_extract_manifest_lacking_a_table_is_refused_by_transform(aws):
    aws.s3.put_object(Bucket=aws.ingestion_bucket, Key="runs/run-old/extract.json", Body=OLD_EXTRACT)

    with pytest.raises(InvalidData) as failure:
        run_transform(aws.s3, aws.ingestion_bucket, aws.processed_bucket, "run-old", "runs/run-old/extract.json")
    missing = [t for t in TABLE_NAMES if t not in ("address", "currency")]  # the two the old manifest holds
    assert str(failure.value) == f"extract manifest runs/run-old/extract.json: lacks {', '.join(missing)}"


def test_a_malformed_transform_manifest_is_refused_by_load_naming_its_key(aws):
    aws.s3.put_object(Bucket=aws.processed_bucket, Key="runs/run-1/transform.json",
                      Body=OLD_TRANSFORM.replace(b'"keys": []', b'"keys": "none"'))

    with pytest.raises(InvalidData) as failure:
        read_transform_manifest(aws.s3, aws.processed_bucket, "runs/run-1/transform.json")
    assert str(failure.value) == ("transform manifest runs/run-1/transform.json: malformed: "
                                  "tables.fact_payment.keys: Input should be a valid list")


def test_a_transform_manifest_lacking_a_star_table_is_refused_by_load(aws):
    aws.s3.put_object(Bucket=aws.processed_bucket, Key="runs/run-old/transform.json", Body=OLD_TRANSFORM)

    with pytest.raises(InvalidData, match=r"^transform manifest runs/run-old/transform.json: lacks dim_date, "
                                          r"dim_location, .*, fact_sales_order, fact_purchase_order$"):
        read_transform_manifest(aws.s3, aws.processed_bucket, "runs/run-old/transform.json")
