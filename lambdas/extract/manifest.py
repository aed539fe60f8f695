"""The extract manifest `runs/<run_id>/extract.json`: the run's commit record, written after its files."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from lambdas.shared.layout import extract_manifest_key

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@dataclass(frozen=True)
class TableExtract:
    """One table in a run: its window `(low, high]`, how many rows it had and the files holding them."""

    low: str | None
    high: str
    rows: int
    keys: tuple[str, ...]


@dataclass(frozen=True)
class ExtractManifest:
    run_id: str
    started_at: str  # "2026-11-25T22:30:00.123Z": its date is the date of the run's keys
    tables: dict[str, TableExtract]

    @property
    def key(self) -> str:
        return extract_manifest_key(self.run_id)

    @property
    def extracted(self) -> dict[str, int]:
        return {name: table.rows for name, table in self.tables.items()}

    @property
    def has_changes(self) -> bool:
        return any(table.rows for table in self.tables.values())

    def to_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "started_at": self.started_at,
                "tables": {name: {"low": t.low, "high": t.high, "rows": t.rows, "keys": list(t.keys)}
                           for name, t in self.tables.items()}}

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> ExtractManifest:
        return cls(run_id=document["run_id"], started_at=document["started_at"],
                   tables={name: TableExtract(low=t["low"], high=t["high"], rows=int(t["rows"]), keys=tuple(t["keys"]))
                           for name, t in document["tables"].items()})


def _is(error: ClientError, *codes: str) -> bool:
    return error.response.get("Error", {}).get("Code") in codes


def read_manifest(s3: S3Client, bucket: str, run_id: str) -> ExtractManifest | None:
    """The run's manifest, or None if the run has not completed."""
    try:
        body = s3.get_object(Bucket=bucket, Key=extract_manifest_key(run_id))["Body"].read()
    except ClientError as error:
        if _is(error, "NoSuchKey", "404"):
            return None
        raise
    return ExtractManifest.from_json(json.loads(body))


def write_manifest(s3: S3Client, bucket: str, manifest: ExtractManifest) -> bool:
    """Create the manifest; False if another attempt of the same run created it first (it is kept)."""
    try:
        s3.put_object(Bucket=bucket, Key=manifest.key, Body=json.dumps(manifest.to_json(), indent=1).encode(),
                      ContentType="application/json", IfNoneMatch="*")
    except ClientError as error:
        if _is(error, "PreconditionFailed", "ConditionalRequestConflict"):
            return False
        raise
    return True
